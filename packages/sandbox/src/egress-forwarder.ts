/** Port the in-sandbox forwarder listens on (127.0.0.1 of the sandbox's own network namespace). */
export const EGRESS_PROXY_PORT = 3128;

/**
 * Source of the forwarder that runs inside each sandbox (a CommonJS script for the host's
 * /usr/bin/node, which the sandbox sees read-only): it listens on 127.0.0.1:<port> in the
 * sandbox's network namespace (which has only loopback) and pipes each connection to the egress
 * proxy's Unix socket. Started as `node fwd.cjs <port> <socket>`: it starts a detached copy of
 * itself, waits until that copy listens, and exits 0, so the launcher can `exec` the Claude
 * process (or a command) knowing the proxy is up. The copy dies with the sandbox's pid namespace.
 */
export const EGRESS_FORWARDER_SOURCE = `'use strict';
const net = require('node:net');
const { spawn } = require('node:child_process');
const [port, socketPath] = process.argv.slice(2);
if (process.env.ASH_EGRESS_FORWARDER !== 'serve') {
  const child = spawn(process.execPath, [__filename, port, socketPath], {
    detached: true,
    stdio: ['ignore', 'pipe', 'ignore'],
    env: { ASH_EGRESS_FORWARDER: 'serve' },
  });
  const t = setTimeout(() => process.exit(1), 15000);
  child.stdout.once('data', () => { clearTimeout(t); child.unref(); child.stdout.destroy(); process.exit(0); });
  child.once('exit', () => process.exit(1));
} else {
  const server = net.createServer((c) => {
    const u = net.connect(socketPath);
    c.on('error', () => u.destroy());
    u.on('error', () => c.destroy());
    c.pipe(u);
    u.pipe(c);
  });
  server.listen(Number(port), '127.0.0.1', () => {
    process.stdout.write('ready\\n');
    process.stdout.on('error', () => undefined);
  });
}
`;
