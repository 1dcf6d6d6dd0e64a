// berth logs: k8s-file and json-file logs, --tail/--since/--until/-t/-f, partial
// lines, size rotation with kept files, and bad log options.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { TestEnv } from '../helpers/env.js';

let t: TestEnv;
before(async () => { t = await TestEnv.create(); });
after(async () => { await t.cleanup(); });

const TS = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}(Z|[+-]\d\d:\d\d) /;

test('logs of an exited container keep stdout and stderr apart', async () => {
  await t.berth(['run', '--name', 'l1', 'busybox', 'sh', '-c', 'echo out1; echo err1 >&2; echo out2; echo err2 >&2']);
  const r = await t.berth(['logs', 'l1']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, 'out1\nout2\n');
  assert.equal(r.stderr, 'err1\nerr2\n');
  const c = await t.berth(['container', 'logs', 'l1']);
  assert.deepEqual([c.stdout, c.stderr], [r.stdout, r.stderr]);
});

test('--tail shows the last lines', async () => {
  await t.ok(['run', '--name', 'l2', 'busybox', 'sh', '-c', 'for i in 1 2 3 4 5; do echo $i; done']);
  assert.equal(await t.ok(['logs', '--tail', '2', 'l2']), '4\n5\n');
  assert.equal(await t.ok(['logs', '--tail', '0', 'l2']), '');
  assert.equal(await t.ok(['logs', '--tail', 'all', 'l2']), '1\n2\n3\n4\n5\n');
  assert.equal(await t.ok(['logs', '--tail', '-1', 'l2']), '1\n2\n3\n4\n5\n');
  assert.equal(await t.ok(['logs', '--tail', '9', 'l2']), '1\n2\n3\n4\n5\n');
});

test('-t prefixes timestamps; --since is inclusive, --until exclusive', async () => {
  await t.ok(['run', '--name', 'l3', 'busybox', 'sh', '-c', 'echo a; sleep 0.2; echo b; sleep 0.2; echo c']);
  const lines = (await t.ok(['logs', '-t', 'l3'])).trimEnd().split('\n');
  assert.equal(lines.length, 3);
  for (const [i, l] of lines.entries()) {
    assert.match(l, TS);
    assert.equal(l.slice(l.indexOf(' ') + 1), 'abc'[i]);
  }
  const tb = lines[1]!.split(' ')[0]!;
  assert.equal(await t.ok(['logs', '--since', tb, 'l3']), 'b\nc\n');
  assert.equal(await t.ok(['logs', '--until', tb, 'l3']), 'a\n');
  assert.equal(await t.ok(['logs', '--since', tb, '--until', lines[2]!.split(' ')[0]!, 'l3']), 'b\n');
  // The same instant as Unix seconds with nanoseconds.
  const unix = `${Math.floor(Date.parse(tb.replace(/\.\d+/, '')) / 1000)}.${/\.(\d+)/.exec(tb)![1]}`;
  assert.equal(await t.ok(['logs', '--since', unix, 'l3']), 'b\nc\n');
  assert.equal(await t.ok(['logs', '--since', '1h', 'l3']), 'a\nb\nc\n');
  assert.equal(await t.ok(['logs', '--until', '1h30m', 'l3']), '');
  assert.equal(await t.ok(['logs', '--since', '2099-01-01T00:00:00Z', 'l3']), '');
  const bad = await t.berth(['logs', '--since', 'yesterday', 'l3']);
  assert.equal(bad.code, 125);
  assert.match(bad.stderr, /invalid --since "yesterday": use an RFC 3339 time/);
});

test('partial lines are joined, and a last line without a newline is shown as it is', async () => {
  await t.ok(['run', '--name', 'l4', 'busybox', 'sh', '-c', 'printf abc; sleep 0.2; echo def; printf ghi']);
  const ctrLog = fs.readFileSync(path.join(t.root, 'containers', await id('l4'), 'ctr.log'), 'utf8');
  assert.match(ctrLog, / stdout P abc\n/, 'conmon wrote a partial record');
  assert.equal(await t.ok(['logs', 'l4']), 'abcdef\nghi');
  assert.equal(await t.ok(['logs', '--tail', '1', 'l4']), 'ghi');
  await t.ok(['run', '--name', 'l5', 'busybox', 'printf', 'abc']);
  assert.equal(await t.ok(['logs', 'l5']), 'abc');
});

