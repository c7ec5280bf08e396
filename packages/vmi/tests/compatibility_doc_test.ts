// docs/kubevirt-compatibility.md lists every KubeVirt field headroom refuses
// or warns about with the treatment the code gives it: the document cannot
// drift from the schema and the treatments table.
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { vmiSchema } from "../src/schema.ts";
import { IGNORED_FIELDS, treatmentOf } from "../src/treatments.ts";

const DOC = new URL("../../../docs/kubevirt-compatibility.md", import.meta.url);

type Schema = Record<string, unknown> | boolean;

/** Every field the schema refuses (a `false` schema), by document path (`[]` for list entries). */
function refusedFields(): string[] {
  const defs = vmiSchema.$defs as Record<string, Schema>;
  const found: string[] = [];
  const walk = (node: Schema, path: string) => {
    if (node === false) {
      found.push(path);
      return;
    }
    if (typeof node !== "object") return;
    if (typeof node.$ref === "string") walk(defs[node.$ref.replace("#/$defs/", "")] ?? {}, path);
    for (const [key, child] of Object.entries((node.properties ?? {}) as Record<string, Schema>))
      walk(child, path === "" ? key : `${path}.${key}`);
    if (node.items) walk(node.items as Schema, `${path}[]`);
  };
  walk(vmiSchema as Schema, "");
  return found;
}

/** Each row's fields ("`a.b`, `.c`" names a.b and a.c) with the row's treatment. */
function documented(): Map<string, string> {
  const rows = new Map<string, string>();
  for (const line of readFileSync(DOC, "utf8").split("\n")) {
    const cells = line.split(" | ");
    if (!line.startsWith("| `") || cells.length < 3) continue;
    const treatment = (cells[1] ?? "").trim();
    let parent = "";
    for (const [, name = ""] of (cells[0] ?? "").matchAll(/`([^`]+)`/g)) {
      const field = name.startsWith(".") ? `${parent}${name}` : name;
      if (!name.startsWith(".")) parent = field.replace(/\.[^.]+$/, "");
      rows.set(field, treatment);
    }
  }
  return rows;
}

describe("docs/kubevirt-compatibility.md", () => {
  const rows = documented();

  it("has a reason for every field the schema refuses: none is left 'not yet'", () => {
    expect(refusedFields().filter((field) => treatmentOf(field) === "not yet")).toEqual([]);
  });

  it("lists every field the schema refuses, with its treatment", () => {
    const fields = refusedFields();
    expect(fields.length).toBeGreaterThan(50);
    const wrong = fields
      .filter((field) => rows.get(field) !== treatmentOf(field))
      .map((field) => `${field}: doc says ${rows.get(field)}, code ${treatmentOf(field)}`);
    expect(wrong).toEqual([]);
  });

  it("lists every field accepted with a warning as a warning", () => {
    const wrong = IGNORED_FIELDS.filter(
      (field) => field !== "apiVersion" && rows.get(field) !== "warning",
    );
    expect(wrong).toEqual([]);
  });

  it("names a test that exists for each honored row", () => {
    const text = readFileSync(DOC, "utf8");
    const tests = [...text.matchAll(/`((?:packages|services)\/[^`]+_test\.ts)`/g)].map(
      ([, path]) => path as string,
    );
    expect(tests.length).toBeGreaterThan(10);
    const missing = tests.filter((path) => {
      try {
        readFileSync(new URL(`../../../${path}`, import.meta.url));
        return false;
      } catch {
        return true;
      }
    });
    expect(missing).toEqual([]);
  });
});
