import {
  Alert,
  Button,
  Code,
  CopyButton,
  Group,
  Modal,
  MultiSelect,
  PasswordInput,
  Stack,
  Switch,
  Table,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent, type ReactNode } from 'react';
import { api, data, errorMessage, type Schemas } from '../api';

const ROLES = ['admin', 'editor', 'operator', 'auditor', 'viewer'] as const;
type Role = (typeof ROLES)[number];

function Outcome({ value }: { value?: { color: string; text: string } }) {
  if (!value) return null;
  return (
    <Alert
      color={value.color}
      role={value.color === 'red' ? 'alert' : 'status'}
      data-testid="admin-message"
    >
      {value.text}
    </Alert>
  );
}

/** A small outlined button for what ends something (a key, a session). */
function DangerButton(props: { onClick: () => void; title?: string; children: ReactNode }) {
  return (
    <Button
      size="xs"
      color="var(--mantine-color-error)"
      variant="outline"
      title={props.title}
      onClick={props.onClick}
    >
      {props.children}
    </Button>
  );
}

function useOutcome() {
  const [value, set] = useState<{ color: string; text: string }>();
  const run = async <T,>(what: () => Promise<T>, done: string | ((result: T) => string)) => {
    set(undefined);
    try {
      const result = await what();
      set({ color: 'green', text: typeof done === 'function' ? done(result) : done });
      return true;
    } catch (err) {
      set({ color: 'red', text: errorMessage(err) });
      return false;
    }
  };
  return { value, run };
}

