// Bridge networking against real bridges, veths, namespaces and nftables:
// names, published ports, hairpin, isolation, internal networks, connect and
// disconnect, IPAM, bad input, and a leak check after each test.
import { test, before, after, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { TestEnv, eventually } from '../helpers/env.js';

let t: TestEnv;
before(async () => { t = await TestEnv.create(); });
after(async () => { await t.cleanup(); });

/** After a test: no veth of a removed container left on our bridges, no stray namespaces or ports. */
afterEach(async () => {
  const live = new Set((await t.ok(['ps', '-q', '--no-trunc'])).trim().split('\n').filter(Boolean).map((id) => id.slice(0, 11)));
  await eventually(() => {
    const stray = fs.readdirSync('/sys/class/net').filter((n) => /^vb[0-9a-f]{11}/.test(n) && fs.existsSync(`/sys/class/net/${n}/master`) &&
      t.bridges().includes(fs.readlinkSync(`/sys/class/net/${n}/master`).split('/').pop()!) && !live.has(n.slice(2, 13)));
    return stray.length === 0;
  }, 10_000, 'veths of removed containers to disappear');
  assert.equal((await t.berth(['system', 'check'])).stdout.trim(), 'No problems found');
});

const ip = async (name: string, network = 'berth') => (await t.ok(['inspect', '-f', `{{(index .NetworkSettings.Networks "${network}").IPAddress}}`, name])).trim();
/** busybox has no UDP server: a 20-line static C echo server, built once per run. */
function udpEcho(): string {
  const bin = `${t.dir}/udp-echo`;
  if (!fs.existsSync(bin)) {
    const r = spawnSync('gcc', ['-static', '-O2', '-o', bin, 'test/fixtures/udp-echo.c'], { encoding: 'utf8' });
    assert.equal(r.status, 0, `gcc (build-essential) is needed for the UDP test: ${r.stderr}`);
  }
  return bin;
}

const hostAddr = () => spawnSync('hostname', ['-I'], { encoding: 'utf8' }).stdout.trim().split(/\s+/)[0]!;

function fetchHost(host: string, port: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ host, port }, () => s.write(`GET /hostname HTTP/1.0\r\nHost: x\r\n\r\n`));
    let data = '';
    s.setTimeout(5000, () => { s.destroy(); reject(new Error(`timeout connecting to ${host}:${port}`)); });
    s.on('data', (d) => { data += d; });
    s.on('end', () => resolve(data.split('\r\n\r\n')[1] ?? ''));
    s.on('error', reject);
  });
}

test('the default network: an address, a gateway route, generated /etc files', async () => {
  const out = await t.ok(['run', '--rm', '--name', 'd1', 'busybox', 'sh', '-c', 'ip -4 -o addr show eth0; ip route; cat /etc/resolv.conf /etc/hosts /etc/hostname']);
  const gw = t.net.defaultSubnet.replace(/0\/24$/, '1');
  assert.match(out, new RegExp(`inet ${t.net.defaultSubnet.replace(/0\/24$/, '')}\\d+/24`));
  assert.match(out, new RegExp(`default via ${gw.replace(/\./g, '\\.')}`));
  assert.match(out, new RegExp(`nameserver ${gw.replace(/\./g, '\\.')}`));
  assert.match(out, /host\.containers\.internal/);
  assert.match(out, /\sd1\n/);
  assert.match(await t.ok(['run', '--rm', '--add-host', 'db:10.1.2.3', '--add-host', 'gw:host-gateway', 'busybox', 'cat', '/etc/hosts']), /10\.1\.2\.3\tdb\n.*\tgw/s);
  assert.match(await t.ok(['run', '--rm', '--dns', '9.9.9.9', '--dns-search', 'example.org', '--dns-option', 'ndots:2', 'busybox', 'cat', '/etc/resolv.conf']),
    /search example\.org\nnameserver 9\.9\.9\.9\noptions ndots:2/);
});

