import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTemplate, type TemplateFuncs } from '../../src/format/template.js';
import { BerthError } from '../../src/engine/errors.js';

const run = (tpl: string, data?: unknown, funcs?: TemplateFuncs): string => parseTemplate(tpl, funcs).execute(data);

/** Assert that parsing or executing fails with an invalid-argument BerthError matching re. */
function fails(tpl: string, re: RegExp, data?: unknown): void {
  assert.throws(() => run(tpl, data), (e: unknown) => {
    assert.ok(e instanceof BerthError, `expected BerthError, got ${String(e)}`);
    assert.equal(e.kind, 'invalid-argument');
    assert.match(e.message, /^template: /);
    assert.match(e.message, re);
    return true;
  });
}

const ctr = {
  Id: 'f00ba4',
  Name: 'web',
  Names: ['web', 'frontend'],
  State: { Running: true, ExitCode: 137, Status: 'running', Pid: 4242 },
  Config: { Env: ['PATH=/bin', 'A=1'], Cmd: ['sh'] },
  Labels: { a: 'alpha', 'com.example': 'yes' },
  Mounts: [{ Destination: '/data', RW: true }, { Destination: '/cache', RW: false }],
  Size: 0,
  Ratio: 0.25,
  Label(this: { Labels: Record<string, string> }, key: string) { return this.Labels[key] ?? ''; },
};

test('text, fields and realistic container fields', () => {
  assert.equal(run('plain text', ctr), 'plain text');
  assert.equal(run('', ctr), '');
  assert.equal(run('{{.State.ExitCode}}', ctr), '137');
  assert.equal(run('{{.Config.Env}}', ctr), '[PATH=/bin A=1]');
  assert.equal(run('{{json .Config}}', ctr), '{"Env":["PATH=/bin","A=1"],"Cmd":["sh"]}');
  assert.equal(run('{{index .Labels "a"}}', ctr), 'alpha');
  assert.equal(run('{{range .Mounts}}{{.Destination}} {{end}}', ctr), '/data /cache ');
  assert.equal(run('{{if .State.Running}}up{{else}}down{{end}}', ctr), 'up');
  assert.equal(run('{{if .Size}}up{{else}}down{{end}}', ctr), 'down');
  assert.equal(run('{{len .Names}}', ctr), '2');
  assert.equal(run('{{printf "%-10s|" .Name}}', ctr), 'web       |');
  assert.equal(run('{{upper .Name}}', ctr), 'WEB');
  assert.equal(run('{{join .Names ","}}', ctr), 'web,frontend');
  assert.equal(run('id={{.Id}} pid={{.State.Pid}}\n', ctr), 'id=f00ba4 pid=4242\n');
});

test('missing values and nil receivers print <no value>', () => {
  assert.equal(run('{{.Nope}}', ctr), '<no value>');
  assert.equal(run('{{.Nope.Deeper.Still}}', ctr), '<no value>');
  assert.equal(run('{{.A}}', null), '<no value>');
  assert.equal(run('{{.}}', undefined), '<no value>');
  assert.equal(run('{{index .Labels "missing"}}', ctr), '<no value>');
  assert.equal(run('{{.k}}', new Map([['k', 'from-map']])), 'from-map');
  assert.equal(run('{{.constructor}}', {}), '<no value>');
  assert.equal(run('{{.Names}}', { Names: [null, 'x'] }), '[<nil> x]');
});

test('value printing follows fmt %v', () => {
  assert.equal(run('{{.}}', 'str'), 'str');
  assert.equal(run('{{.}}', 42), '42');
  assert.equal(run('{{.}}', 1.5), '1.5');
  assert.equal(run('{{.}}', 1e6), '1000000');
  assert.equal(run('{{.}}', 1234567.5), '1.2345675e+06');
  assert.equal(run('{{.}}', 0.00001), '1e-05');
  assert.equal(run('{{.}}', true), 'true');
  assert.equal(run('{{.}}', ['a', 1, false]), '[a 1 false]');
  assert.equal(run('{{.}}', { b: 2, a: 1, c: [1, 2] }), 'map[a:1 b:2 c:[1 2]]');
  assert.equal(run('{{.}}', new Map<string, unknown>([['z', 1], ['y', { q: 'r' }]])), 'map[y:map[q:r] z:1]');
  assert.equal(run('{{.}}', new Date('2024-01-02T03:04:05.000Z')), '2024-01-02T03:04:05.000Z');
  assert.equal(run('{{.}}', []), '[]');
  assert.equal(run('{{.}}', {}), 'map[]');
});

