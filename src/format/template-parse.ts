// Parser for Go text/template syntax: turns the token list into a tree, with the
// same static checks Go makes (defined functions and variables, break/continue
// placement, pipeline shape).

import { lex, syntaxError, type Token, type TokKind } from './template-lex.js';

interface Span { pos: number; end: number }

export type ArgNode =
  | (Span & { k: 'field'; idents: string[] })
  | (Span & { k: 'chain'; node: ArgNode; fields: string[] })
  | (Span & { k: 'var'; name: string; fields: string[] })
  | (Span & { k: 'ident'; name: string })
  | (Span & { k: 'dot' })
  | (Span & { k: 'nil' })
  | (Span & { k: 'lit'; value: string | number | boolean })
  | (Span & { k: 'pipe'; pipe: PipeNode });

export interface CommandNode extends Span { args: ArgNode[] }

export interface PipeNode extends Span {
  decl: string[];
  isAssign: boolean;
  cmds: CommandNode[];
}

export type Node =
  | { k: 'text'; pos: number; text: string }
  | { k: 'action'; pos: number; pipe: PipeNode }
  | ControlNode
  | { k: 'break' | 'continue'; pos: number }
  | { k: 'template'; pos: number; end: number; name: string; pipe: PipeNode | null };

export interface Tree {
  src: string;
  root: Node[];
  defs: Map<string, Node[]>;
}

export interface ControlNode {
  k: 'if' | 'with' | 'range';
  pos: number;
  pipe: PipeNode;
  list: Node[];
  elseList: Node[] | null;
}

type Item = Node | { k: 'end'; pos: number } | { k: 'else'; pos: number };

const OPERAND_START = new Set<TokKind>(['bool', 'dot', 'field', 'ident', 'number', 'nil', 'string', 'var', 'lparen']);

function describe(t: Token): string {
  if (t.k === 'eof') return 'EOF';
  if (t.k === 'keyword') return `<${t.v}>`;
  return JSON.stringify(t.v.length > 10 ? t.v.slice(0, 10) + '...' : t.v);
}

class Parser {
  private i = 0;
  private vars: string[] = ['$'];
  private rangeDepth = 0;
  readonly defs = new Map<string, Node[]>();

  constructor(
    private readonly src: string,
    private readonly toks: Token[],
    private readonly hasFunc: (name: string) => boolean,
  ) {}

  private peek(): Token { return this.toks[this.i]!; }
  private next(): Token { return this.toks[this.i++]!; }
  private backup(): void { this.i--; }
  private nextNonSpace(): Token {
    let t: Token;
    do t = this.next(); while (t.k === 'space');
    return t;
  }
  private peekNonSpace(): Token {
    const t = this.nextNonSpace();
    this.backup();
    return t;
  }
  private lastEnd(): number {
    const t = this.toks[this.i - 1]!;
    return t.pos + t.v.length;
  }
  private fail(pos: number, msg: string): never { throw syntaxError(this.src, pos, msg); }
  private unexpected(t: Token, context: string): never { this.fail(t.pos, `unexpected ${describe(t)} in ${context}`); }
  private expect(kind: TokKind, context: string): Token {
    const t = this.nextNonSpace();
    if (t.k !== kind) this.unexpected(t, context);
    return t;
  }

  parse(): Node[] {
    const root: Node[] = [];
    while (this.peek().k !== 'eof') {
      if (this.peek().k === 'left') {
        const save = this.i;
        this.next();
        const t = this.nextNonSpace();
        if (t.k === 'keyword' && t.v === 'define') { this.parseDefinition(); continue; }
        this.i = save;
      }
      const n = this.textOrAction();
      if (n.k === 'end' || n.k === 'else') this.fail(n.pos, `unexpected {{${n.k}}}`);
      root.push(n);
    }
    return root;
  }

  private parseDefinition(): void {
    const nameTok = this.nextNonSpace();
    if (nameTok.k !== 'string') this.unexpected(nameTok, 'define clause');
    this.expect('right', 'define clause');
    const body = this.isolated(() => this.itemList());
    if (body[1].k !== 'end') this.fail(body[1].pos, `unexpected {{${body[1].k}}} in define clause`);
    this.defs.set(String(nameTok.lit), body[0]);
  }

