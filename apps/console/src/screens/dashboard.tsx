import {
  Alert,
  Badge,
  Button,
  Code,
  Group,
  Paper,
  SimpleGrid,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState } from 'react';
import { api, data, errorMessage, type Schemas } from '../api';
import { AnchorLink } from '../links';
import { useMe } from '../session';
import { Forbidden, Sparkline, When } from './ops-common';
import { StateBadge, StatusDot } from './routes';

const MINUTE = 60_000;
/** Delivered work; everything else the stats count is a drop or a failure. */
const THROUGH = new Set(['delivered', 'replayed']);

/** Per route: a count per minute for the last hour, through and failed (zero-filled). */
function perRoute(stats: Schemas['StatsDto']) {
  const from = Date.parse(stats.from);
  const n = Math.max(1, Math.round((Date.parse(stats.to) - from) / MINUTE));
  const routes = new Map<string, { through: number[]; failed: number[] }>();
  const get = (id: string) => {
    let r = routes.get(id);
    if (!r) routes.set(id, (r = { through: Array(n).fill(0), failed: Array(n).fill(0) }));
    return r;
  };
  for (const p of stats.series) {
    const i = Math.min(n - 1, Math.max(0, Math.floor((Date.parse(p.bucket) - from) / MINUTE)));
    const r = get(p.routeId);
    if (THROUGH.has(p.outcome)) r.through[i] += p.count;
    else if (p.outcome === 'dead-lettered') r.failed[i] += p.count;
  }
  return routes;
}

function Throughput({ routes }: { routes: Schemas['RouteListItemDto'][] }) {
  const stats = useQuery({
    queryKey: ['stats', 'last-hour'],
    queryFn: () => data(api.GET('/api/v1/stats', { params: { query: { bucket: 'minute' } } })),
    refetchInterval: 5000,
  });
  const series = stats.data ? perRoute(stats.data) : new Map();
  const ids = [...new Set([...routes.map((r) => r.id), ...series.keys()])].sort();
  const sum = (v: number[]) => v.reduce((a, b) => a + b, 0);
  return (
    <Paper withBorder p="sm">
      <Title order={3} size="h4">
        Throughput, last hour
      </Title>
      {stats.isError && <Text c="var(--mantine-color-error)">{errorMessage(stats.error)}</Text>}
      <Table aria-label="Throughput per route" data-testid="throughput">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Route</Table.Th>
            <Table.Th>Delivered per minute</Table.Th>
            <Table.Th>Failed per minute</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {ids.map((id) => {
            const s = series.get(id) ?? { through: [0], failed: [0] };
            const through = sum(s.through);
            const failed = sum(s.failed);
            return (
              <Table.Tr key={id} data-testid={`throughput-${id}`}>
                <Table.Td>{id}</Table.Td>
                <Table.Td>
                  <Group gap="xs" wrap="nowrap">
                    <Sparkline
                      values={s.through}
                      color="green"
                      label={`${id}: ${through} delivered in the last hour`}
                    />
                    <Text size="sm" data-testid="delivered-total">
                      {through}
                    </Text>
                  </Group>
                </Table.Td>
                <Table.Td>
                  <Group gap="xs" wrap="nowrap">
                    <Sparkline
                      values={s.failed}
                      color="red"
                      label={`${id}: ${failed} dead-lettered in the last hour`}
                    />
                    <Text size="sm" data-testid="failed-total">
                      {failed}
                    </Text>
                  </Group>
                </Table.Td>
              </Table.Tr>
            );
          })}
        </Table.Tbody>
      </Table>
      {stats.data && stats.data.lag > 0 && (
        <Text size="xs" c="dimmed">
          {`${stats.data.lag} audit records are not counted yet.`}
        </Text>
      )}
    </Paper>
  );
}

