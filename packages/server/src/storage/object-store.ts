import type { Readable } from 'node:stream';

/** One stored object. */
export interface ObjectInfo {
  key: string;
  /** Bytes. */
  size: number;
  /** ISO-8601. */
  lastModified: string;
}

/** Options of {@link ObjectStore.put}. */
export interface PutOptions {
  contentType?: string;
}

/**
 * Blob storage for what must outlive a server's disk: deployed agent archives, workspace
 * snapshots, attachments. Keys are `/`-separated relative names (see {@link assertValidKey}).
 *
 * Contract (checked by one test suite against every implementation):
 * - `put` resolves only once the object is durably stored; a reader never sees a partial object
 *   (the previous one or the new one). A stream body is consumed to its end; if it errors, the
 *   put rejects and the previous object (if any) is unchanged.
 * - `get` resolves to a stream of the bytes, or `undefined` when the key does not exist.
 * - `delete` is idempotent; `list` returns every key starting with `prefix`, sorted.
 * Failures of the backend reject with {@link StorageError}.
 */
export interface ObjectStore {
  /** `local` or `s3`: shown in logs and health. */
  readonly kind: 'local' | 's3';
  put(key: string, body: Buffer | Readable, opts?: PutOptions): Promise<{ size: number }>;
  get(key: string): Promise<Readable | undefined>;
  exists(key: string): Promise<boolean>;
  delete(key: string): Promise<void>;
  list(prefix: string): Promise<ObjectInfo[]>;
  /** Checks the backend is reachable and usable (the bucket exists). @throws StorageError */
  check(): Promise<void>;
  close(): Promise<void>;
}

/** A storage backend failed (unreachable, denied, disk full...). */
export class StorageError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StorageError';
  }
}

const SEGMENT = /^[A-Za-z0-9._-]{1,200}$/;

/**
 * Keys are built by the server only (never from client text): 1..1024 characters, `/`-separated
 * segments of `[A-Za-z0-9._-]`, no empty, `.` or `..` segment.
 * @throws Error (a programming error) for anything else.
 */
export function assertValidKey(key: string): void {
  if (key.length === 0 || key.length > 1024) throw new Error(`invalid storage key length: ${key.length}`);
  for (const seg of key.split('/')) {
    if (!SEGMENT.test(seg) || seg === '.' || seg === '..') throw new Error(`invalid storage key: ${key}`);
  }
}

/** Reads a whole object into memory (for small objects such as attachments). */
export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.isBuffer(c) ? c : Buffer.from(c as Uint8Array));
  return Buffer.concat(chunks);
}
