import { randomUUID } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import {
  assertValidKey,
  type ObjectInfo,
  type ObjectStore,
  type PutOptions,
  StorageError,
} from './object-store.js';

/** Settings of {@link S3ObjectStore} (from `ASH_S3_*` and the standard AWS variables). */
export interface S3StoreOptions {
  bucket: string;
  /** Key prefix inside the bucket, e.g. `ash/prod` (no leading or trailing `/` needed). */
  prefix?: string | undefined;
  /** Custom endpoint for S3-compatible services (MinIO, R2, s3rver...). */
  endpoint?: string | undefined;
  region: string;
  /** Path-style URLs (`endpoint/bucket/key`), needed by most S3-compatible servers. */
  forcePathStyle: boolean;
  /** Static credentials; when absent the AWS default chain is used (instance role, profile...). */
  credentials?:
    | { accessKeyId: string; secretAccessKey: string; sessionToken?: string | undefined }
    | undefined;
  /** Scratch folder where streamed bodies are spooled before upload (S3 needs the length). */
  spoolDir: string;
  /**
   * Longest wait of one attempt, ms (default 10 s): for the connection, for the response of a
   * request without a large body, and for any pause while data flows (uploads, downloads).
   */
  timeoutMs?: number | undefined;
  /** Attempts per operation (default 3): the first try and retries of transient failures. */
  maxAttempts?: number | undefined;
}

/** Defaults of {@link S3StoreOptions.timeoutMs} and {@link S3StoreOptions.maxAttempts}. */
export const S3_DEFAULT_TIMEOUT_MS = 10_000;
export const S3_DEFAULT_MAX_ATTEMPTS = 3;

const isNotFound = (err: unknown): boolean => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
};

/**
 * Failures worth another attempt: no HTTP answer at all (refused, reset, timed out, aborted by
 * our deadline), 5xx, 429 and throttling. A 4xx answer (denied, missing bucket...) is final.
 */
const isTransient = (err: unknown): boolean => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number }; $retryable?: unknown };
  const status = e?.$metadata?.httpStatusCode;
  if (status === undefined) return true;
  return status >= 500 || status === 429 || Boolean(e?.$retryable) || /throttl|slowdown/i.test(e?.name ?? '');
};

/**
 * Object storage on any S3-compatible service (`@aws-sdk/client-s3`). Streamed bodies are spooled
 * to a temporary file first, so the upload has a known length and a failing source stream never
 * leaves a partial object (a single PutObject is atomic: readers see the old or the new object).
 * Objects up to 5 GiB (the PutObject limit).
 *
 * Every operation is bounded: each attempt gives up after `timeoutMs` without a connection, a
 * response (requests without a large body) or progress (streamed uploads and downloads), and at
 * most `maxAttempts` attempts are made (transient failures only, with a short backoff). A dead or
 * hanging endpoint therefore fails with {@link StorageError} within about
 * `maxAttempts × timeoutMs` instead of holding requests forever. Retries are made here, not by
 * the SDK, so a streamed upload is re-read from its spool file on every attempt.
 */
