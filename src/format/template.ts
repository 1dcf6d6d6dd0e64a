// Go text/template for the CLI's --format flag, as Podman and Docker use it.
// parseTemplate(text, funcs?) parses once; Template.execute(data) renders.
// Errors (syntax or execution) are BerthError('invalid-argument', 'template: ...').

import { BerthError, messageOf } from '../engine/errors.js';
import { execute } from './template-exec.js';
import { builtinFuncs, type FuncEntry } from './template-funcs.js';
import { parseTree } from './template-parse.js';

export interface Template {
  execute(data: unknown): string;
}

/** A user-supplied template function. Arguments arrive as evaluated template values. */
export type TemplateFunc = (...args: never[]) => unknown;
export type TemplateFuncs = Record<string, TemplateFunc>;

export { fieldHook, stringHook, type TemplateHooked } from './template-value.js';

function funcTable(funcs: TemplateFuncs | undefined): ReadonlyMap<string, FuncEntry> {
  if (!funcs) return builtinFuncs;
  const table = new Map(builtinFuncs);
  for (const [name, fn] of Object.entries(funcs)) {
    if (!/^[\p{L}_][\p{L}\p{Nd}_]*$/u.test(name)) {
      throw new BerthError('invalid-argument', `template: function name ${JSON.stringify(name)} is not a valid identifier`);
    }
    table.set(name, { fn: fn as (...args: unknown[]) => unknown, min: 0, max: Number.POSITIVE_INFINITY, header: 'passthrough' });
  }
  return table;
}

export function parseTemplate(text: string, funcs?: TemplateFuncs): Template {
  const table = funcTable(funcs);
  const tree = parseTree(text, (name) => table.has(name));
  return {
    execute(data: unknown): string {
      try {
        return execute(tree, table, data);
      } catch (e) {
        if (e instanceof BerthError) throw e;
        // e.g. stack overflow on a cyclic structure
        throw new BerthError('invalid-argument', `template: ${messageOf(e)}`, { cause: e });
      }
    },
  };
}
