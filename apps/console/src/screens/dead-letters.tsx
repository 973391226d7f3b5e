import {
  Alert,
  Badge,
  Button,
  Code,
  Group,
  Paper,
  Progress,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useInfiniteQuery, useQuery, useQueryClient } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { useState } from 'react';
import { api, data, errorMessage, type Schemas } from '../api';
import { AnchorLink } from '../links';
import { deadLettersRoute, type DeadLetterSearch } from '../ops-routes';
import { useMe } from '../session';
import { Forbidden, Json, When } from './ops-common';
import { StatusDot } from './routes';

type Filter = Omit<DeadLetterSearch, 'job'>;

/** The address's filter as the API's query (datetime-local text is local time: sent as ISO). */
function apiQuery(f: Filter): Record<string, string> {
  const iso = (v?: string) =>
    v && !Number.isNaN(Date.parse(v)) ? new Date(v).toISOString() : undefined;
  const out: Record<string, string | undefined> = {
    routeId: f.routeId,
    reasonCode: f.reasonCode,
    from: iso(f.from),
    to: iso(f.to),
    q: f.q,
  };
  return Object.fromEntries(Object.entries(out).filter(([, v]) => v)) as Record<string, string>;
}

/** The same filter as a replay job or a preview takes it (JSON). */
function bodyFilter(f: Filter): Schemas['DeadLetterFilterDto'] {
  const q = apiQuery(f);
  return { ...q, reasonCode: q.reasonCode ? [q.reasonCode] : undefined };
}

function Filters({ search, routes }: { search: Filter; routes: string[] }) {
  const navigate = useNavigate({ from: '/dead-letters' });
  const set = (patch: Partial<DeadLetterSearch>) =>
    void navigate({ search: (prev) => ({ ...prev, ...patch, job: undefined }), replace: true });
  return (
    <Group align="end" mb="md" wrap="wrap">
      <Select
        label="Route"
        placeholder="any"
        clearable
        searchable
        data={routes}
        value={search.routeId ?? null}
        onChange={(v) => set({ routeId: v ?? undefined })}
        data-testid="filter-route"
      />
      <TextInput
        label="Reason code"
        placeholder="any"
        value={search.reasonCode ?? ''}
        onChange={(e) => set({ reasonCode: e.currentTarget.value || undefined })}
        data-testid="filter-reason"
      />
      <TextInput
        type="datetime-local"
        label="From"
        value={search.from ?? ''}
        onChange={(e) => set({ from: e.currentTarget.value || undefined })}
      />
      <TextInput
        type="datetime-local"
        label="To"
        value={search.to ?? ''}
        onChange={(e) => set({ to: e.currentTarget.value || undefined })}
      />
      <TextInput
        label="Text in the reason"
        placeholder="e.g. required property"
        value={search.q ?? ''}
        onChange={(e) => set({ q: e.currentTarget.value || undefined })}
        data-testid="filter-text"
      />
      <Button
        variant="default"
        onClick={() =>
          set({
            routeId: undefined,
            reasonCode: undefined,
            from: undefined,
            to: undefined,
            q: undefined,
          })
        }
      >
        Clear
      </Button>
    </Group>
  );
}

/** Counts by reason for the filter without its reason: pick one to narrow the list to it. */
function Reasons({ search }: { search: Filter }) {
  const navigate = useNavigate({ from: '/dead-letters' });
  const counts = useQuery({
    queryKey: ['dead-letter-counts', { ...search, reasonCode: undefined }],
    queryFn: () =>
      data(
        api.GET('/api/v1/dead-letters/counts', {
          params: { query: apiQuery({ ...search, reasonCode: undefined }) },
        }),
      ),
    refetchInterval: 5000,
  });
  const reasons = counts.data?.byReason ?? [];
  return (
    <Paper withBorder p="sm" mb="md">
      <Title order={3} size="h4" mb="xs">
        By reason
      </Title>
      {counts.data && reasons.length === 0 && <Text size="sm">No dead letters.</Text>}
      <Group gap="xs" data-testid="reason-groups">
        {reasons.map((r) => {
          const selected = search.reasonCode === r.reasonCode;
          return (
            <Button
              key={r.reasonCode}
              size="xs"
              variant={selected ? 'filled' : 'default'}
              aria-pressed={selected}
              data-testid={`reason-${r.reasonCode}`}
              onClick={() =>
                void navigate({
                  search: (prev) => ({
                    ...prev,
                    reasonCode: selected ? undefined : r.reasonCode,
                    job: undefined,
                  }),
                  replace: true,
                })
              }
            >
              {r.reasonCode}: {r.count}
            </Button>
          );
        })}
      </Group>
    </Paper>
  );
}

