import { createHash, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { cp, lstat, mkdir, readdir, readFile, realpath, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import type { UploadFile } from '@ash-ai/shared';
import { AppError } from '../errors.js';
import { base64DecodedLength, decodeBase64Strict } from '../util/base64.js';
import { checkRelativePath, tenantDirName } from '../util/paths.js';

/** A deploy being prepared in a staging directory. */
export interface StagedAgent {
  dir: string;
  fileCount: number;
  sizeBytes: number;
}

/** Limits on what a deploy may contain. */
export interface AgentLimits {
  maxBytes: number;
  maxFiles: number;
}

/** Folder entries never copied into an agent. */
const SKIP_NAMES = new Set(['.git', 'node_modules', '.DS_Store']);

/**
 * True when a relative path (segments) lies in or is an entry an agent never holds: `.git`,
 * `node_modules` (at any depth) or `.DS_Store`. Deploys, the agent files API and archives skip them.
 */
export function isSkippedPath(segments: readonly string[]): boolean {
  return segments.some((s) => SKIP_NAMES.has(s));
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');

/**
 * Deployed agent folders on disk: `<data>/agents/<tenant>/<name>/v<version>/`. A deploy is
 * staged in a scratch directory, validated, then published by an atomic rename, so a session
 * never sees a half-written agent, and sessions created before a redeploy keep their version.
 */
export class AgentStore {
  private readonly root: string;

  constructor(dataDir: string) {
    this.root = join(dataDir, 'agents');
  }

  /** Directory of one deployed version. */
  versionDir(tenantId: string, name: string, version: number): string {
    return join(this.agentDir(tenantId, name), `v${version}`);
  }

  hasVersion(tenantId: string, name: string, version: number): boolean {
    return existsSync(join(this.versionDir(tenantId, name, version), 'CLAUDE.md'));
  }

  /**
   * Copies a folder on the server's machine into staging (regular files and directories only:
   * symlinks, sockets and devices are skipped, as are `.git` and `node_modules`).
   * @throws AppError 400 `invalid_agent_folder` when the path is not a readable directory; 413 over the limits.
   */
  async stageFromPath(source: string, limits: AgentLimits): Promise<StagedAgent> {
    let info: import('node:fs').Stats;
    try {
      info = await stat(source);
    } catch {
      throw new AppError('invalid_agent_folder', 'the agent folder does not exist on the server');
    }
    if (!info.isDirectory()) throw new AppError('invalid_agent_folder', 'the agent path is not a directory');
    const staged = await this.newStaging();
    try {
      await this.copyTree(source, staged.dir, staged, limits);
      return staged;
    } catch (err) {
      await this.discard(staged);
      throw err;
    }
  }

  /**
   * Writes uploaded files into staging.
   * @throws AppError 400 `invalid_path` / `invalid_base64` naming the file; 413 over the limits.
   */
  async stageFromFiles(files: UploadFile[], limits: AgentLimits): Promise<StagedAgent> {
    if (files.length > limits.maxFiles)
      throw new AppError('payload_too_large', `an agent may hold at most ${limits.maxFiles} files`);
    let total = 0;
    const decoded: Array<{ path: string; bytes: Buffer }> = [];
    const seen = new Set<string>();
    for (const [i, f] of files.entries()) {
      const checked = checkRelativePath(f.path);
      if ('reason' in checked) {
        const shown = JSON.stringify(f.path.length > 120 ? `${f.path.slice(0, 120)}…` : f.path);
        throw new AppError('invalid_path', `files[${i}].path ${shown} ${checked.reason}`, {
          errors: [{ path: `/body/files/${i}/path`, message: checked.reason }],
        });
      }
      const rel = checked.path;
      // Like a folder deploy: .git, node_modules and .DS_Store are never copied.
      if (isSkippedPath(rel.split('/'))) continue;
      total += base64DecodedLength(f.content);
      if (total > limits.maxBytes)
        throw new AppError('payload_too_large', `the agent exceeds ${limits.maxBytes} bytes`);
      const bytes = decodeBase64Strict(f.content);
      if (!bytes) {
        throw new AppError('invalid_base64', `files[${i}].content is not valid base64`, {
          errors: [{ path: `/body/files/${i}/content`, message: 'must be base64 (RFC 4648)' }],
        });
      }
      if (seen.has(rel)) throw new AppError('invalid_path', `files[${i}].path duplicates another file`);
      seen.add(rel);
      decoded.push({ path: rel, bytes });
    }
    const staged = await this.newStaging();
    try {
      for (const f of decoded) {
        const dest = join(staged.dir, f.path);
        await mkdir(dirname(dest), { recursive: true });
        await writeFile(dest, f.bytes, { flag: 'wx' });
        staged.fileCount++;
        staged.sizeBytes += f.bytes.length;
      }
      return staged;
    } catch (err) {
      await this.discard(staged);
      if (err instanceof AppError) throw err;
      // A file and a directory with the same name, for instance.
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'EEXIST' || code === 'ENOTDIR' || code === 'EISDIR')
        throw new AppError(
          'invalid_path',
          'the uploaded paths conflict with each other (a file is also a folder)',
        );
      if (code === 'ENAMETOOLONG')
        throw new AppError('invalid_path', 'an uploaded path is too long for the file system');
      throw err;
    }
  }

  /**
   * Makes sure the staged folder has CLAUDE.md, writing it from `systemPrompt` when given.
   * @throws AppError 400 `invalid_agent_folder` when there is neither.
   */
  async requireClaudeMd(staged: StagedAgent, systemPrompt: string | undefined): Promise<void> {
    const file = join(staged.dir, 'CLAUDE.md');
    if (existsSync(file)) return;
    if (systemPrompt !== undefined) {
      await writeFile(file, systemPrompt);
      staged.fileCount++;
      staged.sizeBytes += Buffer.byteLength(systemPrompt);
      return;
    }
    throw new AppError(
      'invalid_agent_folder',
      'the agent folder has no CLAUDE.md (add one, or pass systemPrompt)',
    );
  }

  /**
   * A SHA-256 over a folder's tree: every regular file's `/`-separated path and bytes, in sorted
   * order (empty folders and links do not count: deploys hold neither). Two folders with the
   * same digest hold the same files.
   */
  async treeDigest(dir: string): Promise<string> {
    const hash = createHash('sha256');
    const walk = async (abs: string, rel: string): Promise<void> => {
      const entries = (await readdir(abs, { withFileTypes: true })).sort((a, b) =>
        a.name < b.name ? -1 : a.name > b.name ? 1 : 0,
      );
      for (const e of entries) {
        const r = rel ? `${rel}/${e.name}` : e.name;
        if (e.isDirectory()) await walk(join(abs, e.name), r);
        else if (e.isFile()) {
          const bytes = await readFile(join(abs, e.name));
          hash.update(`${r}\u0000${bytes.length}\u0000`);
          hash.update(bytes);
        }
      }
    };
    await walk(dir, '');
    return hash.digest('hex');
  }

  /** Moves a staged folder into place as `version`. */
  async publish(staged: StagedAgent, tenantId: string, name: string, version: number): Promise<void> {
    const dest = this.versionDir(tenantId, name, version);
    await mkdir(dirname(dest), { recursive: true });
    await rm(dest, { recursive: true, force: true });
    await rename(staged.dir, dest);
  }

  /**
   * Moves a staged folder into place as `version` only if that version is not there yet (used
   * when restoring from object storage). Returns false (and discards the staging) otherwise.
   */
  async publishIfAbsent(
    staged: StagedAgent,
    tenantId: string,
    name: string,
    version: number,
  ): Promise<boolean> {
    if (this.hasVersion(tenantId, name, version)) {
      await this.discard(staged);
      return false;
    }
    await this.publish(staged, tenantId, name, version);
    return true;
  }

  /** An empty staging folder (for a restore or an edit of a deployed version). */
  async stageEmpty(): Promise<StagedAgent> {
    return this.newStaging();
  }

  async discard(staged: StagedAgent): Promise<void> {
    await rm(staged.dir, { recursive: true, force: true });
  }

  /** Removes every version of an agent. */
  async removeAgent(tenantId: string, name: string): Promise<void> {
    await rm(this.agentDir(tenantId, name), { recursive: true, force: true });
  }

  /** Copies a deployed version into a (new) workspace directory. */
  async copyToWorkspace(tenantId: string, name: string, version: number, dest: string): Promise<void> {
    await mkdir(dirname(dest), { recursive: true });
    await cp(this.versionDir(tenantId, name, version), dest, {
      recursive: true,
      force: true,
      verbatimSymlinks: true,
    });
  }

  private agentDir(tenantId: string, name: string): string {
    return join(this.root, tenantDirName(tenantId, sha256), name);
  }

  private async newStaging(): Promise<StagedAgent> {
    const dir = join(this.root, '.staging', randomUUID());
    await mkdir(dir, { recursive: true });
    return { dir, fileCount: 0, sizeBytes: 0 };
  }

  private async copyTree(
    src: string,
    dest: string,
    staged: StagedAgent,
    limits: AgentLimits,
    root = src,
  ): Promise<void> {
    await mkdir(dest, { recursive: true });
    for (const e of await readdir(src, { withFileTypes: true })) {
      if (SKIP_NAMES.has(e.name)) continue;
      let from = join(src, e.name);
      const to = join(dest, e.name);
      let isFile = e.isFile();
      if (e.isSymbolicLink()) {
        // A link to a file inside the folder (CLAUDE.md -> AGENTS.md) is copied as that file;
        // links that leave the folder, point at folders, or into `.git` / `node_modules`, are skipped.
        const target = await realpath(from).catch(() => undefined);
        if (!target?.startsWith(root.endsWith(sep) ? root : root + sep) || !(await stat(target)).isFile())
          continue;
        if (isSkippedPath(relative(root, target).split(sep))) continue;
        from = target;
        isFile = true;
      }
      if (e.isDirectory()) await this.copyTree(from, to, staged, limits, root);
      else if (isFile) {
        const size = (await lstat(from)).size;
        staged.fileCount++;
        staged.sizeBytes += size;
        if (staged.fileCount > limits.maxFiles)
          throw new AppError('payload_too_large', `an agent may hold at most ${limits.maxFiles} files`);
        if (staged.sizeBytes > limits.maxBytes)
          throw new AppError('payload_too_large', `the agent exceeds ${limits.maxBytes} bytes`);
        await cp(from, to);
      }
    }
  }
}
