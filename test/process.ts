import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';

/** A port that was free a moment ago (the OS picks it). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address
          ? resolve(address.port)
          : reject(new Error('no port')),
      );
    });
  });
}

export interface Spawned {
  child: ChildProcess;
  output(): string;
  /** Resolves with the output once `pattern` appears in it; rejects at the deadline or on exit. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  exited(timeoutMs?: number): Promise<number | null>;
}

export function spawnNode(args: string[], env: Record<string, string>, cwd: string): Spawned {
  const child = spawn(process.execPath, args, {
    cwd,
    // The human start-up banner (`admin: ...`, `demo: ...`) that tests read, unless a test asks
    // for JSON lines; the output stays in memory (output()), shown when a waitFor fails.
    env: { ...process.env, LOG_FORMAT: 'pretty', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    output += chunk.toString();
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  let exitCode: number | null | undefined;
  const exitPromise = new Promise<number | null>((resolve) =>
    child.on('exit', (code) => resolve((exitCode = code))),
  );
  return {
    child,
    output: () => output,
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = output.match(pattern);
          if (match) {
            cleanup();
            resolve(match);
          } else if (exitCode !== undefined) {
            cleanup();
            reject(new Error(`process exited (${exitCode}) before ${pattern}:\n${output}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no ${pattern} within ${timeoutMs} ms:\n${output}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off('exit', check);
        };
        listeners.add(check);
        child.on('exit', check);
        check();
      });
    },
    exited(timeoutMs = 30_000) {
      return Promise.race([
        exitPromise,
        new Promise<number | null>((_, reject) =>
          setTimeout(() => {
            // What it was doing when it would not stop, for whoever reads the failure; then it
            // goes, so that it holds no port or queue for the tests after.
            const tail = output.slice(-4000);
            child.kill('SIGKILL');
            reject(new Error(`still running after ${timeoutMs} ms; its last output:\n${tail}`));
          }, timeoutMs).unref(),
        ),
      ]);
    },
  };
}
