import { Alert, Button, Code, Group, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useMutation } from '@tanstack/react-query';
import { useNavigate } from '@tanstack/react-router';
import { useState } from 'react';
import { api, data, errorMessage, type Schemas } from '../api';
import { toIso, toLocal } from '../local-time';
import { verifyRoute } from '../audit-routes';

type Report = Schemas['VerificationReportDto'];

/** A green title on light green is too faint to read (WCAG AA): titles take the text colour. */
const READABLE_TITLE = { title: { color: 'var(--mantine-color-text)' } };

/** Saves the report exactly as the gateway signed it (the JSON text it answered). */
function download(report: Report) {
  const blob = new Blob([`${JSON.stringify(report, null, 2)}\n`], { type: 'application/json' });
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = `audit-verification-${report.id}.json`;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 0);
}

function ReportView({ report }: { report: Report }) {
  const r = report.result;
  const anchors = r.anchors;
  return (
    <section aria-labelledby="report-title" className="printable" data-testid="verify-report">
      <Title order={3} id="report-title" mb="xs">
        Verification report
      </Title>
      {r.ok ? (
        <Alert
          color="green"
          title="The audit trail verifies"
          data-testid="verify-ok"
          styles={READABLE_TITLE}
        >
          {r.checked} records checked: none changed, none missing.
        </Alert>
      ) : (
        <Alert
          color="red"
          title="The audit trail does not verify"
          data-testid="verify-broken"
          styles={READABLE_TITLE}
        >
          {r.firstBroken ? (
            <>
              First broken record: <strong>#{r.firstBroken.id}</strong> of {r.firstBroken.table}:{' '}
              {r.firstBroken.reason}
            </>
          ) : (
            r.reason
          )}
        </Alert>
      )}
      <Table mt="md" aria-label="Report details" variant="vertical" withTableBorder>
        <Table.Tbody>
          <Table.Tr>
            <Table.Th w={220}>Report</Table.Th>
            <Table.Td>
              <Code>{report.id}</Code>
            </Table.Td>
          </Table.Tr>
          <Table.Tr>
            <Table.Th>Run by</Table.Th>
            <Table.Td>
              {report.ranBy.name} ({report.ranBy.kind}
              {report.ranBy.provider ? `, ${report.ranBy.provider}` : ''})
            </Table.Td>
          </Table.Tr>
          <Table.Tr>
            <Table.Th>When</Table.Th>
            <Table.Td>{new Date(report.generatedAt).toLocaleString()}</Table.Td>
          </Table.Tr>
          <Table.Tr>
            <Table.Th>Range</Table.Th>
            <Table.Td>
              {report.range.from ? new Date(report.range.from).toLocaleString() : 'the beginning'}{' '}
              to {report.range.to ? new Date(report.range.to).toLocaleString() : 'now'}
            </Table.Td>
          </Table.Tr>
          <Table.Tr>
            <Table.Th>Records checked</Table.Th>
            <Table.Td data-testid="verify-checked">{r.checked}</Table.Td>
          </Table.Tr>
          {r.tables.map((t) => (
            <Table.Tr key={t.table}>
              <Table.Th>{t.table}</Table.Th>
              <Table.Td>
                {t.checked} records, chain {t.ok ? 'consistent' : `broken at #${t.firstBrokenId}`},
                head #{t.head.id} <Code>{t.head.hash.slice(0, 16)}…</Code>
              </Table.Td>
            </Table.Tr>
          ))}
          <Table.Tr>
            <Table.Th>Signed anchors</Table.Th>
            <Table.Td>
              {anchors.configured
                ? `${anchors.checked ?? 0} checked${anchors.ok === false ? ' (one does not match)' : ''}`
                : 'none: this gateway has no signing key'}
            </Table.Td>
          </Table.Tr>
          <Table.Tr>
            <Table.Th>Signature</Table.Th>
            <Table.Td>
              {report.signer ? (
                <>
                  Ed25519, key <Code>{report.signer.keyId}</Code>
                </>
              ) : (
                'unsigned: this gateway has no signing key (JUNCTION_AUDIT_SIGNING_KEY)'
              )}
            </Table.Td>
          </Table.Tr>
        </Table.Tbody>
      </Table>
      {(anchors.anchors ?? []).length > 0 && (
        <Table mt="md" striped aria-label="Anchors checked">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Anchor</Table.Th>
              <Table.Th>Signed</Table.Th>
              <Table.Th>Chain heads</Table.Th>
              <Table.Th>Matched</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {(anchors.anchors ?? []).map((a) => (
              <Table.Tr key={a.file}>
                <Table.Td>{a.file}</Table.Td>
                <Table.Td>{new Date(a.signedAt).toLocaleString()}</Table.Td>
                <Table.Td>{a.chains.map((c) => `${c.table} #${c.seq}`).join(', ')}</Table.Td>
                <Table.Td>{a.matched ? 'yes' : 'NO'}</Table.Td>
              </Table.Tr>
            ))}
          </Table.Tbody>
        </Table>
      )}
      <Text size="xs" c="dimmed" mt="sm">
        Check a downloaded copy with{' '}
        <Code>
          junction audit verify --report audit-verification-{report.id}.json --public-key &lt;the
          gateway&apos;s public key&gt;
        </Code>
      </Text>
    </section>
  );
}

/** Run a verification of the audit trail over a range, read it, download or print the report. */
export function VerifyScreen() {
  const { from, to } = verifyRoute.useSearch();
  const navigate = useNavigate({ from: '/verify' });
  const [range, setRange] = useState({ from: toLocal(from), to: toLocal(to) });
  const run = useMutation({
    mutationFn: (r: { from?: string; to?: string }) =>
      data(api.GET('/api/v1/audit/verify/report', { params: { query: r } })),
  });
  return (
    <>
      <Title order={2} mb="md" className="no-print">
        Verify the audit trail
      </Title>
      <form
        className="no-print"
        aria-label="Verification range"
        onSubmit={(e) => {
          e.preventDefault();
          const r = { from: toIso(range.from), to: toIso(range.to) };
          void navigate({ search: r, replace: true });
          run.mutate(r);
        }}
      >
        <Group align="end" mb="md">
          <TextInput
            type="datetime-local"
            label="From"
            description="empty: the beginning"
            value={range.from}
            onChange={(e) => setRange({ ...range, from: e.currentTarget.value })}
          />
          <TextInput
            type="datetime-local"
            label="To"
            description="empty: now"
            value={range.to}
            onChange={(e) => setRange({ ...range, to: e.currentTarget.value })}
          />
          <Button type="submit" loading={run.isPending}>
            Run verification
          </Button>
        </Group>
      </form>
      {run.isError && (
        <Alert color="red" title="Verification failed to run" role="alert">
          {errorMessage(run.error)}
        </Alert>
      )}
      {run.data && (
        <Stack>
          <Group className="no-print">
            <Button variant="default" onClick={() => download(run.data)}>
              Download signed report
            </Button>
            <Button variant="default" onClick={() => window.print()}>
              Print
            </Button>
          </Group>
          <ReportView report={run.data} />
        </Stack>
      )}
    </>
  );
}
