import { unzipSync } from 'fflate';

/** A file ready for `agents.deploy` (base64 content). */
export interface UploadEntry {
  path: string;
  content: string;
}

const SKIP = /(^|\/)(\.git|node_modules|\.DS_Store)(\/|$)/;

/** Base64 of bytes (chunked: `btoa` takes a binary string). */
export function toBase64(bytes: Uint8Array): string {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

/** Bytes of base64 text. */
export function fromBase64(b64: string): Uint8Array {
  const s = atob(b64);
  const out = new Uint8Array(s.length);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** Drops a single top folder shared by every path (a zipped or picked folder `agent/…`). */
function stripCommonTop(entries: Array<{ path: string; bytes: Uint8Array }>) {
  const tops = new Set(entries.map((e) => (e.path.includes('/') ? e.path.split('/')[0] : '')));
  if (tops.size !== 1 || tops.has('')) return entries;
  return entries.map((e) => ({ ...e, path: e.path.slice(e.path.indexOf('/') + 1) }));
}

function finish(entries: Array<{ path: string; bytes: Uint8Array }>): UploadEntry[] {
  return stripCommonTop(entries)
    .filter((e) => !SKIP.test(e.path) && !/(^|\/)\.env(\.|$)/.test(e.path))
    .map((e) => ({ path: e.path, content: toBase64(e.bytes) }));
}

/** Files picked with a folder input (`webkitdirectory`): relative paths under the picked folder. */
export async function readPickedFolder(files: FileList): Promise<UploadEntry[]> {
  const out: Array<{ path: string; bytes: Uint8Array }> = [];
  for (const f of Array.from(files))
    out.push({ path: f.webkitRelativePath || f.name, bytes: new Uint8Array(await f.arrayBuffer()) });
  return finish(out);
}

/** The files of a zip archive (folders skipped). */
export async function readZip(file: File): Promise<UploadEntry[]> {
  const all = unzipSync(new Uint8Array(await file.arrayBuffer()));
  return finish(
    Object.entries(all)
      .filter(([p]) => !p.endsWith('/') && !p.startsWith('__MACOSX/'))
      .map(([path, bytes]) => ({ path, bytes })),
  );
}
