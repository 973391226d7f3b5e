import type { CompletionSource } from '@codemirror/autocomplete';
import type { Diagnostic } from '@codemirror/lint';
import {
  Alert,
  Button,
  Code,
  Grid,
  Group,
  List,
  Paper,
  Stack,
  Text,
  Textarea,
  TextInput,
  Title,
} from '@mantine/core';
import { useDebouncedValue } from '@mantine/hooks';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { AnchorLink, ButtonLink } from '../links';
import { useEffect, useMemo, useRef, useState } from 'react';
import routeSchema from '../../generated/route-schema.json';
import { api, ApiError, data, errorMessage, type Schemas } from '../api';
import { dropDraft, keepDraft, readDraft } from '../drafts';
import { routeRoute } from '../router';
import { StateBadge, StatusDot } from '../screens/routes';
import { useMe } from '../session';
import { CodeEditor } from './code-editor';
import { cardNumberPointers } from './pipeline-insight';
import { DraftPreview } from '../screens/draft-preview';
import { SampleGuard, sampleGuardRefusal, type SampleGuardRefusal } from './sample-guard';
import { connectionBeside, editableSource, parseYaml, pointerRange } from './yaml-support';

const NEW_ROUTE = `id: my-route
description: What this route does
source:
  type: http
  path: my/route
  mode: async
  auth: none
pipeline:
  - transform: '{ "orderId": id, "card": { "pan": payment.card.pan } }'
  - mask:
      - { path: card.pan, with: pan }
destinations:
  - type: log
`;

const DEFAULT_SAMPLE = JSON.stringify(
  { id: 'o-1001', total: 42.5, payment: { card: { pan: '4111 1111 1111 1111', brand: 'visa' } } },
  null,
  2,
);

type DryRun = Schemas['DryRunResultDto'];
type Problem = { pointer?: string; message: string; line?: number };

/**
 * Sent as the YAML text itself: saved so, its comments and layout are kept with the version;
 * validated so, it is checked as a save would check it (its length, its keys), and each problem
 * comes with its line.
 */
const AS_YAML = {
  bodySerializer: (body: unknown) => body as string,
  headers: { 'content-type': 'application/yaml' },
};

/** Where a 1-based line starts and ends in a text (at least one character, for a mark). */
function lineRange(text: string, line: number): [number, number] {
  let from = 0;
  for (let l = 1; l < line; l++) {
    const next = text.indexOf('\n', from);
    if (next === -1) break;
    from = next + 1;
  }
  const end = text.indexOf('\n', from);
  const to = end === -1 ? text.length : end;
  return [Math.min(from, text.length), Math.max(to, from + 1)];
}

/** The 1-based line of an offset in a text. */
function lineAt(text: string, offset: number): number {
  let line = 1;
  for (let i = text.indexOf('\n'); i !== -1 && i < offset; i = text.indexOf('\n', i + 1)) line++;
  return line;
}

function Json({ value }: { value: unknown }) {
  return (
    <Code block className="json-block">
      {JSON.stringify(value, null, 2) ?? 'undefined'}
    </Code>
  );
}

