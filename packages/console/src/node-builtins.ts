/**
 * Stands in for `node:fs/promises` and `node:path` in the browser bundle: only the SDK's
 * `deployDirectory` (Node.js only, never called by the console) imports them, lazily.
 */
export default {};
