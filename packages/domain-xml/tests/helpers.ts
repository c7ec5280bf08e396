/** Test helpers: read fixtures, walk parsed XML, run virt-xml-validate. */
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DOMParser, type Element, XMLSerializer } from "@xmldom/xmldom";

export function fixture(name: string): string {
  return readFileSync(new URL(`./fixtures/${name}`, import.meta.url), "utf8");
}

export function parse(xml: string): Element {
  const doc = new DOMParser({
    onError: (level, message) => {
      if (level !== "warning") throw new Error(message);
    },
  }).parseFromString(xml, "text/xml");
  return doc.documentElement as Element;
}

export function children(parent: Element, tag?: string): Element[] {
  const out: Element[] = [];
  for (let n = parent.firstChild; n; n = n.nextSibling) {
    if (n.nodeType === 1 && (tag === undefined || (n as Element).tagName === tag))
      out.push(n as Element);
  }
  return out;
}

export function child(parent: Element, ...path: string[]): Element {
  let el = parent;
  for (const tag of path) {
    const next = children(el, tag)[0];
    if (!next) throw new Error(`no <${tag}> under <${el.tagName}>`);
    el = next;
  }
  return el;
}

/** The same document as the library writes it (double quotes), for exact comparisons. */
export function reserialize(xml: string): string {
  return new XMLSerializer().serializeToString(parse(xml).ownerDocument as never);
}

/** Element paths (`domain/devices/disk`) with their counts. */
export function elementCounts(xml: string): Record<string, number> {
  const counts: Record<string, number> = {};
  const walk = (el: Element, prefix: string) => {
    const path = prefix ? `${prefix}/${el.tagName}` : el.tagName;
    counts[path] = (counts[path] ?? 0) + 1;
    for (const c of children(el)) walk(c, path);
  };
  walk(parse(xml), "");
  return counts;
}

/** Runs libvirt's own schema check (it reports on stderr); returns the report or throws it. */
export function virtXmlValidate(xml: string, schema = "domain"): string {
  const dir = mkdtempSync(join(tmpdir(), "domain-xml-"));
  try {
    const file = join(dir, "domain.xml");
    writeFileSync(file, xml);
    const run = spawnSync("virt-xml-validate", [file, schema], { encoding: "utf8" });
    const report = `${run.stdout}${run.stderr}`;
    if (run.error) throw run.error;
    if (run.status !== 0) throw new Error(`virt-xml-validate failed: ${report}`);
    return report;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
