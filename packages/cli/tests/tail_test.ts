import { appendFile, mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { offsetOfLastLines, tailFile } from "../src/tail.ts";

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "headroom-cli-tail-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function lastLines(text: string, lines: number): Promise<string> {
  const path = join(dir, "file.txt");
  await writeFile(path, text);
  const handle = await open(path, "r");
  try {
    const offset = await offsetOfLastLines(handle, Buffer.byteLength(text), lines);
    return Buffer.from(text).subarray(offset).toString();
  } finally {
    await handle.close();
  }
}

describe("offsetOfLastLines", () => {
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
});

describe("tailFile", () => {
  it("follows appended text, and starts again when the file is replaced", async () => {
    const path = join(dir, "console.log");
    await writeFile(path, "boot 1\nline 2\n");
    const stop = new AbortController();
    let seen = "";
    const following = tailFile(path, {
      lines: 1,
      follow: true,
      signal: stop.signal,
      pollMs: 20,
      write: (chunk) => {
        seen += chunk.toString();
      },
    });
    const until = async (text: string) => {
      for (let i = 0; i < 200 && !seen.includes(text); i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      expect(seen).toContain(text);
    };
    await until("line 2\n");
    await appendFile(path, "line 3\n");
    await until("line 3\n");
    await rm(path);
    await writeFile(path, "second boot\n");
    await until("second boot\n");
    stop.abort();
    await following;
    expect(seen).toBe("line 2\nline 3\nsecond boot\n");
  });

  it("throws ENOENT for a missing file", async () => {
    await expect(tailFile(join(dir, "nope.log"), { write: () => {} })).rejects.toMatchObject({
      code: "ENOENT",
    });
  });
});
