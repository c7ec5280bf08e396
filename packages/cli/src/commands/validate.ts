import type { Capacity, ValidationResult } from "@headroom/vmi";
import { type Command, Option } from "commander";
import { EXIT_INVALID, EXIT_OK } from "../exit-codes.ts";

interface ValidateOptions {
  filename: string;
  output?: "json";
}

const HELP_AFTER = `
Checks a VirtualMachineInstance offline, against the same schema and rules the
validator service applies to new VMIs. Nothing is sent anywhere.

Input is YAML or JSON with exactly one document; a file holding several
documents is refused (exit 2).

Exit codes:
  0  valid; prints the VMI's interface capacity
  1  invalid; prints each error with its field path
  2  usage error, unreadable file, or not exactly one YAML/JSON document

Examples:
  headroom validate -f examples/vmi-seed.yaml
  headroom validate -f vmi.json -o json
  cat vmi.yaml | headroom validate -f -`;

/** `headroom validate -f FILE [-o json]` */
export function registerValidate(program: Command): void {
  program
    .command("validate")
    .summary("check a VirtualMachineInstance file offline")
    .description("Check a VirtualMachineInstance file and print its network interface capacity.")
    .requiredOption("-f, --filename <file>", "the VMI as YAML or JSON; - reads stdin")
    .addOption(new Option("-o, --output <format>", "print the result as JSON").choices(["json"]))
    .addHelpText("after", HELP_AFTER)
    .action(async (options: ValidateOptions) => {
      process.exitCode = await runValidate(options);
    });
}

async function runValidate(options: ValidateOptions): Promise<number> {
  const [{ validateVmi }, { readDocument }] = await Promise.all([
    import("@headroom/vmi"),
    import("../read-input.ts"),
  ]);
  const { doc, source } = await readDocument(options.filename);
  const result = validateVmi(doc);
  if (options.output !== "json")
    for (const warning of result.warnings) process.stderr.write(`Warning: ${warning.message}\n`);
  const output = options.output === "json" ? asJson(result) : asText(result, source);
  process.stdout.write(`${output}\n`);
  return result.valid ? EXIT_OK : EXIT_INVALID;
}

function asJson(result: ValidationResult): string {
  const { valid, errors, warnings, capacity } = result;
  return JSON.stringify({ valid, errors, warnings, capacity }, null, 2);
}

function asText(result: ValidationResult, source: string): string {
  if (result.valid && result.vmi && result.capacity) {
    const { namespace, name } = result.vmi.metadata;
    return `${source}: valid. ${namespace}/${name}: ${describeCapacity(result.capacity)}`;
  }
  const count = result.errors.length === 1 ? "1 error" : `${result.errors.length} errors`;
  const lines = result.errors.map((error) => `  - ${error.message}`);
  return [`${source}: invalid, ${count}:`, ...lines].join("\n");
}

/** e.g. "capacity 5 network interfaces (2 defined, 3 free for hot-plug; requested 5)" */
export function describeCapacity(capacity: Capacity): string {
  const { requested, interfaces, effective } = capacity;
  const free = effective - interfaces;
  const noun = effective === 1 ? "interface" : "interfaces";
  const request =
    requested === null
      ? "no kubevirt.io/interface request"
      : requested < interfaces
        ? `requested ${requested}, fewer than defined`
        : `requested ${requested}`;
  const room = free === 0 ? "none free for hot-plug" : `${free} free for hot-plug`;
  return `capacity ${effective} network ${noun} (${interfaces} defined, ${room}; ${request})`;
}