function DryRunView({ result }: { result: DryRun }) {
  // The server's warnings, and the console's own look at what it shows (belt and braces).
  const leaks = [
    ...new Set([
      ...result.panWarnings,
      ...result.deliveries.flatMap((d, i) =>
        cardNumberPointers(d.body).map((p) => `/deliveries/${i}/body${p === '/' ? '' : p}`),
      ),
    ]),
  ];
  return (
    <Stack gap="xs" data-testid="dry-run">
      <Group>
        <Text fw={600}>Outcome:</Text>
        <StatusDot
          color={
            result.outcome === 'deliver' ? 'green' : result.outcome === 'drop' ? 'gray' : 'red'
          }
          testId="outcome"
        >
          {result.outcome}
          {result.reason ? ` (${result.reason})` : ''}
        </StatusDot>
        <Text size="sm">version {result.version}</Text>
      </Group>
      {leaks.length > 0 && (
        <Alert
          color="red"
          title="A card number survives the pipeline"
          role="alert"
          data-testid="pan-warning"
        >
          A value that looks like a card number reaches: {leaks.join(', ')}. Add a mask stage for
          it.
        </Alert>
      )}
      {result.error !== undefined && result.error !== null && (
        <Alert color="red" title="Error">
          <Json value={result.error} />
        </Alert>
      )}
      <Title order={4}>Stages</Title>
      {result.stages.map((s) => {
        const changed = s.changed ?? [];
        return (
          <Paper key={s.index} withBorder p="xs" data-testid={`stage-${s.index}`}>
            <Group justify="space-between">
              <Text fw={600}>
                {s.index + 1}. {s.kind}
              </Text>
              <Text size="sm">{s.durationMs.toFixed(2)} ms</Text>
            </Group>
            {s.kind === 'mask' && (
              <Text size="sm" data-testid="masked-fields">
                Masked: {changed.length ? changed.join(', ') : 'nothing changed'}
              </Text>
            )}
            {s.dropped && <Text size="sm">dropped the message</Text>}
            {s.error !== null && s.error !== undefined && <Json value={s.error} />}
            <details>
              <summary>Input and output</summary>
              <Text size="sm">Input</Text>
              <Json value={s.input} />
              <Text size="sm">Output</Text>
              <Json value={s.output} />
            </details>
          </Paper>
        );
      })}
      <Title order={4}>Deliveries</Title>
      {result.deliveries.length === 0 && <Text size="sm">none</Text>}
      {result.deliveries.map((d, i) => (
        <Paper key={i} withBorder p="xs" data-testid="delivery">
          <Text size="sm" fw={600}>
            destination {d.destination}: {d.type} → {JSON.stringify(d.target)}
            {d.routingKey ? ` (routing key ${d.routingKey})` : ''}
            {d.key ? ` (key ${d.key})` : ''}
          </Text>
          <Json value={d.body} />
        </Paper>
      ))}
    </Stack>
  );
}

function useConnectionCompletion(): CompletionSource {
  const client = useQueryClient();
  return async (context) => {
    const word = context.matchBefore(/\bconnection:\s*[\w.-]*$/);
    if (!word) return null;
    const connections = await client
      .fetchQuery({
        queryKey: ['connections'],
        queryFn: () => data(api.GET('/api/v1/connections')),
        staleTime: 30_000,
      })
      .catch(() => []);
    const start =
      word.from +
      word.text.indexOf(':') +
      1 +
      (word.text.split(':')[1].length - word.text.split(':')[1].trimStart().length);
    return {
      from: start,
      options: connections.map((c) => ({ label: c.name, detail: c.type, type: 'variable' })),
    };
  };
}

const NAME_KINDS = { queue: 'queues', exchange: 'exchanges', topic: 'topics' } as const;

/**
 * Queue, exchange and topic names from the server, for the value of `queue:`, `exchange:` or
 * `topic:` beside a `connection:`: the names other routes use with that connection (and a Kafka
 * cluster's topics).
 */
function useEndpointNameCompletion(): CompletionSource {
  const client = useQueryClient();
  return async (context) => {
    const word = context.matchBefore(/\b(queue|exchange|topic):[ \t]*[\w.\-/]*$/);
    if (!word) return null;
    const key = word.text.slice(0, word.text.indexOf(':')) as keyof typeof NAME_KINDS;
    const connection = connectionBeside(context.state.doc.toString(), word.from);
    if (!connection) return null;
    const names = await client
      .fetchQuery({
        queryKey: ['connection-names', connection],
        queryFn: () =>
          data(
            api.GET('/api/v1/connections/{name}/names', {
              params: { path: { name: connection } },
            }),
          ),
        staleTime: 30_000,
      })
      .catch(() => undefined);
    if (!names) return null;
    const value = word.text.slice(key.length + 1);
    return {
      from: word.from + key.length + 1 + (value.length - value.trimStart().length),
      options: names[NAME_KINDS[key]].map((n) => ({ label: n, detail: connection, type: 'text' })),
      validFor: /^[\w.\-/]*$/,
    };
  };
}

