import { readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  api,
  createSession,
  deployAgent,
  expectOutcome,
  sandboxLeftovers,
  sendTurn,
  startTestServer,
  type TestServer,
} from './harness.js';

const HOST_SECRET = 'host-secret-value-4f1e2d';

function toolOutput(turn: { events: Array<{ event: string; data: unknown }> }): string {
  return turn.events
    .filter((e) => e.event === 'tool_result')
    .map((e) => (e.data as { content: string }).content)
    .join('\n');
}

describe('sandbox isolation', () => {
  let t: TestServer;
  beforeAll(async () => {
    process.env.ASH_TEST_HOST_SECRET = HOST_SECRET;
    t = await startTestServer();
    await deployAgent(t.url, 'iso', { 'CLAUDE.md': '# Iso\n' });
  });
  afterAll(async () => {
    delete process.env.ASH_TEST_HOST_SECRET;
    await t?.close();
  });

  it("cannot read another session's workspace, the data dir, the database or host secrets, nor reach host services", async () => {
    const a = await createSession(t.url, 'iso');
    t.model
      .forSession(a)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'echo top-secret-of-a > secret.txt' } } },
        { text: 'ok' },
      );
    expectOutcome(await sendTurn(t.url, a, { content: 'write a secret' }), 'completed');
    const aWorkspace = join(t.dataDir, 'sessions', a, 'workspace');
    expect(readFileSync(join(aWorkspace, 'secret.txt'), 'utf8')).toBe('top-secret-of-a\n');

    const b = await createSession(t.url, 'iso');
    const port = new URL(t.url).port;
    const attempts = [
      `cat ${aWorkspace}/secret.txt`,
      `ls ${t.dataDir}`,
      `cat ${t.dataDir}/ash.db | head -c 100`,
      'cat /workspace/../sessions/*/workspace/secret.txt',
      // [a] keeps the pattern from matching its own command line in the transcript
      'grep -rsE "top-secret-of-[a]" /home /tmp /run /etc /workspace 2>/dev/null | head -3',
      'cat /proc/*/environ 2>/dev/null | tr "\\0" "\\n" | grep -i -E "ASH_TEST_HOST_SECRET|sk-ant" ',
      'env | grep -E "ASH_TEST_HOST_SECRET|ASH_DATA_DIR|sk-ant"',
      `(exec 3<>/dev/tcp/127.0.0.1/${port}) 2>&1 || echo NO-SERVER`,
      '(exec 3<>/dev/tcp/127.0.0.1/5432) 2>&1 || echo NO-POSTGRES',
      'ls /root /home 2>&1',
      'id -u; hostname; ip -o link 2>/dev/null | wc -l; cat /proc/self/status | grep -E "^(Cap(Eff|Bnd)|NoNewPrivs)"',
    ];
    t.model
      .forSession(b)
      .enqueue(...attempts.map((command) => ({ toolUse: { name: 'Bash', input: { command } } })), {
        text: 'done probing',
      });
    const turn = await sendTurn(t.url, b, { content: 'probe' });
    expectOutcome(turn, 'completed');
    const out = toolOutput(turn);
    expect(out).not.toContain('top-secret-of-a');
    expect(out).not.toContain(HOST_SECRET);
    expect(out).not.toContain('sk-ant');
    expect(out).toContain('NO-SERVER');
    expect(out).toContain('NO-POSTGRES');
    expect(out).toMatch(/No such file or directory/);
    expect(out).toMatch(/CapEff:\s+0000000000000000/);
    expect(out).toMatch(/NoNewPrivs:\s+1/);
    // An unprivileged uid of its own, from ASH_SANDBOX_UID_RANGE (default 200000-265535).
    const uid = Number(/^(\d+)$/m.exec(out)?.[1]);
    expect(uid).toBeGreaterThanOrEqual(200_000);
    expect(uid).toBeLessThanOrEqual(265_535);
    expect(out).toMatch(/^sandbox$/m);

    // The server and the other session are unaffected.
    expect((await api(t.url, 'GET', '/health')).status).toBe(200);
    t.model
      .forSession(a)
      .enqueue({ toolUse: { name: 'Bash', input: { command: 'cat secret.txt' } } }, { text: 'still fine' });
    const again = await sendTurn(t.url, a, { content: 'read it back' });
    expect(toolOutput(again)).toContain('top-secret-of-a');
  });

  it("keeps a tenant's environment out of the privileged launcher (LD_PRELOAD, BASH_ENV) but gives it to the agent", async () => {
    const s = await createSession(t.url, 'iso', {
      extraEnv: { ASH_TENANT_CANARY: "it's \n there", LD_PRELOAD: '', BASH_ENV: '/dev/null' },
    });
    t.model
      .forSession(s)
      .enqueue(
        { toolUse: { name: 'Bash', input: { command: 'printf "canary=%s|" "$ASH_TENANT_CANARY"' } } },
        { text: 'ok' },
      );
    const turn = await sendTurn(t.url, s, { content: 'env' });
    expectOutcome(turn, 'completed');
    expect(toolOutput(turn)).toContain("canary=it's \n there|");
    // The sandbox stays up between turns: its launcher (bwrap, as root on the host) must have
    // been started with none of the tenant's variables.
    const launchers = readdirSync('/proc')
      .filter((p) => /^\d+$/.test(p))
      .flatMap((pid) => {
        try {
          const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
          // bwrap reads its options from a descriptor: find this session's by its cgroup.
          if (!argv[0]?.endsWith('bwrap') || !readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(s))
            return [];
          return [readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').filter(Boolean)];
        } catch {
          return [];
        }
      });
    expect(launchers.length).toBeGreaterThan(0);
    for (const env of launchers) {
      const names = env.map((kv) => kv.slice(0, kv.indexOf('=')));
      expect(names).not.toContain('ASH_TENANT_CANARY');
      expect(names).not.toContain('LD_PRELOAD');
      expect(names).not.toContain('BASH_ENV');
    }
  });

  it('shows no host path inside (command lines, environments, mount info); two live sandboxes have different host uids', async () => {
    const probe =
      'id -u; stat -c "owner=%u" /workspace/CLAUDE.md; ' +
      'for f in /proc/[0-9]*/cmdline /proc/[0-9]*/environ; do tr "\\0" " " < $f 2>/dev/null; echo; done; ' +
      'cat /proc/self/mountinfo /proc/1/mountinfo';
    const ids = [await createSession(t.url, 'iso'), await createSession(t.url, 'iso')];
    const outs: string[] = [];
    for (const id of ids) {
      t.model
        .forSession(id)
        .enqueue({ toolUse: { name: 'Bash', input: { command: probe } } }, { text: 'probed' });
      const turn = await sendTurn(t.url, id, { content: 'where am I?' });
      expectOutcome(turn, 'completed');
      outs.push(toolOutput(turn));
    }
    const runtimeRoot = join(tmpdir(), 'ash-');
    for (const out of outs) {
      expect(out).toContain('bwrap --args 9 --'); // pid 1 is bwrap, without its options
      expect(out).toMatch(/ \/workspace /); // the mount info was read
      expect(out).not.toContain(t.dataDir);
      expect(out).not.toContain(runtimeRoot);
      expect(out).not.toContain(process.cwd());
    }
    // Both sandboxes are live at once, each with its own uid, owning its own files.
    const uids = outs.map((o) => Number(/^(\d+)$/m.exec(o)?.[1]));
    expect(uids[0]).not.toBe(uids[1]);
    for (const [i, o] of outs.entries()) expect(o).toContain(`owner=${uids[i]}`);
    // Seen from the host: the processes of each sandbox run as its own uid.
    for (const [i, id] of ids.entries()) {
      const procUids = readdirSync('/proc')
        .filter((p) => /^\d+$/.test(p))
        .flatMap((pid) => {
          try {
            if (!readFileSync(`/proc/${pid}/cgroup`, 'utf8').includes(id)) return [];
            const m = /^Uid:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
            return m ? [Number(m[1])] : [];
          } catch {
            return [];
          }
        });
      expect(procUids).toContain(uids[i]);
    }
  });

  it('lets the sandbox reach only the Messages API through the model proxy, however the path is spelled', async () => {
    const s = await createSession(t.url, 'iso');
    const paths = [
      '/v1/messages/../files',
      '/v1/messages/%2e%2e/skills',
      '/v1/messages/batches',
      '/v1/messagesXYZ',
      '//v1/messages',
      '/v1/messages?x=/../files',
    ];
    const script = `const h=require("http");for(const p of ${JSON.stringify(paths)})h.request({socketPath:"/run/ash/model.sock",path:p,method:"POST",headers:{"content-type":"application/json"}},r=>{console.log("PROXY",p,r.statusCode);r.resume()}).end("{}")`;
    t.model
      .forSession(s)
      .enqueue({ toolUse: { name: 'Bash', input: { command: `node -e '${script}'` } } }, { text: 'probed' });
    const before = t.model.requests.length;
    const turn = await sendTurn(t.url, s, { content: 'probe the proxy' });
    expectOutcome(turn, 'completed');
    const out = toolOutput(turn);
    for (const p of paths) expect(out).toContain(`PROXY ${p} 404`);
    const upstream = t.model.requests.slice(before).map((r) => r.path.split('?')[0]);
    expect(upstream.filter((p) => p !== '/v1/messages')).toEqual([]);
  });
});

