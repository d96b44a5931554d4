import { createHash } from 'node:crypto';
import { tenantDirName } from '../util/paths.js';

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const tenant = (tenantId: string) => tenantDirName(tenantId, sha256);

/**
 * Object storage keys. Built from server-side ids only (tenant dir names, agent names matching
 * `^[a-zA-Z0-9_-]+$`, UUIDs), so they always pass `assertValidKey`.
 */
export const storageKeys = {
  /** Folder of an agent's archives. */
  agentPrefix: (tenantId: string, name: string) => `agents/${tenant(tenantId)}/${name}/`,
  /** One archive of a deployed agent folder (a fresh id per deploy: a failed deploy never overwrites the live one). */
  agentArchive: (tenantId: string, name: string, id: string) =>
    `agents/${tenant(tenantId)}/${name}/${id}.tar.gz`,
  /** Which archive holds a version (its text is the archive's key). */
  agentVersionRef: (tenantId: string, name: string, version: number) =>
    `agents/${tenant(tenantId)}/${name}/v${version}.ref`,
  /** A session's workspace + transcript snapshot as one archive (stored by servers before checkpoints; still restored). */
  snapshot: (tenantId: string, sessionId: string) =>
    `sessions/${tenant(tenantId)}/${sessionId}/snapshot.tar.gz`,
  /**
   * Folder of a session's incremental checkpoint: `manifest.json.gz` and `blobs/<sha256>` (see
   * `CheckpointStore`). Everything of one session's files lies under `sessions/<tenant>/<id>/`.
   */
  checkpoint: (tenantId: string, sessionId: string) =>
    `sessions/${tenant(tenantId)}/${sessionId}/checkpoint/`,
  /** An attachment's bytes. */
  attachment: (tenantId: string, sessionId: string, id: string) =>
    `attachments/${tenant(tenantId)}/${sessionId}/${id}`,
};
