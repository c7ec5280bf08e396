// Reading the end of a growing file: the last N lines, then what gets appended.
import { type FileHandle, open, stat } from "node:fs/promises";

const CHUNK = 64 * 1024;

/**
 * The byte offset where the last `lines` lines of the file begin (a final
 * newline ends the last line, it does not start an empty one). Reads the
 * file backwards, so a long log costs only its tail.
 */
export async function offsetOfLastLines(
  handle: FileHandle,
  size: number,
  lines: number,
): Promise<number> {
  if (lines <= 0) return size;
  let end = size;
  let found = 0;
  let skipFinalNewline = true;
  const buffer = Buffer.alloc(CHUNK);
  while (end > 0) {
    const start = Math.max(0, end - CHUNK);
    const { bytesRead } = await handle.read(buffer, 0, end - start, start);
    for (let i = bytesRead - 1; i >= 0; i--) {
      if (buffer[i] !== 0x0a) {
        skipFinalNewline = false;
        continue;
      }
      if (skipFinalNewline) {
        skipFinalNewline = false;
        continue;
      }
      found += 1;
      if (found === lines) return start + i + 1;
    }
    end = start;
  }
  return 0;
}

/** Writes bytes [from, to) of the file; returns `to`. */
async function copyRange(
  handle: FileHandle,
  from: number,
  to: number,
  write: (chunk: Buffer) => void,
): Promise<number> {
  const buffer = Buffer.alloc(CHUNK);
  let position = from;
  while (position < to) {
    const { bytesRead } = await handle.read(buffer, 0, Math.min(CHUNK, to - position), position);
    if (bytesRead === 0) break;
    write(Buffer.from(buffer.subarray(0, bytesRead)));
    position += bytesRead;
  }
  return position;
}

export interface TailOptions {
  /** Print only the last N lines first; undefined prints the whole file. */
  lines?: number;
  /** Keep printing what is appended until `signal` aborts. */
  follow?: boolean;
  signal?: AbortSignal;
  pollMs?: number;
  write: (chunk: Buffer) => void;
}

/**
 * Prints a file (or its last lines) and, when following, what is appended to
 * it. A file that shrinks or is replaced (a VM started again) is read again
 * from its start. Throws the fs error when the file is not there at first.
 */
export async function tailFile(path: string, options: TailOptions): Promise<void> {
  let handle = await open(path, "r");
  try {
    let { size, ino } = await handle.stat();
    const from =
      options.lines === undefined ? 0 : await offsetOfLastLines(handle, size, options.lines);
    let position = await copyRange(handle, from, size, options.write);
    if (!options.follow) return;

    const pollMs = options.pollMs ?? 250;
    const signal = options.signal;
    while (!signal?.aborted) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, pollMs);
        signal?.addEventListener("abort", done, { once: true });
        function done() {
          clearTimeout(timer);
          signal?.removeEventListener("abort", done);
          resolve();
        }
      });
      if (signal?.aborted) break;
      const current = await stat(path).catch(() => null);
      if (current && current.ino !== ino) {
        // Replaced: follow the new file from its start.
        await handle.close();
        handle = await open(path, "r");
        ({ size, ino } = await handle.stat());
        position = 0;
      } else {
        size = (await handle.stat()).size;
        if (size < position) position = 0; // truncated
      }
      if (size > position) position = await copyRange(handle, position, size, options.write);
    }
  } finally {
    await handle.close().catch(() => {});
  }
}
