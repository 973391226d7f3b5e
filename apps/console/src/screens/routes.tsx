import { Group, Select, Table, Text, TextInput, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import type { ReactNode } from 'react';
import { AnchorLink, ButtonLink } from '../links';
import { api, data, type Schemas } from '../api';
import { routesRoute } from '../router';
import { useMe } from '../session';

/** A coloured dot (no text of its own, so no contrast to lose) and the state in the page's text colour. */
export function StatusDot({
  color,
  children,
  testId,
}: {
  color: string;
  children: ReactNode;
  testId?: string;
}) {
  return (
    <Group gap={6} wrap="nowrap" component="span">
      <span
        aria-hidden="true"
        style={{
          display: 'inline-block',
          width: 10,
          height: 10,
          borderRadius: 5,
          background: `var(--mantine-color-${color}-6)`,
        }}
      />
      <Text span size="sm" fw={600} data-testid={testId}>
        {children}
      </Text>
    </Group>
  );
}

export function StateBadge({ state }: { state: string }) {
  const color =
    state === 'running'
      ? 'green'
      : state === 'failed'
        ? 'red'
        : state === 'degraded'
          ? 'orange'
          : state === 'starting'
            ? 'yellow'
            : 'gray';
  return (
    <StatusDot color={color} testId="route-state">
      {state}
    </StatusDot>
  );
}

function RouteRow({ route }: { route: Schemas['RouteListItemDto'] }) {
  // This process's view of the route (the list answers for the gateway that serves it).
  const s = { state: route.processes[0]?.state, ...route.counts, lastError: route.lastError };
  return (
    <Table.Tr data-testid={`route-row-${route.id}`}>
      <Table.Td>
        <AnchorLink to="/routes/$id" params={{ id: route.id }}>
          {route.id}
        </AnchorLink>
        {route.description && (
          <Text size="xs" c="dimmed">
            {route.description}
          </Text>
        )}
      </Table.Td>
      <Table.Td>{route.sourceType}</Table.Td>
      <Table.Td>
        <StateBadge state={s.state ?? route.desiredState} />
      </Table.Td>
      <Table.Td>
        {route.activeVersion === null ? 'none active' : `v${route.activeVersion}`}
        {route.latestVersion !== route.activeVersion && (
          <Text span size="xs" c="dimmed">
            {' '}
            (latest v{route.latestVersion})
          </Text>
        )}
      </Table.Td>
      <Table.Td>{`${s.processed} processed, ${s.failed} failed, ${s.inFlight} in flight`}</Table.Td>
      <Table.Td>
        <Text size="sm" c={s.lastError ? 'var(--mantine-color-error)' : 'dimmed'} lineClamp={2}>
          {s.lastError ?? 'none'}
        </Text>
      </Table.Td>
    </Table.Tr>
  );
}

export function RoutesScreen() {
  const me = useMe();
  const { q, state } = routesRoute.useSearch();
  const navigate = useNavigate({ from: '/routes' });
  const routes = useQuery({
    queryKey: ['routes'],
    queryFn: () => data(api.GET('/api/v1/routes')),
    refetchInterval: 5000,
  });
  const needle = (q ?? '').toLowerCase();
  const shown = (routes.data ?? []).filter(
    (r) =>
      (!needle ||
        r.id.toLowerCase().includes(needle) ||
        (r.description ?? '').toLowerCase().includes(needle)) &&
      (!state || r.desiredState === state),
  );
  return (
    <>
      <Group justify="space-between" mb="md">
        <Title order={2}>Routes</Title>
        {me.can('routes.write') && <ButtonLink to="/routes/new">New route</ButtonLink>}
      </Group>
      <Group mb="md">
        <TextInput
          label="Search"
          placeholder="id or description"
          value={q ?? ''}
          onChange={(e) =>
            void navigate({
              search: (prev) => ({ ...prev, q: e.currentTarget.value || undefined }),
              replace: true,
            })
          }
        />
        <Select
          label="State"
          clearable
          placeholder="any"
          data={['running', 'stopped']}
          value={state ?? null}
          onChange={(v) =>
            void navigate({ search: (prev) => ({ ...prev, state: v ?? undefined }), replace: true })
          }
        />
      </Group>
      {routes.isError && <Text c="red">Could not load the routes.</Text>}
      <Table striped highlightOnHover aria-label="Routes">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Route</Table.Th>
            <Table.Th>Source</Table.Th>
            <Table.Th>State</Table.Th>
            <Table.Th>Version</Table.Th>
            <Table.Th>Throughput</Table.Th>
            <Table.Th>Last error</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {shown.map((r) => (
            <RouteRow key={r.id} route={r} />
          ))}
        </Table.Tbody>
      </Table>
      {routes.data && shown.length === 0 && (
        <Text c="dimmed" mt="md">
          No route matches.
        </Text>
      )}
    </>
  );
}