  /** Run fn with a fresh variable scope and range depth, as Go does for a new template. */
  private isolated<T>(fn: () => T): T {
    const vars = this.vars;
    const depth = this.rangeDepth;
    this.vars = ['$'];
    this.rangeDepth = 0;
    try { return fn(); } finally { this.vars = vars; this.rangeDepth = depth; }
  }

  private itemList(): [Node[], Item] {
    const list: Node[] = [];
    while (this.peekNonSpace().k !== 'eof') {
      const n = this.textOrAction();
      if (n.k === 'end' || n.k === 'else') return [list, n];
      list.push(n);
    }
    this.fail(this.peek().pos, 'unexpected EOF');
  }

  private textOrAction(): Item {
    const t = this.nextNonSpace();
    if (t.k === 'text') return { k: 'text', pos: t.pos, text: t.v };
    if (t.k === 'left') return this.action();
    this.unexpected(t, 'input');
  }

  private action(): Item {
    const t = this.nextNonSpace();
    if (t.k === 'keyword') {
      switch (t.v) {
        case 'if': return this.control('if', t.pos);
        case 'with': return this.control('with', t.pos);
        case 'range': return this.control('range', t.pos);
        case 'end': this.expect('right', 'end'); return { k: 'end', pos: t.pos };
        case 'else': {
          const p = this.peekNonSpace();
          if (!(p.k === 'keyword' && (p.v === 'if' || p.v === 'with'))) this.expect('right', 'else');
          return { k: 'else', pos: t.pos };
        }
        case 'break':
        case 'continue': {
          const r = this.nextNonSpace();
          if (r.k !== 'right') this.unexpected(r, `{{${t.v}}}`);
          if (this.rangeDepth === 0) this.fail(t.pos, `{{${t.v}}} outside {{range}}`);
          return { k: t.v, pos: t.pos };
        }
        case 'template': return this.templateControl(t.pos, false);
        case 'block': return this.templateControl(t.pos, true);
        default: this.fail(t.pos, `unexpected <${t.v}> in command`);
      }
    }
    this.backup();
    const pos = this.peek().pos;
    return { k: 'action', pos, pipe: this.pipeline('command', 'right') };
  }

  private control(context: 'if' | 'with' | 'range', pos: number): Node {
    const mark = this.vars.length;
    try {
      const pipe = this.pipeline(context, 'right');
      if (context === 'range') this.rangeDepth++;
      const [list, next] = this.itemList();
      if (context === 'range') this.rangeDepth--;
      let elseList: Node[] | null = null;
      if (next.k === 'else') {
        const p = this.peek();
        if (context !== 'range' && p.k === 'keyword' && p.v === context) {
          this.next();
          elseList = [this.control(context, p.pos)];
        } else {
          const [els, end] = this.itemList();
          if (end.k !== 'end') this.fail(end.pos, `expected end; found {{${end.k}}}`);
          elseList = els;
        }
      }
      return { k: context, pos, pipe, list, elseList };
    } finally {
      this.vars.length = mark;
    }
  }

  private templateControl(pos: number, block: boolean): Node {
    const context = block ? 'block clause' : 'template clause';
    const nameTok = this.nextNonSpace();
    if (nameTok.k !== 'string') this.unexpected(nameTok, context);
    const name = String(nameTok.lit);
    let pipe: PipeNode | null = null;
    if (this.nextNonSpace().k !== 'right') {
      this.backup();
      pipe = this.pipeline(context, 'right');
    } else if (block) {
      this.fail(pos, 'missing pipeline in block clause');
    }
    const endPos = pipe ? pipe.end : nameTok.pos + nameTok.v.length;
    if (block) {
      const [body, end] = this.isolated(() => this.itemList());
      if (end.k !== 'end') this.fail(end.pos, `unexpected {{${end.k}}} in block clause`);
      this.defs.set(name, body);
    }
    return { k: 'template', pos, end: endPos, name, pipe };
  }

