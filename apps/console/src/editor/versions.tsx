import { MergeView } from '@codemirror/merge';
import { EditorState } from '@codemirror/state';
import { EditorView, lineNumbers } from '@codemirror/view';
import { yaml } from '@codemirror/lang-yaml';
import { Alert, Button, Group, Radio, Stack, Table, Text, Title } from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { AnchorLink } from '../links';
import { useEffect, useRef, useState } from 'react';
import { api, ApiError, data, errorMessage } from '../api';
import { versionsRoute } from '../router';
import { StatusDot } from '../screens/routes';
import { useMe } from '../session';
import { SampleGuard, sampleGuardRefusal, type SampleGuardRefusal } from './sample-guard';
import { editableSource } from './yaml-support';

function useVersionText(id: string, version: number | undefined) {
  return useQuery({
    queryKey: ['version', id, version],
    enabled: version !== undefined,
    queryFn: async () => {
      const v = await data(
        api.GET('/api/v1/routes/{id}/versions/{version}', {
          params: { path: { id, version: version! } },
        }),
      );
      return editableSource(v);
    },
    staleTime: Infinity,
    // A version that is not there will not come by asking again.
    retry: (count, err) => !(err instanceof ApiError && err.status === 404) && count < 1,
  });
}

/** Side by side, read-only: the left version's YAML against the right one's. */
function Diff({ left, right, labels }: { left: string; right: string; labels: [string, string] }) {
  const host = useRef<HTMLDivElement>(null);
  useEffect(() => {
    const side = (doc: string, label: string) => ({
      doc,
      extensions: [
        lineNumbers(),
        yaml(),
        EditorView.lineWrapping,
        EditorState.readOnly.of(true),
        EditorView.editable.of(false),
        EditorView.contentAttributes.of({ 'aria-label': label }),
      ],
    });
    const view = new MergeView({
      a: side(left, labels[0]),
      b: side(right, labels[1]),
      parent: host.current!,
      collapseUnchanged: { margin: 3, minSize: 6 },
    });
    return () => view.destroy();
  }, [left, right, labels[0], labels[1]]);
  return <div ref={host} data-testid="version-diff" />;
}

export function VersionsScreen() {
  const { id } = versionsRoute.useParams();
  const search = versionsRoute.useSearch();
  const me = useMe();
  const navigate = useNavigate({ from: '/routes/$id/versions' });
  const client = useQueryClient();
  const [message, setMessage] = useState<{ color: string; text: string }>();
  const [guard, setGuard] = useState<SampleGuardRefusal>();
  const [busy, setBusy] = useState(false);
  const versions = useQuery({
    queryKey: ['versions', id],
    queryFn: () => data(api.GET('/api/v1/routes/{id}/versions', { params: { path: { id } } })),
  });
  const list = versions.data ?? [];
  const active = list.find((v) => v.active)?.version;
  const right = search.right ?? list[0]?.version;
  const left = search.left ?? list.find((v) => v.version !== right)?.version;
  const leftText = useVersionText(id, left);
  const rightText = useVersionText(id, right);

  // The route's state as this list shows it (its ETag): an activation or rollback chosen from a
  // list that another editor has changed since is refused (412), not applied over their change.
  const shown = list[0] ? `"${list[0].incarnation}.${list[0].version}.${active ?? 0}"` : undefined;

  const activate = async (version: number, reason?: string) => {
    setMessage(undefined);
    setGuard(undefined);
    setBusy(true);
    try {
      await data(
        api.POST('/api/v1/routes/{id}/versions/{version}/activate', {
          params: { path: { id, version }, header: shown ? { 'If-Match': shown } : {} },
          body: reason ? { override: { reason } } : {},
        }),
      );
      await client.invalidateQueries({ queryKey: ['versions', id] });
      await client.invalidateQueries({ queryKey: ['route', id] });
      await client.invalidateQueries({ queryKey: ['routes'] });
      setMessage({ color: 'green', text: `Version ${version} is active.` });
    } catch (err) {
      setGuard(sampleGuardRefusal(err, version));
      setMessage({ color: 'red', text: errorMessage(err) });
      // A 412 means the list is out of date: show the route as it is now.
      await client.invalidateQueries({ queryKey: ['versions', id] });
    } finally {
      setBusy(false);
    }
  };
  const verb = (version: number) =>
    active !== undefined && version < active
      ? `Roll back to version ${version}`
      : `Activate version ${version}`;

  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Versions of {id}</Title>
        <AnchorLink to="/routes/$id" params={{ id }}>
          Back to the editor
        </AnchorLink>
      </Group>
      {versions.isError && <Alert color="red">{errorMessage(versions.error)}</Alert>}
      {guard && (
        <SampleGuard
          key={guard.version}
          refusal={guard}
          canOverride={me.principal.roles.includes('admin')}
          actionLabel={`${verb(guard.version)} anyway`}
          busy={busy}
          onOverride={(reason) => void activate(guard.version, reason)}
        />
      )}
      {message && (
        <Alert
          color={message.color}
          role={message.color === 'red' ? 'alert' : 'status'}
          data-testid="versions-message"
        >
          {message.text}
        </Alert>
      )}
      <Table aria-label="Versions" striped>
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Version</Table.Th>
            <Table.Th>Author</Table.Th>
            <Table.Th>Time</Table.Th>
            <Table.Th>Comment</Table.Th>
            <Table.Th>Left</Table.Th>
            <Table.Th>Right</Table.Th>
            <Table.Th>Action</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {list.map((v) => (
            <Table.Tr key={v.version} data-testid={`version-row-${v.version}`}>
              <Table.Td>
                {v.active ? (
                  <StatusDot color="green">v{v.version} active</StatusDot>
                ) : (
                  `v${v.version}`
                )}
              </Table.Td>
              <Table.Td>{v.author}</Table.Td>
              <Table.Td>
                <time dateTime={v.createdAt}>{new Date(v.createdAt).toLocaleString()}</time>
              </Table.Td>
              <Table.Td>{v.comment ?? ''}</Table.Td>
              <Table.Td>
                <Radio
                  aria-label={`Compare version ${v.version} on the left`}
                  checked={left === v.version}
                  onChange={() =>
                    void navigate({ search: (s) => ({ ...s, left: v.version }), replace: true })
                  }
                />
              </Table.Td>
              <Table.Td>
                <Radio
                  aria-label={`Compare version ${v.version} on the right`}
                  checked={right === v.version}
                  onChange={() =>
                    void navigate({ search: (s) => ({ ...s, right: v.version }), replace: true })
                  }
                />
              </Table.Td>
              <Table.Td>
                {me.can('routes.activate') && !v.active && (
                  <Button
                    size="xs"
                    variant="outline"
                    disabled={busy}
                    onClick={() => void activate(v.version)}
                  >
                    {verb(v.version)}
                  </Button>
                )}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
      {left !== undefined && right !== undefined && (
        <>
          <Title order={3} size="h4">
            Version {left} (left) against version {right} (right)
          </Title>
          {leftText.error || rightText.error ? (
            // A version this route does not have (a hand-made or old link): said, not loading.
            <Alert color="red" role="alert" data-testid="diff-error">
              {errorMessage(leftText.error ?? rightText.error)}
            </Alert>
          ) : leftText.data !== undefined && rightText.data !== undefined ? (
            <Diff
              left={leftText.data}
              right={rightText.data}
              labels={[`Version ${left}`, `Version ${right}`]}
            />
          ) : (
            <Text>Loading…</Text>
          )}
        </>
      )}
    </Stack>
  );
}
