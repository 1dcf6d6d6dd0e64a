// A port of the column-alignment algorithm of Go's text/tabwriter.
// Cells are tab-terminated ('\t' or '\v'); the last cell of a line is not part of a
// column and is never padded. A column block is a run of consecutive lines that all
// have a cell in that column; each block gets its own width:
// max(minwidth, widest cell + padding). '\f' ends a line and starts a new set of blocks.

export const AlignRight = 4;
export const DiscardEmptyColumns = 8;
export const TabIndent = 16;
export const Debug = 32;

export interface TabwriterOptions {
  minwidth: number;
  tabwidth: number;
  padding: number;
  padchar: string;
  flags: number;
}

interface Cell { text: string; width: number; htab: boolean }

const runeCount = (s: string): number => {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xdc00 || c > 0xdfff) n++; // don't count low surrogates
  }
  return n;
};

class Formatter {
  private out = '';
  private widths: number[] = [];

  constructor(private readonly lines: Cell[][], private readonly o: TabwriterOptions) {}

  run(): string {
    this.format(0, this.lines.length);
    return this.out;
  }

  private padding(textw: number, cellw: number, useTabs: boolean): void {
    if (this.o.padchar === '\t' || useTabs) {
      if (this.o.tabwidth === 0) return;
      const cw = Math.ceil(cellw / this.o.tabwidth) * this.o.tabwidth;
      this.out += '\t'.repeat(Math.ceil((cw - textw) / this.o.tabwidth));
      return;
    }
    this.out += this.o.padchar.repeat(Math.max(cellw - textw, 0));
  }

  private writeLines(line0: number, line1: number): void {
    const { flags } = this.o;
    for (let i = line0; i < line1; i++) {
      const line = this.lines[i]!;
      const useTabs = (flags & TabIndent) !== 0;
      let leading = useTabs;
      line.forEach((c, j) => {
        if (j > 0 && flags & Debug) this.out += '|';
        if (c.width === 0) {
          if (j < this.widths.length) this.padding(c.width, this.widths[j]!, leading);
        } else {
          leading = false;
          if (flags & AlignRight) {
            if (j < this.widths.length) this.padding(c.width, this.widths[j]!, false);
            this.out += c.text;
          } else {
            this.out += c.text;
            if (j < this.widths.length) this.padding(c.width, this.widths[j]!, false);
          }
        }
      });
      if (i + 1 < this.lines.length) this.out += '\n';
    }
  }

  private format(line0: number, line1: number): void {
    const column = this.widths.length;
    for (let t = line0; t < line1; t++) {
      if (column >= this.lines[t]!.length - 1) continue;
      // This line has a cell in this column: a column block starts here.
      this.writeLines(line0, t);
      line0 = t;
      let width = this.o.minwidth;
      let discardable = true;
      for (; t < line1; t++) {
        const line = this.lines[t]!;
        if (column >= line.length - 1) break;
        const c = line[column]!;
        width = Math.max(width, c.width + this.o.padding);
        if (c.width > 0 || c.htab) discardable = false;
      }
      if (discardable && this.o.flags & DiscardEmptyColumns) width = 0;
      this.widths.push(width);
      this.format(line0, t);
      this.widths.pop();
      line0 = t;
    }
    this.writeLines(line0, line1);
  }
}

/** Align tab-separated text the way Go's text/tabwriter (written then flushed) does. */
export function tabwrite(text: string, options: Partial<TabwriterOptions> = {}): string {
  const o: TabwriterOptions = { minwidth: 0, tabwidth: 8, padding: 1, padchar: ' ', flags: 0, ...options };
  let out = '';
  let lines: Cell[][] = [];
  let line: Cell[] = [];
  let start = 0;
  const endCell = (end: number, htab: boolean) => {
    const t = text.slice(start, end);
    line.push({ text: t, width: runeCount(t), htab });
    start = end + 1;
  };
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === '\t' || ch === '\v') endCell(i, ch === '\t');
    else if (ch === '\n' || ch === '\f') {
      endCell(i, false);
      lines.push(line);
      line = [];
      if (ch === '\f') {
        lines.push([]);
        out += new Formatter(lines, o).run();
        lines = [];
      }
    }
  }
  if (start < text.length) endCell(text.length, false);
  lines.push(line);
  return out + new Formatter(lines, o).run();
}
