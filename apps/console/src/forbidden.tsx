import { Alert, Code } from '@mantine/core';
import type { Permission } from './api';

/** A screen the caller's roles do not open (a deep link from someone else, say). */
export function Forbidden({ permission }: { permission: Permission }) {
  return (
    <Alert
      color="yellow"
      title="Not available"
      role="alert"
      // Yellow on yellow is too faint to read (WCAG AA): the title takes the text colour.
      styles={{ title: { color: 'var(--mantine-color-text)' } }}
    >
      This screen needs the <Code>{permission}</Code> permission, which your roles do not grant.
    </Alert>
  );
}
