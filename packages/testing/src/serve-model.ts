/**
 * `npm run model [-- <port>]`: the scripted Messages API as a standalone server on 127.0.0.1
 * (default port 4199; 0 picks one), to try Ash without an Anthropic key. Point the server at it
 * with `ANTHROPIC_BASE_URL=http://127.0.0.1:<port>` and any `ANTHROPIC_API_KEY`. Every answer is
 * `Echo: <the last user message>` (`Done.` after a tool result). Prints its URL once it listens;
 * exits 2 on a bad port, 1 when the port is taken; SIGINT/SIGTERM stop it.
 */
import { ScriptedModel } from './scripted-model.js';

const arg = process.argv[2] ?? '4199';
const port = Number(arg);
if (!/^\d+$/.test(arg) || port > 65535) {
  process.stderr.write(`usage: npm run model [-- <port>]  (a port 0-65535, got '${arg}')\n`);
  process.exit(2);
}
let model: ScriptedModel;
try {
  model = await ScriptedModel.start({ port });
} catch (err) {
  process.stderr.write(`scripted model: cannot listen on 127.0.0.1:${port}: ${(err as Error).message}\n`);
  process.exit(1);
}
process.stdout.write(`scripted Messages API listening on ${model.url} (answers "Echo: <your message>")\n`);
// It records every request for tests; a long trial would only grow that list.
setInterval(() => {
  model.requests.length = 0;
}, 10_000).unref();
for (const signal of ['SIGINT', 'SIGTERM'] as const)
  process.once(signal, () => void model.close().then(() => process.exit(0)));
