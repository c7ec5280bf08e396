// `apply -f FILE`: check the VMI here, send it to the validator, and with
// --wait follow it until it runs.
import { API_SUBJECTS } from "@headroom/bus/client";
import {
  ApplyReply,
  ApplyRequest,
  type IAccepted,
  type IFieldError,
  Outcome,
} from "@headroom/proto";
import { validateVmi } from "@headroom/vmi";
import { withClient } from "../client.ts";
import { parseDuration } from "../duration.ts";
import { CliError, EXIT_INVALID, EXIT_OK, EXIT_USAGE } from "../exit-codes.ts";
import type { GlobalOptions } from "../globals.ts";
import { progressBar } from "../progress-bar.ts";
import { readDocument } from "../read-input.ts";
import { waitForRunning } from "./vmis.ts";

export interface ApplyOptions {
  filename: string;
  wait?: boolean;
  timeout: string;
  dryRun?: boolean;
}

export async function runApply(options: ApplyOptions, globals: GlobalOptions): Promise<number> {
  const timeoutMs = parseDuration(options.timeout);
  if (options.wait && options.dryRun) {
    throw new CliError("--wait and --dry-run do not go together: a dry run starts nothing");
  }
  const { doc, source } = await readDocument(options.filename);
  applyNamespace(doc, globals);

  // The same checks the validator runs, here first: no round trip for a typo.
  const local = validateVmi(doc);
  if (!local.valid) {
    printErrors(`${source}: invalid`, local.errors);
    return EXIT_INVALID;
  }

  return withClient(globals, async (client) => {
    const reply = await client.call(
      API_SUBJECTS.apply,
      ApplyRequest,
      { manifestJson: JSON.stringify(doc), dryRun: Boolean(options.dryRun) },
      ApplyReply,
    );
    if (reply.rejected || !reply.accepted) {
      const name = local.vmi?.metadata.name ?? "?";
      printErrors(`vmi/${name} rejected`, reply.rejected?.errors ?? []);
      return EXIT_INVALID;
    }
    const accepted = reply.accepted;
    for (const warning of accepted.warnings ?? [])
      process.stderr.write(`Warning: ${warning.message}\n`);
    process.stdout.write(`${acceptedLine(accepted)}\n`);
    if (!options.wait) return EXIT_OK;
    // A host fetching or pulling the VMI's image is drawn as a bar on a terminal.
    const bar = process.stderr.isTTY ? await progressBar("image") : undefined;
    return waitForRunning(client, {
      namespace: accepted.namespace ?? globals.namespace,
      name: accepted.name ?? "",
      uid: accepted.uid ?? "",
      generation: accepted.generation ?? 0,
      timeoutMs,
      write: (line) => process.stdout.write(line),
      ...(bar ? { progress: bar } : {}),
    }).finally(() => bar?.stop());
  });
}

/**
 * kubectl's rule: a manifest without a namespace takes -n; one with a
 * namespace must match -n when -n was given.
 */
function applyNamespace(doc: unknown, globals: GlobalOptions): void {
  if (typeof doc !== "object" || doc === null || Array.isArray(doc)) return;
  const metadata = (doc as { metadata?: unknown }).metadata;
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) return;
  const meta = metadata as { namespace?: unknown };
  if (meta.namespace === undefined) {
    meta.namespace = globals.namespace;
    return;
  }
  if (globals.namespaceGiven && meta.namespace !== globals.namespace) {
    throw new CliError(
      `the namespace of the VMI (${JSON.stringify(meta.namespace)}) does not match -n ${globals.namespace}: change one of them`,
      EXIT_USAGE,
    );
  }
}

const OUTCOME_WORDS: Record<number, string> = {
  [Outcome.OUTCOME_CREATED]: "created",
  [Outcome.OUTCOME_UNCHANGED]: "unchanged",
  [Outcome.OUTCOME_UPDATED]: "configured",
};

/** e.g. "vmi/web created (capacity 5)", as kubectl reports an apply. */
export function acceptedLine(accepted: IAccepted): string {
  const outcome = OUTCOME_WORDS[accepted.outcome ?? Outcome.OUTCOME_UNSPECIFIED] ?? "accepted";
  const capacity = accepted.capacity?.effective ?? 0;
  const dryRun = accepted.dryRun ? " (dry run)" : "";
  return `vmi/${accepted.name} ${outcome} (capacity ${capacity})${dryRun}`;
}

function printErrors(heading: string, errors: readonly IFieldError[]): void {
  const count = errors.length === 1 ? "1 error" : `${errors.length} errors`;
  const lines = errors.map((error) => `  - ${error.message || `${error.field ?? ""}: invalid`}`);
  process.stderr.write(`${[`${heading}, ${count}:`, ...lines].join("\n")}\n`);
}
