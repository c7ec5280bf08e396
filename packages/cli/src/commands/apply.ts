import { API_SUBJECTS } from "@headroom/bus";
import {
  ApplyReply,
  ApplyRequest,
  type IAccepted,
  type IFieldError,
  Outcome,
} from "@headroom/proto";
import { DocumentError, parseDocument, validateVmi } from "@headroom/vmi";
import type { Command } from "commander";
import { withClient } from "../client.ts";
import { parseDuration } from "../duration.ts";
import { CliError, EXIT_CODES_HELP, EXIT_INVALID, EXIT_OK, EXIT_USAGE } from "../exit-codes.ts";
import { type GlobalOptions, globalsOf } from "../globals.ts";
import { readInput } from "../read-input.ts";
import { waitForRunning } from "../resources/vmis.ts";

interface ApplyOptions {
  filename: string;
  wait?: boolean;
  timeout: string;
  dryRun?: boolean;
}

const DEFAULT_TIMEOUT = "120s";

const HELP_AFTER = `
Sends a VirtualMachineInstance to headroom's validator, which stores it when it
is valid; the domain composer and the launcher then build and start the VM.
The file is checked locally first, so mistakes are reported at once, each with
its field path. Applying the same file again is "unchanged"; an allowed change
(labels, interfaces and networks) is "configured"; the interface request and
everything else are immutable.

A manifest without metadata.namespace goes to -n (default "default"); one with
a namespace must agree with -n when -n is given.

--wait prints each status the VMI goes through (Pending, Scheduled, Running)
until it is Running (exit 0) or Failed (exit 1, with the reason), or --timeout
passes (exit 3).

${EXIT_CODES_HELP}

Examples:
  headroom apply -f examples/vmi-seed.yaml
  headroom apply -f examples/vmi-seed.yaml --wait --timeout 3m
  headroom apply -f vmi.yaml --dry-run
  cat vmi.yaml | headroom apply -f -`;

/** `headroom apply -f FILE [--wait] [--timeout 120s] [--dry-run]` */
export function registerApply(program: Command): void {
  program
    .command("apply")
    .summary("create or update a VirtualMachineInstance")
    .description("Create or update a VirtualMachineInstance from a YAML or JSON file.")
    .requiredOption("-f, --filename <file>", "the VMI as YAML or JSON; - reads stdin")
    .option("--wait", "wait until the VMI is Running, printing each status change")
    .option("--timeout <duration>", "how long --wait waits (e.g. 90s, 5m)", DEFAULT_TIMEOUT)
    .option("--dry-run", "validate on the server and say what would happen; store nothing")
    .addHelpText("after", HELP_AFTER)
    .action(async (options: ApplyOptions, command: Command) => {
      process.exitCode = await runApply(options, globalsOf(command));
    });
}

async function runApply(options: ApplyOptions, globals: GlobalOptions): Promise<number> {
  const timeoutMs = parseDuration(options.timeout);
  if (options.wait && options.dryRun) {
    throw new CliError("--wait and --dry-run do not go together: a dry run starts nothing");
  }
  const { text, source } = await readInput(options.filename);
  let doc: unknown;
  try {
    doc = parseDocument(text, source);
  } catch (error) {
    if (error instanceof DocumentError) throw new CliError(error.message);
    throw error;
  }
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
    process.stdout.write(`${acceptedLine(accepted)}\n`);
    if (!options.wait) return EXIT_OK;
    return waitForRunning(client, {
      namespace: accepted.namespace ?? globals.namespace,
      name: accepted.name ?? "",
      uid: accepted.uid ?? "",
      generation: accepted.generation ?? 0,
      timeoutMs,
      write: (line) => process.stdout.write(line),
    });
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
