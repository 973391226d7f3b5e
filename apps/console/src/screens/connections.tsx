import {
  Alert,
  Button,
  Group,
  JsonInput,
  Paper,
  PasswordInput,
  Select,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { AnchorLink, ButtonLink } from '../links';
import { useState, type FormEvent } from 'react';
import { api, data, errorMessage, type Schemas } from '../api';
import { connectionsRoute } from '../router';
import { useMe } from '../session';

/** The connector kinds, as the API's OpenAPI document lists them (from the CONNECTORS map). */
type ConnectionType = Schemas['ConnectionInputDto']['type'];

/**
 * Per type: the setting that names where it connects, and its write-only secrets. Keyed by the
 * API's kinds: a protocol added on the server does not compile here until it has its entry.
 */
const TYPES: Record<ConnectionType, { target: string; targetLabel: string; secrets: string[] }> = {
  amqp: { target: 'url', targetLabel: 'Broker URL (amqp://user@host:5672)', secrets: ['password'] },
  amqp10: {
    target: 'url',
    targetLabel: 'AMQP 1.0 broker URL (amqp://host:5672 or amqps://host:5671)',
    secrets: ['password', 'tlsKey'],
  },
  kafka: {
    target: 'brokers',
    targetLabel: 'Brokers (host:port, comma-separated)',
    secrets: ['saslPassword'],
  },
  http: {
    target: 'baseUrl',
    targetLabel: 'Base URL',
    secrets: ['bearerToken', 'basicPassword', 'hmacKey'],
  },
  mqtt: {
    target: 'url',
    targetLabel: 'Broker URL (mqtt://host:1883, mqtts://host:8883)',
    secrets: ['password', 'tlsKey'],
  },
};

function targetText(type: ConnectionType, config: Record<string, unknown>): string {
  const value = config[TYPES[type].target];
  return Array.isArray(value) ? value.join(',') : typeof value === 'string' ? value : '';
}

function ConnectionForm({
  existing,
  onDone,
}: {
  existing?: Schemas['ConnectionDto'];
  onDone(): void;
}) {
  const client = useQueryClient();
  const [name, setName] = useState(existing?.name ?? '');
  const [type, setType] = useState<ConnectionType>((existing?.type as ConnectionType) ?? 'amqp');
  const rest = { ...(existing?.config ?? {}) };
  delete rest[TYPES[type].target];
  const [target, setTarget] = useState(existing ? targetText(type, existing.config) : '');
  const [other, setOther] = useState(JSON.stringify(rest, null, 2));
  const [secrets, setSecrets] = useState<Record<string, string>>({});
  const [error, setError] = useState<string>();
  const targetChanged = existing !== undefined && target !== targetText(type, existing.config);
  // Before saving: the running routes this change restarts.
  const impact = useQuery({
    queryKey: ['connection-impact', existing?.name],
    enabled: existing !== undefined,
    queryFn: () =>
      data(
        api.GET('/api/v1/connections/{name}/impact', {
          params: { path: { name: existing!.name } },
        }),
      ),
  });
  const restarts = (impact.data?.routes ?? []).filter((r) => r.running);
  const setSecretNames = existing?.secrets ?? [];

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setError(undefined);
    let config: Record<string, unknown>;
    try {
      config = JSON.parse(other || '{}') as Record<string, unknown>;
    } catch {
      setError('Other settings must be a JSON object.');
      return;
    }
    config[TYPES[type].target] =
      type === 'kafka'
        ? target
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean)
        : target;
    const given = Object.fromEntries(Object.entries(secrets).filter(([, v]) => v !== ''));
    // A secret was given for the old target: pointing it elsewhere needs it typed again.
    const missing = setSecretNames.filter((s) => !(s in given));
    if (targetChanged && missing.length) {
      setError(`The target changed: enter ${missing.join(', ')} again (secrets are never shown).`);
      return;
    }
    try {
      if (existing) {
        await data(
          api.PUT('/api/v1/connections/{name}', {
            params: { path: { name: existing.name } },
            body: { type, config, secrets: given },
          }),
        );
      } else {
        await data(
          api.POST('/api/v1/connections', { body: { name, type, config, secrets: given } }),
        );
      }
      await client.invalidateQueries({ queryKey: ['connections'] });
      onDone();
    } catch (err) {
      setError(errorMessage(err));
    }
  };

  return (
    <Paper withBorder p="md">
      <form
        onSubmit={(e) => void submit(e)}
        aria-label={existing ? `Edit connection ${existing.name}` : 'New connection'}
      >
        <Stack>
          <Title order={3} size="h4">
            {existing ? `Edit connection ${existing.name}` : 'New connection'}
          </Title>
          {!existing && (
            <TextInput
              label="Name"
              required
              value={name}
              onChange={(e) => setName(e.currentTarget.value)}
            />
          )}
          <Select
            label="Type"
            data={Object.keys(TYPES)}
            value={type}
            allowDeselect={false}
            disabled={existing !== undefined}
            onChange={(v) => setType((v as ConnectionType) ?? 'amqp')}
          />
          <TextInput
            label={TYPES[type].targetLabel}
            required
            value={target}
            onChange={(e) => setTarget(e.currentTarget.value)}
          />
          {TYPES[type].secrets.map((s) => (
            <PasswordInput
              key={s}
              label={`Secret: ${s}`}
              description={
                setSecretNames.includes(s)
                  ? targetChanged
                    ? 'Set, but the target changed: enter it again.'
                    : 'Set (never shown). Leave empty to keep it.'
                  : 'Not set.'
              }
              autoComplete="new-password"
              value={secrets[s] ?? ''}
              onChange={(e) => setSecrets({ ...secrets, [s]: e.currentTarget.value })}
            />
          ))}
          <JsonInput
            label="Other settings (JSON)"
            autosize
            minRows={2}
            value={other}
            onChange={setOther}
          />
          {existing && (
            <Text size="sm" data-testid="connection-impact">
              {impact.isPending
                ? 'Looking up the routes that use it…'
                : restarts.length === 0
                  ? 'Saving restarts no running route.'
                  : `Saving restarts ${restarts.length === 1 ? 'this running route' : `these ${restarts.length} running routes`}: ${restarts
                      .map((r) => `${r.id} (v${r.activeVersion})`)
                      .join(', ')}.`}
            </Text>
          )}
          {error && (
            <Alert color="red" role="alert">
              {error}
            </Alert>
          )}
          <Group>
            <Button type="submit">
              {existing ? `Save ${existing.name}` : 'Create connection'}
            </Button>
            <Button variant="default" onClick={onDone}>
              Cancel
            </Button>
          </Group>
        </Stack>
      </form>
    </Paper>
  );
}

