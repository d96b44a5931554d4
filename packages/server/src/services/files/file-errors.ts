import { AppError, notFound } from '../../errors.js';
import { ConfinementError } from '../../storage/confined-dir.js';
import { StorageError } from '../../storage/object-store.js';
import { BundleError } from '../../storage/bundle.js';

/**
 * Maps the storage layer's refusals to API errors: a missing entry is 404 `file_not_found`;
 * links, wrong kinds and depth are 400 `invalid_path`; storage failures 503; bundle problems
 * 400 `invalid_bundle` / 413; ENAMETOOLONG 400 `invalid_path`. Other errors pass through unchanged.
 */
export function toAppError(err: unknown, shownPath?: string): unknown {
  if (err instanceof ConfinementError) {
    const p = shownPath ?? err.path;
    switch (err.reason) {
      case 'missing':
        return notFound('file_not_found', 'File', p);
      case 'symlink':
        return new AppError(
          'invalid_path',
          `'${err.path}' is or goes through a symbolic link; links are never followed`,
        );
      case 'not_directory':
        return new AppError('invalid_path', `'${err.path}': a part of the path is a file, not a folder`);
      case 'is_directory':
        return new AppError('invalid_path', `'${err.path}' is a folder`);
      case 'not_file':
        return new AppError('invalid_path', `'${err.path}' is not a regular file`);
      case 'too_deep':
        return new AppError('invalid_path', `'${err.path}' is nested too deeply`);
    }
  }
  if (err instanceof StorageError) {
    return new AppError(
      'storage_unavailable',
      'object storage is unavailable; nothing was changed, retry later',
      {
        headers: { 'Retry-After': '5' },
      },
    );
  }
  // Paths are checked component by component before any file-system call (util/paths.ts); a
  // path that is still too long for the host (the data dir's own length counts) is the client's
  // path all the same, never a 500.
  if ((err as NodeJS.ErrnoException | undefined)?.code === 'ENAMETOOLONG') {
    return new AppError(
      'invalid_path',
      `${shownPath ? `'${shownPath}'` : 'the file path'} is too long for the file system`,
    );
  }
  if (err instanceof BundleError) {
    if (err.kind === 'disk_limit')
      return new AppError('disk_limit_exceeded', `${err.message}; nothing was written`);
    return err.kind === 'too_large'
      ? new AppError('payload_too_large', err.message)
      : new AppError('invalid_bundle', err.message);
  }
  return err;
}

/** Runs `fn`, rethrowing storage-layer errors as API errors. */
export async function mapFileErrors<T>(fn: () => Promise<T>, shownPath?: string): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw toAppError(err, shownPath);
  }
}
