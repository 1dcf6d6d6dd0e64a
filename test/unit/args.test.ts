import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseArgs, type FlagSpec } from '../../src/cli/args.js';

const specs: FlagSpec[] = [
  { name: 'rm', type: 'bool', help: '' },
  { name: 'interactive', short: 'i', type: 'bool', help: '' },
  { name: 'tty', short: 't', type: 'bool', help: '' },
  { name: 'env', short: 'e', type: 'strings', help: '' },
  { name: 'name', type: 'string', help: '' },
  { name: 'time', short: 'n', type: 'int', help: '' },
];

test('long, short, clustered, = forms and lists', () => {
  const p = parseArgs(['--rm', '-it', '-e', 'A=1', '-eB=2', '--env=C=3', '--name', 'x', '-n=5', 'img', 'cmd'], specs, { interspersed: true, command: 'run' });
  assert.equal(p.flags.rm, true);
  assert.equal(p.flags.interactive, true);
  assert.equal(p.flags.tty, true);
  assert.deepEqual(p.flags.env, ['A=1', 'B=2', 'C=3']);
  assert.equal(p.flags.name, 'x');
  assert.equal(p.flags.time, 5);
  assert.deepEqual(p.args, ['img', 'cmd']);
});

test('flags stop at the first positional when not interspersed (run IMAGE CMD --flag)', () => {
  const p = parseArgs(['--rm', 'img', 'ls', '--rm', '-e', 'x'], specs, { interspersed: false, command: 'run' });
  assert.deepEqual(p.args, ['img', 'ls', '--rm', '-e', 'x']);
  const q = parseArgs(['-t', '--', '-x'], specs, { interspersed: true, command: 'x' });
  assert.deepEqual(q.args, ['-x']);
});

test('bools take =false; bad input is reported with a hint', () => {
  assert.equal(parseArgs(['--rm=false'], specs, { interspersed: true, command: 'run' }).flags.rm, false);
  assert.throws(() => parseArgs(['--bogus'], specs, { interspersed: true, command: 'run' }), /unknown flag: --bogus. See 'berth run --help'/);
  assert.throws(() => parseArgs(['-z'], specs, { interspersed: true, command: 'run' }), /unknown shorthand flag: 'z'/);
  assert.throws(() => parseArgs(['--name'], specs, { interspersed: true, command: 'run' }), /flag needs an argument: --name/);
  assert.throws(() => parseArgs(['--time', 'x'], specs, { interspersed: true, command: 'run' }), /expected an integer/);
  assert.throws(() => parseArgs(['--rm=maybe'], specs, { interspersed: true, command: 'run' }), /expected true or false/);
});