export function UsersScreen() {
  const client = useQueryClient();
  const outcome = useOutcome();
  const users = useQuery({ queryKey: ['users'], queryFn: () => data(api.GET('/api/v1/users')) });
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [roles, setRoles] = useState<string[]>(['viewer']);
  const refresh = () => client.invalidateQueries({ queryKey: ['users'] });

  const create = async (e: FormEvent) => {
    e.preventDefault();
    if (
      await outcome.run(
        () =>
          data(api.POST('/api/v1/users', { body: { username, password, roles: roles as Role[] } })),
        `User ${username} created.`,
      )
    ) {
      setUsername('');
      setPassword('');
      await refresh();
    }
  };
  const update = (user: Schemas['UserDto'], body: Schemas['UpdateUserDto'], done: string) =>
    outcome
      .run(
        () => data(api.PATCH('/api/v1/users/{id}', { params: { path: { id: user.id } }, body })),
        done,
      )
      .then(refresh);

  return (
    <Stack>
      <Title order={2}>Users</Title>
      <Outcome value={outcome.value} />
      <form onSubmit={(e) => void create(e)} aria-label="New user">
        <Group align="end">
          <TextInput
            label="User name"
            required
            value={username}
            onChange={(e) => setUsername(e.currentTarget.value)}
          />
          <PasswordInput
            label="Password"
            required
            value={password}
            onChange={(e) => setPassword(e.currentTarget.value)}
            autoComplete="new-password"
          />
          <MultiSelect label="Roles" data={[...ROLES]} value={roles} onChange={setRoles} />
          <Button type="submit">Create user</Button>
        </Group>
      </form>
      <Table aria-label="Users" striped>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>User</Table.Th>
            <Table.Th>Provider</Table.Th>
            <Table.Th>Roles</Table.Th>
            <Table.Th>Enabled</Table.Th>
            <Table.Th>Last sign-in</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(users.data ?? []).map((u) => (
            <Table.Tr key={u.id} data-testid={`user-row-${u.username}`}>
              <Table.Td>{u.username}</Table.Td>
              <Table.Td>{u.provider}</Table.Td>
              <Table.Td>
                <MultiSelect
                  aria-label={`Roles of ${u.username}`}
                  data={[...ROLES]}
                  value={u.roles}
                  onChange={(v) =>
                    void update(
                      u,
                      { roles: v as Role[] },
                      `Roles of ${u.username}: ${v.join(', ') || 'none'}.`,
                    )
                  }
                />
              </Table.Td>
              <Table.Td>
                <Switch
                  aria-label={`${u.username} may sign in`}
                  checked={!u.disabled}
                  onChange={(e) =>
                    void update(
                      u,
                      { disabled: !e.currentTarget.checked },
                      `${u.username} ${e.currentTarget.checked ? 'enabled' : 'disabled'}.`,
                    )
                  }
                />
              </Table.Td>
              <Table.Td>
                {u.lastLoginAt ? new Date(u.lastLoginAt).toLocaleString() : 'never'}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}

export function ApiKeysScreen() {
  const client = useQueryClient();
  const outcome = useOutcome();
  const keys = useQuery({
    queryKey: ['api-keys'],
    queryFn: () => data(api.GET('/api/v1/api-keys')),
  });
  const [name, setName] = useState('');
  const [roles, setRoles] = useState<string[]>(['viewer']);
  const [issued, setIssued] = useState<Schemas['CreatedApiKeyDto']>();
  const refresh = () => client.invalidateQueries({ queryKey: ['api-keys'] });

  const create = async (e: FormEvent) => {
    e.preventDefault();
    await outcome.run(async () => {
      setIssued(
        await data(api.POST('/api/v1/api-keys', { body: { name, roles: roles as Role[] } })),
      );
      setName('');
      await refresh();
    }, `Key ${name} issued.`);
  };
  return (
    <Stack>
      <Title order={2}>API keys</Title>
      <Outcome value={outcome.value} />
      <form onSubmit={(e) => void create(e)} aria-label="New API key">
        <Group align="end">
          <TextInput
            label="Name"
            required
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
          />
          <MultiSelect label="Roles" data={[...ROLES]} value={roles} onChange={setRoles} />
          <Button type="submit">Issue key</Button>
        </Group>
      </form>
      <Modal
        opened={issued !== undefined}
        onClose={() => setIssued(undefined)}
        title="Your new API key"
        closeButtonProps={{ 'aria-label': 'Close' }}
      >
        <Stack>
          <Text>This is the only time the key is shown. Store it now.</Text>
          <Code block data-testid="issued-key">
            {issued?.key}
          </Code>
          <CopyButton value={issued?.key ?? ''}>
            {({ copied, copy }) => (
              <Button onClick={copy}>{copied ? 'Copied' : 'Copy the key'}</Button>
            )}
          </CopyButton>
        </Stack>
      </Modal>
      <Table aria-label="API keys" striped>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Name</Table.Th>
            <Table.Th>Prefix</Table.Th>
            <Table.Th>Roles</Table.Th>
            <Table.Th>Made by key</Table.Th>
            <Table.Th>Last used</Table.Th>
            <Table.Th>State</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(keys.data ?? []).map((k) => (
            <Table.Tr key={k.id}>
              <Table.Td>{k.name}</Table.Td>
              <Table.Td>
                <Code>{k.prefix}</Code>
              </Table.Td>
              <Table.Td>{k.roles.join(', ')}</Table.Td>
              <Table.Td>
                {k.createdByKeyId
                  ? (keys.data?.find((p) => p.id === k.createdByKeyId)?.name ?? 'a key')
                  : ''}
              </Table.Td>
              <Table.Td>
                {k.lastUsedAt ? new Date(k.lastUsedAt).toLocaleString() : 'never'}
              </Table.Td>
              <Table.Td>
                <Group gap="xs">
                  {k.revokedAt ? (
                    'revoked'
                  ) : (
                    <DangerButton
                      onClick={() =>
                        void outcome
                          .run(
                            () =>
                              data(
                                api.DELETE('/api/v1/api-keys/{id}', {
                                  params: { path: { id: k.id } },
                                }),
                              ),
                            `Key ${k.name} revoked.`,
                          )
                          .then(refresh)
                      }
                    >
                      Revoke {k.name}
                    </DangerButton>
                  )}
                  <DangerButton
                    title="For a key that leaked: also revokes every key and disables every user made through it"
                    onClick={() =>
                      void outcome
                        .run(
                          async () =>
                            (await data(
                              api.DELETE('/api/v1/api-keys/{id}', {
                                params: { path: { id: k.id }, query: { cascade: 'true' } },
                              }),
                            )) as Schemas['RevokedThroughDto'] | undefined,
                          (made) =>
                            `Key ${k.name} and what was made through it ended: ${made?.revokedKeys.length ?? 0} key(s) revoked, ${made?.disabledUsers.length ?? 0} user(s) disabled.`,
                        )
                        .then(refresh)
                    }
                  >
                    Revoke {k.name} and all it made
                  </DangerButton>
                </Group>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}

export function SessionsScreen() {
  const client = useQueryClient();
  const outcome = useOutcome();
  const sessions = useQuery({
    queryKey: ['sessions'],
    queryFn: () => data(api.GET('/api/v1/sessions')),
  });
  return (
    <Stack>
      <Title order={2}>Sessions</Title>
      <Outcome value={outcome.value} />
      <Table aria-label="Sessions" striped>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>User</Table.Th>
            <Table.Th>Provider</Table.Th>
            <Table.Th>Started</Table.Th>
            <Table.Th>Expires</Table.Th>
            <Table.Th>From</Table.Th>
            <Table.Th>Action</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {(sessions.data ?? []).map((s) => (
            <Table.Tr key={s.id}>
              <Table.Td>{s.username}</Table.Td>
              <Table.Td>{s.provider}</Table.Td>
              <Table.Td>{new Date(s.createdAt).toLocaleString()}</Table.Td>
              <Table.Td>{new Date(s.expiresAt).toLocaleString()}</Table.Td>
              <Table.Td>{s.ip ?? ''}</Table.Td>
              <Table.Td>
                <DangerButton
                  onClick={() =>
                    void outcome
                      .run(
                        () =>
                          data(
                            api.DELETE('/api/v1/sessions/{id}', { params: { path: { id: s.id } } }),
                          ),
                        `Session of ${s.username} ended.`,
                      )
                      .then(() => client.invalidateQueries({ queryKey: ['sessions'] }))
                  }
                >
                  End session of {s.username}
                </DangerButton>
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Stack>
  );
}
