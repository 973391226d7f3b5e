import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface HttpTarget {
  /** `http://127.0.0.1:<port>`, for an http connection's `baseUrl`. */
  baseUrl: string;
  close(): Promise<void>;
}

/**
 * A real HTTP service on 127.0.0.1 for routes to deliver to: `answer` gets each request with
 * its whole body read, and answers it (now or later).
 */
export async function startHttpTarget(
  answer: (body: string, res: ServerResponse, req: IncomingMessage) => void,
): Promise<HttpTarget> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => answer(Buffer.concat(chunks).toString(), res, req));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
