// Kubernetes label selectors, as `kubectl get -l` takes them: requirements
// separated by commas, each `key=value` (or `==`), `key!=value`, `key`,
// `!key`, `key in (a,b)` or `key notin (a,b)`. A VMI matches when it meets
// every requirement.
import { LABEL_KEY as KEY, LABEL_VALUE as VALUE } from "./syntax.ts";

export type Requirement =
  | { key: string; op: "in" | "notin"; values: string[] }
  | { key: string; op: "exists" | "doesnotexist" };

export type SelectorResult =
  | { ok: true; requirements: Requirement[] }
  | { ok: false; message: string };

/** Splits at commas outside parentheses: "a in (x,y),b" → ["a in (x,y)", "b"]. */
function splitRequirements(text: string): string[] | null {
  const parts: string[] = [];
  let depth = 0;
  let current = "";
  for (const char of text) {
    if (char === "(") depth++;
    if (char === ")") depth--;
    if (depth < 0 || depth > 1) return null;
    if (char === "," && depth === 0) {
      parts.push(current);
      current = "";
    } else current += char;
  }
  if (depth !== 0) return null;
  parts.push(current);
  return parts.map((part) => part.trim());
}

function parseRequirement(part: string): Requirement | string {
  const set = /^(\S+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(part);
  if (set) {
    const [, key = "", op, list = ""] = set;
    if (list.trim() === "") return `${op} needs at least one value`;
    const values = list.split(",").map((value) => value.trim());
    const bad = values.find((value) => !VALUE.test(value));
    if (bad !== undefined) return `${JSON.stringify(bad)} is not a label value`;
    return { key, op: op as "in" | "notin", values };
  }
  const equality = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(part);
  if (equality) {
    const [, key = "", op, value = ""] = equality;
    if (!VALUE.test(value)) return `${JSON.stringify(value)} is not a label value`;
    return { key, op: op === "!=" ? "notin" : "in", values: [value] };
  }
  if (part.startsWith("!")) return { key: part.slice(1).trim(), op: "doesnotexist" };
  return { key: part, op: "exists" };
}

/** Parses a selector; the message names what is wrong, as a usage error would. */
export function parseLabelSelector(text: string): SelectorResult {
  const parts = splitRequirements(text);
  if (parts === null)
    return { ok: false, message: `unbalanced parentheses in ${JSON.stringify(text)}` };
  const requirements: Requirement[] = [];
  for (const part of parts) {
    if (part === "") return { ok: false, message: `empty requirement in ${JSON.stringify(text)}` };
    const parsed = parseRequirement(part);
    if (typeof parsed === "string")
      return { ok: false, message: `${parsed} (in ${JSON.stringify(part)})` };
    if (!KEY.test(parsed.key))
      return {
        ok: false,
        message: `${JSON.stringify(parsed.key)} is not a label key (in ${JSON.stringify(part)})`,
      };
    requirements.push(parsed);
  }
  return { ok: true, requirements };
}

/** Whether labels meet every requirement (an empty selector matches everything). */
export function matchesLabels(
  labels: Record<string, string> | undefined,
  requirements: readonly Requirement[],
): boolean {
  const own = labels ?? {};
  return requirements.every((requirement) => {
    const has = Object.hasOwn(own, requirement.key);
    if (requirement.op === "in" || requirement.op === "notin") {
      const listed = has && requirement.values.includes(own[requirement.key] as string);
      return requirement.op === "in" ? listed : !listed;
    }
    return requirement.op === "exists" ? has : !has;
  });
}
