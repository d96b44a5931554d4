import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { createSecureContext, rootCertificates, type SecureContext } from 'node:tls';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** System CA bundles, first found wins; Node's built-in roots when none exists. */
const SYSTEM_BUNDLES = [
  '/etc/ssl/certs/ca-certificates.crt', // Debian, Ubuntu, Alpine
  '/etc/pki/tls/certs/ca-bundle.crt', // RHEL, Fedora
  '/etc/ssl/ca-bundle.pem', // openSUSE
];

const CA_CONFIG = `[req]
distinguished_name = dn
x509_extensions = ext
prompt = no
[dn]
CN = Ash egress CA (${hostname()
  .replace(/[^A-Za-z0-9.-]/g, '-')
  .slice(0, 40)})
[ext]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
`;

/**
 * The per-server certificate authority of the egress proxy, for the hosts that have a credential
 * bound to them (and only those): the proxy terminates TLS for such a host with a leaf certificate
 * this CA signs, adds the credential's header, and opens its own verified TLS connection upstream.
 * The CA is created once with the `openssl` CLI and kept in `dir` (`ca.key` mode 0600, `ca.pem`);
 * only the certificate is ever shown to sandboxes. Leaf certificates (one shared EC P-256 key,
 * valid 30 days) are made on first use per host name and cached in memory.
 */
export class EgressCa {
  private readonly leaves = new Map<string, Promise<SecureContext>>();

  private constructor(
    private readonly dir: string,
    /** PEM of the CA certificate (public). */
    readonly certPem: string,
  ) {}

  /**
   * Opens the CA in `dir`, creating it (and the shared leaf key) on first use.
   * @throws Error when `openssl` is missing or fails.
   */
  static async open(dir: string): Promise<EgressCa> {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    const key = join(dir, 'ca.key');
    const cert = join(dir, 'ca.pem');
    if (!existsSync(key) || !existsSync(cert)) {
      const cnf = join(dir, 'ca.cnf');
      writeFileSync(cnf, CA_CONFIG);
      // Written under temporary names, renamed when complete: a crash leaves no half CA.
      await run('openssl', [
        'req',
        '-x509',
        '-newkey',
        'ec',
        '-pkeyopt',
        'ec_paramgen_curve:prime256v1',
        '-nodes',
        '-keyout',
        `${key}.new`,
        '-out',
        `${cert}.new`,
        '-days',
        '3650',
        '-config',
        cnf,
      ]);
      chmodSync(`${key}.new`, 0o600);
      renameSync(`${key}.new`, key);
      renameSync(`${cert}.new`, cert);
      rmSync(cnf, { force: true });
    }
    chmodSync(key, 0o600);
    const leafKey = join(dir, 'leaf.key');
    if (!existsSync(leafKey)) {
      await run('openssl', [
        'genpkey',
        '-algorithm',
        'EC',
        '-pkeyopt',
        'ec_paramgen_curve:P-256',
        '-out',
        `${leafKey}.new`,
      ]);
      chmodSync(`${leafKey}.new`, 0o600);
      renameSync(`${leafKey}.new`, leafKey);
    }
    return new EgressCa(dir, readFileSync(cert, 'utf8'));
  }

  /**
   * PEM bundle for sandboxes: the system's CA certificates plus this CA (for `SSL_CERT_FILE`,
   * `REQUESTS_CA_BUNDLE`, `CURL_CA_BUNDLE`, which replace the default roots rather than add to them).
   */
  bundlePem(): string {
    const system = SYSTEM_BUNDLES.find((p) => existsSync(p));
    const roots = system ? readFileSync(system, 'utf8') : `${rootCertificates.join('\n')}\n`;
    return `${roots.trimEnd()}\n${this.certPem.trimEnd()}\n`;
  }

  /**
   * TLS server context for `host` (a name or IPv4 literal): a leaf certificate for it, signed by
   * this CA. @throws Error when `openssl` fails.
   */
  leafContext(host: string): Promise<SecureContext> {
    const name = host.toLowerCase();
    let ctx = this.leaves.get(name);
    if (!ctx) {
      ctx = this.makeLeaf(name);
      this.leaves.set(name, ctx);
      ctx.catch(() => this.leaves.delete(name));
    }
    return ctx;
  }

  private async makeLeaf(host: string): Promise<SecureContext> {
    if (!/^[a-z0-9_.-]{1,253}$/.test(host)) throw new Error(`no certificate for host "${host}"`);
    const san = isIP(host) === 4 ? `IP:${host}` : `DNS:${host}`;
    const leafKey = join(this.dir, 'leaf.key');
    const { stdout } = await run('openssl', [
      'req',
      '-x509',
      '-key',
      leafKey,
      '-CA',
      join(this.dir, 'ca.pem'),
      '-CAkey',
      join(this.dir, 'ca.key'),
      '-subj',
      `/CN=${host}`,
      '-days',
      '30',
      '-set_serial',
      `0x${randomBytes(12).toString('hex')}`,
      '-addext',
      `subjectAltName=${san}`,
      '-addext',
      'basicConstraints=critical,CA:FALSE',
      '-addext',
      'keyUsage=critical,digitalSignature',
      '-addext',
      'extendedKeyUsage=serverAuth',
      '-config',
      '/dev/null',
    ]);
    return createSecureContext({
      key: readFileSync(leafKey),
      cert: `${stdout.trimEnd()}\n${this.certPem}`,
    });
  }
}
