/// <reference path="./s3rver.d.ts" />
import { randomBytes } from 'node:crypto';
import S3rver from 's3rver';
import { removeDir, tempDir } from './processes.js';

/** A real S3-compatible server (s3rver) on 127.0.0.1, with one bucket, for tests. */
export interface TestS3 {
  /** `http://127.0.0.1:<port>` */
  endpoint: string;
  bucket: string;
  /**
   * The server settings that point Ash at it: `ASH_S3_ENDPOINT`, `ASH_S3_BUCKET`,
   * `ASH_S3_FORCE_PATH_STYLE`, `ASH_S3_REGION`, and s3rver's fixed credentials (`S3RVER`).
   */
  env: Record<string, string>;
  close(): Promise<void>;
}

/**
 * Starts s3rver on a free port with a fresh bucket (objects kept in a temp dir removed on close).
 * s3rver checks request signatures against the credentials `S3RVER`/`S3RVER`; path-style URLs.
 */
export async function startTestS3(opts: { bucket?: string } = {}): Promise<TestS3> {
  const dir = tempDir('ash-s3-');
  const bucket = opts.bucket ?? `ash-test-${randomBytes(4).toString('hex')}`;
  const server = new S3rver({
    port: 0,
    address: '127.0.0.1',
    silent: true,
    directory: dir,
    configureBuckets: [{ name: bucket }],
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    bucket,
    env: {
      ASH_S3_ENDPOINT: endpoint,
      ASH_S3_BUCKET: bucket,
      ASH_S3_REGION: 'us-east-1',
      ASH_S3_FORCE_PATH_STYLE: 'true',
      AWS_ACCESS_KEY_ID: 'S3RVER',
      AWS_SECRET_ACCESS_KEY: 'S3RVER',
    },
    async close() {
      await server.close().catch(() => undefined);
      removeDir(dir);
    },
  };
}
