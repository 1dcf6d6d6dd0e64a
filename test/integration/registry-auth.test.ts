// Registry TLS and authentication against docker-registry: HTTPS with a CA
// made by the test (certs.d, --cert-dir, NODE_EXTRA_CA_CERTS, --tls-verify=false), htpasswd basic
// auth with login/logout and the credential files, and the bearer-token flow
// with a token server written for the test (token cache and renewal on 401).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TestEnv } from '../helpers/env.js';
import { Registry, TokenServer, makeCA, type TestCA } from '../helpers/registry.js';

let t: TestEnv;
let ca: TestCA;
const stops: (() => void)[] = [];
const envs: TestEnv[] = [];

before(async () => {
  t = await TestEnv.create();
  ca = makeCA(path.join(t.dir, 'ca'));
});
after(async () => {
  for (const s of stops) s();
  for (const e of envs) await e.cleanup();
  await t?.cleanup();
});

test('HTTPS: unknown CAs are refused with a hint, certs.d and --cert-dir add them, --tls-verify=false skips them', async () => {
  const reg = await Registry.start({ tls: ca });
  stops.push(() => reg.stop());
  const ref = `${reg.host}/tls/bb:1`;
  const refused = await t.berth(['push', 'busybox', ref]);
  assert.equal(refused.code, 125);
  assert.match(refused.stderr, /registry 127\.0\.0\.1:\d+ presented a certificate signed by an unknown authority \(\w+\): put its CA certificate in .*certs\.d\/127\.0\.0\.1:\d+\/ca\.crt, or use --tls-verify=false/);
  assert.equal(refused.stderr.trim().split('\n').length, 2, refused.stderr); // the progress header and one error line
  assert.equal((await t.berth(['push', '-q', '--tls-verify=false', 'busybox', ref])).code, 0);
  // NODE_EXTRA_CA_CERTS is honoured, though the launcher keeps Node from parsing it at start-up.
  const extraEnv: NodeJS.ProcessEnv = { ...t.env, NODE_EXTRA_CA_CERTS: ca.caCert };
  delete extraEnv.BERTH_EXTRA_CA_CERTS;
  const viaExtra = await t.berth(['pull', '-q', ref], { env: extraEnv });
  assert.equal(viaExtra.code, 0, viaExtra.stderr);
  // --cert-dir, then the per-registry directory under BERTH_CERTS_DIR.
  const certDir = path.join(t.dir, 'my-certs');
  fs.mkdirSync(certDir);
  fs.copyFileSync(ca.caCert, path.join(certDir, 'ca.crt'));
  assert.equal((await t.berth(['pull', '-q', '--cert-dir', certDir, ref])).code, 0);
  const hostDir = path.join(t.dir, 'certs.d', reg.host);
  fs.mkdirSync(hostDir, { recursive: true });
  fs.copyFileSync(ca.caCert, path.join(hostDir, 'ca.crt'));
  const pulled = await t.berth(['pull', ref]);
  assert.equal(pulled.code, 0, pulled.stderr);
  // A plain-HTTP registry is refused when TLS is required.
  const plain = await Registry.start();
  stops.push(() => plain.stop());
  const http = await t.berth(['push', '--tls-verify=true', 'busybox', `${plain.host}/x/bb:1`]);
  assert.equal(http.code, 125);
  assert.match(http.stderr, /does not speak HTTPS: if you trust the network, use --tls-verify=false/);
});

