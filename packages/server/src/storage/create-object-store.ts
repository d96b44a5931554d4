import { join } from 'node:path';
import type { Config } from '../config.js';
import { LocalObjectStore } from './local-object-store.js';
import type { ObjectStore } from './object-store.js';

/**
 * The configured object storage: S3 when `ASH_S3_BUCKET` is set, else `<data dir>/storage`. The
 * AWS SDK is loaded only for S3 (it is a large import: start time).
 */
export async function createObjectStore(config: Pick<Config, 'dataDir' | 's3'>): Promise<ObjectStore> {
  if (!config.s3) return new LocalObjectStore(join(config.dataDir, 'storage'));
  const { S3ObjectStore } = await import('./s3-object-store.js');
  return new S3ObjectStore({ ...config.s3, spoolDir: join(config.dataDir, 'tmp') });
}
