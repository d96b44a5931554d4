import type {
  AgentFilesChange,
  FileContent,
  FileEntry,
  RestoreWorkspaceResult,
  SessionFileContent,
  SessionFileList,
  SessionUploadResponse,
  WorkspaceSnapshot,
} from '@ash-ai/shared';
import type { HttpClient } from '../core/http.js';
import { toBase64 } from '../internal/bytes.js';
import { filePath, route } from '../internal/route.js';

/** A file to upload: a relative path and its bytes (a string is sent as UTF-8). */
export interface FileToUpload {
  path: string;
  content: Uint8Array | string;
}

const toBody = (files: FileToUpload[], targetPath?: string) => ({
  files: files.map((f) => ({ path: f.path, content: toBase64(f.content) })),
  ...(targetPath ? { targetPath } : {}),
});

async function bytesOf(res: Response): Promise<Uint8Array> {
  return new Uint8Array(await res.arrayBuffer());
}

/**
 * Files of a session's workspace: `client.sessions.files`. Works for running and paused
 * sessions (`source` says which was read). Paths are relative, `/`-separated; links in the
 * workspace are listed but never followed.
 */
export class SessionFiles {
  constructor(private readonly http: HttpClient) {}

  /** Recursive listing (files and links). `includeHidden` (default true); `path` lists a sub-folder. */
  list(id: string, opts: { includeHidden?: boolean; path?: string } = {}): Promise<SessionFileList> {
    return this.http.request('GET', route`/api/sessions/${id}/files`, {
      query: { includeHidden: opts.includeHidden, path: opts.path },
    });
  }

  /** A file's exact bytes. @throws NotFoundError, BadRequestError (links, folders, bad paths). */
  async read(id: string, path: string): Promise<Uint8Array> {
    return bytesOf(
      await this.http.request<Response>('GET', route`/api/sessions/${id}/files/${filePath(path)}`, {
        raw: true,
      }),
    );
  }

  /** A file in JSON form (`encoding` `utf8` for text, else `base64`), at most 1 MiB. */
  readJson(id: string, path: string): Promise<SessionFileContent> {
    return this.http.request('GET', route`/api/sessions/${id}/files/${filePath(path)}`, {
      query: { format: 'json' },
    });
  }

  /**
   * Writes files (replacing same-named ones). The batch is validated as a whole.
   * @throws BadRequestError (paths, base64), PayloadTooLargeError (limits: nothing stored), GoneError.
   */
  upload(
    id: string,
    files: FileToUpload[],
    opts: { targetPath?: string } = {},
  ): Promise<SessionUploadResponse> {
    return this.http.request('POST', route`/api/sessions/${id}/files`, {
      body: toBody(files, opts.targetPath),
    });
  }

  /** Deletes a file or folder. @throws NotFoundError */
  async delete(id: string, path: string): Promise<void> {
    await this.http.request('DELETE', route`/api/sessions/${id}/files/${filePath(path)}`);
  }
}

/** Whole workspaces: `client.sessions.workspace`. */
export class SessionWorkspace {
  constructor(private readonly http: HttpClient) {}

  /** The workspace as tar.gz bytes (without node_modules, .git and caches). */
  async download(id: string): Promise<Uint8Array> {
    return bytesOf(
      await this.http.request<Response>('GET', route`/api/sessions/${id}/workspace`, { raw: true }),
    );
  }

  /**
   * Restores a tar.gz into the workspace (same-named files replaced, others kept). Unsafe bundles
   * (links out, absolute or `..` names, devices, over the limits) are refused whole.
   * @throws BadRequestError `invalid_bundle`, PayloadTooLargeError, GoneError.
   */
  upload(id: string, bundle: Uint8Array): Promise<RestoreWorkspaceResult> {
    return this.http.request('POST', route`/api/sessions/${id}/workspace`, {
      binaryBody: { data: bundle, contentType: 'application/gzip' },
    });
  }

  /** Stores a snapshot (workspace + transcript) in the server's object storage. @throws ConflictError during a turn. */
  async snapshot(id: string): Promise<WorkspaceSnapshot> {
    return (
      await this.http.request<{ snapshot: WorkspaceSnapshot }>(
        'POST',
        route`/api/sessions/${id}/workspace/snapshot`,
      )
    ).snapshot;
  }
}

/**
 * Files of an agent's current version ("knowledge files"): `client.agents.files`. Every change
 * publishes a new agent version; sessions started before keep theirs.
 */
export class AgentFiles {
  constructor(private readonly http: HttpClient) {}

  list(name: string): Promise<{ files: FileEntry[]; version: number; truncated: boolean }> {
    return this.http.request('GET', route`/api/agents/${name}/files`);
  }

  async read(name: string, path: string): Promise<Uint8Array> {
    return bytesOf(
      await this.http.request<Response>('GET', route`/api/agents/${name}/files/${filePath(path)}`, {
        raw: true,
      }),
    );
  }

  readJson(name: string, path: string): Promise<FileContent & { version: number }> {
    return this.http.request('GET', route`/api/agents/${name}/files/${filePath(path)}`, {
      query: { format: 'json' },
    });
  }

  upload(name: string, files: FileToUpload[], opts: { targetPath?: string } = {}): Promise<AgentFilesChange> {
    return this.http.request('POST', route`/api/agents/${name}/files`, {
      body: toBody(files, opts.targetPath),
    });
  }

  delete(name: string, path: string): Promise<AgentFilesChange> {
    return this.http.request('DELETE', route`/api/agents/${name}/files/${filePath(path)}`);
  }
}
