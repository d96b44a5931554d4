import { join } from 'node:path';
import type { Config } from '../config.js';
import { LocalObjectStore } from './local-object-store.js';
import type { ObjectStore } from './object-store.js';
import { S3ObjectStore } from './s3-object-store.js';

/** The configured object storage: S3 when `ASH_S3_BUCKET` is set, else `<data dir>/storage`. */
export function createObjectStore(config: Pick<Config, 'dataDir' | 's3'>): ObjectStore {
  if (!config.s3) return new LocalObjectStore(join(config.dataDir, 'storage'));
  return new S3ObjectStore({ ...config.s3, spoolDir: join(config.dataDir, 'tmp') });
}
