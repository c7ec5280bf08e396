// The console log endpoint (headroom.api.v1.node.<node>.vmi.logs): the read of one chunk on
// its own, then through a real nats-server under headroom.conf, asked as the
// client user of the launcher that the validator's stored VMIs name. No guest
// runs: the tests write the console file where the launcher finds it.
import { appendFile, mkdir, mkdtemp, open, rename, rm, writeFile } from "node:fs/promises";
import { hostname, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { ApiError, HOST_API, hostApiSubject, request } from "@headroom/bus";
import { ConsoleLogReply, ConsoleLogRequest, type IConsoleLogRequest } from "@headroom/proto";
import { useStack } from "@headroom/test-stack/vitest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  MAX_CHUNK_BYTES,
  MAX_TAIL_BYTES,
  offsetOfLastLines,
  readConsoleLog,
} from "../src/console_log.ts";

describe("offsetOfLastLines", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "headroom-console-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function lastLines(text: string, lines: number, maxBytes?: number): Promise<string> {
    const path = join(dir, "file.txt");
    await writeFile(path, text);
    const handle = await open(path, "r");
    try {
      const offset = await offsetOfLastLines(handle, Buffer.byteLength(text), lines, maxBytes);
      return Buffer.from(text).subarray(offset).toString();
    } finally {
      await handle.close();
    }
  }

  it("finds the last N lines, a final newline ending the last one", async () => {
    expect(await lastLines("a\nb\nc\n", 2)).toBe("b\nc\n");
    expect(await lastLines("a\nb\nc", 2)).toBe("b\nc");
    expect(await lastLines("a\nb\nc\n", 1)).toBe("c\n");
  });

  it("gives the whole file when it has fewer lines, and nothing for 0", async () => {
    expect(await lastLines("a\nb\n", 5)).toBe("a\nb\n");
    expect(await lastLines("a\nb\n", 0)).toBe("");
    expect(await lastLines("", 3)).toBe("");
  });

  it("counts empty lines", async () => {
    expect(await lastLines("a\n\n\nb\n", 3)).toBe("\n\nb\n");
  });

  it("reads across chunk boundaries", async () => {
    const line = `${"x".repeat(100_000)}\n`;
    expect(await lastLines(`first\n${line}${line}`, 2)).toBe(`${line}${line}`);
  });

  it("looks back only so far: then it starts at the first whole line within reach", async () => {
    expect(await lastLines("aaaa\nbb\ncc\n", 1_000_000_000, 8)).toBe("bb\ncc\n");
    // No line starts within reach: the bytes within reach.
    expect(await lastLines("aaaa\nbbbbbbbbbb\n", 1_000_000_000, 8)).toBe("bbbbbbb\n");
    const line = `${"y".repeat(999)}\n`;
    const tail = await lastLines(line.repeat(3000), 1_000_000_000);
    expect(tail.length).toBeLessThanOrEqual(MAX_TAIL_BYTES);
    expect(tail.length).toBeGreaterThan(MAX_TAIL_BYTES - line.length);
    expect(tail.startsWith("y")).toBe(true);
  });
});

describe("readConsoleLog", () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), "headroom-console-"));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });
  const ask = { offset: 0, tailLines: 0, fileId: "", waitMs: 0, maxBytes: 0 };

  it("is null without a file", async () => {
    expect(await readConsoleLog(join(dir, "none.log"), ask)).toBeNull();
  });

  it("ends a wait when the signal aborts", async () => {
    const path = join(dir, "quiet.log");
    await writeFile(path, "x\n");
    const stop = new AbortController();
    const started = Date.now();
    const reading = readConsoleLog(path, { ...ask, offset: 2, waitMs: 10_000 }, stop);
    setTimeout(() => stop.abort(), 200);
    const read = await reading;
    expect(read?.data.length).toBe(0);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("waits without a change notice too, looking at the file now and then", async () => {
    const path = join(dir, "polled.log");
    await writeFile(path, "");
    const reading = readConsoleLog(path, { ...ask, waitMs: 5_000 }, { pollMs: 50 });
    setTimeout(() => void appendFile(path, "late\n"), 100);
    expect((await reading)?.data.toString()).toBe("late\n");
  });
});

const stack = useStack({
  services: ["validator", "launcher"],
  tinyGuest: false,
  seedNetwork: false,
  env: { HEADROOM_VIRT_TYPE: "qemu" },
});

function read(
  name: string,
  fields: Partial<IConsoleLogRequest> = {},
  timeoutMs = 15_000,
): Promise<ConsoleLogReply> {
  return request(
    stack.nc,
    hostApiSubject(hostname(), HOST_API.consoleLog),
    ConsoleLogRequest,
    { namespace: stack.namespace, name, ...fields },
    ConsoleLogReply,
    { timeoutMs },
  );
}

function text(reply: ConsoleLogReply): string {
  return Buffer.from(reply.data).toString();
}

async function refusal(promise: Promise<unknown>): Promise<ApiError> {
  const error = await promise.then(
    () => {
      throw new Error("expected an error reply");
    },
    (error: unknown) => error,
  );
  expect(error).toBeInstanceOf(ApiError);
  return error as ApiError;
}

