import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  ConsoleText,
  formatAge,
  formatBytes,
  formatJson,
  formatObjects,
  formatTable,
  formatYaml,
  listOf,
  visible,
} from "../src/output.ts";

describe("formatTable", () => {
  it("pads columns to the widest cell, three spaces apart, without trailing spaces", () => {
    const text = formatTable(
      ["NAME", "PHASE", "AGE"],
      [
        ["web", "Running", "5s"],
        ["a-longer-name", "Pending", "12m"],
      ],
    );
    expect(text).toBe(
      [
        "NAME            PHASE     AGE",
        "web             Running   5s",
        "a-longer-name   Pending   12m",
        "",
      ].join("\n"),
    );
  });

  it("prints only the header when there are no rows", () => {
    expect(formatTable(["REF", "SIZE"], [])).toBe("REF   SIZE\n");
  });

  it("keeps a header wider than every cell", () => {
    expect(formatTable(["CONTROLLERS", "X"], [["4", "y"]])).toBe(
      "CONTROLLERS   X\n4             y\n",
    );
  });
});

describe("JSON and YAML", () => {
  const object = { kind: "Thing", metadata: { name: "a" }, list: [1, 2], none: null };

  it("prints JSON indented by two spaces, ending with a newline", () => {
    expect(formatJson(object)).toBe(`${JSON.stringify(object, null, 2)}\n`);
  });

  it("prints YAML that reads back as the same object", () => {
    const yaml = formatYaml(object);
    expect(parse(yaml)).toEqual(object);
    expect(yaml).toContain("metadata:\n  name: a\n");
  });

  it("keeps long strings on one line in YAML", () => {
    const reason = "x ".repeat(100).trim();
    expect(formatYaml({ reason })).toBe(`reason: ${reason}\n`);
  });

  it("wraps several objects in a v1 List, as kubectl does", () => {
    expect(listOf([{ a: 1 }])).toEqual({ apiVersion: "v1", kind: "List", items: [{ a: 1 }] });
  });

  it("prints one named object bare, and a listing as a List even with one item", () => {
    expect(JSON.parse(formatObjects("json", [{ a: 1 }], true))).toEqual({ a: 1 });
    expect(JSON.parse(formatObjects("json", [{ a: 1 }], false))).toEqual({
      apiVersion: "v1",
      kind: "List",
      items: [{ a: 1 }],
    });
    expect(parse(formatObjects("yaml", [], false))).toEqual({
      apiVersion: "v1",
      kind: "List",
      items: [],
    });
  });
});

describe("formatAge", () => {
  const s = 1000;
  const m = 60 * s;
  const h = 60 * m;
  const d = 24 * h;
  it.each([
    [-5 * s, "<invalid>"],
    [-500, "0s"],
    [0, "0s"],
    [59 * s, "59s"],
    [119 * s, "119s"],
    [2 * m, "2m"],
    [3 * m + 20 * s, "3m20s"],
    [10 * m + 59 * s, "10m"],
    [179 * m, "179m"],
    [3 * h, "3h"],
    [5 * h + 30 * m, "5h30m"],
    [8 * h + 30 * m, "8h"],
    [47 * h, "47h"],
    [2 * d, "2d"],
    [3 * d + 4 * h, "3d4h"],
    [8 * d + 4 * h, "8d"],
    [400 * d, "400d"],
    [730 * d, "2y"],
    [731 * d, "2y1d"],
    [9 * 365 * d, "9y"],
  ])("%d ms is %s", (ms, text) => {
    expect(formatAge(ms)).toBe(text);
  });
});

describe("formatBytes", () => {
  it.each([
    [0, "0B"],
    [512, "512B"],
    [1536, "1.5KiB"],
    [1024 * 1024, "1MiB"],
    [20.4 * 1024 * 1024, "20MiB"],
    [1.25 * 1024 ** 3, "1.3GiB"],
  ])("%d bytes is %s", (bytes, text) => {
    expect(formatBytes(bytes)).toBe(text);
  });
});

describe("text from guests and users", () => {
  it("shows control characters instead of sending them to the terminal", () => {
    expect(visible("web\u001b[2J\u001b]0;pwned\u0007 ok\ttab")).toBe(
      "web\\x1b[2J\\x1b]0;pwned\\x07 ok\ttab",
    );
    expect(visible("\u009b31m\u007f")).toBe("\\x9b31m\\x7f");
    expect(visible("plain, ünïcode 🦄\n")).toBe("plain, ünïcode 🦄\n");
  });

  it("keeps a console's lines across chunks, CRLF as newline, and splits no character", () => {
    const text = new ConsoleText();
    const bytes = new TextEncoder().encode("boot ok\r\nünï\u001b[0m\r\nlast\r");
    let out = "";
    // One byte at a time: every boundary falls somewhere awkward once.
    for (const byte of bytes) out += text.push(Uint8Array.of(byte));
    out += text.end();
    expect(out).toBe("boot ok\nünï\\x1b[0m\nlast\\x0d");
  });
});
