import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalizeFormat, renderList, renderOne } from '../../src/format/output.js';
import { tabwrite } from '../../src/format/tabwriter.js';
import { BerthError } from '../../src/engine/errors.js';

const rows = [
  { ID: 'abc123', Names: 'web', Image: 'nginx:latest', State: { Status: 'running' }, Labels: { tier: 'front' } },
  { ID: 'def4567890ab', Names: 'a-very-long-container-name', Image: 'alpine', State: { Status: 'exited' }, Labels: {} },
];
const opts = { headers: { ID: 'CONTAINER ID', Image: 'IMAGE' }, defaultFormat: 'table {{.ID}}\\t{{.Image}}\\t{{.Names}}' };

const DEFAULT_TABLE =
  'CONTAINER ID  IMAGE         NAMES\n' +
  'abc123        nginx:latest  web\n' +
  'def4567890ab  alpine        a-very-long-container-name\n';

test('normalizeFormat expands \\t and \\n and ends with a newline', () => {
  assert.equal(normalizeFormat('{{.ID}}\\t{{.Names}}'), '{{.ID}}\t{{.Names}}\n');
  assert.equal(normalizeFormat('a\\nb\\n'), 'a\nb\n');
  assert.equal(normalizeFormat('x\n'), 'x\n');
  // escapes inside actions are left to the template's own string syntax
  assert.equal(normalizeFormat('{{printf "%s\\n" .A}}'), '{{printf "%s\\n" .A}}\n');
});

test('no format and bare table use the default table', () => {
  assert.equal(renderList(undefined, rows, opts), DEFAULT_TABLE);
  assert.equal(renderList('', rows, opts), DEFAULT_TABLE);
  assert.equal(renderList('table', rows, opts), DEFAULT_TABLE);
});

test('table format with headers, fallbacks and alignment', () => {
  assert.equal(renderList('table {{.ID}}\\t{{.Names}}', rows, opts),
    'CONTAINER ID  NAMES\n' +
    'abc123        web\n' +
    'def4567890ab  a-very-long-container-name\n');
  assert.equal(renderList('table {{.Names}}\\t{{.State.Status}}\\t{{.ID}}', rows, opts),
    'NAMES                       STATUS      CONTAINER ID\n' +
    'web                         running     abc123\n' +
    'a-very-long-container-name  exited      def4567890ab\n');
  // real tab characters work too, and functions see the header text
  assert.equal(renderList('table {{upper .Names}}\t{{index .Labels "tier"}}', rows, opts),
    'NAMES                       TIER\n' +
    'WEB                         front\n' +
    'A-VERY-LONG-CONTAINER-NAME  <no value>\n');
  // header cells keep the column name through list/string functions (like Docker's
  // HeaderFunctions), printf keeps widths, and user functions are skipped for the header
  const multi = [{ ID: 'x1', Names: ['web', 'db'], Image: 'Nginx', Size: 2048 }];
  const human = { kib: (n: number) => `${n / 1024}KiB` };
  assert.equal(renderList('table {{join .Names ","}}\\t{{lower .Image}}\\t{{printf "%6d" .Size}}\\t{{kib .Size}}\\t{{len .Names}}', multi, { ...opts, funcs: human }),
    'NAMES       IMAGE         SIZE      SIZE        NAMES\n' +
    'web,db      nginx         2048      2KiB        2\n');
  // a table with no rows still prints its header; no trailing spaces anywhere
  assert.equal(renderList('table {{.ID}}\\t{{.Names}}', [], opts), 'CONTAINER ID  NAMES\n');
  for (const line of renderList(undefined, rows, opts).split('\n')) assert.equal(line, line.trimEnd());
});

test('plain template formats: one line per row, tabs kept, no header', () => {
  assert.equal(renderList('{{.ID}}\\t{{.Names}}', rows, opts), 'abc123\tweb\ndef4567890ab\ta-very-long-container-name\n');
  assert.equal(renderList('{{.ID}}\n', rows, opts), 'abc123\ndef4567890ab\n');
  assert.equal(renderList('{{json .Labels}}', rows, opts), '{"tier":"front"}\n{}\n');
  assert.equal(renderList('{{.Names}}', [], opts), '');
  assert.equal(renderList('tableau {{.ID}}', rows.slice(0, 1), opts), 'tableau abc123\n');
});

test('json format prints the rows as an indented array', () => {
  const small = [{ ID: 'a', N: 1 }];
  assert.equal(renderList('json', small, opts), JSON.stringify(small, null, 4) + '\n');
  assert.equal(renderList('json', [], opts), '[]\n');
  // only the exact word is special
  assert.equal(renderList('JSON', small, opts), 'JSON\n');
});

test('renderOne renders a single object with a trailing newline', () => {
  const obj = { State: { Status: 'running', ExitCode: 0 }, Config: { Env: ['PATH=/bin', 'A=1'] } };
  assert.equal(renderOne('{{.State.Status}}', obj), 'running\n');
  assert.equal(renderOne('{{.Config.Env}}\\t{{.State.ExitCode}}', obj), '[PATH=/bin A=1]\t0\n');
  assert.equal(renderOne('{{json .State}}', obj), '{"Status":"running","ExitCode":0}\n');
  assert.equal(renderOne('table {{.State.Status}}', obj), 'table running\n');
  assert.equal(renderOne('{{.X}}\n', { X: 1 }), '1\n');
});

test('template errors surface as invalid-argument', () => {
  assert.throws(() => renderList('{{.ID', rows, opts), (e: unknown) => e instanceof BerthError && e.kind === 'invalid-argument' && /unclosed action/.test(e.message));
  assert.throws(() => renderOne('{{.A.B}}', { A: 'x' }), (e: unknown) => e instanceof BerthError && /can't evaluate field B in type string/.test(e.message));
});

test('tabwriter matches Go text/tabwriter', () => {
  const table = { minwidth: 12, tabwidth: 2, padding: 2, padchar: ' ', flags: 0 };
  assert.equal(tabwrite('a\tb\tc\n', table), 'a           b           c\n');
  assert.equal(tabwrite('ID\tNAME\n1234567890123\tx\n', table), 'ID             NAME\n1234567890123  x\n');
  // minwidth 0 / padding 1: blocks are per run of lines having that column
  const go = { minwidth: 0, tabwidth: 8, padding: 1, padchar: ' ', flags: 0 };
  assert.equal(tabwrite('a\tb\tc\naaa\tbbbb\tc\nx\n\tq\tr\n', go), 'a   b    c\naaa bbbb c\nx\n q r\n');
  // a line with fewer cells ends the inner column block
  assert.equal(tabwrite('aa\tb\tc\na\tbbb\nx\ty\tz\n', go), 'aa b c\na  bbb\nx  y z\n');
  // padchar '.', right alignment, unterminated last line
  assert.equal(tabwrite('a\tbb\tc\nccc\td\te', { ...go, padchar: '.', flags: 4 }), '...a.bbc\n.ccc..de');
  assert.equal(tabwrite('', table), '');
  assert.equal(tabwrite('no tabs\n', table), 'no tabs\n');
});