/** Named samples of a route: every activation runs them, and is refused when one leaks a card number. */
function Samples(props: {
  routeId: string;
  canWrite: boolean;
  sample: unknown;
  onLoad(body: unknown): void;
}) {
  const client = useQueryClient();
  const [name, setName] = useState('');
  const [error, setError] = useState<string>();
  const key = ['samples', props.routeId];
  const samples = useQuery({
    queryKey: key,
    queryFn: () =>
      data(api.GET('/api/v1/routes/{id}/samples', { params: { path: { id: props.routeId } } })),
  });
  const save = async () => {
    setError(undefined);
    try {
      await data(
        api.PUT('/api/v1/routes/{id}/samples/{name}', {
          params: { path: { id: props.routeId, name } },
          body: { body: props.sample as Schemas['SampleInputDto']['body'] },
        }),
      );
      setName('');
      await client.invalidateQueries({ queryKey: key });
    } catch (err) {
      setError(errorMessage(err));
    }
  };
  const remove = async (sample: string) => {
    await data(
      api.DELETE('/api/v1/routes/{id}/samples/{name}', {
        params: { path: { id: props.routeId, name: sample } },
      }),
    ).catch((err: unknown) => setError(errorMessage(err)));
    await client.invalidateQueries({ queryKey: key });
  };
  return (
    <Paper withBorder p="xs">
      <Text fw={600} size="sm">
        Samples that guard activation
      </Text>
      {(samples.data ?? []).length === 0 && <Text size="sm">None yet.</Text>}
      {(samples.data ?? []).map((s) => (
        <Group key={s.name} gap="xs" data-testid={`sample-${s.name}`}>
          <Button size="xs" variant="subtle" onClick={() => props.onLoad(s.body)}>
            Load sample {s.name}
          </Button>
          {props.canWrite && (
            <Button
              size="xs"
              variant="subtle"
              color="var(--mantine-color-error)"
              onClick={() => void remove(s.name)}
            >
              Delete sample {s.name}
            </Button>
          )}
        </Group>
      ))}
      {props.canWrite && (
        <Group align="end" gap="xs" mt="xs">
          <TextInput
            label="Sample name"
            size="xs"
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
          />
          <Button
            size="xs"
            disabled={!name || props.sample === undefined}
            onClick={() => void save()}
          >
            Save the message as a guarding sample
          </Button>
        </Group>
      )}
      {error && (
        <Text size="sm" c="var(--mantine-color-error)" role="alert">
          {error}
        </Text>
      )}
    </Paper>
  );
}

/** A route's ETag as the gateway makes it: incarnation, latest and active version. */
function routeTag(route?: Schemas['RouteViewDto']): string | undefined {
  return route
    ? `"${route.incarnation}.${route.latestVersion}.${route.activeVersion ?? 0}"`
    : undefined;
}

interface EditorProps {
  routeId?: string;
  initial: string;
  route?: Schemas['RouteViewDto'];
  /** The sample message to start with (a dead letter's payload, say). */
  initialSample?: string;
}