test('dot, $ and variables', () => {
  assert.equal(run('{{with .State}}{{.Status}} of {{$.Name}}{{end}}', ctr), 'running of web');
  assert.equal(run('{{$x := .Name}}{{$x}}-{{$x}}', ctr), 'web-web');
  assert.equal(run('{{$x := 1}}{{if true}}{{$x = 2}}{{end}}{{$x}}', ctr), '2');
  assert.equal(run('{{$s := .State}}{{$s.Pid}}', ctr), '4242');
  assert.equal(run('{{if $v := .Name}}{{$v}}{{end}}', ctr), 'web');
  fails('{{$x}}', /undefined variable "\$x"/);
  fails('{{$x = 1}}', /undefined variable "\$x"/);
  fails('{{if true}}{{$y := 1}}{{end}}{{$y}}', /undefined variable "\$y"/);
});

test('trim markers and comments', () => {
  assert.equal(run('a  {{- .Name -}}  \n b', ctr), 'awebb');
  assert.equal(run('a {{- " x " }} b', ctr), 'a x  b');
  assert.equal(run('{{/* a comment */}}x', ctr), 'x');
  assert.equal(run('a \n{{- /* gone */ -}}\n b', ctr), 'ab');
  assert.equal(run('{{-3}}', ctr), '-3');
  assert.equal(run('{{.Name\n}}', ctr), 'web');
  fails('{{/* never closed', /unclosed comment/);
  fails('{{/* c */ .Name}}', /comment ends before closing delimiter/);
});

