import {
  Alert,
  Button,
  Center,
  Divider,
  Group,
  Paper,
  PasswordInput,
  SegmentedControl,
  Stack,
  TextInput,
  Title,
} from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { useState, type FormEvent } from 'react';
import { api, data, errorMessage } from '../api';
import { EnvironmentBanner, ThemeToggle } from '../layout';
import { signInRoute } from '../router';
import { reopenDrafts } from '../drafts';
import { meQuery, sessionState } from '../session';

/**
 * Only a path inside the console: a crafted ?redirect= must not send a user elsewhere. Without
 * one, `/`: the first screen the caller may use (an auditor has no routes).
 */
function safeRedirect(target: string | undefined): string {
  if (!target || !target.startsWith('/') || target.startsWith('//')) return '/';
  return target.replace(/^\/console(?=\/|$)/, '') || '/';
}

export function SignInScreen() {
  const { redirect, expired } = signInRoute.useSearch();
  const client = useQueryClient();
  const navigate = useNavigate();
  const [provider, setProvider] = useState<'local' | 'ldap'>('local');
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const available = useQuery({
    queryKey: ['providers'],
    queryFn: () => data(api.GET('/api/v1/auth/providers')),
    staleTime: Infinity,
  });

  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await data(api.POST('/api/v1/auth/login', { body: { username, password, provider } }));
      sessionState.expired = false;
      reopenDrafts();
      await client.fetchQuery({ ...meQuery, staleTime: 0 });
      await navigate({ to: safeRedirect(redirect) });
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <EnvironmentBanner />
      <Center mih="90vh" p="md">
        <Paper withBorder shadow="sm" p="xl" w={400} component="main">
          <Group justify="space-between" mb="md">
            <Title order={1} size="h2">
              Sign in to Junction
            </Title>
            <ThemeToggle />
          </Group>
          {expired && (
            <Alert
              color="yellow"
              mb="md"
              title="Session ended"
              role="status"
              // Yellow on yellow is too faint to read (WCAG AA): the title takes the text colour.
              styles={{ title: { color: 'var(--mantine-color-text)' } }}
            >
              Your session has expired. Sign in again to go on where you were.
            </Alert>
          )}
          <form onSubmit={(e) => void submit(e)}>
            <Stack>
              {available.data?.ldap && (
                <SegmentedControl
                  aria-label="Directory"
                  value={provider}
                  onChange={(v) => setProvider(v as 'local' | 'ldap')}
                  data={[
                    { value: 'local', label: 'Junction account' },
                    { value: 'ldap', label: 'LDAP directory' },
                  ]}
                />
              )}
              <TextInput
                label="User name"
                autoComplete="username"
                required
                value={username}
                onChange={(e) => setUsername(e.currentTarget.value)}
                autoFocus
              />
              <PasswordInput
                label="Password"
                autoComplete="current-password"
                required
                value={password}
                onChange={(e) => setPassword(e.currentTarget.value)}
              />
              {error && (
                <Alert color="red" role="alert">
                  {error}
                </Alert>
              )}
              <Button type="submit" loading={busy}>
                Sign in
              </Button>
            </Stack>
          </form>
          {available.data?.oidc && (
            <>
              <Divider my="md" label="or" />
              <Button
                component="a"
                variant="default"
                fullWidth
                href={`/api/v1/auth/oidc/login?returnTo=${encodeURIComponent(`/console${safeRedirect(redirect)}`)}`}
              >
                Sign in with single sign-on
              </Button>
            </>
          )}
        </Paper>
      </Center>
    </>
  );
}
