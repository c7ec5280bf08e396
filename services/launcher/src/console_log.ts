// headroom.api.v1.node.<node>.vmi.logs: a VMI's serial console log, one chunk per request.
// A client reads the whole log by asking again from next_offset, and follows it
// by asking with wait_ms: a request with nothing new to read waits (bounded)
// for the file to grow, like a JetStream pull.
import { type FSWatcher, watch } from "node:fs";
import { type FileHandle, open, stat } from "node:fs/promises";
import { basename, dirname } from "node:path";
import { ApiError, errorText, storeKey } from "@headroom/bus";
import { domainNameOf } from "@headroom/host-state";
import type { ConsoleLogRequest, IConsoleLogReply } from "@headroom/proto";
import type { LauncherContext } from "./context.ts";

/** The largest chunk one reply carries. */
export const MAX_CHUNK_BYTES = 256 * 1024;
/** The longest a request waits for the file to grow. */
export const MAX_WAIT_MS = 10_000;
/** How far back from the end a tail looks for its lines. */
export const MAX_TAIL_BYTES = 1024 * 1024;
/** While waiting, the file is looked at this often even without a change notice. */
const POLL_MS = 500;

const CHUNK = 64 * 1024;

export interface ConsoleReadRequest {
  /** Byte offset; negative starts at the last `tailLines` lines. */
  offset: number;
  tailLines: number;
  /** The file the client read before ("" at first). */
  fileId: string;
  waitMs: number;
  maxBytes: number;
}

export interface ConsoleRead {
  data: Buffer;
  nextOffset: number;
  fileId: string;
  size: number;
  restarted: boolean;
}

export interface ConsoleReadOptions {
  /** Ends a wait at once (the launcher stopping). */
  signal?: AbortSignal;
  pollMs?: number;
}

/**
 * The VMI's console log, for the endpoint: the VMI must be stored, and its log
 * is the file the host state names (never a path from the request).
 */
export async function serveConsoleLog(
  ctx: LauncherContext,
  req: ConsoleLogRequest,
  signal?: AbortSignal,
): Promise<IConsoleLogReply> {
  const { namespace, name } = req;
  try {
    domainNameOf(namespace, name);
  } catch (error) {
    throw new ApiError("BAD_REQUEST", errorText(error));
  }
  if (!(await ctx.readStored(storeKey(namespace, name))))
    throw new ApiError("NOT_FOUND", `vmi ${namespace}/${name} not found`);
  const read = await readConsoleLog(
    ctx.state.consoleLog(namespace, name),
    {
      offset: Number(req.offset),
      tailLines: req.tailLines,
      fileId: req.fileId,
      waitMs: req.waitMs,
      maxBytes: req.maxBytes,
    },
    { signal },
  );
  if (!read)
    throw new ApiError(
      "NOT_FOUND",
      `vmi/${name} has no console log yet on host ${ctx.node}: it has not started`,
    );
  return read;
}

/**
 * One chunk of a log file: from the request's offset (or its last lines), at
 * most MAX_CHUNK_BYTES, waiting at most MAX_WAIT_MS for new bytes when there
 * are none. A file that is not the request's (another file id) or is shorter
 * than its offset is read from byte 0, `restarted`. Null when there is no file.
 */
export async function readConsoleLog(
  path: string,
  req: ConsoleReadRequest,
  options: ConsoleReadOptions = {},
): Promise<ConsoleRead | null> {
  const maxBytes = req.maxBytes > 0 ? Math.min(req.maxBytes, MAX_CHUNK_BYTES) : MAX_CHUNK_BYTES;
  const waitMs = Math.min(Math.max(req.waitMs, 0), MAX_WAIT_MS);
  let handle = await openIfThere(path);
  if (!handle) return null;
  try {
    let { id, size } = await identify(handle);
    let restarted = req.fileId !== "" && req.fileId !== id;
    let position: number;
    if (restarted) position = 0;
    else if (req.offset >= 0) position = req.offset;
    else position = await offsetOfLastLines(handle, size, req.tailLines);
    if (position > size) {
      // Truncated: what is there now is new.
      restarted = true;
      position = 0;
    }
    if (position === size && waitMs > 0) {
      const since = { id, size: position };
      await waitForChange(path, since, waitMs, options);
      const now = await openIfThere(path);
      if (now) {
        const current = await identify(now);
        if (current.id !== id) {
          await handle.close();
          handle = now;
          ({ id, size } = current);
          restarted = true;
          position = 0;
        } else {
          await now.close();
          size = current.size;
          if (size < position) {
            restarted = true;
            position = 0;
          }
        }
      }
    }
    const data = await readRange(handle, position, Math.min(size, position + maxBytes));
    return { data, nextOffset: position + data.length, fileId: id, size, restarted };
  } finally {
    await handle.close().catch(() => {});
  }
}