function Editor({ routeId, initial, route, initialSample }: EditorProps) {
  const me = useMe();
  const client = useQueryClient();
  const navigate = useNavigate();
  const canWrite = me.can('routes.write');
  // An unsaved edit of this user's that something took away (the session ending, a reload, a
  // click elsewhere) is offered back, on the version it was made on.
  const [user] = useState(me.principal.id);
  const draftKey = routeId ?? 'new';
  const [restored, setRestored] = useState(() => {
    const draft = canWrite ? readDraft(user, draftKey) : undefined;
    return draft && draft.text !== initial ? draft : undefined;
  });
  // Bumped to put a text into the editor (the editor owns its text after mount).
  const [generation, setGeneration] = useState(0);
  const [text, setText] = useState(restored?.text ?? initial);
  const [saved, setSaved] = useState(initial);
  const [startedOn, setStartedOn] = useState(restored ? restored.version : route?.latestVersion);
  const [sample, setSample] = useState(initialSample ?? DEFAULT_SAMPLE);
  const [comment, setComment] = useState('');
  const [problems, setProblems] = useState<Problem[]>([]);
  const [message, setMessage] = useState<{ color: string; text: string }>();
  const [busy, setBusy] = useState(false);
  const [guard, setGuard] = useState<SampleGuardRefusal>();
  // Another editor saved or activated a version since this buffer was read (a 412).
  const [conflict, setConflict] = useState(false);
  // The route's state the buffer was read at (its ETag), sent with each change: a save or an
  // activation after another editor's is refused (412) rather than silently undoing theirs.
  const [base, setBase] = useState(() => (restored ? restored.base : routeTag(route)));
  const completeConnection = useConnectionCompletion();
  const completeName = useEndpointNameCompletion();
  // Captured once by the editor at mount: both only close over the (stable) query client.
  const complete: CompletionSource = async (context) =>
    (await completeName(context)) ?? completeConnection(context);
  const canActivate = me.can('routes.activate');
  const [debouncedText] = useDebouncedValue(text, 400);
  const draft = useRef({ text, saved, base, startedOn });
  draft.current = { text, saved, base, startedOn };
  const remember = useRef(() => {
    if (!canWrite) return;
    const d = draft.current;
    if (d.text === d.saved) dropDraft(user, draftKey);
    else keepDraft(user, draftKey, { text: d.text, base: d.base, version: d.startedOn });
  }).current;
  useEffect(remember, [debouncedText, saved, base, remember]);
  // And as the editor goes (the session ended, another screen): the last keystrokes too.
  useEffect(() => remember, [remember]);
  const discardDraft = () => {
    dropDraft(user, draftKey);
    setRestored(undefined);
    setText(initial);
    setSaved(initial);
    setBase(routeTag(route));
    setStartedOn(route?.latestVersion);
    setGeneration((g) => g + 1);
  };
  const [debouncedSample] = useDebouncedValue(sample, 400);
  // The dry run waits for a document the server found valid (else it would only repeat the problems).
  const [validText, setValidText] = useState<string>();

  const [checked, setChecked] = useState<string>();
  const lint = async (source: string): Promise<Diagnostic[]> => {
    const done = (diagnostics: Diagnostic[]) => {
      setChecked(source);
      return diagnostics;
    };
    const parsed = parseYaml(source);
    if (parsed.errors.length) {
      setValidText(undefined);
      setProblems(
        parsed.errors.map((e) => ({ message: `YAML: ${e.message}`, line: lineAt(source, e.from) })),
      );
      return done(
        parsed.errors.map((e) => ({
          from: e.from,
          to: Math.min(e.to, source.length),
          severity: 'error',
          message: e.message,
        })) as Diagnostic[],
      );
    }
    const result = await data(
      api.POST('/api/v1/routes/validate', {
        body: source as unknown as Schemas['RouteDocument'],
        ...AS_YAML,
      }),
    ).catch((err: unknown) => {
      // A text the server would not even read (too long, say): its problems, as a save's.
      const refused = err instanceof ApiError && err.status === 400 && err.body.details?.problems;
      return refused ? { valid: false, problems: refused as Problem[] } : undefined;
    });
    if (!result) return done([]);
    setProblems(result.problems);
    setValidText(result.valid ? source : undefined);
    return done(
      result.problems.map((p: Problem) => {
        const pointer = p.pointer ?? '';
        const [from, to] =
          pointer === '' && p.line !== undefined
            ? lineRange(source, p.line)
            : pointerRange(parsed.doc, pointer, source.length);
        return {
          from,
          to: Math.min(to, source.length),
          severity: 'error',
          message: `${pointer || '/'}: ${p.message}`,
        } as Diagnostic;
      }),
    );
  };

  const sampleBody = useMemo(() => {
    try {
      return { ok: true as const, value: JSON.parse(debouncedSample) as unknown };
    } catch (err) {
      return { ok: false as const, error: (err as Error).message };
    }
  }, [debouncedSample]);

  // Why the live test has not run this text and sample, once that is known: the last result
  // (of another text or sample) is not shown as if it were this one's.
  const notRun = !sampleBody.ok
    ? 'Not run: the sample is not valid JSON.'
    : checked === text && validText !== text
      ? 'Not run: the document has problems (listed under it).'
      : undefined;

  const dryRun = useQuery({
    queryKey: ['dry-run', debouncedText, debouncedSample],
    enabled: sampleBody.ok && validText !== undefined && validText === debouncedText,
    queryFn: () =>
      data(
        api.POST('/api/v1/routes/test', {
          body: {
            source: debouncedText,
            message: {
              body: (sampleBody.ok
                ? sampleBody.value
                : null) as Schemas['DryRunMessageDto']['body'],
            },
          },
        }),
      ),
    retry: false,
    placeholderData: (previous) => previous,
  });

  /**
   * A 412: someone else's version came in between. The route is read again (the summary and the
   * buttons show where it is now) and the buffer stays; the user chooses what to do.
   */
  const conflicted = async (err: unknown): Promise<boolean> => {
    if (!(err instanceof ApiError && err.status === 412)) return false;
    setConflict(true);
    setMessage(undefined);
    await client.invalidateQueries({ queryKey: ['route', routeId] });
    return true;
  };

  const save = async (over = base) => {
    const ifMatch = over ? { 'If-Match': over } : {};
    const parsed = parseYaml(text);
    if (parsed.errors.length) {
      setMessage({ color: 'red', text: 'The YAML does not parse: fix it first.' });
      return;
    }
    setBusy(true);
    setMessage(undefined);
    try {
      if (!routeId) {
        const created = await data(
          api.POST('/api/v1/routes', {
            body: text as unknown as Schemas['RouteDocument'],
            params: { query: { comment: comment || undefined } },
            ...AS_YAML,
          }),
        );
        setSaved(text);
        draft.current.saved = text;
        dropDraft(user, draftKey);
        await client.invalidateQueries({ queryKey: ['routes'] });
        await navigate({ to: '/routes/$id', params: { id: created.id } });
        return;
      }
      const updated = await data(
        api.PUT('/api/v1/routes/{id}', {
          params: {
            path: { id: routeId },
            query: { comment: comment || undefined },
            header: ifMatch,
          },
          body: text as unknown as Schemas['RouteDocument'],
          ...AS_YAML,
        }),
      );
      setSaved(text);
      setConflict(false);
      setRestored(undefined);
      setStartedOn(updated.latestVersion);
      setComment('');
      setBase(routeTag(updated));
      client.setQueryData(['route', routeId], updated);
      await client.invalidateQueries({ queryKey: ['routes'] });
      await client.invalidateQueries({ queryKey: ['versions', routeId] });
      setMessage({
        color: 'green',
        text:
          updated.latestVersion === route?.latestVersion
            ? `Unchanged: still version ${updated.latestVersion}.`
            : `Saved as version ${updated.latestVersion}.`,
      });
    } catch (err) {
      if (!(await conflicted(err))) setMessage({ color: 'red', text: errorMessage(err) });
    } finally {
      setBusy(false);
    }
  };

  const activate = async (version: number, reason?: string) => {
    setBusy(true);
    setGuard(undefined);
    try {
      const r = await data(
        api.POST('/api/v1/routes/{id}/versions/{version}/activate', {
          params: { path: { id: routeId!, version }, header: base ? { 'If-Match': base } : {} },
          body: reason ? { override: { reason } } : {},
        }),
      );
      setBase(routeTag(r));
      client.setQueryData(['route', routeId], r);
      await client.invalidateQueries({ queryKey: ['routes'] });
      await client.invalidateQueries({ queryKey: ['route-status', routeId] });
      setMessage({ color: 'green', text: `Version ${version} is active.` });
    } catch (err) {
      if (await conflicted(err)) return;
      setGuard(sampleGuardRefusal(err, version));
      setMessage({ color: 'red', text: errorMessage(err) });
    } finally {
      setBusy(false);
    }
  };

  const status = useQuery({
    queryKey: ['route-status', routeId],
    enabled: routeId !== undefined,
    queryFn: () =>
      data(api.GET('/api/v1/routes/{id}/status', { params: { path: { id: routeId! } } })),
    refetchInterval: 3000,
  });

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>{routeId ? `Route ${routeId}` : 'New route'}</Title>
        {route && (
          <Group>
            {status.data && <StateBadge state={status.data.state} />}
            <Text size="sm" data-testid="versions-summary">
              active {route.activeVersion === null ? 'none' : `v${route.activeVersion}`}, latest v
              {route.latestVersion}
            </Text>
            {status.data && (
              <Text size="sm" data-testid="processed">
                {status.data.processed} processed
              </Text>
            )}
            <AnchorLink to="/routes/$id/versions" params={{ id: route.id }}>
              Versions
            </AnchorLink>
          </Group>
        )}
      </Group>
      <Grid>
        <Grid.Col span={{ base: 12, lg: 7 }}>
          <Stack gap="xs">
            <Text component="label" fw={500} id="editor-label">
              Route document (YAML)
            </Text>
            {restored && (
              <Alert
                color="blue"
                role="status"
                data-testid="draft-restored"
                title="Your unsaved changes are back"
              >
                <Stack gap="xs" align="start">
                  <Text size="sm">
                    The editor holds the changes you had not saved
                    {restored.version !== undefined ? `, made on version ${restored.version}` : ''}.
                    {route &&
                    restored.version !== undefined &&
                    restored.version !== route.latestVersion
                      ? ` Version ${route.latestVersion} has been saved since: compare them before saving.`
                      : ''}
                  </Text>
                  <Button size="xs" variant="default" onClick={discardDraft}>
                    Discard my changes
                  </Button>
                </Stack>
              </Alert>
            )}
            <CodeEditor
              key={generation}
              initial={restored?.text ?? initial}
              label="Route document (YAML)"
              schema={routeSchema}
              onChange={setText}
              lint={lint}
              complete={complete}
              readOnly={!canWrite}
              minHeight="20rem"
            />
            <div aria-live="polite" data-testid="problems">
              {checked !== text ? (
                <Text size="sm">Checking…</Text>
              ) : problems.length === 0 ? (
                <Text size="sm">No problems.</Text>
              ) : (
                <List size="sm">
                  {problems.map((p, i) => (
                    <List.Item key={i}>
                      {p.line !== undefined ? `line ${p.line}: ` : ''}
                      {p.pointer !== undefined ? <Code>{p.pointer || '/'}</Code> : null} {p.message}
                    </List.Item>
                  ))}
                </List>
              )}
            </div>
            {canWrite && (
              <Group align="end">
                <TextInput
                  data-testid="comment"
                  label="Comment (kept with the version)"
                  value={comment}
                  onChange={(e) => setComment(e.currentTarget.value)}
                  style={{ flex: 1 }}
                />
                <Button
                  data-testid="save"
                  onClick={() => void save()}
                  loading={busy}
                  disabled={routeId !== undefined && text === saved}
                >
                  {routeId
                    ? `Save as version ${(route?.latestVersion ?? 0) + 1}`
                    : 'Create route (version 1, active)'}
                </Button>
              </Group>
            )}
            {canActivate && route && route.activeVersion !== route.latestVersion && (
              <Button
                data-testid="activate"
                variant="outline"
                onClick={() => void activate(route.latestVersion)}
                loading={busy}
                disabled={text !== saved}
              >
                Activate version {route.latestVersion}
              </Button>
            )}
            {conflict && route && (
              <Alert
                color="orange"
                role="alert"
                data-testid="conflict"
                title="Someone else changed this route"
                styles={{ title: { color: 'var(--mantine-color-text)' } }}
              >
                <Stack gap="xs" align="start">
                  <Text size="sm">
                    Since you started
                    {startedOn !== undefined ? ` on version ${startedOn}` : ''}, the route has moved
                    on: it is now at version {route.latestVersion}, with{' '}
                    {route.activeVersion === null ? 'no version' : `version ${route.activeVersion}`}{' '}
                    active. Nothing of yours was saved; your text is still here.
                  </Text>
                  {startedOn !== undefined && startedOn !== route.latestVersion && (
                    <ButtonLink
                      // A default button: the link's blue on the alert's tint is too faint.
                      size="xs"
                      variant="default"
                      to="/routes/$id/versions"
                      params={{ id: route.id }}
                      search={{ left: startedOn, right: route.latestVersion }}
                    >
                      Compare version {startedOn} with version {route.latestVersion}
                    </ButtonLink>
                  )}
                  {canWrite && (
                    <Button
                      size="xs"
                      variant="default"
                      loading={busy}
                      onClick={() => {
                        const now = routeTag(route);
                        setBase(now);
                        setStartedOn(route.latestVersion);
                        setConflict(false);
                        void save(now);
                      }}
                    >
                      Save my text as version {route.latestVersion + 1}
                    </Button>
                  )}
                </Stack>
              </Alert>
            )}
            {guard && (
              <SampleGuard
                key={guard.version}
                refusal={guard}
                canOverride={me.principal.roles.includes('admin')}
                actionLabel={`Activate version ${guard.version} anyway`}
                busy={busy}
                onOverride={(reason) => void activate(guard.version, reason)}
              />
            )}
            {message && (
              <Alert
                color={message.color}
                role={message.color === 'red' ? 'alert' : 'status'}
                data-testid="editor-message"
              >
                {message.text}
              </Alert>
            )}
          </Stack>
        </Grid.Col>
        <Grid.Col span={{ base: 12, lg: 5 }}>
          <Stack gap="xs">
            <Textarea
              label="Sample message (JSON)"
              autosize
              minRows={6}
              maxRows={16}
              value={sample}
              onChange={(e) => setSample(e.currentTarget.value)}
              error={sampleBody.ok ? undefined : sampleBody.error}
              styles={{ input: { fontFamily: 'monospace' } }}
            />
            {routeId && (
              <Samples
                routeId={routeId}
                canWrite={canWrite}
                sample={sampleBody.ok ? sampleBody.value : undefined}
                onLoad={(body) => setSample(JSON.stringify(body, null, 2))}
              />
            )}
            <Title order={3} size="h4">
              Live test
            </Title>
            <Text size="sm" c="dimmed">
              Runs on every edit of the document or the sample; nothing is saved or sent.
            </Text>
            {notRun ? (
              <Text size="sm" fw={600} role="status" data-testid="not-run">
                {notRun}
              </Text>
            ) : (
              <>
                {dryRun.isError && (
                  <Alert color="red" role="alert">
                    {errorMessage(dryRun.error)}
                  </Alert>
                )}
                {dryRun.data && <DryRunView result={dryRun.data} />}
              </>
            )}
            {/* A draft runs over the stored payloads: for those who may write the route. */}
            {routeId && me.can('deadletters.read') && me.can('routes.write') && (
              <DraftPreview routeId={routeId} document={text} />
            )}
          </Stack>
        </Grid.Col>
      </Grid>
    </Stack>
  );
}

