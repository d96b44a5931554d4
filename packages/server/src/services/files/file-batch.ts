import type { UploadFilesBody } from '@ash-ai/shared';
import { AppError } from '../../errors.js';
import { decodeBase64Strict } from '../../util/base64.js';
import { checkRelativePath } from '../../util/paths.js';

/** One decoded file of an upload batch. */
export interface DecodedFile {
  /** The normalised relative path (with `targetPath` applied). */
  path: string;
  segments: string[];
  bytes: Buffer;
  /** Its index in the request's `files` (errors name `/body/files/<index>/…`). */
  index: number;
}

/** Per-file and per-batch limits, decoded bytes. */
export interface BatchLimits {
  fileMaxBytes: number;
  batchMaxBytes: number;
}

/** Names an upload never writes (Finder litter). */
const SKIPPED = new Set(['.DS_Store']);

const invalidPath = (i: number, message: string) =>
  new AppError('invalid_path', `files[${i}].path ${message}`, {
    errors: [{ path: `/body/files/${i}/path`, message }],
  });

/**
 * Validates and decodes an upload batch before anything is written, so a bad batch stores
 * nothing: every path must be relative without `..` (after `targetPath` is applied), unique, and
 * neither inside nor the parent folder of another file of the batch (`a` and `a/b` cannot both
 * be files); every content strict base64; limits are checked on the decoded sizes.
 * @returns the files to write, and the skipped ones (`.DS_Store`).
 * @throws AppError 400 `invalid_path` / `invalid_base64`; 413 `payload_too_large` naming the file
 *   and the limit (and the variable that sets it).
 */
export function decodeBatch(
  body: UploadFilesBody,
  limits: BatchLimits,
): { files: DecodedFile[]; skipped: string[] } {
  let base: string | undefined;
  const tp = body.targetPath?.replace(/^\.\/?$/, '');
  if (tp) {
    const checked = checkRelativePath(tp);
    if ('reason' in checked)
      throw new AppError('invalid_path', `targetPath ${checked.reason}`, {
        errors: [{ path: '/body/targetPath', message: checked.reason }],
      });
    base = checked.path;
  }
  const files: DecodedFile[] = [];
  const skipped: string[] = [];
  const seen = new Set<string>();
  /** Folders the batch's paths need, with the first file needing each. */
  const folders = new Map<string, number>();
  let total = 0;
  for (const [i, f] of body.files.entries()) {
    const checked = checkRelativePath(f.path);
    if ('reason' in checked) throw invalidPath(i, checked.reason);
    const rel = checked.path;
    const path = base ? `${base}/${rel}` : rel;
    const segments = path.split('/');
    if (segments.some((s) => s.startsWith('.ash-tmp-'))) throw invalidPath(i, 'uses a reserved name');
    if (seen.has(path)) throw invalidPath(i, 'duplicates another file of the batch');
    const folderOf = folders.get(path);
    if (folderOf !== undefined)
      throw invalidPath(i, `is a folder of files[${folderOf}] of the batch, so it cannot be a file`);
    for (let k = 1; k < segments.length; k++) {
      const parent = segments.slice(0, k).join('/');
      if (seen.has(parent)) throw invalidPath(i, `is inside '${parent}', which is a file of the same batch`);
      if (!folders.has(parent)) folders.set(parent, i);
    }
    seen.add(path);
    const bytes = decodeBase64Strict(f.content);
    if (!bytes) {
      throw new AppError('invalid_base64', `files[${i}].content is not valid base64`, {
        errors: [{ path: `/body/files/${i}/content`, message: 'must be base64 (RFC 4648 §4, padded)' }],
      });
    }
    if (bytes.length > limits.fileMaxBytes) {
      throw new AppError(
        'payload_too_large',
        `files[${i}] ('${rel}') is ${bytes.length} bytes; the limit per file is ${limits.fileMaxBytes} bytes (ASH_FILE_MAX_SIZE_MB); nothing was stored`,
      );
    }
    total += bytes.length;
    if (total > limits.batchMaxBytes) {
      throw new AppError(
        'payload_too_large',
        `the batch exceeds ${limits.batchMaxBytes} bytes decoded (ASH_FILE_BATCH_MAX_SIZE_MB); nothing was stored`,
      );
    }
    if (SKIPPED.has(segments[segments.length - 1]!)) {
      skipped.push(path);
      continue;
    }
    files.push({ path, segments, bytes, index: i });
  }
  return { files, skipped };
}

/**
 * Validates a path from a URL (`…/files/<path>`) or a `?path=` query.
 * @throws AppError 400 `invalid_path` saying why (a component over 255 bytes is named).
 */
export function requestPath(raw: string | undefined): { path: string; segments: string[] } {
  const checked = checkRelativePath(raw ?? '');
  if ('reason' in checked) throw new AppError('invalid_path', `the file path ${checked.reason}`);
  return { path: checked.path, segments: checked.path.split('/') };
}

/** `utf8` when the bytes are valid UTF-8 text without NUL, else `base64`. */
export function textOrBase64(bytes: Buffer): { content: string; encoding: 'utf8' | 'base64' } {
  if (!bytes.includes(0)) {
    try {
      return {
        content: new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes),
        encoding: 'utf8',
      };
    } catch {
      // not UTF-8
    }
  }
  return { content: bytes.toString('base64'), encoding: 'base64' };
}
