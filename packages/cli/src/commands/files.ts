import { createWriteStream, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import type { Command } from 'commander';
import { AshLocalError } from '@ash-ai/sdk';
import { CliError, printJson, printTable } from '../output.js';
import { progressBar } from '../progress.js';
import type { GlobalOptions } from '../program.js';

/** Writes bytes to a file, or to stdout for `-`. */
async function writeOut(target: string, bytes: Uint8Array): Promise<void> {
  if (target === '-') {
    await new Promise<void>((res, rej) => process.stdout.write(bytes, (err) => (err ? rej(err) : res())));
    return;
  }
  try {
    if (existsSync(target) && statSync(target).isDirectory())
      throw Object.assign(new Error(), { code: 'EISDIR' });
    mkdirSync(dirname(resolve(target)), { recursive: true });
    await new Promise<void>((res, rej) => {
      const s = createWriteStream(target);
      s.on('error', rej);
      s.end(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), () => res());
    });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'EISDIR'
        ? 'it is a folder; give a file name'
        : code === 'ENOTDIR' || code === 'EEXIST'
          ? 'a parent of it is a file, not a folder'
          : code === 'EACCES' || code === 'EPERM' || code === 'EROFS'
            ? 'permission denied'
            : (code ?? (err as Error).message);
    throw new CliError(`cannot write ${target}: ${why}`);
  }
}

/**
 * Local files to upload (never read here: the SDK streams them): files as given (by name),
 * folders recursively (paths relative to the folder's parent).
 */
function collect(paths: string[]): Array<{ path: string; localPath: string }> {
  const out: Array<{ path: string; localPath: string }> = [];
  for (const p of paths) {
    if (!existsSync(p)) throw new CliError(`no such file or folder: ${p}`);
    const st = statSync(p);
    if (st.isFile()) {
      out.push({ path: basename(p), localPath: resolve(p) });
      continue;
    }
    if (!st.isDirectory()) throw new CliError(`not a regular file or folder: ${p}`);
    const base = dirname(resolve(p));
    const walk = (dir: string) => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        const abs = join(dir, e.name);
        if (e.isDirectory()) walk(abs);
        else if (e.isFile()) out.push({ path: relative(base, abs).split(sep).join('/'), localPath: abs });
      }
    };
    walk(resolve(p));
  }
  return out;
}

/** An SDK error about local input (too large, unreadable) as a one-line CLI error. */
function localError(err: unknown): never {
  if (err instanceof AshLocalError) throw new CliError(err.message);
  throw err;
}

const kb = (n: number) =>
  n < 1024
    ? `${n} B`
    : n < 1024 * 1024
      ? `${(n / 1024).toFixed(1)} KiB`
      : `${(n / 1024 / 1024).toFixed(1)} MiB`;

/**
 * `ash session files|download|upload|rm-file` and `ash session workspace save|restore|snapshot`:
 * moving data in and out of session workspaces (through the SDK).
 */
export function registerFileCommands(program: Command, globals: () => GlobalOptions): void {
  const session = program.commands.find((c) => c.name() === 'session');
  if (!session) throw new Error('the session command group must be registered first');

  session
    .command('files <id>')
    .description("list a session's workspace files (works for paused sessions too)")
    .option('-p, --path <dir>', 'list only under this folder')
    .option('--no-hidden', 'hide dot-files and caches')
    .option('--json', 'print JSON')
    .action(async (id: string, opts: { path?: string; hidden: boolean; json?: boolean }) => {
      const r = await globals()
        .client()
        .sessions.files.list(id, { includeHidden: opts.hidden, ...(opts.path ? { path: opts.path } : {}) });
      if (opts.json) return printJson(r);
      printTable(
        r.files.map((f) => ({
          path: f.type === 'symlink' ? `${f.path} (link)` : f.path,
          size: kb(f.size),
          modified: f.modifiedAt,
        })),
        ['path', 'size', 'modified'],
      );
      process.stderr.write(`${r.files.length} files (${r.source})${r.truncated ? ', truncated' : ''}\n`);
    });

  session
    .command('download <id> <path>')
    .description('download a workspace file, byte for byte')
    .option(
      '-o, --output <file>',
      'where to write it (`-` = stdout; default: its name in the current folder)',
    )
    .action(async (id: string, path: string, opts: { output?: string }) => {
      const bytes = await globals().client().sessions.files.read(id, path);
      const target = opts.output ?? basename(path);
      await writeOut(target, bytes);
      if (target !== '-') process.stderr.write(`saved ${path} to ${target} (${bytes.length} bytes)\n`);
    });

  session
    .command('upload <id> <local...>')
    .description('upload local files or folders into the workspace (folders keep their structure)')
    .option('-t, --to <dir>', 'workspace folder to put them in (default: the root)')
    .option('--json', 'print JSON')
    .action(async (id: string, local: string[], opts: { to?: string; json?: boolean }) => {
      const files = collect(local);
      if (files.length === 0) throw new CliError('nothing to upload');
      const bar = progressBar('upload', { json: opts.json });
      const r = await globals()
        .client()
        .sessions.files.uploadFromDisk(id, files, {
          ...(opts.to ? { targetPath: opts.to } : {}),
          onProgress: (done, total) => bar.update(done, total),
        })
        .catch(localError)
        .finally(() => bar.done());
      if (opts.json) return printJson(r);
      for (const f of r.files)
        process.stdout.write(
          f.written ? `uploaded ${f.path} (${f.size} bytes)\n` : `skipped ${f.path}: ${f.error}\n`,
        );
      if (r.files.some((f) => !f.written && !f.error?.startsWith('skipped'))) process.exitCode = 1;
    });

  session
    .command('rm-file <id> <path>')
    .description('delete a workspace file or folder')
    .action(async (id: string, path: string) => {
      await globals().client().sessions.files.delete(id, path);
      process.stdout.write(`deleted ${path}\n`);
    });

  const ws = session.command('workspace').description('whole workspaces: tar.gz bundles and snapshots');
  ws.command('save <id>')
    .description('download the workspace as a tar.gz (without node_modules, .git, caches)')
    .option('-o, --output <file>', 'bundle file (default: <id>.tar.gz; `-` = stdout)')
    .action(async (id: string, opts: { output?: string }) => {
      const bar = progressBar('download');
      const bytes = await globals()
        .client()
        .sessions.workspace.download(id, { onProgress: (done, total) => bar.update(done, total) })
        .finally(() => bar.done());
      const target = opts.output ?? `${id}.tar.gz`;
      await writeOut(target, bytes);
      if (target !== '-') process.stderr.write(`saved the workspace to ${target} (${bytes.length} bytes)\n`);
    });
  ws.command('restore <id> <bundle>')
    .description('restore a tar.gz into the workspace (same-named files replaced, others kept)')
    .action(async (id: string, bundle: string) => {
      if (!existsSync(bundle) || !statSync(bundle).isFile()) throw new CliError(`no such file: ${bundle}`);
      const bar = progressBar('restore');
      const r = await globals()
        .client()
        .sessions.workspace.uploadFile(id, bundle, { onProgress: (done, total) => bar.update(done, total) })
        .catch(localError)
        .finally(() => bar.done());
      process.stdout.write(`restored ${r.files} files (${r.bytes} bytes) into the ${r.source} workspace\n`);
    });
  ws.command('snapshot <id>')
    .description("store a snapshot of the workspace and transcript in the server's object storage")
    .action(async (id: string) => {
      const s = await globals().client().sessions.workspace.snapshot(id);
      process.stdout.write(`snapshot stored at ${s.snapshotAt} (${s.size} bytes)\n`);
    });
}
