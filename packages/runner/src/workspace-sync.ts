/*
 * STAND-IN until the `wsync` branch lands its workspace-sync.ts (same signatures; the real one
 * speaks the tar delta format of the contract). Replaced wholesale at merge.
 */
import {
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  rm,
  symlink,
  writeFile,
  chown,
  utimes,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import type { Manifest } from '@ash-ai/shared';

export interface SyncRoots {
  workspace: string;
  claude: string;
}

export async function scanManifest(roots: SyncRoots): Promise<Manifest> {
  const out: Manifest = {};
  const walk = async (root: string, prefix: string, rel: string): Promise<void> => {
    let names: string[];
    try {
      names = await readdir(join(root, rel));
    } catch {
      return;
    }
    for (const name of names) {
      const r = rel ? `${rel}/${name}` : name;
      const st = await lstat(join(root, r));
      if (st.isDirectory()) await walk(root, prefix, r);
      else if (st.isSymbolicLink())
        out[`${prefix}/${r}`] = {
          size: 0,
          mtimeMs: st.mtimeMs,
          mode: st.mode & 0o7777,
          link: await readlink(join(root, r)),
        };
      else if (st.isFile())
        out[`${prefix}/${r}`] = { size: st.size, mtimeMs: st.mtimeMs, mode: st.mode & 0o7777 };
    }
  };
  await walk(roots.workspace, 'workspace', '');
  await walk(roots.claude, 'claude', '');
  return out;
}

export function diffManifests(have: Manifest, want: Manifest): { changed: string[]; deleted: string[] } {
  const changed: string[] = [];
  const deleted: string[] = [];
  for (const [p, e] of Object.entries(want)) {
    const h = have[p];
    if (!h || h.size !== e.size || h.mtimeMs !== e.mtimeMs || h.mode !== e.mode || h.link !== e.link)
      changed.push(p);
  }
  for (const p of Object.keys(have)) if (!(p in want)) deleted.push(p);
  return { changed, deleted };
}

function hostPath(roots: SyncRoots, p: string): string {
  if (p.includes('..') || p.startsWith('/')) throw new Error(`bad path ${p}`);
  if (p.startsWith('workspace/')) return join(roots.workspace, p.slice(10));
  if (p.startsWith('claude/')) return join(roots.claude, p.slice(7));
  throw new Error(`bad path ${p}`);
}

export function packDelta(
  roots: SyncRoots,
  want: Manifest,
  diff: { changed: string[]; deleted: string[] },
): Readable {
  return Readable.from(
    (async function* () {
      const files: Record<string, string> = {};
      const entries: Manifest = {};
      for (const p of diff.changed) {
        const e = want[p];
        if (!e) continue;
        entries[p] = e;
        if (!e.link) files[p] = (await readFile(hostPath(roots, p))).toString('base64');
      }
      yield Buffer.from(JSON.stringify({ deleted: diff.deleted, entries, files }));
    })(),
  );
}

export async function applyDelta(
  roots: SyncRoots,
  body: Readable,
  opts: { maxBytes?: number; uid?: number; gid?: number } = {},
): Promise<{ files: number; deleted: number; bytes: number }> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const c of body) {
    bytes += (c as Buffer).length;
    if (opts.maxBytes !== undefined && bytes > opts.maxBytes) throw new Error('delta too large');
    chunks.push(c as Buffer);
  }
  const d = JSON.parse(
    Buffer.concat(chunks).toString('utf8') || '{"deleted":[],"entries":{},"files":{}}',
  ) as {
    deleted: string[];
    entries: Manifest;
    files: Record<string, string>;
  };
  for (const p of d.deleted) await rm(hostPath(roots, p), { force: true, recursive: true });
  let files = 0;
  for (const [p, e] of Object.entries(d.entries)) {
    const dest = hostPath(roots, p);
    await mkdir(dirname(dest), { recursive: true });
    await rm(dest, { force: true });
    if (e.link) await symlink(e.link, dest);
    else {
      await writeFile(dest, Buffer.from(d.files[p] ?? '', 'base64'), { mode: e.mode });
      await utimes(dest, e.mtimeMs / 1000, e.mtimeMs / 1000);
    }
    if (opts.uid !== undefined) await chown(dest, opts.uid, opts.gid ?? opts.uid).catch(() => undefined);
    files++;
  }
  return { files, deleted: d.deleted.length, bytes };
}
