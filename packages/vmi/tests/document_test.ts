import { describe, expect, it } from "vitest";
import { DocumentError, MAX_DOCUMENT_BYTES, parseDocument } from "../src/mod.ts";

describe("parseDocument", () => {
  it("reads YAML", () => {
    expect(parseDocument("a: 1\nb: [x, y]\n")).toEqual({ a: 1, b: ["x", "y"] });
  });

  it("reads JSON", () => {
    expect(parseDocument('{"a": 1, "b": {"c": "5"}}')).toEqual({ a: 1, b: { c: "5" } });
  });

  it("reads a document that starts with ---", () => {
    expect(parseDocument("---\na: 1\n")).toEqual({ a: 1 });
  });

  it("skips empty documents, as after a trailing ---", () => {
    expect(parseDocument("a: 1\n---\n")).toEqual({ a: 1 });
    expect(parseDocument("---\n---\na: 1\n")).toEqual({ a: 1 });
  });

  it("reads YAML 1.2: yes, no and MAC addresses stay strings", () => {
    expect(parseDocument("a: yes\nb: 52:54:00:00:00:01\n")).toEqual({
      a: "yes",
      b: "52:54:00:00:00:01",
    });
  });

  it("refuses several documents, naming the source", () => {
    expect(() => parseDocument("a: 1\n---\nb: 2\n", "file.yaml")).toThrow(
      new DocumentError(
        "file.yaml holds 2 documents; headroom takes one VirtualMachineInstance per file",
      ),
    );
  });

  it("refuses an empty source", () => {
    for (const text of ["", "# only a comment\n", "---\n"]) {
      expect(() => parseDocument(text, "empty.yaml")).toThrow("empty.yaml holds no document");
    }
  });

  it("refuses broken YAML with the line and column", () => {
    expect(() => parseDocument("a: [1\n", "broken.yaml")).toThrow(
      /^broken\.yaml is not valid YAML or JSON: .* at line 2, column 1/,
    );
  });

  it("refuses duplicate keys", () => {
    expect(() => parseDocument("a: 1\na: 2\n", "dup.yaml")).toThrow(/Map keys must be unique/);
    expect(() => parseDocument('{"a": 1, "a": 2}', "dup.json")).toThrow(DocumentError);
  });

  it("names the document when no source is given", () => {
    expect(() => parseDocument("a: 1\n---\nb: 2\n")).toThrow(/^the document holds 2 documents/);
  });

  it("refuses documents larger than 1 MiB before parsing", () => {
    const text = `a: "${"x".repeat(MAX_DOCUMENT_BYTES)}"\n`;
    expect(() => parseDocument(text, "big.yaml")).toThrow(
      `big.yaml is ${MAX_DOCUMENT_BYTES + 6} bytes; headroom takes documents of at most ${MAX_DOCUMENT_BYTES} bytes`,
    );
  });

  it("limits alias expansion", () => {
    const lines = ["a: &a [x, x, x, x, x, x, x, x, x, x]"];
    for (let i = 0; i < 9; i++) {
      const prev = String.fromCharCode(97 + i);
      const next = String.fromCharCode(98 + i);
      lines.push(`${next}: &${next} [${Array(10).fill(`*${prev}`).join(", ")}]`);
    }
    expect(() => parseDocument(lines.join("\n"), "bomb.yaml")).toThrow(
      /^bomb\.yaml cannot be read/,
    );
  });

  it("throws DocumentError, an Error", () => {
    try {
      parseDocument("", "x.yaml");
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(DocumentError);
      expect(error).toBeInstanceOf(Error);
      expect((error as Error).name).toBe("DocumentError");
    }
  });
});
