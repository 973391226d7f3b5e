import { ROLES, Role } from './roles';

const exact = (s: string): string => s;

/**
 * Which directory groups (LDAP group DNs) or identity-provider claim values (OIDC `groups`)
 * grant which roles. Keys are stored in a comparable form (`key` normalises them: DNs for LDAP,
 * identity for OIDC), so lookups compare meaning rather than spelling.
 */
export class RoleMapping {
  private constructor(
    private readonly entries: ReadonlyMap<string, readonly Role[]>,
    private readonly key: (raw: string) => string,
  ) {}

  /**
   * Parses `group=role[,role...];group=role` (split at the last `=` of each entry, since DNs
   * contain `=` and roles never do; `;` or a line break between entries, `\;` inside a key)
   * or a JSON object `{"group": "role" | ["role", ...]}`. Throws with a message that says which
   * entry is wrong; the caller names the variable. `key` puts a group in comparable form (and
   * throws if it is not one); by default groups compare exactly.
   */
  static parse(raw: string, key: (raw: string) => string = exact): RoleMapping {
    const pairs: [string, string[]][] = [];
    const text = raw.trim();
    if (text.startsWith('{')) {
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch (err) {
        throw new Error(`is not valid JSON: ${(err as Error).message}`);
      }
      if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed))
        throw new Error('must be a JSON object of group to role(s)');
      for (const [group, roles] of Object.entries(parsed as Record<string, unknown>)) {
        const list = typeof roles === 'string' ? [roles] : roles;
        if (!Array.isArray(list) || !list.every((r) => typeof r === 'string'))
          throw new Error(`"${group}": the roles must be a string or an array of strings`);
        pairs.push([group, list as string[]]);
      }
    } else {
      const entries = text
        .split(/(?<!\\);|\r?\n/)
        .map((e) => e.trim())
        .filter(Boolean);
      for (const entry of entries) {
        const at = entry.lastIndexOf('=');
        if (at <= 0 || at === entry.length - 1)
          throw new Error(`entry "${entry}" must be written group=role`);
        const group = entry.slice(0, at).trim();
        pairs.push([
          // A DN keeps `\;`: it is a DN escape of its own.
          key === exact ? group.replace(/\\;/g, ';') : group,
          entry
            .slice(at + 1)
            .split(/[,+|\s]+/)
            .filter(Boolean),
        ]);
      }
    }
    if (pairs.length === 0) throw new Error('maps no group to a role');
    const entries = new Map<string, Role[]>();
    for (const [group, roles] of pairs) {
      if (roles.length === 0) throw new Error(`"${group}" maps to no role`);
      const unknown = roles.find((r) => !(ROLES as readonly string[]).includes(r));
      if (unknown)
        throw new Error(`"${group}": unknown role "${unknown}" (roles: ${ROLES.join(', ')})`);
      let k: string;
      try {
        k = key(group);
      } catch (err) {
        throw new Error(`"${group}": ${(err as Error).message}`);
      }
      entries.set(k, [...new Set([...(entries.get(k) ?? []), ...(roles as Role[])])]);
    }
    return new RoleMapping(entries, key);
  }

  /** The roles the given groups grant, sorted; groups that cannot be read are skipped. */
  rolesFor(groups: readonly string[]): Role[] {
    const roles = new Set<Role>();
    for (const group of groups) {
      let k: string;
      try {
        k = this.key(group);
      } catch {
        continue;
      }
      for (const role of this.entries.get(k) ?? []) roles.add(role);
    }
    return [...roles].sort();
  }

  get size(): number {
    return this.entries.size;
  }
}
