// Executor for parsed templates, following Go text/template's exec.go semantics
// (variables, pipelines with a final argument, range/if/with, method-style calls).

import { BerthError, messageOf } from '../engine/errors.js';
import type { FuncEntry } from './template-funcs.js';
import { location } from './template-lex.js';
import type { ArgNode, CommandNode, ControlNode, Node, PipeNode, Tree } from './template-parse.js';
import {
  NOT_AN_OBJECT, fieldHook, formatTop, formatV, isHooked, listItems, lookupField, sortedEntries, stringHook, truthy, typeName,
} from './template-value.js';

/** An execution error raised by this module (already carries location context). */
class ExecError extends BerthError {}

const NONE = Symbol('no-final');
const NO_ARGS: ArgNode[] = [];
const SIG_NORMAL = 0;
const SIG_BREAK = 1;
const SIG_CONTINUE = 2;
type Signal = 0 | 1 | 2;
const MAX_DEPTH = 1000;

interface Span { pos: number; end: number }

class State {
  out = '';
  vars: { name: string; value: unknown }[] = [];
  depth = 0;

  constructor(private readonly tree: Tree, private readonly funcs: ReadonlyMap<string, FuncEntry>) {}

  fail(node: Span, msg: string): never {
    const { src } = this.tree;
    const text = src.slice(node.pos, node.end).replace(/\s+/g, ' ').trim();
    throw new ExecError('invalid-argument', `template: ${location(src, node.pos)}: executing <${text}>: ${msg}`);
  }

  walk(dot: unknown, list: readonly Node[]): Signal {
    for (const node of list) {
      switch (node.k) {
        case 'text': this.out += node.text; break;
        case 'action': {
          const v = this.evalPipeline(dot, node.pipe);
          if (node.pipe.decl.length === 0) {
            if (typeof v === 'function') this.fail(node.pipe, `can't print value of type ${typeName(v)}`);
            this.out += formatTop(v);
          }
          break;
        }
        case 'if':
        case 'with': {
          const mark = this.vars.length;
          const v = this.evalPipeline(dot, node.pipe);
          let sig: Signal = SIG_NORMAL;
          if (truthy(v)) sig = this.walk(node.k === 'with' ? v : dot, node.list);
          else if (node.elseList) sig = this.walk(dot, node.elseList);
          this.vars.length = mark;
          if (sig !== SIG_NORMAL) return sig;
          break;
        }
        case 'range': {
          const sig = this.walkRange(dot, node);
          if (sig !== SIG_NORMAL) return sig;
          break;
        }
        case 'break': return SIG_BREAK;
        case 'continue': return SIG_CONTINUE;
        case 'template': this.walkTemplate(dot, node); break;
      }
    }
    return SIG_NORMAL;
  }

  private walkRange(dot: unknown, node: ControlNode): Signal {
    const mark = this.vars.length;
    const { pipe } = node;
    let val: unknown = NONE;
    for (const cmd of pipe.cmds) val = this.evalCommand(dot, cmd, val);
    const decl = pipe.decl;
    if (!pipe.isAssign) for (const name of decl) this.vars.push({ name, value: val });
    const inner = this.vars.length;
    const iterate = (key: unknown, elem: unknown): boolean => {
      if (pipe.isAssign) {
        if (decl.length > 1) { this.setVar(pipe, decl[0]!, key); this.setVar(pipe, decl[1]!, elem); } else if (decl.length === 1) this.setVar(pipe, decl[0]!, elem);
      } else if (decl.length > 0) {
        this.vars[inner - 1]!.value = elem;
        if (decl.length > 1) this.vars[inner - 2]!.value = key;
      }
      const sig = this.walk(elem, node.list);
      this.vars.length = inner;
      return sig !== SIG_BREAK;
    };
    let ran = false;
    if (val === null || val === undefined) {
      // Like a nil map or slice: nothing to iterate.
    } else if (isHooked(val)) {
      ran = true;
      iterate(0, val);
    } else if (typeof val === 'number' && Number.isInteger(val)) {
      if (decl.length > 1) this.fail(pipe, `can't use ${val} to iterate over more than one variable`);
      for (let k = 0; k < val; k++) { ran = true; if (!iterate(k, k)) break; }
    } else if (typeof val === 'object') {
      const items = listItems(val);
      if (items) {
        for (let k = 0; k < items.length; k++) { ran = true; if (!iterate(k, items[k])) break; }
      } else {
        for (const [k, v] of sortedEntries(val)) { ran = true; if (!iterate(k, v)) break; }
      }
    } else {
      this.fail(pipe, `range can't iterate over ${formatV(val)}`);
    }
    this.vars.length = mark;
    if (!ran && node.elseList) return this.walk(dot, node.elseList);
    return SIG_NORMAL;
  }