function TopReasons() {
  const counts = useQuery({
    queryKey: ['dead-letter-counts', {}],
    queryFn: () => data(api.GET('/api/v1/dead-letters/counts')),
    refetchInterval: 5000,
  });
  const top = counts.data?.byRouteAndReason
    .slice()
    .sort((a, b) => b.count - a.count)
    .slice(0, 8);
  return (
    <Paper withBorder p="sm">
      <Title order={3} size="h4">
        Top dead-letter reasons
      </Title>
      {counts.data && (
        <Text size="sm" mb="xs" data-testid="dead-letter-total">
          {`${counts.data.total} dead letters in all`}
        </Text>
      )}
      <Table aria-label="Top dead-letter reasons" data-testid="top-reasons">
        <Table.Tbody>
          {(top ?? []).map((r) => (
            <Table.Tr key={`${r.routeId}:${r.reasonCode}`}>
              <Table.Td>
                <AnchorLink
                  to="/dead-letters"
                  search={{ routeId: r.routeId, reasonCode: r.reasonCode }}
                >
                  {`${r.reasonCode} in ${r.routeId}`}
                </AnchorLink>
              </Table.Td>
              <Table.Td>{r.count}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Paper>
  );
}

const CHAIN_COLOR = {
  anchored: 'green',
  pending: 'blue',
  stale: 'red',
  unanchored: 'yellow',
} as const;

function ChainStatus() {
  const chain = useQuery({
    queryKey: ['audit-chain-status'],
    queryFn: () => data(api.GET('/api/v1/audit/chain-status')),
    refetchInterval: 10_000,
  });
  const c = chain.data;
  return (
    <Paper withBorder p="sm" data-testid="chain-status">
      <Title order={3} size="h4" mb="xs">
        Audit chain
      </Title>
      {chain.isError && <Text c="var(--mantine-color-error)">{errorMessage(chain.error)}</Text>}
      {c && (
        <>
          <StatusDot color={CHAIN_COLOR[c.state]} testId="chain-state">
            {c.state}
          </StatusDot>
          <Text size="sm" mt="xs">
            {c.anchors.configured ? (
              <>
                Last signed anchor: <When at={c.anchors.lastSignedAt} />
              </>
            ) : (
              'No signing key is configured: nothing outside the database vouches for the trail.'
            )}
          </Text>
          {c.problem && (
            <Text size="sm" c="var(--mantine-color-error)" role="alert">
              {c.problem}
            </Text>
          )}
          {c.chains.map((h) => (
            <Text size="sm" key={h.table}>
              <Code>{h.table}</Code>
              {` head #${h.headSeq}`}
              {h.anchoredSeq !== null ? `, anchored to #${h.anchoredSeq}` : ''}
              {h.unanchored ? `, ${h.unanchored} waiting` : ''}
            </Text>
          ))}
        </>
      )}
    </Paper>
  );
}

function Processes({ routes }: { routes: Schemas['RouteListItemDto'][] }) {
  const me = useMe();
  const client = useQueryClient();
  const [message, setMessage] = useState<string>();
  const canRun = me.can('routes.run');
  const toggle = async (id: string, running: boolean) => {
    setMessage(undefined);
    try {
      await data(
        running
          ? api.POST('/api/v1/routes/{id}/stop', { params: { path: { id } } })
          : api.POST('/api/v1/routes/{id}/start', { params: { path: { id } } }),
      );
      await client.invalidateQueries({ queryKey: ['routes'] });
    } catch (err) {
      setMessage(errorMessage(err));
    }
  };
  return (
    <Paper withBorder p="sm">
      <Title order={3} size="h4">
        Processes
      </Title>
      {message && (
        <Alert color="red" role="alert">
          {message}
        </Alert>
      )}
      <Table aria-label="Routes in each process" data-testid="processes">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Route</Table.Th>
            <Table.Th>Process</Table.Th>
            <Table.Th>State</Table.Th>
            <Table.Th>Since</Table.Th>
            <Table.Th>Last error</Table.Th>
            {canRun && <Table.Th>Run</Table.Th>}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {routes.flatMap((r) =>
            (r.processes.length ? r.processes : [undefined]).map((p, i) => (
              <Table.Tr key={`${r.id}:${p?.process ?? ''}`} data-testid={`process-${r.id}`}>
                <Table.Td>{i === 0 ? r.id : ''}</Table.Td>
                <Table.Td>{p?.process ?? 'none'}</Table.Td>
                <Table.Td>
                  <StateBadge state={p?.state ?? r.desiredState} />
                </Table.Td>
                <Table.Td>
                  <When at={p?.since} />
                </Table.Td>
                <Table.Td>
                  <Text size="sm" lineClamp={2}>
                    {p?.lastError ?? 'none'}
                  </Text>
                </Table.Td>
                {canRun && (
                  <Table.Td>
                    {i === 0 && r.activeVersion !== null && (
                      <Button
                        size="xs"
                        variant="default"
                        onClick={() => void toggle(r.id, r.desiredState === 'running')}
                      >
                        {r.desiredState === 'running' ? `Stop ${r.id}` : `Start ${r.id}`}
                      </Button>
                    )}
                  </Table.Td>
                )}
              </Table.Tr>
            )),
          )}
        </Table.Tbody>
      </Table>
    </Paper>
  );
}

export function DashboardScreen() {
  const me = useMe();
  const routes = useQuery({
    queryKey: ['routes'],
    enabled: me.can('routes.read'),
    queryFn: () => data(api.GET('/api/v1/routes')),
    refetchInterval: 5000,
  });
  if (!me.can('routes.run')) return <Forbidden permission="routes.run" />;
  const list = routes.data ?? [];
  const failing = list.filter((r) =>
    r.processes.some((p) => ['failed', 'retrying', 'degraded'].includes(p.state)),
  );
  return (
    <>
      <Group justify="space-between" mb="md">
        <Title order={2}>Dashboard</Title>
        {failing.length > 0 && <Badge color="red">{`${failing.length} route(s) in trouble`}</Badge>}
      </Group>
      <SimpleGrid cols={{ base: 1, lg: 2 }} mb="md">
        <Throughput routes={list} />
        <SimpleGrid cols={1}>
          {me.can('deadletters.read') && <TopReasons />}
          <ChainStatus />
        </SimpleGrid>
      </SimpleGrid>
      <Processes routes={list} />
    </>
  );
}
