import { Alert, Button, Stack, Text, Title } from '@mantine/core';
import { useState } from 'react';
import { api, data, errorMessage, type Schemas } from '../api';
import { AnchorLink } from '../links';
import { PreviewResult } from './dead-letters';

/**
 * The editor's draft against the route's stored dead letters: what the change would fix before
 * it is saved. Nothing is stored or delivered (POST /dead-letters/preview with the document).
 */
export function DraftPreview({ routeId, document }: { routeId: string; document: string }) {
  const [result, setResult] = useState<{ of: string; value: Schemas['PreviewResultDto'] }>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const value = await data(
        api.POST('/api/v1/dead-letters/preview', {
          body: { filter: { routeId }, document, limit: 1000 },
        }),
      );
      setResult({ of: document, value });
    } catch (err) {
      setError(errorMessage(err));
    } finally {
      setBusy(false);
    }
  };
  return (
    <Stack gap="xs" data-testid="draft-preview">
      <Title order={3} size="h4">
        Dead letters
      </Title>
      <Text size="sm" c="dimmed">
        Runs this draft over the route&apos;s dead letters; nothing is saved or sent.
      </Text>
      <AnchorLink to="/dead-letters" search={{ routeId }}>
        {`Open the dead letters of ${routeId}`}
      </AnchorLink>
      <Button variant="default" loading={busy} onClick={() => void run()}>
        Preview this draft on the dead letters
      </Button>
      {error && (
        <Alert color="red" role="alert">
          {error}
        </Alert>
      )}
      {result && result.of !== document && (
        <Text size="sm">The draft changed since this preview.</Text>
      )}
      {result && <PreviewResult result={result.value} />}
    </Stack>
  );
}