export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3' as const;
  private readonly client: S3Client;
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;

  constructor(private readonly opts: S3StoreOptions) {
    this.timeoutMs = opts.timeoutMs ?? S3_DEFAULT_TIMEOUT_MS;
    this.maxAttempts = Math.max(1, opts.maxAttempts ?? S3_DEFAULT_MAX_ATTEMPTS);
    this.client = new S3Client({
      region: opts.region,
      forcePathStyle: opts.forcePathStyle,
      maxAttempts: 1,
      // Failures surface as StorageError and are logged by the callers; the SDK's own notices
      // (e.g. "non-retryable streaming request" on stderr) would only duplicate them.
      logger: {
        debug: () => undefined,
        info: () => undefined,
        warn: () => undefined,
        error: () => undefined,
      },
      // Options of the SDK's Node HTTP handler: connect timeout, and socket inactivity timeout.
      requestHandler: { connectionTimeout: this.timeoutMs, socketTimeout: this.timeoutMs },
      ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
      ...(opts.credentials ? { credentials: opts.credentials } : {}),
      // Plain checksums keep S3-compatible servers that predate the 2025 default (CRC32 trailers) working.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const p = (opts.prefix ?? '').replace(/^\/+|\/+$/g, '');
    this.prefix = p ? `${p}/` : '';
  }

  private fullKey(key: string): string {
    assertValidKey(key);
    return this.prefix + key;
  }

  async put(key: string, body: Buffer | Readable, opts: PutOptions = {}): Promise<{ size: number }> {
    const Key = this.fullKey(key);
    const common = {
      Bucket: this.opts.bucket,
      Key,
      ...(opts.contentType ? { ContentType: opts.contentType } : {}),
    };
    if (Buffer.isBuffer(body)) {
      await this.send(`store ${key}`, (abortSignal) =>
        this.client.send(new PutObjectCommand({ ...common, Body: body, ContentLength: body.length }), {
          abortSignal,
        }),
      );
      return { size: body.length };
    }
    const spool = join(this.opts.spoolDir, `s3-${randomUUID()}`);
    try {
      await mkdir(this.opts.spoolDir, { recursive: true });
      try {
        await pipeline(body, createWriteStream(spool, { flags: 'wx', mode: 0o600 }));
      } catch (err) {
        throw new StorageError(`could not read the body of ${key}: ${(err as Error).message}`, {
          cause: err,
        });
      }
      const { size } = await stat(spool);
      // No overall deadline (a large upload takes its time): a stall is cut by the socket timeout.
      await this.send(
        `store ${key}`,
        (abortSignal) =>
          this.client.send(
            new PutObjectCommand({ ...common, Body: createReadStream(spool), ContentLength: size }),
            { abortSignal },
          ),
        { deadline: false },
      );
      return { size };
    } finally {
      await rm(spool, { force: true }).catch(() => undefined);
    }
  }

  async get(key: string): Promise<Readable | undefined> {
    const Key = this.fullKey(key);
    try {
      // The deadline covers the response headers; the body then streams under the socket timeout.
      const res = await this.send(`read ${key}`, (abortSignal) =>
        this.client.send(new GetObjectCommand({ Bucket: this.opts.bucket, Key }), { abortSignal }),
      );
      const body = res.Body;
      if (!body) return Readable.from([]);
      return body instanceof Readable ? body : Readable.fromWeb(body as never);
    } catch (err) {
      if (isNotFound((err as Error).cause ?? err)) return undefined;
      throw new StorageError(`could not read ${key}: ${describe((err as Error).cause ?? err)}`, {
        cause: err,
      });
    }
  }

  async exists(key: string): Promise<boolean> {
    const Key = this.fullKey(key);
    try {
      await this.send(`check ${key}`, (abortSignal) =>
        this.client.send(new HeadObjectCommand({ Bucket: this.opts.bucket, Key }), { abortSignal }),
      );
      return true;
    } catch (err) {
      if (isNotFound((err as Error).cause ?? err)) return false;
      throw err;
    }
  }

  async delete(key: string): Promise<void> {
    const Key = this.fullKey(key);
    await this.send(`delete ${key}`, (abortSignal) =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.opts.bucket, Key }), { abortSignal }),
    );
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const page = await this.send(`list ${prefix}`, (abortSignal) =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.opts.bucket,
            Prefix: this.prefix + prefix,
            ...(token ? { ContinuationToken: token } : {}),
          }),
          { abortSignal },
        ),
      );
      for (const o of page.Contents ?? []) {
        if (!o.Key) continue;
        out.push({
          key: o.Key.slice(this.prefix.length),
          size: Number(o.Size ?? 0),
          lastModified: (o.LastModified ?? new Date(0)).toISOString(),
        });
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async check(): Promise<void> {
    await this.send(`reach bucket ${this.opts.bucket}`, (abortSignal) =>
      this.client.send(new HeadBucketCommand({ Bucket: this.opts.bucket }), { abortSignal }),
    );
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  /**
   * Runs one S3 call with the timeout and retry policy. `fn` builds a fresh request per attempt.
   * With `deadline` (default), an attempt is aborted `timeoutMs` after it started unless it has
   * its response by then. A 404 is returned at once (callers turn it into "missing").
   * @throws StorageError whose `cause` is the last SDK error.
   */
  private async send<T>(
    what: string,
    fn: (abortSignal: AbortSignal) => Promise<T>,
    opts: { deadline?: boolean } = {},
  ): Promise<T> {
    let last: unknown;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const ctrl = new AbortController();
      const timer =
        opts.deadline === false
          ? undefined
          : setTimeout(() => ctrl.abort(new Error(`no answer within ${this.timeoutMs} ms`)), this.timeoutMs);
      try {
        return await fn(ctrl.signal);
      } catch (err) {
        last = err;
        if (isNotFound(err) || !isTransient(err) || attempt === this.maxAttempts) break;
      } finally {
        if (timer) clearTimeout(timer);
      }
      await new Promise((r) => setTimeout(r, Math.min(1000, 100 * 2 ** (attempt - 1))));
    }
    throw new StorageError(`could not ${what}: ${describe(last)}`, { cause: last });
  }
}

function describe(err: unknown): string {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  return `${e?.name ?? 'Error'}${status ? ` (HTTP ${status})` : ''}: ${e?.message ?? String(err)}`;
}
