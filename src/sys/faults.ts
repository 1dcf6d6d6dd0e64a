// Crash points for recovery tests: with BERTH_CRASH_AT=<name>, the process kills
// itself with SIGKILL at that point of a real operation, exactly like an
// operator's `kill -9` landing there. Costs one environment lookup otherwise.
let target: string | undefined | null = null;

export function crashPoint(name: string): void {
  if (target === null) target = process.env.BERTH_CRASH_AT || undefined;
  if (target === name) process.kill(process.pid, 'SIGKILL');
}
