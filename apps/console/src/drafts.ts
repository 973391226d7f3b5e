import { looksLikeCardNumber } from './editor/pipeline-insight';

/**
 * Unsaved route documents, kept in this tab's sessionStorage: an edit survives what takes the
 * editor away (the session running out or ended, then signing in again; a reload; a click on
 * another screen) and is offered back when the editor opens again. Per user and route; never
 * one holding a card number; all of them forgotten at sign-out.
 */
export interface Draft {
  text: string;
  /** The route's ETag the edit was made on: saving it over a newer version is refused (412). */
  base?: string;
  /** The version the edit started from. */
  version?: number;
}

const PREFIX = 'junction.draft:';
/** False from a sign-out to the next sign-in: an editor that goes only then keeps nothing. */
let open = true;
/** Both parts escaped: no user's prefix is another's (`a` and `a:b`). */
const ownerPrefix = (user: string) => `${PREFIX}${encodeURIComponent(user)}:`;
const key = (user: string, route: string) => `${ownerPrefix(user)}${encodeURIComponent(route)}`;

export function readDraft(user: string, route: string): Draft | undefined {
  try {
    const raw = sessionStorage.getItem(key(user, route));
    const draft = raw ? (JSON.parse(raw) as Draft) : undefined;
    return typeof draft?.text === 'string' ? draft : undefined;
  } catch {
    return undefined;
  }
}

export function keepDraft(user: string, route: string, draft: Draft): void {
  if (!open) return;
  // A card number typed into the document stays on screen only: the previous draft is kept.
  if (looksLikeCardNumber(draft.text)) return;
  try {
    sessionStorage.setItem(key(user, route), JSON.stringify(draft));
  } catch {
    // Full or refused storage: the editor works as before, without the safety net.
  }
}

export function dropDraft(user: string, route: string): void {
  try {
    sessionStorage.removeItem(key(user, route));
  } catch {
    // Nothing kept.
  }
}

/** At sign-out: whoever uses this tab next finds none of them. */
export function dropAllDrafts(): void {
  open = false;
  try {
    for (let i = sessionStorage.length - 1; i >= 0; i--) {
      const k = sessionStorage.key(i);
      if (k?.startsWith(PREFIX)) sessionStorage.removeItem(k);
    }
  } catch {
    // Nothing kept.
  }
}

/**
 * Signed in as `user`: the unsaved edits anyone else left in this tab (a session that ran out on a
 * shared computer) are forgotten, not left for the next user to read out of the tab's storage.
 */
export function dropDraftsNotOf(user: string): void {
  const own = ownerPrefix(user);
  try {
    for (let i = sessionStorage.length - 1; i >= 0; i--) {
      const k = sessionStorage.key(i);
      if (k?.startsWith(PREFIX) && !k.startsWith(own)) sessionStorage.removeItem(k);
    }
  } catch {
    // Nothing kept.
  }
}

/** Signed in again: edits are kept again. */
export function reopenDrafts(): void {
  open = true;
}