test('range forms, else, break and continue', () => {
  assert.equal(run('{{range $i, $n := .Names}}{{$i}}:{{$n}} {{end}}', ctr), '0:web 1:frontend ');
  assert.equal(run('{{range $n := .Names}}{{$n}};{{end}}', ctr), 'web;frontend;');
  assert.equal(run('{{range $k, $v := .Labels}}{{$k}}={{$v}},{{end}}', ctr), 'a=alpha,com.example=yes,');
  assert.equal(run('{{range .}}{{.}}{{end}}', { b: 2, a: 1, c: 3 }), '123');
  assert.equal(run('{{range .}}{{.}}{{end}}', new Map([['y', 2], ['x', 1]])), '12');
  assert.equal(run('{{range .Nope}}x{{else}}none{{end}}', ctr), 'none');
  assert.equal(run('{{range .}}x{{else}}empty{{end}}', []), 'empty');
  assert.equal(run('{{range .}}x{{else}}empty{{end}}', {}), 'empty');
  assert.equal(run('{{range 3}}{{.}}{{end}}', null), '012');
  assert.equal(run('{{range .}}{{if eq . 2}}{{continue}}{{end}}{{if eq . 4}}{{break}}{{end}}{{.}}{{end}}', [1, 2, 3, 4, 5]), '13');
  assert.equal(run('{{range .}}{{range .}}{{if eq . 2}}{{break}}{{end}}{{.}}{{end}};{{end}}', [[1, 2, 3], [4]]), '1;4;');
  assert.equal(run('{{$x := 0}}{{range .}}{{$x = .}}{{end}}{{$x}}', [7, 8]), '8');
  fails('{{break}}', /\{\{break\}\} outside \{\{range\}\}/);
  fails('{{range .}}{{else}}{{continue}}{{end}}', /\{\{continue\}\} outside \{\{range\}\}/);
  fails('{{range .}}{{end}}', /range can't iterate over hello/, 'hello');
});

test('if / else if / else and with / else with', () => {
  const t = '{{if eq . 1}}one{{else if eq . 2}}two{{else}}many{{end}}';
  assert.equal(run(t, 1), 'one');
  assert.equal(run(t, 2), 'two');
  assert.equal(run(t, 3), 'many');
  assert.equal(run('{{with .State}}{{.Pid}}{{else}}none{{end}}', ctr), '4242');
  assert.equal(run('{{with .Nope}}x{{else}}none{{end}}', ctr), 'none');
  assert.equal(run('{{with .Nope}}x{{else with .Name}}{{.}}{{end}}', ctr), 'web');
  for (const [v, want] of [[false, 'F'], [0, 'F'], ['', 'F'], [null, 'F'], [[], 'F'], [{}, 'F'], [new Map(), 'F'],
    [true, 'T'], [-1, 'T'], ['0', 'T'], [[0], 'T'], [{ a: 0 }, 'T']] as const) {
    assert.equal(run('{{if .}}T{{else}}F{{end}}', v), want, `truthiness of ${JSON.stringify(v)}`);
  }
});

test('pipelines and parenthesised expressions', () => {
  assert.equal(run('{{.Name | upper}}', ctr), 'WEB');
  assert.equal(run('{{.Name | printf "%s!" | upper}}', ctr), 'WEB!');
  assert.equal(run('{{(index .Names 1) | upper}}', ctr), 'FRONTEND');
  assert.equal(run('{{(.State).Pid}}', ctr), '4242');
  assert.equal(run('{{len (split "a,b,c" ",")}}', ctr), '3');
  assert.equal(run('{{"x" | printf "%s-%s" "y"}}', ctr), 'y-x');
  fails('{{.Name | 1}}', /non executable command in pipeline stage 2/);
});

test('literals', () => {
  assert.equal(run('{{"a\\tb\\u00e9\\x41"}}', null), 'a\tbéA');
  assert.equal(run('{{`raw \\n {{`}}', null), 'raw \\n {{');
  assert.equal(run("{{'a'}} {{0x1F}} {{0o17}} {{1_000}} {{1e3}} {{1.25}} {{-7}}", null), '97 31 15 1000 1000 1.25 -7');
  assert.equal(run('{{true}} {{false}}', null), 'true false');
  assert.equal(run('{{print nil}}', null), '<nil>');
  fails('{{nil}}', /nil is not a command/);
  fails('{{"unterminated}}', /unterminated quoted string/);
  fails('{{3x}}', /bad number syntax/);
});

test('method-style calls bind the object and take arguments', () => {
  assert.equal(run('{{.Label "com.example"}}', ctr), 'yes');
  assert.equal(run('{{"a" | .Label}}', ctr), 'alpha');
  const obj = { n: 2, Twice(this: { n: number }) { return this.n * 2; }, Get() { return { Deep: 'd' }; } };
  assert.equal(run('{{.Twice}} {{.Get.Deep}}', obj), '4 d');
  class Box { constructor(readonly v: string) {} get Upper(): string { return this.v.toUpperCase(); } Wrap(l: string, r: string): string { return l + this.v + r; } }
  assert.equal(run('{{.Upper}} {{.Wrap "[" "]"}} {{.v}}', new Box('x')), 'X [x] x');
  assert.equal(run('{{call .Fn 2 3}}', { Fn: (a: number, b: number) => a + b }), '5');
  fails('{{.Boom}}', /error calling Boom: kaput/, { Boom() { throw new Error('kaput'); } });
  fails('{{.Name "arg"}}', /Name is not a method but has arguments/, ctr);
});

test('comparison and logic functions', () => {
  assert.equal(run('{{eq 1 1}} {{eq "a" "b"}} {{eq 3 1 2 3}} {{ne 1 2}} {{eq .Nope nil}}', ctr), 'true false true true true');
  assert.equal(run('{{lt 1 2}} {{le 2 2}} {{gt "b" "a"}} {{ge 1 2}}', null), 'true true true false');
  assert.equal(run('{{and 1 0 2}} {{and 1 2}} {{or 0 "" "z"}} {{or 0 ""}} {{not 0}} {{not "x"}}', null), '0 2 z  true false');
  // and/or short-circuit: the failing call is never evaluated
  assert.equal(run('{{or .A (index .B 5)}}', { A: 'ok', B: [] }), 'ok');
  assert.equal(run('{{and .A (index .B 5)}}', { A: '', B: [] }), '');
  fails('{{eq 1 "1"}}', /error calling eq: incompatible types for comparison/);
  fails('{{lt true false}}', /invalid type for comparison/);
  fails('{{eq .Names .Names}}', /non-comparable/, ctr);
});

test('len, index and slice', () => {
  assert.equal(run('{{len .}}', 'héllo'), '6');
  assert.equal(run('{{len .}}', { a: 1, b: 2 }), '2');
  assert.equal(run('{{index . 1}}', ['a', 'b']), 'b');
  assert.equal(run('{{index . "x" 0}}', { x: ['deep'] }), 'deep');
  assert.equal(run('{{index . "k"}}', new Map([['k', 'v']])), 'v');
  assert.equal(run('{{slice . 1}} {{slice . 1 2}} {{slice . 0 0}}', [1, 2, 3]), '[2 3] [2] []');
  assert.equal(run('{{slice "hello" 1 3}}', null), 'el');
  fails('{{index . 5}}', /error calling index: index out of range: 5/, [1]);
  fails('{{index .}}', /index of untyped nil/, null);
  fails('{{len 3}}', /len of type int/);
  fails('{{slice . 2 1}}', /invalid slice index: 2 > 1/, [1, 2, 3]);
});

test('print, printf and println', () => {
  assert.equal(run('{{print 1 2 "a" "b" 3}}', null), '1 2ab3');
  assert.equal(run('{{println "a" 1}}', null), 'a 1\n');
  const p = (fmt: string, ...args: unknown[]) => run('{{printf .F .A}}'.replace('.A', args.map((_, i) => `(index .A ${i})`).join(' ')), { F: fmt, A: args });
  assert.equal(p('%s|%v|%d', 'x', [1, 2], 42), 'x|[1 2]|42');
  assert.equal(p('%5d|%-5d|%05d|%+d', 42, 42, -42, 3), '   42|42   |-0042|+3');
  assert.equal(p('%.2f|%8.3f|%f|%e|%g', 3.14159, 2.5, 1.5, 1234.5678, 0.000012345), '3.14|   2.500|1.500000|1.234568e+03|1.2345e-05');
  assert.equal(p('%x|%X|%#x|%o|%b|%c|%U', 255, 255, 255, 8, 5, 65, 0x1f600), 'ff|FF|0xff|10|101|A|U+1F600');
  assert.equal(p('%q|%q|%x', 'a"b\n', 'é', 'hi'), '"a\\"b\\n"|"é"|6869');
  assert.equal(p('%t|%v|%v', true, null, { b: 1, a: 'x' }), 'true|<nil>|map[a:x b:1]');
  assert.equal(p('%-20s|%20s|%.2s', 'left', 'right', 'truncate'), 'left                |               right|tr');
  // exact ties round half to even, like Go's strconv
  assert.equal(p('%.0f|%.0f|%.1f|%.1f|%.2e|%.3g', 2.5, 3.5, 2.25, 0.05, 1.125, 2.0), '2|4|2.2|0.1|1.12e+00|2');
  assert.equal(p('100%%'), '100%');
  assert.equal(p('%d %d', 1), '1 %!d(MISSING)');
  assert.equal(p('%d', 'x'), '%!d(string=x)');
  assert.equal(p('%d', 1, 2), '1%!(EXTRA int=2)');
  assert.equal(run('{{printf "%6.2f%%" .Ratio}}', ctr), '  0.25%');
  assert.equal(run('{{printf "%*d" 4 7}}', null), '   7');
  fails('{{printf}}', /wrong number of args for printf: want at least 1 got 0/);
});

test('escaping functions', () => {
  assert.equal(run(`{{html "<a href='x'>&\\"" }}`, null), '&lt;a href=&#39;x&#39;&gt;&amp;&#34;');
  assert.equal(run(`{{js "it's <b>\\n"}}`, null), "it\\'s \\u003Cb\\u003E\\u000A");
  assert.equal(run('{{urlquery "a b&c=d/é"}}', null), 'a+b%26c%3Dd%2F%C3%A9');
  assert.equal(run('{{html 1 2}}', null), '1 2');
});

test('Podman/Docker extra functions', () => {
  assert.equal(run('{{json .}}', { a: [1, 'x'], b: null, m: new Map([['k', true]]) }), '{"a":[1,"x"],"b":null,"m":{"k":true}}');
  assert.equal(run('{{json .Nope}}', ctr), 'null');
  assert.equal(run('{{json "<&>"}}', null), '"<&>"');
  assert.equal(run('{{upper "aBc"}} {{lower "aBc"}} {{title "hello big-world"}}', null), 'ABC abc Hello Big-World');
  assert.equal(run('{{split "a:b:c" ":"}} {{len (split "" ",")}}', null), '[a b c] 1');
  assert.equal(run('{{truncate "abcdef" 3}}|{{truncate "ab" 5}}', null), 'abc|ab');
  assert.equal(run('{{pad "ab" 5}}|{{pad "abcdef" 3}}|{{pad "x" 1 2}}|', null), 'ab   |abcdef| x  |');
  assert.equal(run('{{contains "abc" "b"}} {{hasPrefix "abc" "ab"}} {{hasSuffix "abc" "b"}}', null), 'true true false');
  assert.equal(run('{{replace "a-b-c" "-" "+"}} {{replace "aaa" "a" "b" 2}}', null), 'a+b+c bba');
  assert.equal(run('{{join .Names ", " | upper}}', ctr), 'WEB, FRONTEND');
  assert.equal(run('{{upper .Size}}', ctr), '0');
  fails('{{upper .Names}}', /error calling upper: wrong type for value; expected string; got \[\]interface \{\}/, ctr);
});

test('user functions extend and override the built-ins', () => {
  const funcs = { shout: (s: string) => `${s}!`, add: (a: number, b: number) => a + b, upper: () => 'overridden' };
  assert.equal(run('{{shout .Name}} {{add 1 2}} {{.Name | shout}} {{upper "x"}}', ctr, funcs), 'web! 3 web! overridden');
  fails('{{shout "x"}}', /function "shout" not defined/);
});

test('define, template and block', () => {
  assert.equal(run('{{define "row"}}[{{.}}]{{end}}{{range .}}{{template "row" .}}{{end}}', ['a', 'b']), '[a][b]');
  assert.equal(run('{{block "b" .}}<{{.}}>{{end}}', 'x'), '<x>');
  fails('{{template "nope"}}', /no such template "nope"/);
  fails('{{define "a"}}{{template "a"}}{{end}}{{template "a"}}', /exceeded maximum template depth/);
});

test('syntax errors', () => {
  fails('{{.Name', /unclosed action/);
  fails('a {{if .X}} b', /unexpected EOF/);
  fails('{{end}}', /unexpected \{\{end\}\}/);
  fails('{{else}}', /unexpected \{\{else\}\}/);
  fails('{{nosuch .X}}', /function "nosuch" not defined/);
  fails('{{}}', /missing value for command/);
  fails('{{if}}{{end}}', /missing value for if/);
  fails('{{(.X}}', /unclosed left paren/);
  fails('{{.X)}}', /unexpected right paren/);
  fails('{{.X #}}', /unrecognized character in action: U\+0023 '#'/);
  fails('{{.X | }}', /missing command after pipe/);
  fails('{{"a".X}}', /unexpected \. after term/);
  fails('{{range $a, $b, $c := .}}{{end}}', /too many declarations in range/);
  fails('line1\n{{.X', /^template: 2:0: unclosed action/);
});

test('execution errors', () => {
  fails('{{.Name.Foo}}', /1:2: executing <\.Name\.Foo>: can't evaluate field Foo in type string/, ctr);
  fails('{{.Names.First}}', /can't evaluate field First in type \[\]interface \{\}/, ctr);
  fails('{{.State.ExitCode.X}}', /can't evaluate field X in type int/, ctr);
  fails('{{upper}}', /wrong number of args for upper: want 1 got 0/);
  fails('{{upper "a" "b"}}', /wrong number of args for upper: want 1 got 2/);
  fails('{{"a" | upper "b"}}', /wrong number of args for upper: want 1 got 2/);
  fails('{{replace "a"}}', /wrong number of args for replace: want 3 to 4 got 1/);
  fails('{{"x" 1}}', /can't give argument to non-function "x"/);
  fails('{{. 1}}', /can't give argument to non-function \./);
});

