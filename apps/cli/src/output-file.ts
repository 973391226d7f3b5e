import { closeSync, constants, fstatSync, openSync } from 'node:fs';

/** A path the CLI will not write to: a symbolic link, not a regular file, or not writable. */
export class UnwritableFile extends Error {}

/**
 * Opens `path` for writing (created with `mode`, or truncated) as the file itself, never through
 * a symbolic link, and only when it is a regular file. `-o routes/orders.yaml` in a checkout
 * where someone committed that name as a link to ~/.bashrc wrote the route's source there: an
 * editor's YAML can be shell too (`description: |` pipes into the next line), run at the next
 * login. A FIFO or a device is refused as well (opening a FIFO without a reader would wait).
 */
export function openOutputFile(path: string, mode: number): number {
  let fd: number;
  try {
    fd = openSync(
      path,
      constants.O_WRONLY |
        constants.O_CREAT |
        constants.O_TRUNC |
        constants.O_NOFOLLOW |
        constants.O_NONBLOCK,
      mode,
    );
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ELOOP')
      throw new UnwritableFile(
        `${path} is a symbolic link: not written through it (remove it, or name the file itself)`,
      );
    if (code === 'ENXIO') throw new UnwritableFile(`${path} is not a regular file`);
    throw new UnwritableFile(`cannot write ${path}: ${code ?? (err as Error).message}`);
  }
  if (!fstatSync(fd).isFile()) {
    closeSync(fd);
    throw new UnwritableFile(`${path} is not a regular file`);
  }
  return fd;
}
