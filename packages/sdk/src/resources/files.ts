import type {
  AgentFilesChange,
  FileContent,
  FileEntry,
  RestoreWorkspaceResult,
  SessionFileContent,
  SessionFileList,
  SessionUploadResponse,
  UploadLimits,
  WorkspaceSnapshot,
} from '@ash-ai/shared';
import { AshLocalError } from '../core/errors.js';
import type { HttpClient } from '../core/http.js';
import { toBase64 } from '../internal/bytes.js';
import { filePath, route } from '../internal/route.js';
import { type DiskFile, fileBody, jsonFilesBody } from '../internal/upload-stream.js';

/** Reports bytes transferred so far and the total (undefined when unknown). */
export type ProgressCallback = (done: number, total: number | undefined) => void;

/** The server's upload limits from `GET /health` (undefined from a server that does not publish them). */
export async function fetchUploadLimits(http: HttpClient): Promise<UploadLimits | undefined> {
  const h = await http.request<{ uploadLimits?: UploadLimits }>('GET', '/health');
  return h.uploadLimits;
}

const mib = (n: number) => `${(n / 1024 / 1024).toFixed(n % (1024 * 1024) === 0 ? 0 : 1)} MiB`;

/** Local files (paths on disk) with their sizes. @throws AshLocalError `local_io_error` */
export async function statDiskFiles(files: Array<{ path: string; localPath: string }>): Promise<DiskFile[]> {
  const fs = await import('node:fs/promises');
  const out: DiskFile[] = [];
  for (const f of files) {
    let st: import('node:fs').Stats;
    try {
      st = await fs.stat(f.localPath);
    } catch (err) {
      throw new AshLocalError('local_io_error', `cannot read ${f.localPath}`, f.localPath, err);
    }
    if (!st.isFile())
      throw new AshLocalError('local_io_error', `${f.localPath} is not a regular file`, f.localPath);
    out.push({ path: f.path, localPath: f.localPath, size: st.size });
  }
  return out;
}

/** Reads a response body, reporting progress against its Content-Length (when sent). */
async function readWithProgress(res: Response, onProgress?: ProgressCallback): Promise<Uint8Array> {
  if (!onProgress || !res.body) return bytesOf(res);
  const lengthHeader = res.headers.get('content-length');
  const total = lengthHeader && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
  const chunks: Uint8Array[] = [];
  let done = 0;
  const reader = res.body.getReader();
  for (;;) {
    const { value, done: end } = await reader.read();
    if (end) break;
    chunks.push(value);
    done += value.length;
    onProgress(done, total);
  }
  const out = new Uint8Array(done);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

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

  /**
   * Uploads files from this machine's disk, streamed: each file is read in chunks while it is
   * sent (memory stays small whatever the size). The server's limits (`GET /health`, or `limits`)
   * are checked first, so an oversized upload is refused before any byte is sent. Node.js only.
   * @throws AshLocalError `payload_too_large` (over a limit, nothing sent), `local_io_error`;
   *   the same API errors as {@link upload}.
   */
  async uploadFromDisk(
    id: string,
    files: Array<{ path: string; localPath: string }>,
    opts: { targetPath?: string; onProgress?: ProgressCallback; limits?: UploadLimits } = {},
  ): Promise<SessionUploadResponse> {
    const disk = await statDiskFiles(files);
    const limits = opts.limits ?? (await fetchUploadLimits(this.http));
    if (limits) {
      const big = disk.find((f) => f.size > limits.fileBytes);
      if (big)
        throw new AshLocalError(
          'payload_too_large',
          `${big.localPath} is ${mib(big.size)}, over the server's ${mib(limits.fileBytes)} limit per file; nothing was sent`,
          big.localPath,
        );
      const total = disk.reduce((n, f) => n + f.size, 0);
      if (total > limits.fileBatchBytes)
        throw new AshLocalError(
          'payload_too_large',
          `the files hold ${mib(total)}, over the server's ${mib(limits.fileBatchBytes)} limit per upload; nothing was sent (upload them in smaller batches)`,
        );
    }
    const body = jsonFilesBody(opts.targetPath ? { targetPath: opts.targetPath } : {}, disk, opts.onProgress);
    return this.http.request('POST', route`/api/sessions/${id}/files`, {
      streamBody: { stream: body.stream, contentType: 'application/json', length: body.length },
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

  /** The workspace as tar.gz bytes (without node_modules, .git and caches); `onProgress` counts bytes received. */
  async download(id: string, opts: { onProgress?: ProgressCallback } = {}): Promise<Uint8Array> {
    return readWithProgress(
      await this.http.request<Response>('GET', route`/api/sessions/${id}/workspace`, { raw: true }),
      opts.onProgress,
    );
  }

  /**
   * Restores a tar.gz from this machine's disk, streamed (never read whole into memory). The
   * server's bundle limit is checked first: an oversized bundle is refused before any byte is sent.
   * Node.js only.
   * @throws AshLocalError `payload_too_large`, `local_io_error`; the same API errors as {@link upload}.
   */
  async uploadFile(
    id: string,
    localPath: string,
    opts: { onProgress?: ProgressCallback; limits?: UploadLimits } = {},
  ): Promise<RestoreWorkspaceResult> {
    const [file] = await statDiskFiles([{ path: localPath, localPath }]);
    const limits = opts.limits ?? (await fetchUploadLimits(this.http));
    if (limits && file!.size > limits.bundleBytes)
      throw new AshLocalError(
        'payload_too_large',
        `${localPath} is ${mib(file!.size)}, over the server's ${mib(limits.bundleBytes)} bundle limit; nothing was sent`,
        localPath,
      );
    const body = fileBody(localPath, file!.size, opts.onProgress);
    return this.http.request('POST', route`/api/sessions/${id}/workspace`, {
      streamBody: { stream: body.stream, contentType: 'application/gzip', length: body.length },
    });
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
