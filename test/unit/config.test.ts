import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/engine/config.js';

test('defaults, then the TOML file, then BERTH_* environment, then flags', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cfg-'));
  const file = path.join(dir, 'berth.toml');
  fs.writeFileSync(file, 'root = "/from/file"\nrunroot = "/run/file"\n[engine]\ncgroup_parent = "/fileparent"\n[containers]\npids_limit = 100\ndefault_ulimits = ["nofile=10:10"]\n');
  const empty = { BERTH_CONFIG: '' };
  assert.equal(loadConfig({}, empty).root, process.getuid?.() === 0 ? '/var/lib/berth' : loadConfig({}, empty).root);
  const c1 = loadConfig({}, { BERTH_CONFIG: file });
  assert.equal(c1.root, '/from/file');
  assert.equal(c1.cgroupParent, '/fileparent');
  assert.equal(c1.pidsLimit, 100);
  assert.deepEqual(c1.defaultUlimits, ['nofile=10:10']);
  assert.equal(c1.configFile, file);
  const c2 = loadConfig({}, { BERTH_CONFIG: file, BERTH_ROOT: '/from/env' });
  assert.equal(c2.root, '/from/env');
  assert.equal(c2.runroot, '/run/file');
  const c3 = loadConfig({ root: '/from/flag', config: file }, { BERTH_ROOT: '/from/env' });
  assert.equal(c3.root, '/from/flag');
  fs.rmSync(dir, { recursive: true });
});

test('bad config files are reported clearly', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'berth-cfg-'));
  const file = path.join(dir, 'bad.toml');
  fs.writeFileSync(file, 'root = \n');
  assert.throws(() => loadConfig({ config: file }), /is not valid TOML/);
  fs.writeFileSync(file, 'rooot = "/x"\n');
  assert.throws(() => loadConfig({ config: file }), /unknown key "rooot"/);
  fs.writeFileSync(file, '[containers]\npids_limit = "many"\n');
  assert.throws(() => loadConfig({ config: file }), /must be a number/);
  assert.throws(() => loadConfig({ config: path.join(dir, 'missing.toml') }), /cannot read config file/);
  assert.throws(() => loadConfig({ cgroupParent: 'relative' }, { BERTH_CONFIG: '' }), /must be an absolute path/);
  fs.rmSync(dir, { recursive: true });
});
