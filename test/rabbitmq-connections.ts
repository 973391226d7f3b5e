import { execFileSync } from 'node:child_process';

/**
 * Closes, from RabbitMQ's side (rabbitmqctl), every connection whose client-given name is `name`
 * (a gateway names its connections `junction:<stored connection>`), and only those: other suites
 * and benches share the broker. Returns how many it closed.
 */
export function closeRabbitConnections(name: string, reason: string): number {
  const listed = execFileSync(
    'rabbitmqctl',
    ['list_connections', '-q', '--no-table-headers', 'pid', 'client_properties'],
    { encoding: 'utf8' },
  );
  const pids = listed
    .split('\n')
    .filter((line) => line.includes(`"connection_name","${name}"`))
    .map((line) => line.split('\t')[0]);
  for (const pid of pids)
    execFileSync('rabbitmqctl', ['close_connection', pid, reason], { stdio: 'ignore' });
  return pids.length;
}
