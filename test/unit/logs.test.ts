import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseK8sLine, parseJsonLine, displayTime, LineSplitter, validateLogConfig } from '../../src/engine/logs.js';
import { parseTimestamp, timestampNs } from '../../src/engine/parse.js';

const b = (s: string) => Buffer.from(s);

test('k8s-file lines', () => {
  const r = parseK8sLine(b('2026-11-22T18:56:21.288582469+00:00 stdout F out 0'))!;
  assert.deepEqual([r.stream, r.partial, r.content.toString(), r.time], ['stdout', false, 'out 0', '2026-11-22T18:56:21.288582469+00:00']);
  assert.equal(r.ns, 1795373781288582469n);
  assert.equal(parseK8sLine(b('2026-11-22T18:56:21.1+00:00 stderr P  a b '))!.content.toString(), ' a b ');
  assert.equal(parseK8sLine(b('2026-11-22T18:56:21.1+00:00 stderr P'))!.partial, true);
  assert.equal(parseK8sLine(b('2026-11-22T18:56:21.1+00:00 stdout F'))!.content.length, 0);
  for (const bad of ['', 'garbage', '2026-11-22T18:56:21Z stdin F x', 'yesterday stdout F x']) assert.equal(parseK8sLine(b(bad)), undefined, bad);
});

test('json-file lines', () => {
  const r = parseJsonLine(b('{"log":"hi\\n","stream":"stderr","time":"2026-01-02T03:04:05.123456789Z"}'))!;
  assert.deepEqual([r.stream, r.partial, r.content.toString()], ['stderr', false, 'hi']);
  assert.equal(parseJsonLine(b('{"log":"abc","stream":"stdout","time":"2026-01-02T03:04:05Z"}'))!.partial, true);
  for (const bad of ['{', '{"log":1,"stream":"stdout","time":"2026-01-02T03:04:05Z"}', '{"log":"x","stream":"x","time":"2026-01-02T03:04:05Z"}']) {
    assert.equal(parseJsonLine(b(bad)), undefined, bad);
  }
});

test('times: RFC 3339 with offsets, Unix seconds, durations, and -t display', () => {
  assert.equal(timestampNs('2026-01-02T03:04:05Z'), 1767323045000000000n);
  assert.equal(timestampNs('2026-01-02T04:04:05.5+01:00'), 1767323045500000000n);
  assert.equal(timestampNs('2026-01-02T03:04:05.000000001Z'), 1767323045000000001n);
  assert.equal(timestampNs('tomorrow'), undefined);
  assert.equal(parseTimestamp('1767323045.000000001', '--since'), 1767323045000000001n);
  assert.equal(parseTimestamp('1767323045', '--since'), 1767323045000000000n);
  assert.equal(parseTimestamp('1h30m', '--since', 10_000_000_000_000n), 10_000_000_000_000n - 5_400_000_000_000n);
  assert.throws(() => parseTimestamp('10x', '--until'), /invalid --until "10x"/);
  assert.equal(displayTime('2026-11-22T18:56:21.2885+00:00'), '2026-11-22T18:56:21.288500000Z');
  assert.equal(displayTime('2026-11-22T18:56:21.288582469+02:00'), '2026-11-22T18:56:21.288582469+02:00');
  assert.equal(displayTime('2026-11-22T18:56:21Z'), '2026-11-22T18:56:21.000000000Z');
});

test('line splitting keeps an unfinished line for the next chunk', () => {
  const s = new LineSplitter();
  assert.deepEqual(s.push(b('a\nb')).map(String), ['a']);
  assert.equal(s.pending, 1);
  assert.deepEqual(s.push(b('c\n\nd')).map(String), ['bc', '']);
  assert.equal(s.pending, 1);
});

test('log options', () => {
  validateLogConfig('json-file', { 'max-size': '10m', 'max-file': '3' });
  validateLogConfig('k8s-file', {});
  assert.throws(() => validateLogConfig('journald', {}), /invalid log driver "journald"/);
  assert.throws(() => validateLogConfig('k8s-file', { tag: 'x' }), /unknown log option "tag"/);
  assert.throws(() => validateLogConfig('k8s-file', { 'max-size': '1k', 'max-file': 'two' }), /max-file "two"/);
  assert.throws(() => validateLogConfig('k8s-file', { 'max-size': '-1' }), /max-size "-1"/);
});
