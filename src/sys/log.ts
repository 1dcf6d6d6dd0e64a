// Leveled logging to stderr in logrus' text style (`level=warning msg="..."`),
// which Podman's tooling and tests recognise.
import { writeSync } from 'node:fs';

/** Log lines go straight to fd 2 (synchronous: they must not be lost on exit). */
function writeStderr(line: string): void {
  try { writeSync(2, line); } catch { /* stderr closed */ }
}

export type Level = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<Level, number> = { debug: 0, info: 1, warn: 2, error: 3 };
let threshold: Level = 'warn';

/** The level names accepted by --log-level, BERTH_LOG_LEVEL and log_level. */
export function isLevel(s: string): boolean {
  return s === 'warning' || s in ORDER;
}

function emit(level: Level, msg: string): void {
  if (ORDER[level] < ORDER[threshold]) return;
  const name = level === 'warn' ? 'warning' : level;
  writeStderr(`time="${new Date().toISOString()}" level=${name} msg=${JSON.stringify(msg)}\n`);
}

export const log = {
  setLevel(level: string): void { threshold = (level === 'warning' ? 'warn' : level) as Level; },
  enabled(level: Level): boolean { return ORDER[level] >= ORDER[threshold]; },
  debug: (m: string) => emit('debug', m),
  info: (m: string) => emit('info', m),
  warn: (m: string) => emit('warn', m),
  error: (m: string) => emit('error', m),
};

let tracing: boolean | undefined;
/** With BERTH_TRACE=1, prints milestones as milliseconds since the process started (performance work). */
export function trace(label: string): void {
  tracing ??= !!process.env.BERTH_TRACE;
  if (tracing) writeStderr(`[trace ${performance.now().toFixed(1)} ms] ${label}\n`);
}