function ConnectivityTest({ name }: { name: string }) {
  const [result, setResult] = useState<{ ok: boolean; text: string }>();
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    try {
      const r = await data(
        api.POST('/api/v1/connections/{name}/test', { params: { path: { name } } }),
      );
      setResult({
        ok: r.ok,
        text: r.ok ? `reachable (${r.elapsedMs} ms)` : `failed: ${r.error ?? 'no answer'}`,
      });
    } catch (err) {
      setResult({ ok: false, text: errorMessage(err) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <Group gap="xs" wrap="nowrap">
      <Button size="xs" variant="default" loading={busy} onClick={() => void run()}>
        Test {name}
      </Button>
      {result && (
        <Text size="sm" role="status" data-testid={`connectivity-${name}`}>
          {result.text}
        </Text>
      )}
    </Group>
  );
}

export function ConnectionsScreen() {
  const me = useMe();
  const { edit } = connectionsRoute.useSearch();
  const navigate = useNavigate({ from: '/connections' });
  const connections = useQuery({
    queryKey: ['connections'],
    queryFn: () => data(api.GET('/api/v1/connections')),
  });
  const canWrite = me.can('connections.write');
  const editing =
    edit && edit !== 'new' ? connections.data?.find((c) => c.name === edit) : undefined;
  const close = () => void navigate({ search: {} });
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Connections</Title>
        {canWrite && (
          <ButtonLink to="/connections" search={{ edit: 'new' }}>
            New connection
          </ButtonLink>
        )}
      </Group>
      {canWrite && edit === 'new' && <ConnectionForm onDone={close} />}
      {canWrite && editing && (
        <ConnectionForm key={editing.name} existing={editing} onDone={close} />
      )}
      {connections.isError && <Text c="red">{errorMessage(connections.error)}</Text>}
      <Table aria-label="Connections" striped>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Type</Table.Th>
            <Table.Th>Target</Table.Th>
            <Table.Th>Secrets set</Table.Th>
            <Table.Th>Updated</Table.Th>
            {canWrite && <Table.Th>Connectivity</Table.Th>}
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(connections.data ?? []).map((c) => (
            <Table.Tr key={c.name} data-testid={`connection-row-${c.name}`}>
              <Table.Td>
                {canWrite ? (
                  <AnchorLink to="/connections" search={{ edit: c.name }}>
                    {c.name}
                  </AnchorLink>
                ) : (
                  c.name
                )}
              </Table.Td>
              <Table.Td>{c.type}</Table.Td>
              <Table.Td>{targetText(c.type as ConnectionType, c.config)}</Table.Td>
              <Table.Td>{c.secrets.join(', ') || 'none'}</Table.Td>
              <Table.Td>
                {new Date(c.updatedAt).toLocaleString()} by {c.updatedBy}
              </Table.Td>
              {canWrite && (
                <Table.Td>
                  <ConnectivityTest name={c.name} />
                </Table.Td>
              )}
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}