  private walkTemplate(dot: unknown, node: Extract<Node, { k: 'template' }>): void {
    const body = this.tree.defs.get(node.name);
    const span = node;
    if (!body) this.fail(span, `no such template ${JSON.stringify(node.name)}`);
    const data = node.pipe ? this.evalPipeline(dot, node.pipe) : undefined;
    if (this.depth >= MAX_DEPTH) this.fail(span, `exceeded maximum template depth (${MAX_DEPTH})`);
    const saved = this.vars;
    this.vars = [{ name: '$', value: data }];
    this.depth++;
    try { this.walk(data, body); } finally { this.depth--; this.vars = saved; }
  }

  evalPipeline(dot: unknown, pipe: PipeNode): unknown {
    let value: unknown = NONE;
    for (const cmd of pipe.cmds) value = this.evalCommand(dot, cmd, value);
    for (const name of pipe.decl) {
      if (pipe.isAssign) this.setVar(pipe, name, value);
      else this.vars.push({ name, value });
    }
    return value;
  }

  private evalCommand(dot: unknown, cmd: CommandNode, final: unknown): unknown {
    const first = cmd.args[0]!;
    switch (first.k) {
      case 'field': return this.evalFieldChain(dot, dot, first, first.idents, cmd.args, final);
      case 'chain': return this.evalFieldChain(dot, this.evalArg(dot, first.node), first, first.fields, cmd.args, final);
      case 'var': return this.evalVariable(dot, first, cmd.args, final);
      case 'ident': return this.evalFunction(dot, first.name, cmd, cmd.args, final);
      case 'pipe': this.notAFunction(first, cmd.args, final); return this.evalPipeline(dot, first.pipe);
      case 'dot': this.notAFunction(first, cmd.args, final); return dot;
      case 'nil': return this.fail(first, 'nil is not a command');
      case 'lit': this.notAFunction(first, cmd.args, final); return first.value;
    }
  }

  private notAFunction(node: ArgNode, args: readonly ArgNode[], final: unknown): void {
    if (args.length > 1 || final !== NONE) this.fail(node, `can't give argument to non-function ${this.tree.src.slice(node.pos, node.end)}`);
  }

  private evalArg(dot: unknown, node: ArgNode, raw = false): unknown {
    switch (node.k) {
      case 'dot': return dot;
      case 'nil': return null;
      case 'lit': return node.value;
      case 'field': return this.evalFieldChain(dot, dot, node, node.idents, NO_ARGS, NONE, raw);
      case 'chain': return this.evalFieldChain(dot, this.evalArg(dot, node.node), node, node.fields, NO_ARGS, NONE, raw);
      case 'var': return this.evalVariable(dot, node, NO_ARGS, NONE, raw);
      case 'pipe': return this.evalPipeline(dot, node.pipe);
      case 'ident': return this.evalFunction(dot, node.name, node, [node], NONE);
    }
  }

  private evalArgs(dot: unknown, args: readonly ArgNode[], final: unknown): unknown[] {
    const out: unknown[] = [];
    for (let k = 1; k < args.length; k++) out.push(this.evalArg(dot, args[k]!));
    if (final !== NONE) out.push(final);
    return out;
  }

  private lookupVar(node: Span, name: string): unknown {
    for (let k = this.vars.length - 1; k >= 0; k--) if (this.vars[k]!.name === name) return this.vars[k]!.value;
    return this.fail(node, `undefined variable: ${name}`);
  }

  private setVar(node: Span, name: string, value: unknown): void {
    for (let k = this.vars.length - 1; k >= 0; k--) {
      if (this.vars[k]!.name === name) { this.vars[k]!.value = value; return; }
    }
    this.fail(node, `undefined variable: ${name}`);
  }