function DeadLetterTable({ search }: { search: Filter }) {
  const list = useInfiniteQuery({
    queryKey: ['dead-letters', search],
    initialPageParam: undefined as string | undefined,
    queryFn: async ({ pageParam }) => {
      const {
        data: items,
        error,
        response,
      } = await api.GET('/api/v1/dead-letters', {
        params: { query: { ...apiQuery(search), limit: 50, cursor: pageParam } },
      });
      if (error !== undefined || !items) throw new Error(errorMessage(error) || 'failed');
      return { items, next: response.headers.get('Junction-Next-Cursor') ?? undefined };
    },
    getNextPageParam: (last) => last.next,
    refetchInterval: 10_000,
  });
  const rows = list.data?.pages.flatMap((p) => p.items) ?? [];
  return (
    <>
      {list.isError && (
        <Alert color="red" role="alert">
          {errorMessage(list.error)}
        </Alert>
      )}
      <Table striped highlightOnHover aria-label="Dead letters" data-testid="dead-letter-table">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>When</Table.Th>
            <Table.Th>Route</Table.Th>
            <Table.Th>Reason</Table.Th>
            <Table.Th>Failing stage</Table.Th>
            <Table.Th>Attempts</Table.Th>
            <Table.Th>Replays</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {rows.map((d) => (
            <Table.Tr key={d.id} data-testid="dead-letter-row">
              <Table.Td>
                <AnchorLink to="/dead-letters/$id" params={{ id: d.id }}>
                  <When at={d.createdAt} />
                </AnchorLink>
              </Table.Td>
              <Table.Td>
                {d.routeId} v{d.routeVersion}
              </Table.Td>
              <Table.Td>
                <Badge variant="light" color="red" mr="xs">
                  {d.reasonCode}
                </Badge>
                <Text span size="sm" lineClamp={2}>
                  {d.reason}
                </Text>
              </Table.Td>
              <Table.Td>
                <Code>{d.failedAt ?? 'unknown'}</Code>
              </Table.Td>
              <Table.Td>{d.attempts}</Table.Td>
              <Table.Td>
                {d.replays}
                {d.replayedAt ? ' (delivered)' : ''}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {list.data && rows.length === 0 && (
        <Text mt="md" data-testid="no-dead-letters">
          No dead letter matches.
        </Text>
      )}
      {list.hasNextPage && (
        <Button
          mt="sm"
          variant="default"
          loading={list.isFetchingNextPage}
          onClick={() => void list.fetchNextPage()}
        >
          Show more
        </Button>
      )}
    </>
  );
}

export function PreviewResult({ result }: { result: Schemas['PreviewResultDto'] }) {
  return (
    <Stack gap="xs" data-testid="preview-result">
      <Text fw={600} data-testid="preview-summary">
        {`${result.version === 'draft' ? 'This draft' : result.version === null ? 'The active version' : `Version ${result.version}`}: would now deliver ${result.wouldDeliver} of ${result.evaluated}`}
        {result.truncated ? ` (the newest ${result.evaluated} of ${result.matched} were run)` : ''}
        {result.cutShort ? '; the preview stopped at its time limit' : ''}
      </Text>
      {result.byReason.map((r) => (
        <Paper key={r.reasonCode} withBorder p="xs" data-testid={`preview-reason-${r.reasonCode}`}>
          <Text>
            <Badge variant="light" color="red" mr="xs">
              {r.reasonCode}
            </Badge>
            {`would now deliver ${r.wouldDeliver} of ${r.total}`}
            {r.dropped ? `, ${r.dropped} dropped` : ''}
            {r.failed ? `, ${r.failed} would fail again` : ''}
          </Text>
          {r.examples.map((e) => (
            <SimpleGrid key={e.deadLetterId} cols={{ base: 1, md: 2 }} mt="xs">
              <div>
                <Text size="sm" fw={600}>
                  Before (version {e.before.version})
                </Text>
                <Text size="sm">
                  {e.before.reasonCode} at <Code>{e.before.failedAt ?? 'unknown'}</Code>:{' '}
                  {e.before.reason}
                </Text>
              </div>
              <div>
                <Text size="sm" fw={600}>
                  After (version {e.after.version}): {e.after.outcome}
                  {e.after.reason ? ` (${e.after.reason})` : ''}
                </Text>
                {e.after.deliveries[0] ? (
                  <Json
                    value={e.after.deliveries[0].body}
                    label={`Delivered body of ${e.messageId}`}
                  />
                ) : (
                  e.after.error !== undefined && <Json value={e.after.error} label="Error" />
                )}
              </div>
            </SimpleGrid>
          ))}
        </Paper>
      ))}
    </Stack>
  );
}

function JobProgress({ id, canWrite }: { id: string; canWrite: boolean }) {
  const client = useQueryClient();
  const [message, setMessage] = useState<string>();
  const job = useQuery({
    queryKey: ['replay-job', id],
    queryFn: () =>
      data(api.GET('/api/v1/dead-letters/replay-jobs/{id}', { params: { path: { id } } })),
    refetchInterval: (q) =>
      q.state.data && ['done', 'cancelled', 'failed'].includes(q.state.data.state) ? false : 1000,
  });
  const j = job.data;
  if (job.isError)
    return (
      <Alert color="red" role="alert">
        {errorMessage(job.error)}
      </Alert>
    );
  if (!j) return <Text>Loading the job…</Text>;
  const finished = ['done', 'cancelled', 'failed'].includes(j.state);
  if (finished) void client.invalidateQueries({ queryKey: ['dead-letters'] });
  const cancel = async () => {
    try {
      await data(
        api.POST('/api/v1/dead-letters/replay-jobs/{id}/cancel', { params: { path: { id } } }),
      );
      await job.refetch();
    } catch (err) {
      setMessage(errorMessage(err));
    }
  };
  const pct = j.total ? Math.round(((j.done + j.failed) / j.total) * 100) : 100;
  return (
    <Paper withBorder p="sm" data-testid="replay-job">
      <Group justify="space-between">
        <Text fw={600}>Replay job</Text>
        <StatusDot
          testId="job-state"
          color={j.state === 'done' ? 'green' : j.state === 'running' ? 'blue' : 'gray'}
        >
          {j.state}
        </StatusDot>
      </Group>
      <Progress value={pct} mt="xs" aria-label={`Replay job progress: ${pct}%`} />
      <Text size="sm" mt="xs" data-testid="job-progress" role="status">
        {`${j.done} delivered, ${j.failed} failed, of ${j.total}`}
        {j.version ? ` (through version ${j.version})` : ' (through the running version)'}
        {j.ratePerSecond ? `, at most ${j.ratePerSecond}/s` : ''}
        {`, started by ${j.startedBy}`}
      </Text>
      {j.error && (
        <Text size="sm" c="var(--mantine-color-error)">
          {j.error}
        </Text>
      )}
      {canWrite && !finished && (
        <Button
          mt="xs"
          color="red"
          variant="outline"
          disabled={j.cancelRequested}
          onClick={() => void cancel()}
        >
          {j.cancelRequested ? 'Cancelling…' : 'Cancel the job'}
        </Button>
      )}
      {message && (
        <Alert color="red" role="alert" mt="xs">
          {message}
        </Alert>
      )}
    </Paper>
  );
}

/** The latest replay jobs, each a link that watches it here. */
function RecentJobs({ current }: { current?: string }) {
  const jobs = useQuery({
    queryKey: ['replay-jobs'],
    queryFn: () =>
      data(api.GET('/api/v1/dead-letters/replay-jobs', { params: { query: { limit: 5 } } })),
    refetchInterval: 5000,
  });
  const list = (jobs.data ?? []).filter((j) => j.id !== current);
  if (list.length === 0) return null;
  return (
    <Stack gap={4} mt="sm" data-testid="recent-jobs">
      <Text size="sm" fw={600}>
        Recent replay jobs
      </Text>
      {list.map((j) => (
        <Group key={j.id} gap="xs">
          <AnchorLink
            to="/dead-letters"
            search={{
              routeId: j.filter.routeId,
              reasonCode: j.filter.reasonCodes?.[0],
              q: j.filter.q,
              job: j.id,
            }}
          >
            <When at={j.createdAt} />
          </AnchorLink>
          <Text size="sm">
            {`${j.state}: ${j.done} delivered, ${j.failed} failed, of ${j.total}${j.filter.routeId ? ` (${j.filter.routeId})` : ''}, by ${j.startedBy}`}
          </Text>
        </Group>
      ))}
    </Stack>
  );
}

/** Preview a fix and replay everything the filter matches: count, preview, (activate), job. */
function BulkReplay({ search, job }: { search: Filter; job?: string }) {
  const me = useMe();
  const client = useQueryClient();
  const navigate = useNavigate({ from: '/dead-letters' });
  const canWrite = me.can('deadletters.write');
  const [version, setVersion] = useState<string | null>(null);
  const [rate, setRate] = useState('');
  const [message, setMessage] = useState<{ color: string; text: string }>();
  const [busy, setBusy] = useState(false);
  const filterKey = JSON.stringify(search);
  const count = useQuery({
    queryKey: ['replay-dry-run', search],
    enabled: canWrite,
    queryFn: () =>
      data(
        api.POST('/api/v1/dead-letters/replay-jobs', {
          body: { filter: bodyFilter(search), dryRun: true },
        }),
      ) as Promise<Schemas['ReplayJobDryRunDto']>,
  });
  const versions = useQuery({
    queryKey: ['versions', search.routeId],
    enabled: !!search.routeId && me.can('routes.read'),
    queryFn: () =>
      data(api.GET('/api/v1/routes/{id}/versions', { params: { path: { id: search.routeId! } } })),
  });
  const [preview, setPreview] = useState<{ key: string; result: Schemas['PreviewResultDto'] }>();
  const chosen = version ? Number(version) : undefined;
  const active = versions.data?.find((v) => v.active)?.version;
  // Running a version other than the active one is activating it, for the replay: those who may
  // not activate preview any version, and replay through the active one.
  const mayChoose = me.can('routes.activate');
  const throughChosen = chosen !== undefined && chosen !== active && mayChoose;

  const run = async (what: () => Promise<void>) => {
    setBusy(true);
    setMessage(undefined);
    try {
      await what();
    } catch (err) {
      setMessage({ color: 'red', text: errorMessage(err) });
    } finally {
      setBusy(false);
    }
  };
  const doPreview = () =>
    run(async () => {
      const result = await data(
        api.POST('/api/v1/dead-letters/preview', {
          body: { filter: bodyFilter(search), limit: 1000, ...(chosen ? { version: chosen } : {}) },
        }),
      );
      setPreview({ key: `${filterKey}:${version ?? ''}`, result });
    });
  const activate = () =>
    run(async () => {
      await data(
        api.POST('/api/v1/routes/{id}/versions/{version}/activate', {
          params: {
            path: { id: search.routeId!, version: chosen! },
            // The route as the version list shows it: refused (412) if it changed since.
            header: versions.data?.[0]
              ? {
                  'If-Match': `"${versions.data[0].incarnation}.${versions.data[0].version}.${active ?? 0}"`,
                }
              : {},
          },
          body: {},
        }),
      );
      await client.invalidateQueries({ queryKey: ['versions', search.routeId] });
      await client.invalidateQueries({ queryKey: ['routes'] });
      setMessage({ color: 'green', text: `Version ${chosen} of ${search.routeId} is active.` });
    });
  const replay = () =>
    run(async () => {
      const perSecond = Number(rate);
      const created = (await data(
        api.POST('/api/v1/dead-letters/replay-jobs', {
          body: {
            filter: bodyFilter(search),
            dryRun: false,
            ...(throughChosen ? { version: chosen } : {}),
            ...(rate && perSecond > 0 ? { ratePerSecond: perSecond } : {}),
          },
        }),
      )) as Schemas['ReplayJobDto'];
      await navigate({ search: (prev) => ({ ...prev, job: created.id }), replace: true });
    });

  if (!canWrite && !job) return null;
  const total = count.data?.total;
  const shownPreview =
    preview?.key === `${filterKey}:${version ?? ''}` ? preview.result : undefined;
  return (
    <Paper withBorder p="sm" mb="md">
      <Title order={3} size="h4" mb="xs">
        Fix and replay
      </Title>
      {canWrite && (
        <Stack gap="xs">
          <Text data-testid="dry-count" role="status">
            {total === undefined
              ? 'Counting…'
              : `${total} dead letter${total === 1 ? '' : 's'} match${total === 1 ? 'es' : ''} this search`}
          </Text>
          <Group align="end" wrap="wrap">
            <Select
              label="Version to run them through"
              placeholder={search.routeId ? 'the active one' : 'choose a route to pick a version'}
              disabled={!search.routeId}
              clearable
              data={(versions.data ?? []).map((v) => ({
                value: String(v.version),
                label: `version ${v.version}${v.active ? ' (active)' : ''}${v.comment ? `: ${v.comment}` : ''}`,
              }))}
              value={version}
              onChange={setVersion}
              data-testid="preview-version"
            />
            <Button
              variant="default"
              loading={busy}
              onClick={() => void doPreview()}
              disabled={!total}
            >
              Preview
            </Button>
            {chosen && chosen !== active && me.can('routes.activate') && (
              <Button variant="outline" loading={busy} onClick={() => void activate()}>
                {`Activate version ${chosen}`}
              </Button>
            )}
            <TextInput
              label="Most per second"
              placeholder="no limit"
              value={rate}
              onChange={(e) => setRate(e.currentTarget.value)}
              w={140}
            />
            <Button
              loading={busy}
              disabled={!total}
              onClick={() => void replay()}
              data-testid="replay-all"
            >
              {`Replay ${total ?? ''} dead letter${total === 1 ? '' : 's'}`}
            </Button>
          </Group>
          {chosen !== undefined && chosen !== active && !mayChoose && (
            <Text size="sm" data-testid="replay-through-active">
              {`The replay goes through the active version${active ? ` (${active})` : ''}: running version ${chosen} needs the routes.activate permission (an editor's), as activating it would.`}
            </Text>
          )}
          {shownPreview && <PreviewResult result={shownPreview} />}
        </Stack>
      )}
      {message && (
        <Alert
          color={message.color}
          role={message.color === 'red' ? 'alert' : 'status'}
          mt="xs"
          data-testid="bulk-message"
        >
          {message.text}
        </Alert>
      )}
      {job && (
        <Stack mt="sm">
          <JobProgress id={job} canWrite={canWrite} />
        </Stack>
      )}
      <RecentJobs current={job} />
    </Paper>
  );
}

export function DeadLettersScreen() {
  const me = useMe();
  const { job, ...search } = deadLettersRoute.useSearch();
  const routes = useQuery({
    queryKey: ['routes'],
    enabled: me.can('routes.read'),
    queryFn: () => data(api.GET('/api/v1/routes')),
  });
  if (!me.can('deadletters.read')) return <Forbidden permission="deadletters.read" />;
  return (
    <>
      <Title order={2} mb="md">
        Dead letters
      </Title>
      <Filters search={search} routes={(routes.data ?? []).map((r) => r.id)} />
      <Reasons search={search} />
      <BulkReplay search={search} job={job} />
      <DeadLetterTable search={search} />
    </>
  );
}
