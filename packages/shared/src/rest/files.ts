import { type Static, Type } from '@sinclair/typebox';
import { AgentSchema } from './agents.js';
import { Timestamp, Uuid } from './common.js';

/**
 * Where a session's files were read from: `live` — the session has a running process on this
 * server; `stored` — no process here, the persisted workspace was used (restored from object
 * storage first when this server did not have it).
 */
export const WorkspaceSourceSchema = Type.Union([Type.Literal('live'), Type.Literal('stored')]);
export type WorkspaceSource = Static<typeof WorkspaceSourceSchema>;

/** A relative, `/`-separated path inside a workspace or agent folder. */
export const RelativePath = Type.String({
  minLength: 1,
  maxLength: 4096,
  description: 'Relative path, `/`-separated; no `..`, no leading `/`',
});

/** One entry of a file listing. Symbolic links are listed, never followed. */
export const FileEntrySchema = Type.Object({
  path: Type.String(),
  type: Type.Union([Type.Literal('file'), Type.Literal('symlink')]),
  /** Bytes (for a symlink: the length of its target text). */
  size: Type.Integer(),
  modifiedAt: Timestamp,
});
export type FileEntry = Static<typeof FileEntrySchema>;

/** `GET /api/sessions/:id/files` query. */
export const ListFilesQuerySchema = Type.Object(
  {
    /** Include dot-files and dot-folders such as `.claude` (default true). `false` also hides caches. */
    includeHidden: Type.Optional(Type.Boolean({ default: true })),
    /** List only under this folder. */
    path: Type.Optional(RelativePath),
  },
  { additionalProperties: false },
);
export type ListFilesQuery = Static<typeof ListFilesQuerySchema>;

/** A recursive listing (files and symlinks; `node_modules` and `.git` are never walked). */
export const SessionFileListResponseSchema = Type.Object({
  files: Type.Array(FileEntrySchema),
  source: WorkspaceSourceSchema,
  /** True when the listing stopped at the entry limit. */
  truncated: Type.Boolean(),
});
export type SessionFileList = Static<typeof SessionFileListResponseSchema>;

/** `GET …/files/*` query: `raw` (default) streams the bytes; `json` returns them in a JSON body. */
export const ReadFileQuerySchema = Type.Object(
  { format: Type.Optional(Type.Union([Type.Literal('raw'), Type.Literal('json')], { default: 'raw' })) },
  { additionalProperties: false },
);

/**
 * A file in a JSON body. `encoding` is `utf8` when the bytes are valid UTF-8 text, else
 * `base64` (so binary files survive JSON byte-identical).
 */
export const FileContentSchema = Type.Object({
  path: Type.String(),
  content: Type.String(),
  encoding: Type.Union([Type.Literal('utf8'), Type.Literal('base64')]),
  size: Type.Integer(),
  mimeType: Type.String(),
});
export type FileContent = Static<typeof FileContentSchema>;

export const SessionFileContentResponseSchema = Type.Object({
  ...FileContentSchema.properties,
  source: WorkspaceSourceSchema,
});
export type SessionFileContent = Static<typeof SessionFileContentResponseSchema>;

/** One file of an upload batch. */
export const UploadFileItemSchema = Type.Object(
  {
    path: RelativePath,
    content: Type.String({ description: 'File bytes, base64 (RFC 4648 §4)' }),
    mimeType: Type.Optional(Type.String({ maxLength: 255, description: 'Informative only' })),
  },
  { additionalProperties: false },
);

/** `POST /api/sessions/:id/files` and `POST /api/agents/:name/files`. */
export const UploadFilesBodySchema = Type.Object(
  {
    files: Type.Array(UploadFileItemSchema, { minItems: 1, maxItems: 1000 }),
    /** Folder the paths are relative to (default: the root). */
    targetPath: Type.Optional(Type.String({ maxLength: 4096 })),
  },
  { additionalProperties: false },
);
export type UploadFilesBody = Static<typeof UploadFilesBodySchema>;

/** Per-file outcome of an upload. */
export const UploadResultSchema = Type.Object({
  path: Type.String(),
  written: Type.Boolean(),
  size: Type.Optional(Type.Integer()),
  error: Type.Optional(Type.String()),
});
export type UploadResult = Static<typeof UploadResultSchema>;

export const SessionUploadResponseSchema = Type.Object({
  files: Type.Array(UploadResultSchema),
  source: WorkspaceSourceSchema,
});
export type SessionUploadResponse = Static<typeof SessionUploadResponseSchema>;

export const SessionDeleteFileResponseSchema = Type.Object({
  path: Type.String(),
  deleted: Type.Literal(true),
  source: WorkspaceSourceSchema,
});

/** `GET /api/agents/:name/files`: the current version's folder. */
export const AgentFileListResponseSchema = Type.Object({
  files: Type.Array(FileEntrySchema),
  version: Type.Integer(),
  truncated: Type.Boolean(),
});

export const AgentFileContentResponseSchema = Type.Object({
  ...FileContentSchema.properties,
  version: Type.Integer(),
});

/** Upload or delete of agent files: the new version that now holds the change. */
export const AgentFilesChangeResponseSchema = Type.Object({
  agent: AgentSchema,
  files: Type.Array(UploadResultSchema),
});
export type AgentFilesChange = Static<typeof AgentFilesChangeResponseSchema>;

/** `POST /api/sessions/:id/workspace` with a JSON body (upstream-compatible form). */
export const RestoreWorkspaceBodySchema = Type.Object(
  { bundle: Type.String({ minLength: 1, description: 'A tar.gz bundle, base64' }) },
  { additionalProperties: false },
);

/** Result of restoring a bundle into a workspace. */
export const RestoreWorkspaceResponseSchema = Type.Object({
  restored: Type.Literal(true),
  /** Files written (directories and links not counted). */
  files: Type.Integer(),
  /** Bytes of file content written. */
  bytes: Type.Integer(),
  source: WorkspaceSourceSchema,
});
export type RestoreWorkspaceResult = Static<typeof RestoreWorkspaceResponseSchema>;

/** A stored snapshot of a session (workspace + SDK transcript) in object storage. */
export const WorkspaceSnapshotSchema = Type.Object({
  sessionId: Uuid,
  /** When it was taken. */
  snapshotAt: Timestamp,
  /** Bytes this snapshot wrote to object storage (compressed; incremental: only the changed files and the manifest). */
  size: Type.Integer(),
});
export type WorkspaceSnapshot = Static<typeof WorkspaceSnapshotSchema>;

export const WorkspaceSnapshotResponseSchema = Type.Object({ snapshot: WorkspaceSnapshotSchema });
