// Writes CLI output straight to file descriptors 1 and 2. Creating Node's
// process.stdout/stderr streams costs a few milliseconds per command, and most
// commands print one block of text; streaming commands (run, logs) use the streams.
import fs from 'node:fs';

let streamsUsed = false;

/** Marks that process.stdout/stderr are in use, so later output keeps their order. */
export function useStreams(): void {
  streamsUsed = true;
}

export function streamsInUse(): boolean {
  return streamsUsed;
}

export function writeOut(fd: 1 | 2, text: string): void {
  if (!streamsUsed) {
    const buf = Buffer.from(text);
    let off = 0;
    try {
      while (off < buf.length) off += fs.writeSync(fd, buf, off);
      return;
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code === 'EPIPE') return;
      if (code !== 'EAGAIN') throw e;
      // A non-blocking descriptor: let the stream handle it (and everything after it).
      streamsUsed = true;
      (fd === 1 ? process.stdout : process.stderr).write(buf.subarray(off));
      return;
    }
  }
  (fd === 1 ? process.stdout : process.stderr).write(text);
}
