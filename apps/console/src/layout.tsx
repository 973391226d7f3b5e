import {
  ActionIcon,
  Alert,
  AppShell,
  Burger,
  Button,
  Group,
  Kbd,
  NavLink,
  Text,
  Title,
  Tooltip,
  useComputedColorScheme,
  useMantineColorScheme,
} from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import { Spotlight, spotlight, type SpotlightActionData } from '@mantine/spotlight';
import { useQuery } from '@tanstack/react-query';
import {
  Link,
  Outlet,
  useLocation,
  useMatches,
  useNavigate,
  useRouter,
} from '@tanstack/react-router';
import { useEffect, useState } from 'react';
import { api, data, type Permission } from './api';
import { Forbidden } from './forbidden';
import { endSession, forgetSession, useMe, type Me } from './session';

/** The environment this gateway says it is (JUNCTION_ENV_NAME / JUNCTION_ENV_COLOR), from index.html. */
export function environment(): { name: string; color: string } | undefined {
  const meta = document.querySelector('meta[name="junction-env"]');
  const name = meta?.getAttribute('content') ?? '';
  const color = meta?.getAttribute('data-color') ?? '';
  if (!name || name.startsWith('%')) return undefined;
  return { name, color: /^#[0-9a-f]{6}$/i.test(color) ? color : '#495057' };
}

export function EnvironmentBanner() {
  const env = environment();
  if (!env) return null;
  return (
    <div
      className="env-banner"
      style={{ background: env.color }}
      role="note"
      aria-label={`Environment: ${env.name}`}
    >
      {env.name}
    </div>
  );
}

export function ThemeToggle() {
  const { setColorScheme } = useMantineColorScheme();
  const scheme = useComputedColorScheme('light');
  const next = scheme === 'dark' ? 'light' : 'dark';
  return (
    <Tooltip label={`Switch to ${next} theme`}>
      <ActionIcon
        variant="default"
        size="lg"
        aria-label={`Switch to ${next} theme`}
        data-testid="theme-toggle"
        onClick={() => setColorScheme(next)}
      >
        <span aria-hidden="true">{scheme === 'dark' ? '☀' : '☾'}</span>
      </ActionIcon>
    </Tooltip>
  );
}

interface Screen {
  to:
    | '/routes'
    | '/connections'
    | '/users'
    | '/api-keys'
    | '/sessions'
    | '/dashboard'
    | '/dead-letters'
    | '/audit'
    | '/verify';
  label: string;
  permission: Permission;
}

const SCREENS: Screen[] = [
  { to: '/dashboard', label: 'Dashboard', permission: 'routes.run' },
  { to: '/routes', label: 'Routes', permission: 'routes.read' },
  { to: '/connections', label: 'Connections', permission: 'connections.read' },
  { to: '/dead-letters', label: 'Dead letters', permission: 'deadletters.read' },
  { to: '/users', label: 'Users', permission: 'users.manage' },
  { to: '/api-keys', label: 'API keys', permission: 'apikeys.manage' },
  { to: '/sessions', label: 'Sessions', permission: 'sessions.manage' },
  { to: '/audit', label: 'Audit', permission: 'audit.read' },
  { to: '/verify', label: 'Verify', permission: 'audit.read' },
];

/** Where `/` takes a caller: the first screen it may use (an auditor has no routes). */
export function firstScreen(me: Me): Screen['to'] {
  return SCREENS.find((s) => me.can(s.permission))?.to ?? '/routes';
}

function Palette({
  can,
  signOutEverywhere,
}: {
  can: (p: Permission) => boolean;
  /** Ends every session of this user (a token or device no longer trusted). */
  signOutEverywhere?: () => void;
}) {
  const navigate = useNavigate();
  const routes = useQuery({
    queryKey: ['routes'],
    queryFn: () => data(api.GET('/api/v1/routes')),
    enabled: can('routes.read'),
  });
  const actions: SpotlightActionData[] = [
    ...SCREENS.filter((s) => can(s.permission)).map((s) => ({
      id: `screen:${s.to}`,
      label: `Go to ${s.label}`,
      onClick: (): void => {
        void navigate({ to: s.to });
      },
    })),
    ...(can('routes.write')
      ? [
          {
            id: 'route:new',
            label: 'New route',
            onClick: (): void => void navigate({ to: '/routes/new' }),
          },
        ]
      : []),
    ...(signOutEverywhere
      ? [
          {
            id: 'sign-out-everywhere',
            label: 'Sign out everywhere',
            description: 'End every session of yours, on every device, this one included',
            onClick: signOutEverywhere,
          },
        ]
      : []),
    ...(routes.data ?? []).flatMap((r) => [
      {
        id: `route:${r.id}`,
        label: `Open route ${r.id}`,
        description: r.description ?? undefined,
        onClick: (): void => void navigate({ to: '/routes/$id', params: { id: r.id } }),
      },
      {
        id: `versions:${r.id}`,
        label: `Versions of ${r.id}`,
        onClick: (): void => void navigate({ to: '/routes/$id/versions', params: { id: r.id } }),
      },
    ]),
  ];
  return (
    <Spotlight
      actions={actions}
      shortcut={['mod + K']}
      nothingFound="Nothing found"
      highlightQuery
      limit={12}
      searchProps={{ placeholder: 'Go to a screen or a route…', 'aria-label': 'Command' }}
    />
  );
}

export function Layout() {
  const me = useMe();
  const router = useRouter();
  const expiresAt = me.principal.expiresAt;
  // The session ends visibly: at its expiry the console goes to sign-in and says why.
  useEffect(() => {
    if (!expiresAt) return;
    const left = new Date(expiresAt).getTime() - Date.now();
    const timer = setTimeout(() => void endSession(), Math.max(0, Math.min(left, 2 ** 31 - 1)));
    return () => clearTimeout(timer);
  }, [expiresAt, router]);
  const location = useLocation();
  const navigate = useNavigate();
  // A screen the caller may not use says so, rather than rendering and failing call by call.
  const needed = useMatches({
    select: (matches) => matches.map((m) => m.staticData.permission),
  });
  const missing = needed.find((p) => p !== undefined && !me.can(p));
  const [opened, { toggle }] = useDisclosure();
  const [signOutFailed, setSignOutFailed] = useState(false);
  // Sign-in shows only once the gateway has ended the session (or says it was over already): a
  // sign-out that did not arrive leaves the session open in this browser and on the server, and
  // whoever comes to this browser next would be signed in as this user.
  const signOut = async (everywhere = false) => {
    setSignOutFailed(false);
    const ended = await api
      .POST(everywhere ? '/api/v1/auth/logout-everywhere' : '/api/v1/auth/logout')
      .then(
        ({ response }) => response.ok || response.status === 401,
        () => false,
      );
    if (!ended) {
      setSignOutFailed(true);
      return;
    }
    await navigate({ to: '/sign-in', search: {} });
    forgetSession(false);
  };
  return (
    <AppShell
      header={{ height: environment() ? 84 : 60 }}
      navbar={{ width: 220, breakpoint: 'sm', collapsed: { mobile: !opened } }}
      padding="md"
    >
      <AppShell.Header>
        <EnvironmentBanner />
        <Group h={60} px="md" justify="space-between" wrap="nowrap">
          <Group wrap="nowrap">
            <Burger opened={opened} onClick={toggle} hiddenFrom="sm" size="sm" aria-label="Menu" />
            <Title order={1} size="h3">
              Junction
            </Title>
          </Group>
          <Group wrap="nowrap">
            <Button
              variant="default"
              onClick={() => spotlight.open()}
              title="Command palette (Ctrl+K or Cmd+K)"
              rightSection={<Kbd size="xs">Ctrl K</Kbd>}
            >
              Commands
            </Button>
            <ThemeToggle />
            <Text size="sm" data-testid="signed-in-as">
              {me.principal.name} ({me.principal.roles.join(', ') || 'no role'})
            </Text>
            {expiresAt && (
              <Text size="sm" data-testid="session-ends">
                until{' '}
                <time dateTime={expiresAt}>
                  {new Date(expiresAt).toLocaleTimeString([], {
                    hour: '2-digit',
                    minute: '2-digit',
                  })}
                </time>
              </Text>
            )}
            <Button variant="subtle" onClick={() => void signOut()}>
              Sign out
            </Button>
          </Group>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Screens">
        {SCREENS.filter((s) => me.can(s.permission)).map((s) => (
          <NavLink
            key={s.to}
            variant="filled"
            renderRoot={(props) => <Link to={s.to} {...props} />}
            label={s.label}
            active={location.pathname.startsWith(`/console${s.to}`)}
          />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>
        {signOutFailed && (
          <Alert
            color="red"
            role="alert"
            mb="md"
            title="Not signed out"
            data-testid="sign-out-failed"
            withCloseButton
            onClose={() => setSignOutFailed(false)}
          >
            The gateway did not confirm the sign-out: your session is still open. Try again.
          </Alert>
        )}
        {missing ? <Forbidden permission={missing} /> : <Outlet />}
      </AppShell.Main>
      <Palette
        can={me.can}
        signOutEverywhere={me.principal.kind === 'user' ? () => void signOut(true) : undefined}
      />
    </AppShell>
  );
}
