import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseVolume, parseTmpfs, parseEnv, parseEnvFile, parseSize, parseDuration, parseSignal, parseSecurityOpts, mergeEnv } from '../../src/engine/parse.js';
import { applyChanges } from '../../src/image/changes.js';
import { parseUlimit } from '../../src/runtime/ulimits.js';

test('volume and tmpfs specs', () => {
  assert.deepEqual(parseVolume('/a:/b:ro'), { type: 'bind', source: '/a', destination: '/b', options: ['ro'] });
  assert.deepEqual(parseVolume('data:/d'), { type: 'volume', source: 'data', destination: '/d', options: [] });
  assert.deepEqual(parseVolume('/anon'), { type: 'volume', source: '', destination: '/anon', options: [] });
  assert.throws(() => parseVolume('/a:rel'), /must be absolute/);
  assert.throws(() => parseVolume('/a:/b:bogus'), /invalid volume option "bogus"/);
  assert.throws(() => parseVolume('/a:/b:ro,rw'), /both ro and rw/);
  assert.deepEqual(parseTmpfs('/t:size=1m,mode=700'), { type: 'tmpfs', source: '', destination: '/t', options: ['size=1m', 'mode=700'] });
  assert.throws(() => parseTmpfs('/t:evil=1'), /invalid tmpfs option/);
});

test('environment parsing and merging', () => {
  assert.deepEqual(parseEnv(['A=1', 'B', 'C'], { B: 'host' }), ['A=1', 'B=host']);
  assert.deepEqual(parseEnv(['X*'], { X1: 'a', X2: 'b', Y: 'c' }), ['X1=a', 'X2=b']);
  assert.throws(() => parseEnv(['=x']), /name must not be empty/);
  assert.deepEqual(parseEnvFile('# c\nA=1\n\n  B=2\r\nC\n', 'f'), ['A=1', 'B=2', 'C']);
  assert.deepEqual(mergeEnv(['A=1', 'B=1'], ['B=2']), ['A=1', 'B=2']);
});

test('sizes, durations, signals, security options, ulimits', () => {
  assert.equal(parseSize('512'), 512);
  assert.equal(parseSize('64k'), 65536);
  assert.equal(parseSize('1.5g'), 1.5 * 1024 ** 3);
  assert.equal(parseSize('100MB'), 100 * 1024 ** 2);
  assert.throws(() => parseSize('12q', 'memory'), /invalid memory "12q"/);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('10'), 10_000);
  assert.throws(() => parseDuration('10x'), /invalid duration/);
  assert.equal(parseSignal('TERM'), 15);
  assert.equal(parseSignal('SIGKILL'), 9);
  assert.equal(parseSignal('sigusr1'), 10);
  assert.equal(parseSignal('37'), 37);
  assert.equal(parseSignal('RTMIN+3'), 37);
  assert.throws(() => parseSignal('SIGFOO'), /invalid signal "SIGFOO"/);
  assert.throws(() => parseSignal('99'), /invalid signal/);
  assert.deepEqual(parseSecurityOpts(['no-new-privileges']), { noNewPrivileges: true, seccompProfile: '' });
  assert.deepEqual(parseSecurityOpts(['seccomp=unconfined']), { noNewPrivileges: false, seccompProfile: 'unconfined' });
  assert.throws(() => parseSecurityOpts(['bogus']), /invalid --security-opt/);
  assert.deepEqual(parseUlimit('nofile=1024:2048'), { type: 'RLIMIT_NOFILE', soft: 1024, hard: 2048 });
  assert.throws(() => parseUlimit('nofile=10:5'), /soft limit/);
  assert.throws(() => parseUlimit('bogus=1'), /invalid ulimit/);
});

test('--change instructions', () => {
  const c = applyChanges({ Env: ['A=1'] }, ['CMD ["sh","-c","x"]', 'ENTRYPOINT /bin/run me', 'ENV B=2 C="x y"', 'ENV D 4', 'USER nobody',
    'WORKDIR=/w', 'EXPOSE 80 53/udp', 'LABEL k=v', 'VOLUME ["/v"]', 'STOPSIGNAL SIGINT']);
  assert.deepEqual(c.Cmd, ['sh', '-c', 'x']);
  assert.deepEqual(c.Entrypoint, ['/bin/sh', '-c', '/bin/run me']);
  assert.deepEqual(c.Env, ['A=1', 'B=2', 'C=x y', 'D=4']);
  assert.equal(c.User, 'nobody');
  assert.equal(c.WorkingDir, '/w');
  assert.deepEqual(c.ExposedPorts, { '80/tcp': {}, '53/udp': {} });
  assert.deepEqual(c.Labels, { k: 'v' });
  assert.deepEqual(c.Volumes, { '/v': {} });
  assert.equal(c.StopSignal, 'SIGINT');
  assert.throws(() => applyChanges({}, ['RUN x']), /invalid --change instruction "RUN"/);
  assert.throws(() => applyChanges({}, ['EXPOSE abc']), /invalid EXPOSE port/);
});

test('published port specs: addresses, ranges, protocols and errors', async () => {
  const { parsePublish } = await import('../../src/network/ports.js');
  assert.deepEqual(parsePublish('8080:80'), [{ hostIp: '', hostPort: 8080, containerPort: 80, proto: 'tcp' }]);
  assert.deepEqual(parsePublish('127.0.0.1::53/udp'), [{ hostIp: '127.0.0.1', hostPort: 0, containerPort: 53, proto: 'udp' }]);
  assert.deepEqual(parsePublish('80'), [{ hostIp: '', hostPort: 0, containerPort: 80, proto: 'tcp' }]);
  assert.deepEqual(parsePublish('9000-9001:80-81').map((p) => `${p.hostPort}>${p.containerPort}`), ['9000>80', '9001>81']);
  assert.deepEqual(parsePublish('0.0.0.0:7000:70')[0]!.hostIp, '');
  for (const bad of ['99999:80', '80:0', 'x:80', '1-3:1-2', '80/sctp', '1.2.3:80:80', '10-5:80']) {
    assert.throws(() => parsePublish(bad), /invalid|port|range|protocol|IPv4/, bad);
  }
});
