import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import type { Socket } from 'node:net';

export interface WireBytes {
  /** Bytes the process received on the counted sockets. */
  read: number;
  /** Bytes it sent on them. */
  written: number;
}

/**
 * Counts the bytes on the wire of every TCP client socket this process opens from now until
 * `stop()` (Node's `net.client.socket` diagnostics channel): the route's own broker connections,
 * without a proxy that would add its CPU to the route's. Call `stop()` once they are closed or
 * done: a socket keeps its counts after it closed.
 */
export function countWireBytes(): { stop(): WireBytes } {
  const sockets: Socket[] = [];
  const onSocket = (message: unknown): void => {
    const socket = (message as { socket?: Socket }).socket;
    if (socket) sockets.push(socket);
  };
  subscribe('net.client.socket', onSocket);
  return {
    stop() {
      unsubscribe('net.client.socket', onSocket);
      return socketBytes(sockets);
    },
  };
}

/** What the sockets have read and written so far. */
export function socketBytes(sockets: Socket[]): WireBytes {
  let read = 0;
  let written = 0;
  for (const socket of sockets) {
    read += socket.bytesRead;
    written += socket.bytesWritten;
  }
  return { read, written };
}
