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
}

const isNotFound = (err: unknown): boolean => {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.$metadata?.httpStatusCode === 404;
};

/**
 * Object storage on any S3-compatible service (`@aws-sdk/client-s3`). Streamed bodies are spooled
 * to a temporary file first, so the upload has a known length and a failing source stream never
 * leaves a partial object (a single PutObject is atomic: readers see the old or the new object).
 * Objects up to 5 GiB (the PutObject limit).
 */
export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3' as const;
  private readonly client: S3Client;
  private readonly prefix: string;

  constructor(private readonly opts: S3StoreOptions) {
    this.client = new S3Client({
      region: opts.region,
      forcePathStyle: opts.forcePathStyle,
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
      await this.send(`store ${key}`, () =>
        this.client.send(new PutObjectCommand({ ...common, Body: body, ContentLength: body.length })),
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
      await this.send(`store ${key}`, () =>
        this.client.send(
          new PutObjectCommand({ ...common, Body: createReadStream(spool), ContentLength: size }),
        ),
      );
      return { size };
    } finally {
      await rm(spool, { force: true }).catch(() => undefined);
    }
  }

  async get(key: string): Promise<Readable | undefined> {
    const Key = this.fullKey(key);
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.opts.bucket, Key }));
      const body = res.Body;
      if (!body) return Readable.from([]);
      return body instanceof Readable ? body : Readable.fromWeb(body as never);
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw new StorageError(`could not read ${key}: ${describe(err)}`, { cause: err });
    }
  }

  async exists(key: string): Promise<boolean> {
    const Key = this.fullKey(key);
    try {
      await this.client.send(new HeadObjectCommand({ Bucket: this.opts.bucket, Key }));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw new StorageError(`could not check ${key}: ${describe(err)}`, { cause: err });
    }
  }

  async delete(key: string): Promise<void> {
    const Key = this.fullKey(key);
    await this.send(`delete ${key}`, () =>
      this.client.send(new DeleteObjectCommand({ Bucket: this.opts.bucket, Key })),
    );
  }

  async list(prefix: string): Promise<ObjectInfo[]> {
    const out: ObjectInfo[] = [];
    let token: string | undefined;
    do {
      const page = await this.send(`list ${prefix}`, () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.opts.bucket,
            Prefix: this.prefix + prefix,
            ...(token ? { ContinuationToken: token } : {}),
          }),
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
    await this.send(`reach bucket ${this.opts.bucket}`, () =>
      this.client.send(new HeadBucketCommand({ Bucket: this.opts.bucket })),
    );
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private async send<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (err instanceof StorageError) throw err;
      throw new StorageError(`could not ${what}: ${describe(err)}`, { cause: err });
    }
  }
}

function describe(err: unknown): string {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e?.$metadata?.httpStatusCode;
  return `${e?.name ?? 'Error'}${status ? ` (HTTP ${status})` : ''}: ${e?.message ?? String(err)}`;
}
