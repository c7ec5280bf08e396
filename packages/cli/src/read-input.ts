import { open } from "node:fs/promises";
import { DocumentError, MAX_DOCUMENT_BYTES, parseDocument } from "@headroom/vmi";
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

/** Reads `-f FILE` and parses it as one YAML or JSON document; a bad one is a CliError. */
export async function readDocument(file: string): Promise<{ doc: unknown; source: string }> {
  const { text, source } = await readInput(file);
  try {
    return { doc: parseDocument(text, source), source };
  } catch (error) {
    if (error instanceof DocumentError) throw new CliError(error.message);
    throw error;
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
