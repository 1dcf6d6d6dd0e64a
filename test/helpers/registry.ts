// Real registries for tests: Debian's docker-registry on a free loopback port
// (plain HTTP, HTTPS with a CA made here, htpasswd basic auth, or bearer tokens
// from the token server below), started and stopped by the test.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash, createSign, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.on('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}

function sh(cmd: string, args: string[], opts: { cwd?: string } = {}): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}

export interface TestCA { dir: string; caCert: string; serverCert: string; serverKey: string }

/** A CA and a server certificate for 127.0.0.1 and localhost, signed by it. */
export function makeCA(dir: string): TestCA {
  fs.mkdirSync(dir, { recursive: true });
  const p = (n: string) => path.join(dir, n);
  sh('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=Berth Test CA', '-keyout', p('ca.key'), '-out', p('ca.crt')]);
  sh('openssl', ['req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', p('server.key'), '-out', p('server.csr')]);
  fs.writeFileSync(p('ext.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n');
  sh('openssl', ['x509', '-req', '-in', p('server.csr'), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', p('ext.cnf'), '-out', p('server.crt')]);
  return { dir, caCert: p('ca.crt'), serverCert: p('server.crt'), serverKey: p('server.key') };
}

export interface RegistryOpts {
  tls?: TestCA;
  /** user → password, served with htpasswd (bcrypt) basic auth. */
  users?: Record<string, string>;
  token?: TokenServer;
}

export class Registry {
  private constructor(readonly host: string, readonly dir: string, private proc: ChildProcess, readonly log: () => string) {}

  static async start(opts: RegistryOpts = {}): Promise<Registry> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-reg-'));
    const port = await freePort();
    let yml = `version: 0.1\nlog: {level: warn}\nstorage: {filesystem: {rootdirectory: ${dir}/data}, delete: {enabled: true}}\n`;
    yml += `http:\n  addr: 127.0.0.1:${port}\n`;
    if (opts.tls) yml += `  tls: {certificate: ${opts.tls.serverCert}, key: ${opts.tls.serverKey}}\n`;
    if (opts.users) {
      const lines = Object.entries(opts.users).map(([u, pw]) => sh('htpasswd', ['-Bbn', u, pw]).trim());
      fs.writeFileSync(path.join(dir, 'htpasswd'), lines.join('\n') + '\n');
      yml += `auth:\n  htpasswd: {realm: berth-test, path: ${dir}/htpasswd}\n`;
    }
    if (opts.token) {
      const t = opts.token;
      yml += `auth:\n  token: {realm: "${t.realm}", service: ${t.service}, issuer: ${t.issuer}, rootcertbundle: ${t.certFile}}\n`;
    }
    fs.writeFileSync(path.join(dir, 'config.yml'), yml);
    const logFile = path.join(dir, 'registry.log');
    const out = fs.openSync(logFile, 'a');
    const proc = spawn('docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', out, out] });
    fs.closeSync(out);
    const reg = new Registry(`127.0.0.1:${port}`, dir, proc, () => fs.readFileSync(logFile, 'utf8'));
    const deadline = Date.now() + 10_000;
    for (;;) {
      if (await canConnect(port)) return reg;
      if (proc.exitCode !== null || Date.now() > deadline) {
        reg.stop();
        throw new Error(`docker-registry did not start: ${reg.log()}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  stop(): void {
    this.proc.kill('SIGKILL');
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.on('connect', () => { s.destroy(); resolve(true); });
    s.on('error', () => resolve(false));
  });
}

const b64url = (b: Buffer | string) => Buffer.from(b).toString('base64url');

/**
 * A bearer-token server (the registry's `auth: token:` flow): checks Basic
 * credentials (when users are set) and signs RS256 JWTs with a test key whose
 * certificate the registry trusts. Counts requests per scope set.
 */
export class TokenServer {
  readonly service = 'berth-test-registry';
  readonly issuer = 'berth-test-issuer';
  readonly certFile: string;
  requests: { scopes: string[]; account?: string }[] = [];
  /** Sign the next N tokens with an untrusted key (the registry refuses them: tests renewal). */
  badTokens = 0;
  private server!: http.Server;
  private port = 0;
  private key: string;
  private certDer: Buffer;
  private rogueKey: string;

  private constructor(private dir: string, readonly users: Record<string, string> | undefined) {
    const p = (n: string) => path.join(dir, n);
    sh('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=berth-token', '-keyout', p('token.key'), '-out', p('token.crt')]);
    sh('openssl', ['genrsa', '-out', p('rogue.key'), '2048']);
    this.certFile = p('token.crt');
    this.key = fs.readFileSync(p('token.key'), 'utf8');
    this.rogueKey = fs.readFileSync(p('rogue.key'), 'utf8');
    const pem = fs.readFileSync(p('token.crt'), 'utf8');
    this.certDer = Buffer.from(pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, ''), 'base64');
  }

  static async start(users?: Record<string, string>): Promise<TokenServer> {
    const t = new TokenServer(fs.mkdtempSync(path.join(os.tmpdir(), 'berth-tok-')), users);
    t.server = http.createServer((req, res) => t.handle(req, res));
    await new Promise<void>((r) => t.server.listen(0, '127.0.0.1', r));
    t.port = (t.server.address() as net.AddressInfo).port;
    return t;
  }

  get realm(): string { return `http://127.0.0.1:${this.port}/token`; }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', this.realm);
    const scopes = url.searchParams.getAll('scope');
    let account: string | undefined;
    const auth = req.headers.authorization;
    if (auth?.startsWith('Basic ')) {
      const [u, ...rest] = Buffer.from(auth.slice(6), 'base64').toString().split(':');
      if (!this.users || this.users[u!] !== rest.join(':')) { res.writeHead(401).end('{"details":"incorrect username or password"}'); return; }
      account = u;
    } else if (this.users) {
      // Anonymous requests get a token without access (what Docker Hub does for private repos).
      scopes.length = 0;
    }
    this.requests.push({ scopes: url.searchParams.getAll('scope'), ...(account ? { account } : {}) });
    const access = scopes.map((s) => {
      const [type, ...mid] = s.split(':');
      const actions = mid.pop()!.split(',');
      return { type, name: mid.join(':'), actions };
    });
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: 'JWT', alg: 'RS256', x5c: [this.certDer.toString('base64')] };
    const claims = { iss: this.issuer, sub: account ?? '', aud: this.service, exp: now + 300, nbf: now - 10, iat: now, jti: randomBytes(8).toString('hex'), access };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signer = createSign('RSA-SHA256');
    signer.update(input);
    const bad = this.badTokens > 0;
    if (bad) this.badTokens--;
    const token = `${input}.${b64url(signer.sign(bad ? this.rogueKey : this.key))}`;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
  }

  stop(): void {
    this.server.close();
    this.server.closeAllConnections();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

/** sha256:<hex> of bytes. */
export function digestOf(b: Buffer | string): string {
  return 'sha256:' + createHash('sha256').update(b).digest('hex');
}