  private pipeline(context: string, end: 'right' | 'rparen'): PipeNode {
    const start = this.peekNonSpace().pos;
    const pipe: PipeNode = { pos: start, end: start, decl: [], isAssign: false, cmds: [] };
    const declared: Token[] = [];
    for (;;) {
      const save = this.i;
      const v = this.peekNonSpace();
      if (v.k !== 'var') break;
      this.nextNonSpace();
      const nx = this.peekNonSpace();
      if (nx.k === 'declare' || nx.k === 'assign') {
        this.nextNonSpace();
        declared.push(v);
        pipe.isAssign = nx.k === 'assign';
        for (const d of declared) {
          if (pipe.isAssign) this.useVar(d);
          pipe.decl.push(d.v);
        }
        if (!pipe.isAssign) this.vars.push(...pipe.decl);
        break;
      }
      if (nx.k === 'comma') {
        this.nextNonSpace();
        declared.push(v);
        if (context === 'range' && declared.length < 2) {
          const k = this.peekNonSpace().k;
          if (k === 'var' || k === 'right' || k === 'rparen') continue;
          this.fail(nx.pos, 'range can only initialize variables');
        }
        this.fail(nx.pos, `too many declarations in ${context}`);
      }
      if (declared.length) this.fail(nx.pos, `unexpected ${describe(nx)} in ${context}`);
      this.i = save;
      break;
    }
    for (;;) {
      const t = this.nextNonSpace();
      if (t.k === end) {
        if (pipe.cmds.length === 0) this.fail(t.pos, `missing value for ${context}`);
        pipe.cmds.forEach((c, idx) => {
          const k = c.args[0]!.k;
          if (idx > 0 && (k === 'lit' || k === 'dot' || k === 'nil')) this.fail(c.pos, `non executable command in pipeline stage ${idx + 1}`);
        });
        pipe.end = pipe.cmds[pipe.cmds.length - 1]!.end;
        return pipe;
      }
      if (!OPERAND_START.has(t.k)) this.unexpected(t, context);
      this.backup();
      pipe.cmds.push(this.command());
    }
  }

  private command(): CommandNode {
    const cmd: CommandNode = { pos: this.peekNonSpace().pos, end: 0, args: [] };
    for (;;) {
      this.peekNonSpace();
      const op = this.operand();
      if (op) cmd.args.push(op);
      const t = this.next();
      if (t.k === 'space') continue;
      if (t.k === 'right' || t.k === 'rparen') { this.backup(); break; }
      if (t.k === 'pipe') {
        const after = this.peekNonSpace();
        if (after.k === 'right' || after.k === 'rparen') this.fail(t.pos, 'missing command after pipe');
        break;
      }
      this.unexpected(t, 'operand');
    }
    if (cmd.args.length === 0) this.fail(cmd.pos, 'empty command');
    cmd.end = cmd.args[cmd.args.length - 1]!.end;
    return cmd;
  }

  private operand(): ArgNode | null {
    const node = this.term();
    if (!node || this.peek().k !== 'field') return node;
    const fields: string[] = [];
    while (this.peek().k === 'field') fields.push(this.next().v.slice(1));
    const end = this.lastEnd();
    switch (node.k) {
      case 'field': return { k: 'field', pos: node.pos, end, idents: [...node.idents, ...fields] };
      case 'var': return { k: 'var', pos: node.pos, end, name: node.name, fields: [...node.fields, ...fields] };
      case 'lit': case 'nil': case 'dot':
        this.fail(node.pos, `unexpected . after term ${JSON.stringify(this.src.slice(node.pos, node.end))}`);
      default: return { k: 'chain', pos: node.pos, end, node, fields };
    }
  }

  private term(): ArgNode | null {
    const t = this.nextNonSpace();
    const pos = t.pos;
    const end = t.pos + t.v.length;
    switch (t.k) {
      case 'ident':
        if (!this.hasFunc(t.v)) this.fail(pos, `function ${JSON.stringify(t.v)} not defined`);
        return { k: 'ident', pos, end, name: t.v };
      case 'dot': return { k: 'dot', pos, end };
      case 'nil': return { k: 'nil', pos, end };
      case 'var': this.useVar(t); return { k: 'var', pos, end, name: t.v, fields: [] };
      case 'field': return { k: 'field', pos, end, idents: [t.v.slice(1)] };
      case 'bool': case 'number': case 'string': return { k: 'lit', pos, end, value: t.lit! };
      case 'lparen': {
        const pipe = this.pipeline('parenthesized pipeline', 'rparen');
        return { k: 'pipe', pos, end: this.lastEnd(), pipe };
      }
      default: this.backup(); return null;
    }
  }

  private useVar(t: Token): void {
    if (!this.vars.includes(t.v)) this.fail(t.pos, `undefined variable ${JSON.stringify(t.v)}`);
  }
}

export function parseTree(src: string, hasFunc: (name: string) => boolean): Tree {
  const p = new Parser(src, lex(src), hasFunc);
  const root = p.parse();
  return { src, root, defs: p.defs };
}