describe("headroom.api.v1.node.<node>.vmi.logs, served by the launcher of that host", () => {
  const name = "web";
  let path = "";

  beforeAll(async () => {
    for (const vmi of [name, "fresh", "big"]) {
      const applied = await stack.apply(await stack.seedManifest(vmi));
      expect(applied.rejected?.errors ?? []).toEqual([]);
    }
    path = stack.state.consoleLog(stack.namespace, name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, "line 1\nline 2\nline 3\n");
  }, 60_000);

  it("reads the whole log, and its last lines", async () => {
    const whole = await read(name);
    expect(text(whole)).toBe("line 1\nline 2\nline 3\n");
    expect(Number(whole.nextOffset)).toBe(21);
    expect(Number(whole.size)).toBe(21);
    expect(whole.fileId).toMatch(/^\d+:\d+$/);
    expect(whole.restarted).toBe(false);

    const tail = await read(name, { offset: -1, tailLines: 2 });
    expect(text(tail)).toBe("line 2\nline 3\n");
    expect(Number(tail.nextOffset)).toBe(21);
    const end = await read(name, { offset: -1, tailLines: 0 });
    expect(text(end)).toBe("");
    expect(Number(end.nextOffset)).toBe(21);
    const rest = await read(name, { offset: 14, fileId: whole.fileId });
    expect(text(rest)).toBe("line 3\n");
  });

  it("answers a waiting request as soon as the file grows, and with nothing at its deadline", async () => {
    const { fileId, nextOffset } = await read(name);
    const started = Date.now();
    const waiting = read(name, { offset: nextOffset, fileId, waitMs: 10_000 });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await appendFile(path, "line 4\n");
    const grown = await waiting;
    expect(text(grown)).toBe("line 4\n");
    expect(Number(grown.nextOffset)).toBe(Number(nextOffset) + 7);
    expect(grown.restarted).toBe(false);
    expect(Date.now() - started).toBeLessThan(5_000);

    const quiet = Date.now();
    const none = await read(name, { offset: grown.nextOffset, fileId, waitMs: 600 });
    expect(text(none)).toBe("");
    expect(Number(none.nextOffset)).toBe(Number(grown.nextOffset));
    expect(Date.now() - quiet).toBeGreaterThanOrEqual(500);
  });

  it("starts over, restarted, on a new file and on a truncated one", async () => {
    const before = await read(name);
    const replacement = `${path}.new`;
    await writeFile(replacement, "boot 2\n");
    await rename(replacement, path);
    const replaced = await read(name, { offset: before.nextOffset, fileId: before.fileId });
    expect(replaced.restarted).toBe(true);
    expect(text(replaced)).toBe("boot 2\n");
    expect(replaced.fileId).not.toBe(before.fileId);

    // A new file while a request waits on the old one.
    const waiting = read(name, {
      offset: replaced.nextOffset,
      fileId: replaced.fileId,
      waitMs: 10_000,
    });
    await new Promise((resolve) => setTimeout(resolve, 300));
    await writeFile(replacement, "boot 3\n");
    await rename(replacement, path);
    const third = await waiting;
    expect(third.restarted).toBe(true);
    expect(text(third)).toBe("boot 3\n");

    await writeFile(path, "x\n"); // the same file, truncated
    const truncated = await read(name, { offset: third.nextOffset, fileId: third.fileId });
    expect(truncated.restarted).toBe(true);
    expect(truncated.fileId).toBe(third.fileId);
    expect(text(truncated)).toBe("x\n");
  });

  it("sends at most 256 KiB a reply, less when asked", async () => {
    const big = stack.state.consoleLog(stack.namespace, "big");
    await mkdir(dirname(big), { recursive: true });
    await writeFile(big, Buffer.alloc(MAX_CHUNK_BYTES * 2 + 10, "z"));
    const first = await read("big");
    expect(first.data.length).toBe(MAX_CHUNK_BYTES);
    expect(Number(first.size)).toBe(MAX_CHUNK_BYTES * 2 + 10);
    const asked = await read("big", { offset: first.nextOffset, maxBytes: 1000 });
    expect(asked.data.length).toBe(1000);
    const greedy = await read("big", { offset: 0, maxBytes: 64 * 1024 * 1024 });
    expect(greedy.data.length).toBe(MAX_CHUNK_BYTES);
    let offset = 0;
    let replies = 0;
    for (; offset < Number(first.size); replies++) {
      offset = Number((await read("big", { offset })).nextOffset);
    }
    expect(replies).toBe(3);
  });

  it("refuses a VMI headroom does not store, one not started, and a name no VMI can have", async () => {
    const missing = await refusal(read("nobody"));
    expect(missing.code).toBe("NOT_FOUND");
    expect(missing.message).toBe(`vmi ${stack.namespace}/nobody not found`);

    const fresh = await refusal(read("fresh"));
    expect(fresh.code).toBe("NOT_FOUND");
    expect(fresh.message).toMatch(
      /^vmi\/fresh has no console log yet on host \S+: it has not started$/,
    );

    const bad = await refusal(read("../etc"));
    expect(bad.code).toBe("BAD_REQUEST");
    expect(bad.message).toContain("is not a DNS-1123 label");
  });
});