describe('sandbox limits', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
    await deployAgent(
      t.url,
      'limited',
      { 'CLAUDE.md': '# Limited\n' },
      { config: { limits: { memoryMb: 400, maxProcesses: 64, cpuPercent: 100 } } },
    );
  });
  afterAll(async () => t?.close());

  it('stops a memory hog with an error naming the memory limit; the next message works', async () => {
    const id = await createSession(t.url, 'limited');
    const hog =
      'python3 -c "import time\nx=[]\nwhile True:\n  x.append(bytearray(64*1024*1024)); time.sleep(0.05)"; echo exit=$?';
    // No reply after the tool: the turn must end because of the limit, not because the model moved on.
    t.model.forSession(id).enqueue({ toolUse: { name: 'Bash', input: { command: hog } } });
    const turn = await sendTurn(t.url, id, { content: 'allocate' });
    expectOutcome(turn, 'error');
    const err = turn.events.find((e) => e.event === 'error')!.data as {
      code: string;
      limit?: string;
      error: string;
    };
    expect(err).toMatchObject({ code: 'limit_exceeded', limit: 'memory' });
    expect(err.error).toMatch(/memory limit \(400 MiB\)/);
    t.model.forSession(id).enqueue({ text: 'recovered from memory' });
    expectOutcome(await sendTurn(t.url, id, { content: 'are you ok?' }), 'completed');
  });

  it('stops a fork bomb with an error naming the process limit; the next message works and nothing is left running', async () => {
    const id = await createSession(t.url, 'limited');
    t.model
      .forSession(id)
      .enqueue({ toolUse: { name: 'Bash', input: { command: 'bomb() { bomb | bomb & }; bomb; sleep 30' } } });
    const turn = await sendTurn(t.url, id, { content: 'fork' });
    expectOutcome(turn, 'error');
    expect(turn.events.find((e) => e.event === 'error')!.data).toMatchObject({
      code: 'limit_exceeded',
      limit: 'pids',
    });
    t.model
      .forSession(id)
      .enqueue({ toolUse: { name: 'Bash', input: { command: 'echo alive' } } }, { text: 'back' });
    const next = await sendTurn(t.url, id, { content: 'still alive?' });
    expectOutcome(next, 'completed');
    expect(toolOutput(next)).toBe('alive');
    await api(t.url, 'DELETE', `/api/sessions/${id}`);
    expect(sandboxLeftovers(id)).toEqual({ processes: [], cgroups: [], runtimeDirs: [] });
  });
});
