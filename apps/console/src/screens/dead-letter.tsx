import {
  Alert,
  Badge,
  Button,
  Code,
  Group,
  Paper,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Title,
} from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { useState } from 'react';
import { api, data, errorMessage } from '../api';
import { AnchorLink, ButtonLink } from '../links';
import { deadLetterRoute } from '../ops-routes';
import { useMe } from '../session';
import { Forbidden, Json, When } from './ops-common';

/** One dead letter: what failed where and why, every attempt, the payload (card numbers redacted). */
export function DeadLetterScreen() {
  const me = useMe();
  const { id } = deadLetterRoute.useParams();
  const client = useQueryClient();
  const navigate = useNavigate();
  const [message, setMessage] = useState<{ color: string; text: string }>();
  const [busy, setBusy] = useState(false);
  const [confirming, setConfirming] = useState(false);
  const letter = useQuery({
    queryKey: ['dead-letter', id],
    enabled: me.can('deadletters.read'),
    queryFn: () => data(api.GET('/api/v1/dead-letters/{id}', { params: { path: { id } } })),
  });
  if (!me.can('deadletters.read')) return <Forbidden permission="deadletters.read" />;
  if (letter.isError)
    return (
      <Alert color="red" role="alert">
        {errorMessage(letter.error)}
      </Alert>
    );
  const d = letter.data;
  if (!d) return <Text>Loading…</Text>;
  const act = async (what: () => Promise<void>) => {
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
  const replay = () =>
    act(async () => {
      const result = await data(
        api.POST('/api/v1/dead-letters/{id}/replay', { params: { path: { id } } }),
      );
      await client.invalidateQueries({ queryKey: ['dead-letter', id] });
      await client.invalidateQueries({ queryKey: ['dead-letters'] });
      const error = result.error as { code?: string; message?: string } | undefined;
      setMessage(
        result.outcome === 'replayed'
          ? { color: 'green', text: 'Replayed: delivered.' }
          : {
              color: result.outcome === 'dead-lettered' ? 'red' : 'yellow',
              text: `Replayed: ${result.outcome}${error ? ` (${error.code}: ${error.message})` : ''}.`,
            },
      );
    });
  const remove = () =>
    act(async () => {
      await data(api.DELETE('/api/v1/dead-letters/{id}', { params: { path: { id } } }));
      await client.invalidateQueries({ queryKey: ['dead-letters'] });
      await navigate({ to: '/dead-letters', search: { routeId: d.routeId } });
    });
  const source = d.source as Record<string, unknown>;
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Dead letter of {d.routeId}</Title>
        <AnchorLink to="/dead-letters" search={{ routeId: d.routeId, reasonCode: d.reasonCode }}>
          {`All ${d.reasonCode} dead letters of ${d.routeId}`}
        </AnchorLink>
      </Group>
      <Paper withBorder p="sm">
        <Group gap="xs" mb="xs">
          <Badge color="red" variant="light" data-testid="dead-letter-reason-code">
            {d.reasonCode}
          </Badge>
          <Text>
            failed at <Code data-testid="failing-stage">{d.failedAt ?? 'unknown'}</Code> of version{' '}
            {d.routeVersion}
          </Text>
        </Group>
        <Text data-testid="dead-letter-error" style={{ whiteSpace: 'pre-wrap' }}>
          {d.reason}
        </Text>
      </Paper>
      <Group>
        {me.can('deadletters.write') && (
          <Button loading={busy} onClick={() => void replay()} data-testid="replay-one">
            Replay through the running version
          </Button>
        )}
        {me.can('routes.read') && (
          <ButtonLink
            variant="default"
            to="/routes/$id"
            params={{ id: d.routeId }}
            search={{ sample: `dead-letter:${d.id}` }}
          >
            Open as sample in the editor
          </ButtonLink>
        )}
        {me.can('deadletters.write') &&
          (confirming ? (
            <Group gap="xs">
              <Text size="sm">Delete it? It can no longer be replayed.</Text>
              <Button color="red" loading={busy} onClick={() => void remove()}>
                Delete this dead letter
              </Button>
              <Button variant="default" onClick={() => setConfirming(false)}>
                Keep it
              </Button>
            </Group>
          ) : (
            <Button variant="subtle" color="red" onClick={() => setConfirming(true)}>
              Delete…
            </Button>
          ))}
      </Group>
      {message && (
        <Alert
          color={message.color}
          role={message.color === 'red' ? 'alert' : 'status'}
          data-testid="replay-message"
        >
          {message.text}
        </Alert>
      )}
      <SimpleGrid cols={{ base: 1, lg: 2 }}>
        <Stack gap="xs">
          <Title order={3} size="h4">
            Attempts
          </Title>
          <Table aria-label="Attempts" data-testid="attempts">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>When</Table.Th>
                <Table.Th>What</Table.Th>
                <Table.Th>Outcome</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              <Table.Tr>
                <Table.Td>
                  <When at={d.createdAt} />
                </Table.Td>
                <Table.Td>
                  {`Received from ${String(source.type ?? '')} ${String(source.name ?? '')}, version ${d.routeVersion}`}
                  {d.attempts > 0
                    ? `, ${d.attempts} delivery attempt${d.attempts === 1 ? '' : 's'}`
                    : ', no delivery attempted'}
                </Table.Td>
                <Table.Td>dead-lettered ({d.reasonCode})</Table.Td>
              </Table.Tr>
              {d.replayHistory.map((r, i) => (
                <Table.Tr key={i} data-testid="replay-attempt">
                  <Table.Td>
                    <When at={r.at} />
                  </Table.Td>
                  <Table.Td>
                    {`Replay ${i + 1}`}
                    {r.version !== null ? ` through version ${r.version}` : ''}
                    {r.by ? `, by ${r.by}` : ''}
                    {r.jobId ? ` (replay job ${r.jobId.slice(0, 8)})` : ''}
                  </Table.Td>
                  <Table.Td>
                    {r.outcome === 'replayed' ? 'delivered' : r.outcome}
                    {r.error ? ` (${r.error})` : ''}
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
          <Text size="sm">
            Message <Code>{d.messageId}</Code>, payload SHA-256{' '}
            <Code>{d.payloadSha256.slice(0, 16)}…</Code>
          </Text>
        </Stack>
        <Stack gap="xs">
          <Title order={3} size="h4">
            Payload (card numbers redacted)
          </Title>
          <Json value={d.payload} label="Payload" />
          <Title order={3} size="h4">
            Headers
          </Title>
          <Json value={d.headers} label="Headers" />
        </Stack>
      </SimpleGrid>
    </Stack>
  );
}
