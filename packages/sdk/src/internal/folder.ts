import type { UploadFile } from '@ash-ai/shared';
import ignore from 'ignore';
import { AshLocalError } from '../core/errors.js';

/** Options for reading an agent folder to upload. */
export interface ReadFolderOptions {
  /** Refuse folders larger than this, bytes (default 100 MiB). */
  maxBytes?: number;
  /** Called after each file is read with the bytes read so far and the total. */
  onProgress?: (doneBytes: number, totalBytes: number) => void;
  /**
   * Called for each entry left out that the user may have expected to be uploaded: a symbolic
   * link that leads outside the folder or nowhere, a link cycle, a special file (socket, FIFO).
   * `rel` is the `/`-separated path in the folder.
   */
  onSkip?: (rel: string, reason: string) => void;
}

const ALWAYS_SKIP = new Set(['.git', 'node_modules', '.DS_Store']);

/**
 * Reads every regular file under `dir` as base64 upload entries (`/`-separated relative paths).
 * Skips `.git`, `node_modules`, `.DS_Store`, `.env` files and what the folder's `.gitignore` and
 * `.ashignore` exclude (full gitignore syntax: globs, `**`, folders with a trailing `/`,
 * anchoring with a leading `/`, `!` to re-include; `.ashignore` is applied after `.gitignore`).
 * A symbolic link whose target lies inside the folder is uploaded as what it points to (a file
 * or a whole directory, as `cp -L` would; cycles are cut); a link leading outside the folder,
 * nowhere, or into `.git` / `node_modules` is left out and reported to `onSkip`, like the
 * server's own path deploy does. The
 * size limit is checked before anything is read.
 * @throws AshLocalError `not_a_directory` when the folder does not exist (or is a file),
 *   `payload_too_large` when it exceeds `maxBytes`, `local_io_error` when a file cannot be read.
 */
export async function readAgentFolder(dir: string, opts: ReadFolderOptions = {}): Promise<UploadFile[]> {
  try {
    return await readFolder(dir, opts);
  } catch (err) {
    if (err instanceof AshLocalError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new AshLocalError(
      'local_io_error',
      `cannot read the folder ${dir}: ${e?.code ? `${e.code} ` : ''}${e?.path ?? ''}`.trim(),
      e?.path ?? dir,
      err,
    );
  }
}

/**
 * The files {@link readAgentFolder} would upload, without reading them: `/`-separated relative
 * path, absolute path and size. Same skipping rules, same size check.
 * @throws AshLocalError `not_a_directory`, `payload_too_large`, `local_io_error`.
 */
export async function listAgentFolder(
  dir: string,
  opts: ReadFolderOptions = {},
): Promise<Array<{ rel: string; abs: string; size: number }>> {
  try {
    return await listFolder(dir, opts);
  } catch (err) {
    if (err instanceof AshLocalError) throw err;
    const e = err as NodeJS.ErrnoException;
    throw new AshLocalError(
      'local_io_error',
      `cannot read the folder ${dir}: ${e?.code ? `${e.code} ` : ''}${e?.path ?? ''}`.trim(),
      e?.path ?? dir,
      err,
    );
  }
}

async function readFolder(dir: string, opts: ReadFolderOptions): Promise<UploadFile[]> {
  const fs = await import('node:fs/promises');
  const entries = await listFolder(dir, opts);
  const total = entries.reduce((n, e) => n + e.size, 0);
  const files: UploadFile[] = [];
  let done = 0;
  for (const e of entries) {
    const bytes = await fs.readFile(e.abs);
    files.push({ path: e.rel, content: bytes.toString('base64') });
    done += bytes.length;
    opts.onProgress?.(done, total);
  }
  return files;
}

async function listFolder(
  dir: string,
  opts: ReadFolderOptions,
): Promise<Array<{ rel: string; abs: string; size: number }>> {
  const fs = await import('node:fs/promises');
  const path = await import('node:path');
  const root = path.resolve(dir);
  const st = await fs.stat(root).catch(() => undefined);
  if (!st?.isDirectory()) throw new AshLocalError('not_a_directory', `not a directory: ${dir}`, dir);
  const isIgnored = await readIgnore(root, fs, path.join);
  const realRoot = await fs.realpath(root);
  const inside = (p: string) => p === realRoot || p.startsWith(realRoot + path.sep);
  const entries: Array<{ rel: string; abs: string; size: number }> = [];
  // Real paths of the directories on the current walk path: a link back into one is a cycle.
  const onPath = new Set<string>([realRoot]);
  const walk = async (abs: string, rel: string): Promise<void> => {
    for (const e of await fs.readdir(abs, { withFileTypes: true })) {
      if (ALWAYS_SKIP.has(e.name) || e.name === '.env' || e.name.startsWith('.env.')) continue;
      const r = rel ? `${rel}/${e.name}` : e.name;
      const a = path.join(abs, e.name);
      let isDir = e.isDirectory();
      let isFile = e.isFile();
      let real = a;
      if (e.isSymbolicLink()) {
        const target = await fs.realpath(a).catch(() => undefined);
        if (!target || !inside(target)) {
          opts.onSkip?.(r, target ? 'symbolic link to outside the folder' : 'broken symbolic link');
          continue;
        }
        // What `.git` and `node_modules` hold is never uploaded, not even through a link.
        if (
          path
            .relative(realRoot, target)
            .split(path.sep)
            .some((s) => ALWAYS_SKIP.has(s))
        ) {
          opts.onSkip?.(r, 'symbolic link into .git or node_modules');
          continue;
        }
        const st = await fs.stat(target);
        isDir = st.isDirectory();
        isFile = st.isFile();
        real = target;
      } else if (isDir) real = await fs.realpath(a);
      if (isIgnored(r, isDir)) continue;
      if (isDir) {
        if (onPath.has(real)) {
          opts.onSkip?.(r, 'symbolic link cycle');
          continue;
        }
        onPath.add(real);
        await walk(a, r);
        onPath.delete(real);
      } else if (isFile) entries.push({ rel: r, abs: a, size: (await fs.stat(a)).size });
      else opts.onSkip?.(r, 'not a regular file');
    }
  };
  await walk(root, '');
  const total = entries.reduce((n, e) => n + e.size, 0);
  const max = opts.maxBytes ?? 100 * 1024 * 1024;
  if (total > max)
    throw new AshLocalError(
      'payload_too_large',
      `the folder holds ${total} bytes, more than the ${max}-byte limit`,
      dir,
    );
  return entries;
}

async function readIgnore(
  root: string,
  fs: typeof import('node:fs/promises'),
  join: (...p: string[]) => string,
): Promise<(rel: string, isDir: boolean) => boolean> {
  // .gitignore first, then .ashignore (which can re-include with `!`), both gitignore syntax.
  const ig = ignore();
  let any = false;
  for (const name of ['.gitignore', '.ashignore']) {
    try {
      ig.add(await fs.readFile(join(root, name), 'utf8'));
      any = true;
    } catch {
      // absent
    }
  }
  if (!any) return () => false;
  return (rel, isDir) => ig.ignores(isDir ? `${rel}/` : rel);
}
