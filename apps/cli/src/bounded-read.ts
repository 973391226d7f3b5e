import { closeSync, constants, fstatSync, openSync, readSync } from 'node:fs';

/** A file the CLI will not read: not a regular file, too large, or not there. */
export class UnreadableFile extends Error {}

/**
 * Reads a regular file of at most `maxBytes` as UTF-8. Opened without blocking and checked on
 * the open descriptor (no window between a check and the read): a FIFO would hang the command
 * for good, and a device such as /dev/zero never ends (a route file linked to it grew the CLI to
 * 15 GB in a minute). A file that grows while it is read stops at `maxBytes` and is refused.
 */
export function readBoundedText(file: string, maxBytes: number, what = 'file'): string {
  let fd: number;
  try {
    fd = openSync(file, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (err) {
    throw new UnreadableFile(
      `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
  try {
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new UnreadableFile(`${file} is not a regular file`);
    if (stat.size > maxBytes)
      throw new UnreadableFile(`${file} is ${stat.size} bytes; a ${what} is at most ${maxBytes}`);
    const buffer = Buffer.alloc(maxBytes + 1);
    let length = 0;
    for (;;) {
      const n = readSync(fd, buffer, length, buffer.length - length, null);
      if (n === 0) break;
      length += n;
      if (length > maxBytes)
        throw new UnreadableFile(`${file} is over ${maxBytes} bytes; a ${what} is at most that`);
    }
    return buffer.toString('utf8', 0, length);
  } finally {
    closeSync(fd);
  }
}