test('-f streams a running container until it exits', async () => {
  await t.ok(['run', '-d', '--name', 'f1', 'busybox', 'sh', '-c', 'for i in 1 2 3 4 5 6 7 8; do echo line$i; sleep 0.1; done; echo bye >&2']);
  const r = await t.berth(['logs', '-f', 'f1'], { timeoutMs: 30_000 });
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stdout, [1, 2, 3, 4, 5, 6, 7, 8].map((i) => `line${i}\n`).join(''));
  assert.equal(r.stderr, 'bye\n');
  // On a stopped container -f prints what there is and returns.
  const last = await t.berth(['logs', '-f', '--tail', '2', 'f1']);
  assert.deepEqual([last.code, last.stdout, last.stderr], [0, 'line8\n', 'bye\n']);
});

/** Runs a chatty container with small rotation limits, rotating through `berth logs` while it runs. */
async function rotationRun(name: string, driver: string, maxFile: number, files: (dir: string, cid: string) => string[]) {
  const n = 120;
  await t.ok(['run', '-d', '--name', name, '--log-driver', driver, '--log-opt', 'max-size=1k', '--log-opt', `max-file=${maxFile}`, 'busybox', 'sh', '-c',
    `i=0; while [ $i -lt ${n} ]; do echo "line $i xxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"; i=$((i+1)); sleep 0.02; done`]);
  const cid = await id(name);
  const dir = path.join(t.root, 'containers', cid);
  const follow = t.berth(['logs', '-f', name], { timeoutMs: 60_000 });
  for (let i = 0; i < 200; i++) {
    const out = await t.ok(['logs', name]);
    checkContiguous(out);
    assert.ok(files(dir, cid).length <= maxFile, `at most ${maxFile} files: ${files(dir, cid).join(' ')}`);
    if (out.includes(`line ${n - 1} `)) break;
  }
  await t.ok(['wait', name]);
  const kept = files(dir, cid);
  assert.ok(kept.length >= 2 && kept.length <= maxFile, `kept: ${kept.join(' ')}`);
  const last = checkContiguous(await t.ok(['logs', name]));
  assert.ok(last.first > 0, 'the oldest lines were rotated away');
  assert.equal(last.last, n - 1);
  const f = await follow;
  assert.equal(f.code, 0, f.stderr);
  assert.deepEqual(checkContiguous(f.stdout), { first: 0, last: n - 1 }, '-f saw every line across rotations');
  return { dir, cid, kept };
}

function checkContiguous(out: string): { first: number; last: number } {
  const nums = out.trimEnd().split('\n').filter(Boolean).map((l) => Number(/^line (\d+) x+$/.exec(l)?.[1] ?? NaN));
  nums.forEach((v, i) => assert.ok(i === 0 || v === nums[i - 1]! + 1, `lines in order without gaps: ${nums.join(',')}`));
  return { first: nums[0] ?? -1, last: nums[nums.length - 1] ?? -1 };
}

test('rotation by size keeps max-file files and the newest content complete', async () => {
  const { dir } = await rotationRun('r1', 'k8s-file', 2, (d) => fs.readdirSync(d).filter((f) => /^ctr\.log(\.\d+)?$/.test(f)));
  assert.ok(fs.existsSync(path.join(dir, 'ctr.log.1')));
  assert.ok(!fs.existsSync(path.join(dir, 'ctr.log.2')));
});

