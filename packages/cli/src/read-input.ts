import { open } from "node:fs/promises";
import { MAX_DOCUMENT_BYTES } from "@headroom/vmi";
import { CliError } from "./exit-codes.ts";

export interface InputText {
  text: string;
  /** How messages name the input: the path, or "stdin". */
  source: string;
}

/**
 * Reads the text behind `-f FILE` (`-f -` is stdin), refusing more than
 * MAX_DOCUMENT_BYTES without reading it all. Failures are CliErrors naming the file.
 */
export async function readInput(file: string): Promise<InputText> {
  if (file === "-") return { text: await readLimited(process.stdin, "stdin"), source: "stdin" };
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(file, "r");
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${reason(error)}`);
  }
  try {
    return { text: await readLimited(handle.createReadStream(), file), source: file };
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(`cannot read ${file}: ${reason(error)}`);
  } finally {
    await handle.close();
  }
}

async function readLimited(
  stream: AsyncIterable<Buffer | string>,
  source: string,
): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream) {
    const buffer = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
    size += buffer.length;
    if (size > MAX_DOCUMENT_BYTES) {
      throw new CliError(
        `${source} is larger than ${MAX_DOCUMENT_BYTES} bytes, the most headroom reads`,
      );
    }
    chunks.push(buffer);
  }
  return Buffer.concat(chunks).toString("utf8");
}

const REASONS: Record<string, string> = {
  ENOENT: "no such file",
  EACCES: "permission denied",
  EISDIR: "it is a directory",
};

function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  return (code && REASONS[code]) ?? (error as Error).message;
}
