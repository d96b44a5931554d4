import { createRequire } from 'node:module';
import { dirname } from 'node:path';

/** Where a sandbox with network sees the `undici` package (bound read-only from the host). */
export const SANDBOX_UNDICI_DIR = '/opt/ash/undici';

/** Where a sandbox with network sees the fetch preload (in the read-only API directory). */
export const SANDBOX_EGRESS_PRELOAD = '/run/ash/egress-preload.cjs';

/**
 * The host directory of the `undici` package this package depends on (no dependencies of its
 * own, so binding that one directory is enough); undefined when it cannot be found.
 */
export function undiciPackageDir(): string | undefined {
  try {
    return dirname(createRequire(import.meta.url).resolve('undici'));
  } catch {
    return undefined;
  }
}

/**
 * Source of the preload every node program in a sandbox with network loads (`NODE_OPTIONS
 * --require`). With a proxy variable set and undici visible, it installs a lazy global
 * dispatcher (`Symbol.for('undici.globalDispatcher.1')`, which Node's built-in fetch reads): on
 * the first request it loads undici and creates an `EnvHttpProxyAgent` (HTTP_PROXY, HTTPS_PROXY,
 * NO_PROXY honoured; plain http:// in absolute form, so a refusal is an HTTP 403 whose body names
 * the policy; https:// through CONNECT, where a refusal rejects the fetch with the proxy's
 * message). Costs nothing to programs that never fetch; does nothing when no proxy is set, when
 * undici is missing, or when the program already set a dispatcher. The Claude Code executable is
 * not node and ignores it.
 * @param undiciDir where the program sees undici (the sandbox path by default; tests use the host's).
 */
export function egressPreloadSource(undiciDir: string = SANDBOX_UNDICI_DIR): string {
  return `'use strict';
// Ash: routes Node's built-in fetch through HTTP(S)_PROXY (Node 20 ignores them). Never throws.
(() => {
  try {
    const env = process.env;
    if (!(env.HTTP_PROXY || env.http_proxy || env.HTTPS_PROXY || env.https_proxy)) return;
    const undiciDir = ${JSON.stringify(undiciDir)};
    const key = Symbol.for('undici.globalDispatcher.1');
    if (globalThis[key] !== undefined) return;
    if (!require('node:fs').existsSync(undiciDir + '/package.json')) return;
    // The body of a refused CONNECT (the proxy's reason), read from the tunnel socket.
    const reasonOf = (socket) =>
      new Promise((resolve) => {
        let body = '';
        const done = () => { clearTimeout(timer); socket.destroy(); resolve(body.trim()); };
        const timer = setTimeout(done, 2000);
        socket.setEncoding('utf8');
        socket.on('data', (d) => { body += d; if (body.length > 4096) done(); });
        socket.on('end', done);
        socket.on('error', done);
      });
    let agent;
    const real = () => {
      if (agent) return agent;
      const undici = require(undiciDir);
      const clientFactory = (origin, opts) => {
        const pool = new undici.Pool(origin, opts);
        const connect = pool.connect.bind(pool);
        pool.connect = async (params) => {
          const r = await connect(params);
          if (r.statusCode === 200) return r;
          const reason = await reasonOf(r.socket);
          throw new Error(reason || 'the egress proxy refused the tunnel (HTTP ' + r.statusCode + ')');
        };
        return pool;
      };
      agent = new undici.EnvHttpProxyAgent({ proxyTunnel: false, clientFactory });
      return agent;
    };
    // close()/destroy() before any request: nothing to close (callback or promise form).
    const done = (args) => {
      const cb = args.find((a) => typeof a === 'function');
      if (!cb) return Promise.resolve();
      queueMicrotask(() => cb(null, null));
    };
    const EventEmitter = require('node:events');
    class AshProxyDispatcher extends EventEmitter {
      dispatch(opts, handler) { return real().dispatch(opts, handler); }
      compose(...interceptors) { return real().compose(...interceptors); }
      close(...args) { return agent ? agent.close(...args) : done(args); }
      destroy(...args) { return agent ? agent.destroy(...args) : done(args); }
    }
    Object.defineProperty(globalThis, key, {
      value: new AshProxyDispatcher(),
      writable: true,
      enumerable: false,
      configurable: true,
    });
  } catch {
    // A preload must never break the program: without it, fetch just has no proxy.
  }
})();
`;
}