test('containers on a user network resolve each other by name and alias', async () => {
  await t.ok(['network', 'create', 'app']);
  await t.ok(['run', '-d', '--name', 'web', '--network', 'app', '--network-alias', 'www', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/etc']);
  const webIp = await ip('web', 'app');
  for (const name of ['web', 'www', 'web.app']) {
    const out = await t.ok(['run', '--rm', '--network', 'app', 'busybox', 'nslookup', name]);
    assert.match(out, new RegExp(`Address: ${webIp.replace(/\./g, '\\.')}`), `${name} resolves`);
  }
  assert.equal((await t.ok(['run', '--rm', '--network', 'app', 'busybox', 'wget', '-qO-', 'http://web/hostname'])).trim().length, 12);
  const unknown = await t.berth(['run', '--rm', '--network', 'app', 'busybox', 'nslookup', 'no-such-container']);
  assert.notEqual(unknown.code, 0);
  await t.ok(['rm', '-f', 'web']);
  await t.ok(['network', 'rm', 'app']);
});

test('published ports: 127.0.0.1, a host address, hairpin, UDP, -P and port/inspect', async () => {
  await t.ok(['run', '-d', '--name', 'pub', '-p', '127.0.0.1:18391:80', '-p', '18392:80', '-p', '18393:53/udp', '--expose', '7000', '-P',
    '-v', `${udpEcho()}:/udp-echo:ro`, 'busybox', 'sh', '-c', 'httpd -p 80 -h /etc; exec /udp-echo 53']);
  const hostname = (await t.ok(['inspect', '-f', '{{.Config.Hostname}}', 'pub'])).trim();
  assert.equal((await fetchHost('127.0.0.1', 18391)).trim(), hostname);
  assert.equal((await fetchHost(hostAddr(), 18392)).trim(), hostname);
  // Hairpin: from a container (itself and a neighbour) to the host's published port.
  assert.equal((await t.ok(['exec', 'pub', 'wget', '-qO-', `http://host.containers.internal:18392/hostname`])).trim(), hostname);
  assert.equal((await t.ok(['run', '--rm', 'busybox', 'wget', '-qO-', `http://host.containers.internal:18392/hostname`])).trim(), hostname);
  // UDP.
  const dgram = await import('node:dgram');
  const reply = await new Promise<string>((resolve, reject) => {
    const s = dgram.createSocket('udp4');
    const timer = setTimeout(() => { s.close(); reject(new Error('no UDP reply')); }, 5000);
    s.on('message', (m) => { clearTimeout(timer); s.close(); resolve(m.toString()); });
    s.send('ping\n', 18393, '127.0.0.1');
  });
  assert.equal(reply, 'echo:ping\n');
  const ports = (await t.ok(['port', 'pub'])).trim().split('\n');
  assert.ok(ports.includes('80/tcp -> 127.0.0.1:18391'));
  assert.ok(ports.includes('80/tcp -> 0.0.0.0:18392'));
  assert.ok(ports.some((l) => /^7000\/tcp -> 0\.0\.0\.0:\d+$/.test(l)), '-P publishes --expose ports on a free host port');
  const portsJson = JSON.parse(await t.ok(['inspect', '-f', '{{json .NetworkSettings.Ports}}', 'pub'])) as Record<string, { HostPort: string }[]>;
  assert.equal(portsJson['80/tcp']!.length, 2);
  assert.match(await t.ok(['ps', '--format', '{{.Ports}}', '--filter', 'name=pub']), /0\.0\.0\.0:18392->80\/tcp/);
  await t.ok(['rm', '-f', 'pub']);
  await assert.rejects(fetchHost('127.0.0.1', 18392), 'the port is gone with the container');
});

test('a host port in use (by Berth or another program) is refused and nothing is half-made', async () => {
  const server = net.createServer().listen(18394, '0.0.0.0');
  await new Promise((r) => server.once('listening', r));
  try {
    const r = await t.berth(['run', '-d', '--name', 'busy', '-p', '18394:80', 'busybox', 'sleep', '100']);
    assert.equal(r.code, 125);
    assert.match(r.stderr, /18394.*in use by another program/);
  } finally {
    server.close();
  }
  await t.ok(['run', '-d', '--name', 'holder', '-p', '18395:80', 'busybox', 'sleep', '100']);
  const clash = await t.berth(['run', '-d', '--name', 'clash', '-p', '18395:80', 'busybox', 'sleep', '100']);
  assert.equal(clash.code, 125);
  assert.match(clash.stderr, /18395/);
  for (const name of ['busy', 'clash']) {
    assert.match(await t.ok(['inspect', '-f', '{{.State.Status}}', name]), /created/);
    await t.ok(['rm', name]);
  }
  await t.ok(['rm', '-f', 'holder']);
  for (const bad of [['-p', '99999:80'], ['-p', '80:0'], ['-p', 'x:80'], ['-p', '1-3:1-2'], ['-p', '80/sctp'], ['--ip', '300.1.1.1']]) {
    const b = await t.berth(['run', '--rm', ...bad, 'busybox', 'true']);
    assert.equal(b.code, 125, bad.join(' '));
  }
});

test('a network setup that fails inside the namespace fails the start and leaves no namespace, port or address', async () => {
  // Fault injection: the real ip does all the work, except that configuring inside the
  // container's namespace fails (as the kernel would refuse an address), while the
  // published port's nft transaction runs at the same time.
  const bin = fs.mkdtempSync(path.join(t.dir, 'faulty-ip-'));
  const realIp = spawnSync('sh', ['-c', 'command -v ip'], { encoding: 'utf8' }).stdout.trim();
  fs.writeFileSync(path.join(bin, 'ip'), `#!/bin/sh\ncase "$*" in *"-n berth-"*) echo "RTNETLINK answers: Cannot assign requested address" >&2; echo "Command failed -:2" >&2; exit 1;; esac\nexec ${realIp} "$@"\n`, { mode: 0o755 });
  const id = (await t.ok(['create', '--name', 'vfail', '-p', '18396:80', 'busybox', 'sleep', '100'])).trim();
  const r = await t.berth(['start', 'vfail'], { env: { ...t.env, PATH: `${bin}:${process.env.PATH}` } });
  assert.equal(r.code, 125);
  assert.match(r.stderr, /network setup failed inside network namespace berth-\w+: "ip link set eth0 address [0-9a-f:]+": RTNETLINK answers: Cannot assign requested address/);
  assert.equal(fs.existsSync(`/run/netns/berth-${id.slice(0, 16)}`), false, 'namespace left behind');
  const table = spawnSync('nft', ['list', 'table', 'ip', t.net.table], { encoding: 'utf8' }).stdout;
  assert.doesNotMatch(table, /18396/, 'published port left in nftables');
  assert.match(await t.ok(['inspect', '-f', '{{.State.Status}}', 'vfail']), /created/);
  // The port and the address were released: the same container starts now.
  await t.ok(['start', 'vfail']);
  assert.match(await ip('vfail'), /^10\./);
  await t.ok(['rm', '-f', 'vfail']);
});

test('stopped and started again at once, a container gets its network back (the old veth is still going away)', async () => {
  const id = (await t.ok(['run', '-d', '--name', 'quick', 'busybox', 'sleep', '100'])).trim();
  for (let i = 0; i < 3; i++) {
    await t.ok(['restart', '-t', '0', 'quick']);
    assert.match(await ip('quick'), /^10\./);
  }
  // Holding the old namespace open keeps its veth alive, as a slow kernel teardown would.
  const hold = fs.openSync(`/run/netns/berth-${id.slice(0, 16)}`, 'r');
  try {
    await t.ok(['restart', '-t', '0', 'quick']);
  } finally {
    fs.closeSync(hold);
  }
  assert.match(await ip('quick'), /^10\./);
  await t.ok(['stop', '-t', '0', 'quick']);
  await t.ok(['start', 'quick']);
  assert.equal((await t.ok(['exec', 'quick', 'sh', '-c', 'ip -4 addr show eth0 | grep -c inet'])).trim(), '1');
  await t.ok(['rm', '-f', 'quick']);
});

test('networks are isolated from each other; internal networks have no way out', async () => {
  await t.ok(['network', 'create', 'left']);
  await t.ok(['network', 'create', 'right']);
  await t.ok(['network', 'create', '--internal', 'closed']);
  await t.ok(['run', '-d', '--name', 'l1', '--network', 'left', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/etc']);
  const l1 = await ip('l1', 'left');
  // busybox nc has no -z: connect with empty input.
  const probe = (network: string, addr: string, port: number) => t.berth(['run', '--rm', '--network', network, 'busybox', 'sh', '-c', `echo | nc -w 2 ${addr} ${port}`]);
  assert.equal((await probe('left', l1, 80)).code, 0, 'same network: reachable');
  assert.notEqual((await probe('right', l1, 80)).code, 0, 'other network: isolated');
  const internal = await t.ok(['run', '--rm', '--network', 'closed', 'busybox', 'ip', 'route']);
  assert.doesNotMatch(internal, /default/, 'no route out of an internal network');
  const gw = (JSON.parse(await t.ok(['network', 'inspect', 'left'])) as { IPAM: { Config: { Gateway: string }[] } }[])[0]!.IPAM.Config[0]!.Gateway;
  assert.notEqual((await probe('closed', l1, 80)).code, 0, 'an internal network reaches nothing outside it');
  void gw;
  await t.ok(['rm', '-f', 'l1']);
  await t.ok(['network', 'rm', 'left', 'right', 'closed']);
});

test('egress is masqueraded to the outside', async () => {
  // A fake "outside" host: a namespace behind a veth on the host, with a server that reports who called.
  const ns = `bto${process.pid}`;
  const sh = (cmd: string) => spawnSync('sh', ['-c', cmd], { encoding: 'utf8' });
  sh(`ip netns add ${ns}; ip link add ${ns}a type veth peer name eth0 netns ${ns}; ip addr add 172.31.250.1/30 dev ${ns}a; ip link set ${ns}a up;` +
     `ip -n ${ns} addr add 172.31.250.2/30 dev eth0; ip -n ${ns} link set eth0 up; ip -n ${ns} link set lo up`);
  const { spawn } = await import('node:child_process');
  const server = spawn('ip', ['netns', 'exec', ns, process.execPath, '-e',
    "require('net').createServer((s) => { s.end('peer=' + s.remoteAddress + '\\n'); }).listen(9000, () => console.log('up'))"]);
  try {
    await new Promise((r) => server.stdout.once('data', r));
    const out = await t.ok(['run', '--rm', 'busybox', 'sh', '-c', 'echo | nc -w 3 172.31.250.2 9000']);
    assert.match(out.trim(), /^peer=(::ffff:)?172\.31\.250\.1$/, 'the container appears as the host');
  } finally {
    server.kill();
    sh(`ip link del ${ns}a; ip netns del ${ns}`);
  }
});

test('connect and disconnect a running container', async () => {
  await t.ok(['network', 'create', 'extra']);
  await t.ok(['run', '-d', '--name', 'srv', '--network', 'extra', 'busybox', 'httpd', '-f', '-p', '80', '-h', '/etc']);
  await t.ok(['run', '-d', '--name', 'cli', 'busybox', 'sleep', '1000']);
  assert.notEqual((await t.berth(['exec', 'cli', 'nslookup', 'srv'])).code, 0, 'not on the same network yet');
  await t.ok(['network', 'connect', '--alias', 'client', 'extra', 'cli']);
  assert.match(await t.ok(['exec', 'cli', 'ip', '-o', '-4', 'addr']), /eth1/);
  assert.equal((await t.ok(['exec', 'cli', 'wget', '-qO-', 'http://srv/hostname'])).trim().length, 12);
  assert.match(await t.ok(['exec', 'srv', 'nslookup', 'client']), /Address: /);
  await t.ok(['network', 'disconnect', 'extra', 'cli']);
  assert.doesNotMatch(await t.ok(['exec', 'cli', 'ip', '-o', '-4', 'addr']), /eth1/);
  assert.equal((await t.berth(['network', 'connect', 'extra', 'ghost'])).code, 125);
  assert.equal((await t.berth(['network', 'disconnect', 'extra', 'cli'])).code, 125);
  // A network in use cannot be removed; -f removes its containers.
  const inUse = await t.berth(['network', 'rm', 'extra']);
  assert.equal(inUse.code, 125);
  assert.match(inUse.stderr, /used by container srv/);
  await t.ok(['network', 'rm', '-f', 'extra']);
  assert.equal((await t.berth(['container', 'exists', 'srv'])).code, 1);
  await t.ok(['rm', '-f', 'cli']);
});

test('network create/ls/inspect/rm/prune/exists and bad input', async () => {
  const sub = `10.${t.net.octet}.100.0/24`;
  await t.ok(['network', 'create', '--subnet', sub, '--gateway', `10.${t.net.octet}.100.254`, '--ip-range', `10.${t.net.octet}.100.128/25`,
    '--label', 'team=a', '--opt', 'mtu=1400', 'custom']);
  const [n] = JSON.parse(await t.ok(['network', 'inspect', 'custom'])) as { IPAM: { Config: { Subnet: string; Gateway: string }[] }; Labels: Record<string, string>; Internal: boolean }[];
  assert.equal(n!.IPAM.Config[0]!.Subnet, sub);
  assert.equal(n!.Labels.team, 'a');
  const out = await t.ok(['run', '--rm', '--network', 'custom', 'busybox', 'sh', '-c', 'ip -o -4 addr show eth0; cat /sys/class/net/eth0/mtu']);
  assert.match(out, new RegExp(`10\\.${t.net.octet}\\.100\\.(12[89]|1[3-9]\\d|2[0-4]\\d|25[0-3])/24`), 'from the ip range');
  assert.match(out, /1400/);
  assert.match(await t.ok(['run', '--rm', '--network', 'custom', '--ip', `10.${t.net.octet}.100.77`, '--mac-address', '02:11:22:33:44:55', 'busybox', 'ip', 'addr', 'show', 'eth0']),
    /02:11:22:33:44:55.*10\.\d+\.100\.77/s);
  assert.match(await t.ok(['network', 'ls', '--format', '{{.Name}}']), /custom/);
  assert.equal((await t.berth(['network', 'exists', 'custom'])).code, 0);
  assert.equal((await t.berth(['network', 'exists', 'nope'])).code, 1);
  for (const bad of [
    ['network', 'create', '--subnet', sub, 'overlap'], ['network', 'create', '--subnet', '10.0.0.1/24', 'hostbits'],
    ['network', 'create', '--subnet', 'banana', 'bad'], ['network', 'create', 'custom'], ['network', 'create', 'bad name'],
    ['network', 'create', '--opt', 'frob=1', 'bad2'], ['network', 'rm', t.net.prefix === '' ? 'x' : 'berth'], ['network', 'rm', 'nope'],
  ]) {
    const r = await t.berth(bad);
    assert.notEqual(r.code, 0, bad.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, `one clear line: ${r.stderr}`);
  }
  assert.equal((await t.berth(['run', '--rm', '--network', 'nope', 'busybox', 'true'])).code, 125);
  assert.deepEqual((await t.ok(['network', 'prune', '-f'])).trim().split('\n'), ['custom']);
});

test('IPAM: many concurrent runs never share an address, and addresses are released', async () => {
  await t.ok(['network', 'create', '--subnet', `10.${t.net.octet}.101.0/28`, 'small']);
  // A /28 has 13 usable addresses (not the network, the gateway or the broadcast).
  const runs = await Promise.all(Array.from({ length: 13 }, (_, i) => t.berth(['run', '-d', '--name', `ip${i}`, '--network', 'small', 'busybox', 'sleep', '1000'])));
  const ok = runs.filter((r) => r.code === 0).length;
  assert.equal(ok, 13, runs.map((r) => r.stderr).join(''));
  const ips = await Promise.all(Array.from({ length: 13 }, (_, i) => ip(`ip${i}`, 'small')));
  assert.equal(new Set(ips).size, 13, `distinct addresses: ${ips}`);
  const full = await t.berth(['run', '-d', '--name', 'ipx', '--network', 'small', 'busybox', 'sleep', '1000']);
  assert.equal(full.code, 125);
  assert.match(full.stderr, /no free address/);
  await t.ok(['rm', '-f', ...Array.from({ length: 13 }, (_, i) => `ip${i}`), 'ipx']);
  await t.ok(['run', '--rm', '--network', 'small', 'busybox', 'true']);
  await t.ok(['network', 'rm', 'small']);
});

test('--network none, host and container:ID', async () => {
  assert.equal((await t.ok(['run', '--rm', '--network', 'none', 'busybox', 'ls', '/sys/class/net'])).trim(), 'lo');
  await t.ok(['run', '-d', '--name', 'owner', 'busybox', 'httpd', '-f', '-p', '8080', '-h', '/etc']);
  const own = await ip('owner');
  const out = await t.ok(['run', '--rm', '--network', 'container:owner', 'busybox', 'sh', '-c', 'ip -o -4 addr show eth0; wget -qO- http://127.0.0.1:8080/hostname']);
  assert.match(out, new RegExp(own.replace(/\./g, '\\.')));
  assert.equal((await t.berth(['run', '--rm', '--network', 'container:ghost', 'busybox', 'true'])).code, 125);
  await t.ok(['rm', '-f', 'owner']);
});

test('killed in the middle of network setup: the next command releases the namespace and address', async () => {
  await t.ok(['create', '--name', 'crashy', '-p', '18396:80', 'busybox', 'sleep', '1000']);
  const id = (await t.ok(['inspect', '-f', '{{.Id}}', 'crashy'])).trim();
  const r = await t.berth(['start', 'crashy'], { env: { ...t.env, BERTH_CRASH_AT: 'start:network' } });
  assert.equal(r.code, -1, 'berth died of SIGKILL');
  assert.ok(fs.existsSync(`/run/netns/berth-${id.slice(0, 16)}`), 'the crash left a namespace behind');
  await t.ok(['network', 'ls']);
  await t.ok(['create', '--name', 'poke', 'busybox', 'true']); // the next change repairs
  assert.ok(!fs.existsSync(`/run/netns/berth-${id.slice(0, 16)}`), 'namespace released');
  // The port and the address are free again: the same container starts and publishes it.
  await t.ok(['start', 'crashy']);
  assert.match(await t.ok(['port', 'crashy']), /18396/);
  await t.ok(['rm', '-f', 'crashy', 'poke']);
  const pruned = await t.ok(['system', 'prune', '-f']);
  assert.match(pruned, /Total reclaimed space/);
});
