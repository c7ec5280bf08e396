import { parseAllDocuments } from "yaml";

/** Larger documents are refused before parsing; a VMI is a few kilobytes. */
export const MAX_DOCUMENT_BYTES = 1024 * 1024;

/** A document that cannot be read as exactly one YAML or JSON value. The message names the source. */
export class DocumentError extends Error {
  override name = "DocumentError";
}

/**
 * Parses YAML or JSON (JSON is YAML) holding exactly one document. Empty
 * documents, such as after a trailing `---`, are skipped as kubectl does.
 * Duplicate keys are errors; aliases are limited, so a small file cannot
 * expand into a huge value.
 */
export function parseDocument(text: string, source = "the document"): unknown {
  const bytes = Buffer.byteLength(text, "utf8");
  if (bytes > MAX_DOCUMENT_BYTES) {
    throw new DocumentError(
      `${source} is ${bytes} bytes; headroom takes documents of at most ${MAX_DOCUMENT_BYTES} bytes`,
    );
  }
  const documents = Array.from(parseAllDocuments(text, { prettyErrors: true }));
  for (const document of documents) {
    const [error] = document.errors;
    if (error) throw new DocumentError(`${source} is not valid YAML or JSON: ${error.message}`);
  }
  const values = documents
    .map((document) => {
      try {
        return document.toJS({ maxAliasCount: 100 }) as unknown;
      } catch (error) {
        throw new DocumentError(`${source} cannot be read: ${(error as Error).message}`);
      }
    })
    .filter((value) => value !== null && value !== undefined);
  if (values.length === 0) throw new DocumentError(`${source} holds no document`);
  if (values.length > 1) {
    throw new DocumentError(
      `${source} holds ${values.length} documents; headroom takes one VirtualMachineInstance per file`,
    );
  }
  return values[0];
}
