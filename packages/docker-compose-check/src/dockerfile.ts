// What a Dockerfile needs from its build context, read with dockerfile-ast (the
// parser behind the Docker language server) rather than with regular expressions.
import { type Copy, DockerfileParser, type Dockerfile as ParsedDockerfile } from "dockerfile-ast";

/** A file or directory a COPY or ADD takes from the build context. */
export interface CopySource {
  /** 1-based line of the instruction. */
  line: number;
  keyword: "COPY" | "ADD";
  /** As written, variables not yet replaced. */
  written: string;
  /** With build args replaced; null when a variable has no value. */
  resolved: string | null;
  /** The variables that had no value, when `resolved` is null. */
  unresolved: string[];
}

export interface DockerfileFacts {
  /** Names given with `FROM … AS name`, in order. */
  stages: string[];
  /** Every name an ARG declares, before or after FROM. */
  args: string[];
  /** COPY/ADD sources from the build context (never `--from` ones, URLs or heredocs). */
  copySources: CopySource[];
  /** True when a HEALTHCHECK other than NONE is set in some stage. */
  hasHealthcheck: boolean;
}

const VARIABLE = /\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))/g;

/**
 * Replaces `$NAME`, `${NAME}` and `${NAME:-default}` with build-arg values.
 * Returns the names that had neither a value nor a default.
 */
export function substitute(
  text: string,
  values: Record<string, string>,
): { text: string; unresolved: string[] } {
  const unresolved: string[] = [];
  const replaced = text.replace(VARIABLE, (whole, braced, fallback, bare) => {
    const name = (braced ?? bare) as string;
    const value = values[name];
    if (value !== undefined && value !== "") return value;
    if (fallback !== undefined) return fallback;
    unresolved.push(name);
    return whole;
  });
  return { text: replaced, unresolved };
}

function isRemote(source: string): boolean {
  return /^(https?:\/\/|git@|git:\/\/)/.test(source);
}

/** Sources of one COPY/ADD: every argument but the last (the destination). */
function sourcesOf(instruction: Copy): string[] {
  const json = instruction.getClosingBracket() !== null ? instruction.getJSONStrings() : [];
  // dockerfile-ast 0.7 drops spaces inside JSON strings, so paths with spaces
  // are not supported here; none of headroom's Dockerfiles has one.
  const words =
    json.length > 0
      ? json.map((s) => s.getJSONValue())
      : instruction.getArguments().map((a) => a.getValue());
  return words.slice(0, -1);
}

/**
 * Reads a Dockerfile's stages, ARGs and context sources. `buildArgs` are the
 * values the compose file passes; an ARG's own default applies otherwise.
 */
export function readDockerfile(
  text: string,
  buildArgs: Record<string, string> = {},
): DockerfileFacts {
  const parsed: ParsedDockerfile = DockerfileParser.parse(text);
  const stages: string[] = [];
  for (const from of parsed.getFROMs()) {
    const stage = from.getBuildStage();
    if (stage) stages.push(stage);
  }

  const args: string[] = [];
  const values: Record<string, string> = {};
  for (const instruction of parsed.getInstructions()) {
    if (instruction.getKeyword() !== "ARG") continue;
    for (const word of instruction.getArguments().map((a) => a.getValue())) {
      const eq = word.indexOf("=");
      const name = eq === -1 ? word : word.slice(0, eq);
      args.push(name);
      if (eq !== -1 && values[name] === undefined) values[name] = word.slice(eq + 1);
    }
  }
  Object.assign(values, buildArgs);

  const copySources: CopySource[] = [];
  for (const instruction of parsed.getInstructions()) {
    const keyword = instruction.getKeyword();
    if (keyword !== "COPY" && keyword !== "ADD") continue;
    const copy = instruction as Copy;
    if (copy.getFlags().some((flag) => flag.getName() === "from")) continue;
    for (const written of sourcesOf(copy)) {
      if (written.startsWith("<<") || (keyword === "ADD" && isRemote(written))) continue;
      const { text: resolved, unresolved } = substitute(written, values);
      copySources.push({
        line: instruction.getRange().start.line + 1,
        keyword,
        written,
        resolved: unresolved.length > 0 ? null : resolved,
        unresolved,
      });
    }
  }

  const hasHealthcheck = parsed.getHEALTHCHECKs().some((check) => {
    const first = check.getArguments()[0]?.getValue().toUpperCase();
    return first !== undefined && first !== "NONE";
  });

  return { stages, args: [...new Set(args)], copySources, hasHealthcheck };
}
