import { Writable } from 'node:stream';
import { ScriptedModel, removeDir, serverEnv, tempDir } from '@ash-ai/testing';
import { SseDecoder, type StreamEvent } from '@ash-ai/shared';
import { createAshServer, loadConfig, type AshServer } from '../src/index.js';

/** A server running in this process (real sandboxes, real database) against a scripted model. */
export interface TestServer {
  url: string;
  server: AshServer;
  model: ScriptedModel;
  dataDir: string;
  /** Every log line the server wrote. */
  logs(): string;
  close(): Promise<void>;
}

/**
 * Starts a server on a free port with its own data dir. `env` overrides ASH_* variables. With
 * `dataDir`, the server uses that one (a restart) and `close()` leaves it in place.
 */
export async function startTestServer(
  opts: { env?: Record<string, string>; model?: ScriptedModel; dataDir?: string } = {},
): Promise<TestServer> {
  const model = opts.model ?? (await ScriptedModel.start());
  const dataDir = opts.dataDir ?? tempDir('ash-srv-');
  let logText = '';
  const destination = new Writable({
    write(chunk, _enc, cb) {
      logText += chunk.toString();
      cb();
    },
  });
  const config = loadConfig(
    serverEnv({ dataDir, modelUrl: model.url, extra: { ASH_LOG_LEVEL: 'debug', ...opts.env } }),
  );
  const server = await createAshServer(config, { logDestination: destination });
  const url = await server.listen();
  return {
    url,
    server,
    model,
    dataDir,
    logs: () => logText,
    async close() {
      await server.close();
      if (!opts.model) await model.close();
      if (!opts.dataDir) removeDir(dataDir);
    },
  };
}

/** JSON request helper: resolves to status, parsed body and headers. */
export async function api(
  url: string,
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: any; headers: Headers; text: string }> {
  const res = await fetch(url + path, {
    method,
    headers: body !== undefined ? { 'content-type': 'application/json', ...headers } : headers,
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, headers: res.headers, text };
}

/** Sends a message and reads the whole SSE stream: the raw text and the decoded events. */
export async function sendTurn(
  url: string,
  sessionId: string,
  body: Record<string, unknown>,
): Promise<{ status: number; raw: string; events: StreamEvent[]; headers: Headers }> {
  const res = await fetch(`${url}/api/sessions/${sessionId}/messages`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const raw = await res.text();
  const events = new SseDecoder()
    .push(raw)
    .map((f) => ({ id: Number(f.id), event: f.event, data: JSON.parse(f.data) }) as StreamEvent);
  return { status: res.status, raw, events, headers: res.headers };
}

/** Deploys an agent from in-memory files. */
export async function deployAgent(
  url: string,
  name: string,
  files: Record<string, string>,
  extra: Record<string, unknown> = {},
) {
  const r = await api(url, 'POST', '/api/agents', {
    name,
    files: Object.entries(files).map(([path, content]) => ({
      path,
      content: Buffer.from(content).toString('base64'),
    })),
    ...extra,
  });
  if (r.status !== 201) throw new Error(`deploy failed: ${r.status} ${r.text}`);
  return r.body.agent;
}

export async function createSession(
  url: string,
  agent: string,
  extra: Record<string, unknown> = {},
): Promise<string> {
  const r = await api(url, 'POST', '/api/sessions', { agent, ...extra });
  if (r.status !== 201) throw new Error(`create session failed: ${r.status} ${r.text}`);
  return r.body.session.id as string;
}