async function openIfThere(path: string): Promise<FileHandle | null> {
  try {
    return await open(path, "r");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
}

async function identify(handle: FileHandle): Promise<{ id: string; size: number }> {
  const stats = await handle.stat();
  return { id: `${stats.dev}:${stats.ino}`, size: stats.size };
}

async function readRange(handle: FileHandle, from: number, to: number): Promise<Buffer> {
  const buffer = Buffer.alloc(Math.max(0, to - from));
  let filled = 0;
  while (filled < buffer.length) {
    const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, from + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

/**
 * Resolves once the file at `path` is no longer `since` (grown, shrunk,
 * replaced), after `waitMs`, or when the signal aborts. A change notice on the
 * file's directory wakes it at once; without one it looks every POLL_MS.
 */
async function waitForChange(
  path: string,
  since: { id: string; size: number },
  waitMs: number,
  options: ConsoleReadOptions,
): Promise<void> {
  const deadline = Date.now() + waitMs;
  const pollMs = options.pollMs ?? POLL_MS;
  const signal = options.signal;
  const file = basename(path);
  let noticed = false;
  let wake: () => void = () => {};
  let watcher: FSWatcher | undefined;
  try {
    // The directory, not the file: a new file (the VMI started again) counts too.
    watcher = watch(dirname(path), { persistent: false }, (_event, changed) => {
      if (changed !== null && changed !== file) return; // e.g. a disk the guest writes
      noticed = true;
      wake();
    });
    watcher.on("error", () => {});
  } catch {
    // No notices here: looking every POLL_MS is enough.
  }
  try {
    while (!signal?.aborted) {
      noticed = false;
      const current = await stat(path).catch(() => null);
      if (current && (`${current.dev}:${current.ino}` !== since.id || current.size !== since.size))
        return;
      const left = deadline - Date.now();
      if (left <= 0) return;
      if (noticed) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(done, Math.min(pollMs, left));
        signal?.addEventListener("abort", done, { once: true });
        wake = done;
        function done() {
          clearTimeout(timer);
          signal?.removeEventListener("abort", done);
          wake = () => {};
          resolve();
        }
      });
    }
  } finally {
    watcher?.close();
  }
}

/**
 * The byte offset where the last `lines` lines of the file begin (a final
 * newline ends the last line, it does not start an empty one). Reads the file
 * backwards, at most MAX_TAIL_BYTES: when the lines reach further back, they
 * start at the first whole line within that distance of the end.
 */
export async function offsetOfLastLines(
  handle: FileHandle,
  size: number,
  lines: number,
  maxBytes = MAX_TAIL_BYTES,
): Promise<number> {
  if (lines <= 0) return size;
  const limit = Math.max(0, size - maxBytes);
  let end = size;
  let found = 0;
  let skipFinalNewline = true;
  /** The start of the earliest whole line seen. */
  let earliest = size;
  const buffer = Buffer.alloc(CHUNK);
  while (end > limit) {
    const start = Math.max(limit, end - CHUNK);
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
      earliest = start + i + 1;
      if (found === lines) return earliest;
    }
    end = start;
  }
  if (limit === 0) return 0;
  // Looked back as far as allowed: start at a line's start when one was seen.
  return earliest < size ? earliest : limit;
}