  private evalVariable(dot: unknown, node: Extract<ArgNode, { k: 'var' }>, args: readonly ArgNode[], final: unknown, raw = false): unknown {
    const value = this.lookupVar(node, node.name);
    if (node.fields.length === 0) { this.notAFunction(node, args, final); return value; }
    return this.evalFieldChain(dot, value, node, node.fields, args, final, raw);
  }

  private evalFieldChain(dot: unknown, receiver: unknown, node: ArgNode, idents: readonly string[], args: readonly ArgNode[], final: unknown, raw = false): unknown {
    const n = idents.length;
    for (let k = 0; k < n - 1; k++) receiver = this.evalField(dot, idents[k]!, node, NO_ARGS, NONE, receiver, false);
    return this.evalField(dot, idents[n - 1]!, node, args, final, receiver, raw);
  }

  private evalField(dot: unknown, name: string, node: ArgNode, args: readonly ArgNode[], final: unknown, receiver: unknown, raw: boolean): unknown {
    if (receiver === null || receiver === undefined) return undefined;
    if (isHooked(receiver)) return receiver[fieldHook](name);
    const value = lookupField(receiver, name);
    if (value === NOT_AN_OBJECT) this.fail(node, `can't evaluate field ${name} in type ${typeName(receiver)}`);
    if (typeof value === 'function') {
      if (raw) return (value as (...a: unknown[]) => unknown).bind(receiver);
      const argv = this.evalArgs(dot, args, final);
      return this.call(node, name, value as (...a: unknown[]) => unknown, receiver, argv);
    }
    if (args.length > 1 || final !== NONE) this.fail(node, `${name} is not a method but has arguments`);
    return value;
  }

  private call(node: Span, name: string, fn: (...a: unknown[]) => unknown, self: unknown, argv: unknown[]): unknown {
    try {
      return fn.apply(self, argv);
    } catch (e) {
      if (e instanceof ExecError) throw e;
      return this.fail(node, `error calling ${name}: ${messageOf(e)}`);
    }
  }

  private evalFunction(dot: unknown, name: string, node: Span, args: readonly ArgNode[], final: unknown): unknown {
    const entry = this.funcs.get(name);
    if (!entry) this.fail(node, `${JSON.stringify(name)} is not a defined function`);
    const count = args.length - 1 + (final !== NONE ? 1 : 0);
    if (count < entry.min || count > entry.max) {
      const want = entry.max === entry.min ? `${entry.min}` : entry.max === Infinity ? `at least ${entry.min}` : `${entry.min} to ${entry.max}`;
      this.fail(node, `wrong number of args for ${name}: want ${want} got ${count}`);
    }
    if (entry.special === 'and' || entry.special === 'or') {
      let v: unknown;
      for (let k = 1; k < args.length; k++) {
        v = this.evalArg(dot, args[k]!);
        if (truthy(v) === (entry.special === 'or')) return v;
      }
      return final !== NONE ? final : v;
    }
    let argv: unknown[];
    if (entry.special === 'call') {
      const fn = args.length > 1 ? this.evalArg(dot, args[1]!, true) : final;
      argv = this.evalArgs(dot, args.slice(1), args.length > 1 ? final : NONE);
      if (fn === null || fn === undefined) this.fail(node, 'error calling call: call of nil');
      if (typeof fn !== 'function') this.fail(node, `error calling call: non-function of type ${typeName(fn)}`);
      return this.call(node, 'call', fn as (...a: unknown[]) => unknown, undefined, argv);
    }
    argv = this.evalArgs(dot, args, final);
    if (entry.header === 'passthrough') {
      const cell = argv.find(isHooked);
      if (cell !== undefined) return cell;
    } else if (entry.header !== 'keep') {
      argv = argv.map((a) => (isHooked(a) ? a[stringHook]() : a));
    }
    return this.call(node, name, entry.fn, undefined, argv);
  }
}

export function execute(tree: Tree, funcs: ReadonlyMap<string, FuncEntry>, data: unknown): string {
  const s = new State(tree, funcs);
  s.vars.push({ name: '$', value: data });
  s.walk(data, tree.root);
  return s.out;
}
