export { describeCapacity } from "./commands/validate.ts";
export {
  CliError,
  EXIT_INVALID,
  EXIT_OK,
  EXIT_UNREACHABLE,
  EXIT_USAGE,
  exitCodeForApiError,
} from "./exit-codes.ts";
export { buildProgram, run } from "./program.ts";
export { readInput } from "./read-input.ts";
