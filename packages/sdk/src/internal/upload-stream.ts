import { AshLocalError } from '../core/errors.js';

/** A local file to send: its path in the request and where it is on disk. */
export interface DiskFile {
  /** Path in the upload (`/`-separated, relative). */
  path: string;
  /** Path on this machine. */
  localPath: string;
  /** Size in bytes (as found before the transfer; a file that changes size fails the upload). */
  size: number;
}

/** Bytes read per step: a multiple of 3, so each chunk's base64 joins with the next one's. */
const CHUNK = 3 * 64 * 1024;

const encoder = new TextEncoder();

/** Length of the base64 text of `n` bytes. */
export const base64Length = (n: number) => 4 * Math.ceil(n / 3);

/**
 * A JSON request body `{...head, "files": [{"path": …, "content": "<base64>"}, …]}` produced
 * while it is sent: each file is read from disk in chunks, never held whole in memory. The exact
 * byte length is known in advance (sent as Content-Length). `onProgress(doneBytes, totalBytes)`
 * counts file bytes read.
 * @throws AshLocalError `local_io_error` (through the stream) when a file cannot be read or its size changed.
 */
export function jsonFilesBody(
  head: Record<string, unknown>,
  files: DiskFile[],
  onProgress?: (done: number, total: number) => void,
): { stream: ReadableStream<Uint8Array>; length: number } {
  const headJson = JSON.stringify(head);
  const opening = `${headJson.slice(0, -1)}${headJson === '{}' ? '' : ','}"files":[`;
  const prefixes = files.map((f, i) => `${i === 0 ? '' : ','}{"path":${JSON.stringify(f.path)},"content":"`);
  const closing = ']}';
  const fileSuffix = '"}';
  let length = Buffer.byteLength(opening) + Buffer.byteLength(closing);
  for (const [i, f] of files.entries())
    length += Buffer.byteLength(prefixes[i]!) + base64Length(f.size) + fileSuffix.length;
  const total = files.reduce((n, f) => n + f.size, 0);
  let done = 0;

  // The body as a sequence of steps: text pieces and file reads.
  async function* pieces(): AsyncGenerator<Uint8Array> {
    const fs = await import('node:fs/promises');
    yield encoder.encode(opening);
    for (const [i, f] of files.entries()) {
      yield encoder.encode(prefixes[i]!);
      let handle: import('node:fs/promises').FileHandle;
      try {
        handle = await fs.open(f.localPath, 'r');
      } catch (err) {
        throw new AshLocalError('local_io_error', `cannot read ${f.localPath}`, f.localPath, err);
      }
      try {
        const buf = Buffer.alloc(CHUNK);
        let read = 0;
        for (;;) {
          // Fill the buffer completely (or to EOF) so every chunk but the last is a multiple of 3.
          let filled = 0;
          while (filled < CHUNK) {
            const { bytesRead } = await handle.read(buf, filled, CHUNK - filled, read + filled);
            if (bytesRead === 0) break;
            filled += bytesRead;
          }
          if (filled === 0) break;
          read += filled;
          if (read > f.size) break;
          done += filled;
          yield encoder.encode(buf.subarray(0, filled).toString('base64'));
          onProgress?.(done, total);
          if (filled < CHUNK) break;
        }
        if (read !== f.size)
          throw new AshLocalError(
            'local_io_error',
            `${f.localPath} changed size during the upload (${f.size} bytes before, ${read} now)`,
            f.localPath,
          );
      } finally {
        await handle.close();
      }
      yield encoder.encode(fileSuffix);
    }
    yield encoder.encode(closing);
    if (files.length === 0) onProgress?.(0, 0);
  }

  const it = pieces();
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done: end } = await it.next();
        if (end) controller.close();
        else controller.enqueue(value);
      } catch (err) {
        controller.error(err);
      }
    },
    async cancel() {
      await it.return(undefined);
    },
  });
  return { stream, length };
}

/**
 * A raw body streamed from one local file with its size as the length; `onProgress` counts bytes read.
 * @throws AshLocalError `local_io_error` (through the stream) when the file cannot be read.
 */
export function fileBody(
  localPath: string,
  size: number,
  onProgress?: (done: number, total: number) => void,
): { stream: ReadableStream<Uint8Array>; length: number } {
  let handle: import('node:fs/promises').FileHandle | undefined;
  let done = 0;
  const buf = Buffer.alloc(CHUNK);
  const stream = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        if (!handle) handle = await (await import('node:fs/promises')).open(localPath, 'r');
        const { bytesRead } = await handle.read(buf, 0, CHUNK, done);
        if (bytesRead === 0 || done + bytesRead > size) {
          await handle.close();
          if (done !== size || bytesRead !== 0)
            throw new AshLocalError(
              'local_io_error',
              `${localPath} changed size during the upload`,
              localPath,
            );
          controller.close();
          return;
        }
        done += bytesRead;
        controller.enqueue(new Uint8Array(buf.subarray(0, bytesRead)));
        onProgress?.(done, size);
      } catch (err) {
        await handle?.close().catch(() => undefined);
        controller.error(
          err instanceof AshLocalError
            ? err
            : new AshLocalError('local_io_error', `cannot read ${localPath}`, localPath, err),
        );
      }
    },
    async cancel() {
      await handle?.close().catch(() => undefined);
    },
  });
  return { stream, length: size };
}
