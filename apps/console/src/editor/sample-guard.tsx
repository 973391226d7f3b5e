import { Alert, Button, Group, List, Text, TextInput } from '@mantine/core';
import { useState } from 'react';
import { ApiError } from '../api';

/** A refused activation: the version and the guarding samples that would leak a card number. */
export interface SampleGuardRefusal {
  version: number;
  samples: { name: string; pointers: string[] }[];
}

interface GuardDetails {
  code?: string;
  samples?: { name: string; pointers: string[] }[];
}

/** The refusal in an activation's error, when guarding samples refused it (409 SAMPLE_LEAKS_PAN). */
export function sampleGuardRefusal(err: unknown, version: number): SampleGuardRefusal | undefined {
  const details =
    err instanceof ApiError ? (err.body.details as GuardDetails | undefined) : undefined;
  return details?.code === 'SAMPLE_LEAKS_PAN'
    ? { version, samples: details.samples ?? [] }
    : undefined;
}

/**
 * Which samples refused the activation and where each would leak; for an admin, the override:
 * a reason (kept in the audit trail) and the activation again. Remount (key) for a new refusal.
 */
export function SampleGuard(props: {
  refusal: SampleGuardRefusal;
  /** Whether the caller may override (admins; the server checks again). */
  canOverride: boolean;
  /** What the override button says, e.g. "Activate version 3 anyway". */
  actionLabel: string;
  busy?: boolean;
  onOverride(reason: string): void;
}) {
  const [reason, setReason] = useState('');
  const { refusal } = props;
  return (
    <Alert
      color="red"
      title={`Version ${refusal.version} was not activated`}
      data-testid="sample-guard"
    >
      <Text size="sm">A sample that guards this route would leave a card number:</Text>
      <List size="sm">
        {refusal.samples.map((g) => (
          <List.Item key={g.name}>
            {g.name}: {g.pointers.join(', ')}
          </List.Item>
        ))}
      </List>
      {props.canOverride && (
        <Group align="end" mt="xs">
          <TextInput
            label="Reason to activate anyway (audited)"
            value={reason}
            onChange={(e) => setReason(e.currentTarget.value)}
            style={{ flex: 1 }}
          />
          <Button
            color="red.9"
            loading={props.busy}
            disabled={reason.trim() === ''}
            onClick={() => props.onOverride(reason.trim())}
          >
            {props.actionLabel}
          </Button>
        </Group>
      )}
    </Alert>
  );
}
