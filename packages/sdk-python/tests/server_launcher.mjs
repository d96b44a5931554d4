// Starts a real Ash server process with the scripted model for the Python tests, prints one JSON
// line {url, apiKey, control, dataDir}, and stops everything when its stdin closes (the pytest
// process ended) or on SIGTERM. The control server lets a test script the model:
//   POST /enqueue {sessionId?, replies: ScriptedReply[]}   POST /reset   GET /requests
import { createServer } from 'node:http';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import {
  REPO_ROOT,
  ScriptedModel,
  TEST_API_KEY,
  removeDir,
  serverEnv,
  startAshProcess,
  tempDir,
} from '@ash-ai/testing';

const INTERNAL_SECRET = 'pytest-internal-secret-0123456789';
const opts = JSON.parse(process.argv[2] ?? '{}');
const model = await ScriptedModel.start();
const home = tempDir('ash-pytest-');
const server = await startAshProcess(
  serverEnv({
    dataDir: join(home, 'data'),
    modelUrl: model.url,
    extra: {
      ASH_CREDENTIAL_KEY: 'pytest-credential-key-0123456789abcdef',
      ASH_INTERNAL_SECRET: INTERNAL_SECRET,
      // The suite makes many sessions; idle ones beyond this are paused (LRU), keeping the machine light.
      // 10, not 6: sessions that wait for a tool answer keep their sandbox busy, and sandboxes of
      // just-paused sessions are still stopping; with 6, a create and its first message could find
      // none free (503 capacity_reached, seen once in CI).
      ASH_MAX_SANDBOXES: '10',
      ASH_DEPLOY_PATH_ROOTS: [join(REPO_ROOT, 'examples'), tmpdir()].join(','),
      ...(opts.env ?? {}),
    },
  }),
  60_000,
);

const control = createServer(async (req, res) => {
  const chunks = [];
  for await (const c of req) chunks.push(c);
  const body = chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {};
  const reply = (status, value) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(value));
  };
  if (req.method === 'POST' && req.url === '/enqueue') {
    if (body.sessionId) model.forSession(body.sessionId).enqueue(...body.replies);
    else model.enqueue(...body.replies);
    return reply(200, { ok: true });
  }
  if (req.method === 'POST' && req.url === '/reset') {
    model.reset();
    return reply(200, { ok: true });
  }
  if (req.method === 'GET' && req.url === '/requests')
    return reply(
      200,
      model
        .messageRequests()
        .map((r) => ({ sessionId: r.sessionId, model: r.model, tools: r.tools, messages: r.messages })),
    );
  if (req.method === 'GET' && req.url === '/output') return reply(200, { output: server.output() });
  reply(404, { error: 'unknown control route' });
});
await new Promise((resolve) => control.listen(0, '127.0.0.1', resolve));

let stopping = false;
async function stop() {
  if (stopping) return;
  stopping = true;
  control.close();
  await server.stop().catch(() => undefined);
  await model.close().catch(() => undefined);
  removeDir(home);
  process.exit(0);
}
process.stdin.on('end', stop);
process.stdin.on('close', stop);
process.stdin.resume();
process.on('SIGTERM', stop);
process.on('SIGINT', stop);

process.stdout.write(
  `${JSON.stringify({
    url: server.url,
    apiKey: TEST_API_KEY,
    internalSecret: INTERNAL_SECRET,
    control: `http://127.0.0.1:${control.address().port}`,
    dataDir: join(home, 'data'),
    repoRoot: REPO_ROOT,
  })}\n`,
);
