import {
  Alert,
  Anchor,
  Badge,
  Button,
  Code,
  Group,
  SegmentedControl,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Timeline,
  Title,
} from '@mantine/core';
import { useInfiniteQuery, useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { useEffect, useState, type FormEvent } from 'react';
import { api, data, errorMessage, type Schemas } from '../api';
import { toIso, toLocal } from '../local-time';
import { AnchorLink } from '../links';
import { auditRoute, auditStoryRoute, type AuditSearch } from '../audit-routes';

const MESSAGE_OUTCOMES = ['delivered', 'filtered', 'unroutable', 'dead-lettered', 'replayed'];
const EVENT_OUTCOMES = ['success', 'failure', 'denied'];

type Kind = 'messages' | 'events';
type Filters = Omit<AuditSearch, 'kind'>;

/** The filters each list takes (the rest of the URL's are kept for the other list). */
const FIELDS: Record<Kind, Array<{ key: keyof Filters; label: string; placeholder?: string }>> = {
  messages: [
    { key: 'messageId', label: 'Message id' },
    { key: 'traceId', label: 'Trace id', placeholder: '32 hex digits, or a traceparent' },
    { key: 'routeId', label: 'Route' },
    { key: 'destination', label: 'Destination', placeholder: 'kafka:orders, amqp:orders/' },
    { key: 'q', label: 'Text in the ids', placeholder: 'message, route, error code' },
  ],
  events: [
    { key: 'type', label: 'Event type', placeholder: 'route.updated' },
    { key: 'actor', label: 'Actor' },
    { key: 'targetId', label: 'Target id' },
    { key: 'q', label: 'Text', placeholder: 'actor, type, target, address' },
  ],
};

function filtersOf(search: AuditSearch, kind: Kind): Record<string, string> {
  const keys = [...FIELDS[kind].map((f) => f.key), 'outcome', 'from', 'to'] as Array<keyof Filters>;
  const out: Record<string, string> = {};
  for (const k of keys) {
    const v = search[k];
    // A bookmark's trace id as the search box would have made it (upper case, a traceparent).
    if (v) out[k] = k === 'traceId' ? traceIdOf(v) : v;
  }
  return out;
}

const when = (iso: string) => new Date(iso).toLocaleString();

/** A W3C trace id, as the API takes it. */
const TRACE_ID = /^[0-9a-f]{32}$/;
/** A W3C traceparent header (version, trace id, parent span id, flags). */
const TRACEPARENT = /^[0-9a-f]{2}-([0-9a-f]{32})-[0-9a-f]{16}-[0-9a-f]{2}$/;

/**
 * A trace id as the API takes it (32 lower-case hex digits): upper case as some tools show it,
 * or the trace id out of a whole traceparent header pasted in. Anything else stays as typed: the
 * screen says it is no trace id, and asks the API nothing.
 */
function traceIdOf(text: string): string {
  const lower = text.trim().toLowerCase();
  return TRACEPARENT.exec(lower)?.[1] ?? lower;
}

/** Whether this gateway allows exports (the server says so in index.html; it refuses them too). */
function exportsAllowed(): boolean {
  const meta = document.querySelector('meta[name="junction-audit-export"]');
  return meta?.getAttribute('content') !== 'off';
}

function exportHref(kind: Kind, filters: Record<string, string>, format: 'csv' | 'ndjson') {
  const params = new URLSearchParams({ ...filters, kind, format });
  return `/api/v1/audit/export?${params.toString()}`;
}

function SavedSearches({
  kind,
  filters,
  savable,
}: {
  kind: Kind;
  filters: Record<string, string>;
  /** False while the search cannot be run (its trace id is none): nothing to keep. */
  savable: boolean;
}) {
  const client = useQueryClient();
  const navigate = useNavigate({ from: '/audit' });
  const [name, setName] = useState('');
  const saved = useQuery({
    queryKey: ['audit-searches'],
    queryFn: () => data(api.GET('/api/v1/audit/searches')),
  });
  const save = useMutation({
    mutationFn: () =>
      data(api.POST('/api/v1/audit/searches', { body: { name, kind, query: filters } })),
    onSuccess: async () => {
      setName('');
      await client.invalidateQueries({ queryKey: ['audit-searches'] });
    },
  });
  const remove = useMutation({
    mutationFn: (id: string) =>
      data(api.DELETE('/api/v1/audit/searches/{id}', { params: { path: { id } } })),
    onSettled: () => client.invalidateQueries({ queryKey: ['audit-searches'] }),
  });
  return (
    <section aria-labelledby="saved-searches-title">
      <Title order={3} size="h4" id="saved-searches-title" mb="xs">
        Saved searches
      </Title>
      <form
        onSubmit={(e) => {
          e.preventDefault();
          if (name.trim() && savable) save.mutate();
        }}
      >
        <Group align="end" mb="sm">
          <TextInput
            label="Save this search as"
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            maxLength={100}
          />
          <Button
            type="submit"
            variant="default"
            disabled={!name.trim() || !savable}
            loading={save.isPending}
          >
            Save search
          </Button>
        </Group>
        {save.isError && (
          <Text c="var(--mantine-color-error)" size="sm" role="alert">
            {errorMessage(save.error)}
          </Text>
        )}
      </form>
      {saved.data && saved.data.length === 0 && (
        <Text size="sm" c="dimmed">
          None yet.
        </Text>
      )}
      <Stack gap={4} component="ul" style={{ listStyle: 'none', padding: 0, margin: 0 }}>
        {(saved.data ?? []).map((s) => (
          <Group key={s.id} component="li" gap="xs" data-testid="saved-search">
            <Anchor
              component="button"
              type="button"
              onClick={() =>
                void navigate({ search: { kind: s.kind, ...(s.query as Filters) }, replace: false })
              }
            >
              {s.name}
            </Anchor>
            <Text span size="xs" c="dimmed">
              ({s.kind})
            </Text>
            <Button
              size="compact-xs"
              variant="subtle"
              color="red"
              aria-label={`Delete saved search ${s.name}`}
              onClick={() => remove.mutate(s.id)}
            >
              Delete
            </Button>
          </Group>
        ))}
      </Stack>
    </section>
  );
}

function destinationText(d: unknown): string {
  const r = (d as { receipt?: Record<string, unknown> } | null)?.receipt ?? {};
  switch (r.kind) {
    case 'amqp':
      return `AMQP exchange ${String(r.exchange) || '(default)'}, routing key ${String(r.routingKey)}`;
    case 'kafka':
      return `Kafka ${String(r.topic)} partition ${String(r.partition)} offset ${String(r.offset)}`;
    case 'http':
      return `HTTP ${String(r.status)} from ${String(r.url)}`;
    case 'log':
      return 'log';
    default:
      return JSON.stringify(r);
  }
}

function MessageRows({ items }: { items: Schemas['MessageAuditDto'][] }) {
  return (
    <Table striped aria-label="Message records">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>Recorded</Table.Th>
          <Table.Th>Message</Table.Th>
          <Table.Th>Route</Table.Th>
          <Table.Th>Outcome</Table.Th>
          <Table.Th>Attempts</Table.Th>
          <Table.Th>Destinations</Table.Th>
          <Table.Th>Record</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {items.map((m) => (
          <Table.Tr key={m.id} data-testid="message-record">
            <Table.Td>{when(m.recordedAt)}</Table.Td>
            <Table.Td>
              <AnchorLink to="/audit/messages/$id" params={{ id: m.messageId }}>
                {m.messageId}
              </AnchorLink>
            </Table.Td>
            <Table.Td>
              {m.routeId} v{m.routeVersion}
            </Table.Td>
            <Table.Td>{m.outcome}</Table.Td>
            <Table.Td>{m.attempts}</Table.Td>
            <Table.Td>
              {(m.destinations as unknown[]).map(destinationText).join('; ') || 'none'}
            </Table.Td>
            <Table.Td>#{m.id}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

function EventRows({ items }: { items: Schemas['EventAuditDto'][] }) {
  return (
    <Table striped aria-label="Admin events">
      <Table.Thead>
        <Table.Tr>
          <Table.Th>Recorded</Table.Th>
          <Table.Th>Event</Table.Th>
          <Table.Th>Actor</Table.Th>
          <Table.Th>Outcome</Table.Th>
          <Table.Th>Target</Table.Th>
          <Table.Th>Record</Table.Th>
        </Table.Tr>
      </Table.Thead>
      <Table.Tbody>
        {items.map((e) => (
          <Table.Tr key={e.id} data-testid="event-record">
            <Table.Td>{when(e.recordedAt)}</Table.Td>
            <Table.Td>{e.type}</Table.Td>
            <Table.Td>{e.actor}</Table.Td>
            <Table.Td>{e.outcome}</Table.Td>
            <Table.Td>{e.target ? `${e.target.type ?? ''} ${e.target.id ?? ''}` : ''}</Table.Td>
            <Table.Td>#{e.id}</Table.Td>
          </Table.Tr>
        ))}
      </Table.Tbody>
    </Table>
  );
}

function useRecords(kind: Kind, filters: Record<string, string>, enabled: boolean) {
  return useInfiniteQuery({
    queryKey: ['audit', kind, filters],
    enabled,
    // Reading message records is itself audited (audit.messages.listed, one event per page): a
    // focus of the window must not read every loaded page again. Search again to refresh.
    refetchOnWindowFocus: false,
    initialPageParam: undefined as string | undefined,
    getNextPageParam: (last: { nextCursor: string | null }) => last.nextCursor ?? undefined,
    queryFn: async ({ pageParam }) =>
      kind === 'messages'
        ? {
            kind: 'messages' as const,
            ...(await data(
              api.GET('/api/v1/audit/messages', {
                params: { query: { ...filters, cursor: pageParam, limit: 50 } },
              }),
            )),
          }
        : {
            kind: 'events' as const,
            ...(await data(
              api.GET('/api/v1/audit/events', {
                params: { query: { ...filters, cursor: pageParam, limit: 50 } },
              }),
            )),
          },
  });
}

/** Search messages and admin events; every filter lives in the URL (bookmarkable). */
export function AuditScreen() {
  const search = auditRoute.useSearch();
  const kind: Kind = search.kind === 'events' ? 'events' : 'messages';
  const navigate = useNavigate({ from: '/audit' });
  const filters = filtersOf(search, kind);
  const [draft, setDraft] = useState<Record<string, string>>(filters);
  const key = JSON.stringify(filters);
  useEffect(() => setDraft(JSON.parse(key) as Record<string, string>), [key]);
  // A trace id that cannot be one (typed, or in a hand-made bookmark) is said so here, not sent.
  const badTrace =
    kind === 'messages' && filters.traceId !== undefined && !TRACE_ID.test(filters.traceId);
  const records = useRecords(kind, filters, !badTrace);
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const next: AuditSearch = { kind };
    for (const [k, v] of Object.entries(draft))
      if (v.trim()) next[k as keyof Filters] = k === 'traceId' ? traceIdOf(v) : v.trim();
    void navigate({ search: next });
  };
  const set = (k: string, v: string) => setDraft((d) => ({ ...d, [k]: v }));
  const messages = (records.data?.pages ?? []).flatMap((p) =>
    p.kind === 'messages' ? p.items : [],
  );
  const events = (records.data?.pages ?? []).flatMap((p) => (p.kind === 'events' ? p.items : []));
  const count = kind === 'messages' ? messages.length : events.length;
  return (
    <>
      <Title order={2} mb="md">
        Audit
      </Title>
      <SegmentedControl
        mb="md"
        aria-label="Records to search"
        value={kind}
        onChange={(v) => void navigate({ search: { kind: v as Kind } })}
        data={[
          { value: 'messages', label: 'Messages' },
          { value: 'events', label: 'Admin events' },
        ]}
      />
      <form onSubmit={submit} aria-label="Search the audit trail">
        <Group align="end" mb="md" wrap="wrap">
          {FIELDS[kind].map((f) => (
            <TextInput
              key={f.key}
              name={f.key}
              label={f.label}
              placeholder={f.placeholder}
              value={draft[f.key] ?? ''}
              onChange={(e) => set(f.key, e.currentTarget.value)}
            />
          ))}
          <Select
            label="Outcome"
            clearable
            placeholder="any"
            data={kind === 'messages' ? MESSAGE_OUTCOMES : EVENT_OUTCOMES}
            value={draft.outcome ?? null}
            onChange={(v) => set('outcome', v ?? '')}
          />
          <TextInput
            type="datetime-local"
            label="From"
            value={toLocal(draft.from)}
            onChange={(e) => set('from', toIso(e.currentTarget.value) ?? '')}
          />
          <TextInput
            type="datetime-local"
            label="To"
            value={toLocal(draft.to)}
            onChange={(e) => set('to', toIso(e.currentTarget.value) ?? '')}
          />
          <Button type="submit">Search</Button>
        </Group>
      </form>
      {badTrace ? null : exportsAllowed() ? (
        <Group mb="md" gap="sm">
          <Text size="sm">Export this search:</Text>
          <Anchor href={exportHref(kind, filters, 'csv')} download data-testid="export-csv">
            CSV
          </Anchor>
          <Anchor href={exportHref(kind, filters, 'ndjson')} download data-testid="export-ndjson">
            NDJSON
          </Anchor>
        </Group>
      ) : (
        <Text size="sm" mb="md" c="dimmed" data-testid="exports-off">
          Exports are turned off on this gateway (JUNCTION_AUDIT_EXPORT_ENABLED=false).
        </Text>
      )}
      {badTrace && (
        <Alert color="red" title="Not a trace id" role="alert">
          A trace id is 32 hex digits; a whole traceparent header may be pasted instead.
        </Alert>
      )}
      {records.isError && (
        <Alert color="red" title="The search failed" role="alert">
          {errorMessage(records.error)}
        </Alert>
      )}
      <Text size="sm" mb="xs" aria-live="polite" data-testid="audit-count">
        {records.isPending && !badTrace
          ? 'Searching…'
          : `${count}${records.hasNextPage ? '+' : ''} record${count === 1 ? '' : 's'}`}
      </Text>
      {kind === 'messages' ? <MessageRows items={messages} /> : <EventRows items={events} />}
      {records.hasNextPage && (
        <Button
          variant="default"
          mt="sm"
          loading={records.isFetchingNextPage}
          onClick={() => void records.fetchNextPage()}
        >
          Older records
        </Button>
      )}
      <div style={{ marginTop: 'var(--mantine-spacing-xl)' }}>
        <SavedSearches kind={kind} filters={filters} savable={!badTrace} />
      </div>
    </>
  );
}

type StoryItem =
  | { at: string; record: Schemas['MessageAuditDto'] }
  | { at: string; replay: Schemas['EventAuditDto'] };

/**
 * Records in the order they were received, each replay just before the record it made: a replay
 * event is written when the replay has finished, after the record of the run it caused.
 */
function storyItems(
  records: Schemas['MessageAuditDto'][],
  replays: Schemas['EventAuditDto'][],
): StoryItem[] {
  const items: StoryItem[] = [...records]
    .sort((a, b) => a.receivedAt.localeCompare(b.receivedAt))
    .map((record) => ({ at: record.receivedAt, record }));
  for (const replay of [...replays].sort((a, b) => a.occurredAt.localeCompare(b.occurredAt))) {
    let at = 0;
    for (let i = items.length - 1; i >= 0; i--) {
      const item = items[i];
      if ('record' in item && item.at <= replay.occurredAt) {
        // The run this replay made, unless an earlier replay already stands before it.
        const taken = i > 0 && 'replay' in items[i - 1];
        at = taken ? i + 1 : i;
        break;
      }
    }
    items.splice(at, 0, { at: replay.occurredAt, replay });
  }
  return items;
}

function RecordItem({ record: r }: { record: Schemas['MessageAuditDto'] }) {
  const source = (r.source ?? {}) as Record<string, unknown>;
  const dests = r.destinations as unknown[];
  return (
    <Stack gap={4}>
      <Text size="sm">
        {when(r.receivedAt)}: from {String(source.type ?? '?')} {String(source.name ?? '')}
        {source.partition !== undefined &&
          ` (partition ${String(source.partition)}, offset ${String(source.offset)})`}
        , {r.attempts} attempt{r.attempts === 1 ? '' : 's'}
      </Text>
      {dests.length > 0 && (
        <Text size="sm">Delivered to: {dests.map(destinationText).join('; ')}</Text>
      )}
      {r.error && (
        <Text size="sm" c="var(--mantine-color-error)">
          {r.error.code}
          {r.error.where ? ` at ${r.error.where}` : ''}: {r.error.message}
        </Text>
      )}
      {r.traceId && (
        // The link beside the text, not inside it: a link in a line of text must be told apart
        // by more than its colour.
        <Group gap="xs" data-testid="trace-id">
          <Text size="sm">
            Trace <Code>{r.traceId}</Code>
          </Text>
          <Text size="sm">
            <AnchorLink to="/audit" search={{ kind: 'messages', traceId: r.traceId }}>
              every record of this trace
            </AnchorLink>
          </Text>
        </Group>
      )}
      <Text size="xs" c="dimmed" data-testid="chain-place">
        Record #{r.id} of audit_messages · hash <Code>{r.hash.slice(0, 16)}…</Code> · previous{' '}
        <Code>{r.prevHash.slice(0, 16)}…</Code>
      </Text>
      {r.body !== null && (
        <details>
          <summary>Body as kept (after the route&apos;s masking, card numbers redacted)</summary>
          <pre className="json-block">{JSON.stringify(r.body, null, 2)}</pre>
        </details>
      )}
    </Stack>
  );
}

/** The story of one message: every route, attempt, destination and replay, in order. */
export function AuditStoryScreen() {
  const { id } = auditStoryRoute.useParams();
  const story = useQuery({
    queryKey: ['audit-story', id],
    queryFn: () => data(api.GET('/api/v1/audit/messages/{id}', { params: { path: { id } } })),
    retry: false,
  });
  const items = storyItems(story.data?.records ?? [], story.data?.replays ?? []);
  return (
    <>
      <Title order={2} mb="xs">
        Story of message {story.data?.messageId ?? id}
      </Title>
      <Text mb="md">
        <AnchorLink to="/audit" search={{ kind: 'messages', messageId: id }}>
          Back to the search
        </AnchorLink>
      </Text>
      {story.isError && (
        <Alert color="red" title="No story" role="alert">
          {errorMessage(story.error)}
        </Alert>
      )}
      {story.data && (
        <Text size="sm" mb="md">
          {story.data.records.length} record{story.data.records.length === 1 ? '' : 's'} over{' '}
          {new Set(story.data.records.map((r) => r.routeId)).size} route(s),{' '}
          {story.data.replays.length} replay{story.data.replays.length === 1 ? '' : 's'}.
        </Text>
      )}
      <Timeline active={items.length} bulletSize={18} lineWidth={2} aria-label="Timeline">
        {items.map((item) =>
          'record' in item ? (
            <Timeline.Item
              key={`r${item.record.id}`}
              data-testid="story-record"
              title={
                <Group gap="xs">
                  <Text fw={600} span>
                    Route {item.record.routeId} v{item.record.routeVersion}
                  </Text>
                  <Badge variant="outline" color="gray" c="var(--mantine-color-text)">
                    {item.record.outcome}
                  </Badge>
                </Group>
              }
            >
              <RecordItem record={item.record} />
            </Timeline.Item>
          ) : (
            <Timeline.Item
              key={`e${item.replay.id}`}
              data-testid="story-replay"
              title={
                <Text fw={600} span>
                  Replayed by {item.replay.actor}
                </Text>
              }
            >
              <Text size="sm">
                {when(item.replay.occurredAt)}: dead letter {item.replay.target?.id ?? '?'},{' '}
                {item.replay.outcome}
                {typeof (item.replay.details as Record<string, unknown>)?.replayJob === 'string'
                  ? ` (bulk job ${String((item.replay.details as Record<string, unknown>).replayJob)})`
                  : ''}
              </Text>
              <Text size="xs" c="dimmed">
                Record #{item.replay.id} of audit_events · hash{' '}
                <Code>{item.replay.hash.slice(0, 16)}…</Code>
              </Text>
            </Timeline.Item>
          ),
        )}
      </Timeline>
    </>
  );
}
