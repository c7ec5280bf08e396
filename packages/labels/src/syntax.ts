// Label keys and values as Kubernetes spells them, with the patterns of the
// VMI schema (schemas/vmi.schema.json), so a host's labels and a VMI's obey
// the same rule.
import { readFileSync } from "node:fs";

const SCHEMA_URL = new URL("../../../schemas/vmi.schema.json", import.meta.url);
const defs = JSON.parse(readFileSync(SCHEMA_URL, "utf8")).$defs;

export const LABEL_KEY = new RegExp(defs.labelKey.pattern, "u");
export const LABEL_VALUE = new RegExp(defs.labelValue.pattern, "u");

/** Parses `key=value` (a flag's text); throws an Error that says what is wrong. */
export function parseLabel(text: string): [key: string, value: string] {
  const at = text.indexOf("=");
  if (at < 0) throw new Error(`label ${JSON.stringify(text)} is not key=value`);
  const key = text.slice(0, at);
  const value = text.slice(at + 1);
  if (!LABEL_KEY.test(key))
    throw new Error(
      `label ${JSON.stringify(text)}: ${JSON.stringify(key)} is not a label key (${defs.labelKey.description})`,
    );
  if (!LABEL_VALUE.test(value))
    throw new Error(
      `label ${JSON.stringify(text)}: ${JSON.stringify(value)} is not a label value (${defs.labelValue.description})`,
    );
  return [key, value];
}

/**
 * Why `node` cannot name a host, or undefined: a DNS subdomain (lowercase
 * letters, digits, '-' and '.') of at most 63 characters, so that it is also
 * the value of its kubernetes.io/hostname label.
 */
export function nodeNameProblem(node: string): string | undefined {
  if (/^(?=.{1,63}$)[a-z0-9](?:[-a-z0-9.]*[a-z0-9])?$/.test(node)) return undefined;
  return `node name ${JSON.stringify(node)} must be 1 to 63 lowercase letters, digits, '-' or '.', starting and ending with a letter or digit`;
}