export function NewRouteEditor() {
  return <Editor initial={NEW_ROUTE} />;
}

export function RouteEditor() {
  const { id } = routeRoute.useParams();
  const route = useQuery({
    queryKey: ['route', id],
    // JSON (the default answer); the YAML form of this endpoint is for other clients.
    queryFn: () =>
      data(api.GET('/api/v1/routes/{id}', { params: { path: { id } } })) as Promise<
        Schemas['RouteViewDto']
      >,
  });
  const latest = route.data?.latestVersion;
  // The text of the latest version as it was written (comments kept), once per route.
  const source = useQuery({
    // Per version: a route another editor changed since is read again, not shown as it was.
    queryKey: ['route-source', id, latest],
    enabled: latest !== undefined,
    staleTime: Infinity,
    // While a newer version's text of the same route loads (after this editor's own save, say),
    // the editor stays as it is: unmounting it would drop its buffer state and the save's
    // message. Never another route's text.
    placeholderData: (previous, previousQuery) =>
      previousQuery?.queryKey[1] === id ? previous : undefined,
    queryFn: async () =>
      editableSource(
        await data(
          api.GET('/api/v1/routes/{id}/versions/{version}', {
            params: { path: { id, version: latest! } },
          }),
        ),
      ),
  });
  // `?sample=dead-letter:<id>`: that dead letter's payload (card numbers redacted) as the sample.
  const { sample } = routeRoute.useSearch();
  const deadLetterId = sample?.startsWith('dead-letter:') ? sample.slice(12) : undefined;
  const letter = useQuery({
    queryKey: ['dead-letter', deadLetterId],
    enabled: deadLetterId !== undefined,
    queryFn: () =>
      data(api.GET('/api/v1/dead-letters/{id}', { params: { path: { id: deadLetterId! } } })),
  });
  const error = route.error ?? source.error ?? letter.error;
  if (error) return <Alert color="red">{errorMessage(error)}</Alert>;
  if (!route.data || source.data === undefined || (deadLetterId && !letter.data))
    return <Text>Loading…</Text>;
  return (
    <Editor
      key={`${id}:${sample ?? ''}`}
      routeId={id}
      route={route.data}
      initial={source.data}
      initialSample={letter.data ? JSON.stringify(letter.data.payload, null, 2) : undefined}
    />
  );
}