test('basic auth: login checks the password, stores it, push and pull use it, logout removes it', async () => {
  const reg = await Registry.start({ users: { alice: 's3cret' } });
  stops.push(() => reg.stop());
  const ref = `${reg.host}/private/bb:1`;
  const authFile = path.join(t.dir, 'auth.json');
  const anon = await t.berth(['push', 'busybox', ref]);
  assert.equal(anon.code, 125);
  assert.match(anon.stderr, /requires authentication .*run "berth login 127\.0\.0\.1:\d+"/);
  const wrong = await t.berth(['login', '-u', 'alice', '-p', 'nope', reg.host]);
  assert.equal(wrong.code, 125);
  assert.match(wrong.stderr, /logging in to 127\.0\.0\.1:\d+ failed: wrong user name or password/);
  assert.equal(fs.existsSync(authFile), false, 'nothing stored for a failed login');
  const noPass = await t.berth(['login', '-u', 'alice', reg.host]);
  assert.match(noPass.stderr, /give a password with --password-stdin/);
  const ok = await t.berth(['login', '-u', 'alice', '--password-stdin', reg.host], { input: 's3cret\n' });
  assert.equal(ok.code, 0, ok.stderr);
  assert.equal(ok.stdout, 'Login Succeeded!\n');
  const stored = JSON.parse(fs.readFileSync(authFile, 'utf8')) as { auths: Record<string, { auth: string }> };
  assert.equal(Buffer.from(stored.auths[reg.host]!.auth, 'base64').toString(), 'alice:s3cret');
  assert.equal(fs.statSync(authFile).mode & 0o777, 0o600);
  assert.equal(await t.ok(['login', '--get-login', reg.host]), 'alice\n');
  // Logging in again with the stored credentials.
  assert.match(await t.ok(['login', reg.host]), /Authenticating with existing credentials for 127\.0\.0\.1:\d+\nLogin Succeeded!/);
  const pushed = await t.berth(['push', 'busybox', ref]);
  assert.equal(pushed.code, 0, pushed.stderr);

  // Another store without credentials: refused, then --creds, then Docker's config.json.
  const u = await TestEnv.create({ bootstrap: false });
  envs.push(u);
  assert.match((await u.berth(['pull', ref])).stderr, /requires authentication/);
  assert.match((await u.berth(['pull', '--creds', 'alice:bad', ref])).stderr, /refused the credentials of "alice"/);
  assert.equal((await u.berth(['pull', '-q', '--creds', 'alice:s3cret', ref])).code, 0);
  const home = path.join(u.dir, 'home');
  fs.mkdirSync(path.join(home, '.docker'), { recursive: true });
  fs.writeFileSync(path.join(home, '.docker', 'config.json'), JSON.stringify({ auths: { [`http://${reg.host}`]: { auth: Buffer.from('alice:s3cret').toString('base64') } } }));
  const env: NodeJS.ProcessEnv = { ...u.env, HOME: home };
  delete env.BERTH_AUTH_FILE;
  delete env.XDG_RUNTIME_DIR;
  delete env.DOCKER_CONFIG;
  const viaDocker = await u.berth(['pull', '-q', ref], { env });
  assert.equal(viaDocker.code, 0, viaDocker.stderr);
  const dockerLogout = await u.berth(['logout', reg.host], { env });
  assert.match(dockerLogout.stderr, /not logged into 127\.0\.0\.1:\d+ with berth; the credentials in Docker's config.json were not removed/);
  // --authfile names the file to use.
  const custom = path.join(u.dir, 'custom-auth.json');
  await u.ok(['login', '--authfile', custom, '-u', 'alice', '-p', 's3cret', reg.host]);
  assert.ok(fs.existsSync(custom));
  assert.equal((await u.berth(['pull', '-q', '--authfile', custom, ref])).code, 0);

  assert.equal(await t.ok(['logout', reg.host]), `Removed login credentials for ${reg.host}\n`);
  const again = await t.berth(['logout', reg.host]);
  assert.equal(again.code, 125);
  assert.match(again.stderr, /not logged into 127\.0\.0\.1:\d+/);
  assert.match((await t.berth(['push', 'busybox', ref])).stderr, /requires authentication/);
  assert.equal(await t.ok(['logout', '--all']), 'Removed login credentials for all registries\n');
});

test('bearer tokens: login through the token server, one token per scope, renewed after a 401', async () => {
  const tok = await TokenServer.start({ bob: 'hunter2' });
  stops.push(() => tok.stop());
  const reg = await Registry.start({ token: tok });
  stops.push(() => reg.stop());
  const ref = `${reg.host}/tok/bb:1`;
  const anon = await t.berth(['push', 'busybox', ref]);
  assert.equal(anon.code, 125);
  assert.match(anon.stderr, /requires authentication .*berth login/);
  const wrong = await t.berth(['login', '-u', 'bob', '-p', 'nope', reg.host]);
  assert.equal(wrong.code, 125);
  assert.match(wrong.stderr, /the token server at 127\.0\.0\.1:\d+ refused user "bob"/);
  await t.ok(['login', '-u', 'bob', '-p', 'hunter2', reg.host]);

  tok.requests = [];
  const pushed = await t.berth(['push', 'busybox', ref]);
  assert.equal(pushed.code, 0, pushed.stderr);
  // HEAD, POST, PUT of the blobs and the manifest all share one token.
  assert.deepEqual(tok.requests, [{ scopes: ['repository:tok/bb:pull,push'], account: 'bob' }]);

  tok.requests = [];
  tok.badTokens = 1; // the registry refuses the first token: the client must fetch another
  const u = await TestEnv.create({ bootstrap: false });
  envs.push(u);
  const pulled = await u.berth(['pull', '--creds', 'bob:hunter2', ref]);
  assert.equal(pulled.code, 0, pulled.stderr);
  assert.equal(tok.requests.length, 2, JSON.stringify(tok.requests));
  assert.ok(tok.requests.every((r) => r.scopes[0] === 'repository:tok/bb:pull'));
});
