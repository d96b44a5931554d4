import { AshLocalError } from '../core/errors.js';
import { encodePath } from './bytes.js';

/** A workspace or agent file path, already encoded segment by segment (see {@link filePath}). */
export class EncodedFilePath {
  constructor(readonly encoded: string) {}
}

/**
 * A file path for the `…/files/<path>` routes: its `/` separate folders, each segment encoded.
 * @throws AshLocalError `invalid_path` for empty, `.` or `..` segments.
 */
export const filePath = (path: string): EncodedFilePath => new EncodedFilePath(encodePath(path));

/**
 * The one way the SDK puts parameters into request paths: a template tag whose every
 * interpolated value becomes exactly one path segment, percent-encoded (`encodeURIComponent`:
 * `/`, `?`, `#`, `%` and the rest are encoded), so `client.sessions.end('../agents/x')` requests
 * `/api/sessions/..%2Fagents%2Fx`, never `/api/agents/x`. A file path given through
 * {@link filePath} keeps its `/` separators (each segment encoded).
 *
 *     route`/api/sessions/${id}/files/${filePath(p)}`
 *
 * @throws AshLocalError `invalid_path` for an empty value, `.` or `..`: URL parsing would drop
 *   or resolve such a segment (even encoded as `%2e%2e`), so it could never reach the server as
 *   one segment.
 */
export function route(
  strings: TemplateStringsArray,
  ...values: Array<string | number | EncodedFilePath>
): string {
  let out = strings[0] ?? '';
  for (const [i, value] of values.entries()) {
    out += value instanceof EncodedFilePath ? value.encoded : segment(String(value));
    out += strings[i + 1] ?? '';
  }
  return out;
}

function segment(value: string): string {
  if (value === '' || value === '.' || value === '..')
    throw new AshLocalError(
      'invalid_path',
      `invalid path parameter ${JSON.stringify(value)}: an id or name cannot be empty, '.' or '..'`,
    );
  return encodeURIComponent(value);
}
