/**
 * A benchmark's flags, read one way (node:util parseArgs) for all of them: each declares its
 * own flags with their defaults (one for a full run, one for --quick where they differ) and
 * gets back checked values; most also take --quick (a smoke run) and --json PATH (where the
 * result goes, by default bench/results/<name>.json unless --quick). A bad or unknown flag
 * ends the process with its message and exit code 2.
 *
 *   const args = benchArgs({
 *     script: "bench/creates/main.ts",
 *     json: "bench/results/creates.json",
 *     flags: { vmis: integer({ full: 16, quick: 4 }), concurrency: integers([1, 4, 16]) },
 *   });
 *   args.vmis; args.concurrency; args.quick; args.json; args.command;
 */
import { parseArgs } from "node:util";
import { repoPath } from "./machine.ts";

/** One flag: how parseArgs reads it, and its value from what was given. */
export interface Flag<T> {
  type: "string" | "boolean";
  /** `given` is undefined when the flag was not given; throws a message naming what it takes. */
  read(given: string | boolean | undefined, quick: boolean): T;
}

/** A default for a full run and another for --quick, or one for both. */
export type ByRun<T> = T | { full: T; quick: T };

function pick<T>(byDefault: ByRun<T>, quick: boolean): T {
  if (typeof byDefault === "object" && byDefault !== null && "full" in byDefault)
    return quick ? byDefault.quick : byDefault.full;
  return byDefault;
}

interface Range {
  /** Smallest value allowed (default 1). */
  min?: number;
  /** Largest value allowed (default none). */
  max?: number;
}

function wholeNumber(
  text: string,
  { min = 1, max = Number.POSITIVE_INFINITY }: Range,
  what = "a whole number",
): number {
  const value = Number(text);
  if (text.trim() === "" || !Number.isInteger(value) || value < min || value > max) {
    const range = max === Number.POSITIVE_INFINITY ? `of at least ${min}` : `from ${min} to ${max}`;
    throw new Error(`takes ${what} ${range}, got "${text}"`);
  }
  return value;
}

/** --name N, a whole number (at least 1 unless `range` says otherwise). */
export function integer(byDefault: ByRun<number>, range: Range = {}): Flag<number> {
  return {
    type: "string",
    read: (given, quick) =>
      typeof given === "string" ? wholeNumber(given, range) : pick(byDefault, quick),
  };
}

/** --name N, a whole number, or undefined when not given. */
export function optionalInteger(range: Range = {}): Flag<number | undefined> {
  return {
    type: "string",
    read: (given) => (typeof given === "string" ? wholeNumber(given, range) : undefined),
  };
}

/** --name X, a number above 0 (seconds, say). */
export function positive(byDefault: ByRun<number>): Flag<number> {
  return {
    type: "string",
    read(given, quick) {
      if (typeof given !== "string") return pick(byDefault, quick);
      const value = Number(given);
      if (given.trim() === "" || !(value > 0) || !Number.isFinite(value))
        throw new Error(`takes a number above 0, got "${given}"`);
      return value;
    },
  };
}

/** --name 1,4,16: whole numbers, comma-separated. */
export function integers(byDefault: ByRun<number[]>, range: Range = {}): Flag<number[]> {
  return {
    type: "string",
    read: (given, quick) =>
      typeof given === "string"
        ? given.split(",").map((part) => wholeNumber(part, range, "comma-separated whole numbers"))
        : pick(byDefault, quick),
  };
}

/** --name a,b: some of `choices`, comma-separated. */
export function someOf<const C extends string>(
  choices: readonly C[],
  byDefault: readonly C[] = choices,
): Flag<C[]> {
  return {
    type: "string",
    read(given) {
      if (typeof given !== "string") return [...byDefault];
      const picked = given.split(",");
      const unknown = picked.filter((part) => !(choices as readonly string[]).includes(part));
      if (unknown.length > 0)
        throw new Error(`takes some of ${choices.join(", ")}; got ${unknown.join(", ")}`);
      return picked as C[];
    },
  };
}

/** --name TEXT (a path, a URI), or `byDefault`. */
export function text(): Flag<string | undefined>;
export function text(byDefault: string): Flag<string>;
export function text(byDefault?: string): Flag<string | undefined> {
  return { type: "string", read: (given) => (typeof given === "string" ? given : byDefault) };
}

/** --name, on or off (off unless given). */
export function toggle(): Flag<boolean> {
  return { type: "boolean", read: (given) => given === true };
}

/** What parseArgs's tokens tell here: where each option was, and whether its value was inline. */
interface Token {
  kind: string;
  index: number;
  name?: string;
  inlineValue?: boolean;
}

export interface BenchArgsOptions<F extends Record<string, Flag<unknown>>> {
  /** The benchmark's entry point, e.g. "bench/creates/main.ts": for messages and `command`. */
  script: string;
  flags: F;
  /** Takes --quick (default true). */
  quick?: boolean;
  /**
   * Takes --json PATH (default false); a string is where the result goes when --json is not
   * given, relative to the repository root (none with --quick).
   */
  json?: string | boolean;
}

export type BenchArgs<F> = { [K in keyof F]: F[K] extends Flag<infer T> ? T : never } & {
  /** --quick: a smoke run, its figures printed and the recorded results left alone. */
  quick: boolean;
  /** Where to write the result; undefined: nowhere. */
  json: string | undefined;
  /** How the benchmark was run, for its result: the script and its flags but --json. */
  command: string;
};

/** Parses process.argv's flags for a benchmark; exits with code 2 and a message when they are wrong. */
export function benchArgs<F extends Record<string, Flag<unknown>>>(
  options: BenchArgsOptions<F>,
): BenchArgs<F> {
  const takesQuick = options.quick ?? true;
  const takesJson = options.json !== undefined && options.json !== false;
  const config: Record<string, { type: "string" | "boolean" }> = {};
  for (const [name, flag] of Object.entries(options.flags)) config[name] = { type: flag.type };
  if (takesQuick) config.quick = { type: "boolean" };
  if (takesJson) config.json = { type: "string" };

  const fail = (message: string): never => {
    console.error(`${options.script}: ${message}`);
    process.exit(2);
  };
  let values: Record<string, string | boolean | undefined> = {};
  let tokens: Token[] = [];
  try {
    const parsed = parseArgs({ options: config, tokens: true });
    values = parsed.values as Record<string, string | boolean | undefined>;
    tokens = (parsed.tokens ?? []) as Token[];
  } catch (error) {
    fail((error as Error).message);
  }

  const quick = values.quick === true;
  const result: Record<string, unknown> = { quick };
  for (const [name, flag] of Object.entries(options.flags)) {
    try {
      result[name] = flag.read(values[name], quick);
    } catch (error) {
      fail(`--${name} ${(error as Error).message}`);
    }
  }
  const defaultJson =
    typeof options.json === "string" && !quick ? repoPath(options.json) : undefined;
  result.json = typeof values.json === "string" ? values.json : defaultJson;

  // The arguments as given, without --json and its path.
  const argv = process.argv.slice(2);
  const dropped = new Set<number>();
  for (const token of tokens) {
    if (token.kind !== "option" || token.name !== "json") continue;
    dropped.add(token.index);
    if (token.inlineValue === false) dropped.add(token.index + 1);
  }
  const kept = argv.filter((_, index) => !dropped.has(index));
  result.command = ["node --import tsx", options.script, ...kept].join(" ");
  return result as BenchArgs<F>;
}