test('a truncation by conmon\'s backstop (4x max-size, at least 1 MiB) loses nothing', async () => {
  // conmon counts bytes since it started, not since the last reopen, so >1 MiB of output truncates once.
  const n = 10_000;
  const pad = 'x'.repeat(100);
  await t.ok(['run', '-d', '--name', 'b1', '--log-opt', 'max-size=64k', '--log-opt', 'max-file=100', 'busybox', 'sh', '-c',
    `i=0; while [ $i -lt ${n} ]; do echo "line $i ${pad}"; i=$((i+1)); [ $((i % 500)) = 0 ] && sleep 0.05; done`]);
  for (let i = 0; i < 300; i++) if ((await t.ok(['logs', '--tail', '1', 'b1'])).startsWith(`line ${n - 1} `)) break;
  await t.ok(['wait', 'b1']);
  const nums = (await t.ok(['logs', 'b1'])).trimEnd().split('\n').map((l) => Number(l.split(' ')[1]));
  assert.equal(nums.length, n);
  nums.forEach((v, i) => { if (v !== i) assert.fail(`line ${i} is missing (found ${v})`); });
});

test('json-file keeps Docker\'s format, with rotation', async () => {
  await t.berth(['run', '--name', 'j1', '--log-driver', 'json-file', 'busybox', 'sh', '-c', 'echo one; echo two >&2; printf "th\\"ree"']);
  const cid = await id('j1');
  const file = path.join(t.root, 'containers', cid, `${cid}-json.log`);
  assert.equal((await t.ok(['inspect', '--format', '{{.LogPath}}', 'j1'])).trim(), file);
  const entries = fs.readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, string>);
  for (const e of entries) {
    assert.deepEqual(Object.keys(e).sort(), ['log', 'stream', 'time']);
    assert.match(e.time!, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$/);
  }
  assert.deepEqual(entries.map((e) => [e.stream, e.log]).sort(), [['stderr', 'two\n'], ['stdout', 'one\n'], ['stdout', 'th"ree']]);
  const r = await t.berth(['logs', 'j1']);
  assert.deepEqual([r.stdout, r.stderr], ['one\nth"ree', 'two\n']);
  assert.equal((await t.ok(['logs', '-t', '--tail', '1', 'j1'])).replace(TS, ''), 'th"ree');
  // Conversion happened at cleanup, and the k8s file conmon wrote is gone.
  assert.ok(!fs.existsSync(path.join(t.root, 'containers', cid, 'ctr.log')));

  const jsonFiles = (d: string, c: string) => fs.readdirSync(d).filter((f) => new RegExp(`^${c}-json\\.log(\\.\\d+)?$`).test(f));
  const { dir, kept } = await rotationRun('j2', 'json-file', 3, jsonFiles);
  for (const f of kept) {
    const text = fs.readFileSync(path.join(dir, f), 'utf8');
    assert.ok(text.length <= 1024, `${f} is within max-size`);
    for (const l of text.trimEnd().split('\n')) assert.equal((JSON.parse(l) as { stream: string }).stream, 'stdout');
  }
});

test('bad log options and the none driver are refused clearly', async () => {
  const cases: [string[], RegExp][] = [
    [['--log-opt', 'max-size=abc'], /invalid log option max-size "abc"/],
    [['--log-opt', 'bogus=1'], /unknown log option "bogus": use max-size=SIZE or max-file=N/],
    [['--log-opt', 'max-size=1k', '--log-opt', 'max-file=0'], /invalid log option max-file "0"/],
    [['--log-opt', 'max-file=2'], /max-file needs max-size/],
    [['--log-driver', 'syslog'], /invalid log driver "syslog"/],
    [['--log-driver', 'none', '--log-opt', 'max-size=1m'], /does not apply to --log-driver none/],
  ];
  for (const [flags, message] of cases) {
    const r = await t.berth(['create', ...flags, 'busybox', 'true']);
    assert.equal(r.code, 125, flags.join(' '));
    assert.match(r.stderr, message);
  }
  assert.equal((await t.ok(['ps', '-aq', '--filter', 'name=^n'])).trim(), '', 'nothing was created');
  await t.ok(['create', '--name', 'n1', '--log-driver', 'none', 'busybox', 'true']);
  const r = await t.berth(['logs', 'n1']);
  assert.equal(r.code, 125);
  assert.match(r.stderr, /uses the "none" log driver and keeps no logs/);
  assert.equal((await t.berth(['logs', '--tail', 'x', 'l1'])).code, 125);
  assert.equal((await t.berth(['logs', 'nosuch'])).code, 125);
});

async function id(name: string): Promise<string> {
  return (await t.ok(['inspect', '--format', '{{.Id}}', name])).trim();
}
