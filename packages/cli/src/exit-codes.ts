/** Exit codes every command uses, so scripts can tell outcomes apart. */
export const EXIT_OK = 0;
/**
 * The request was understood and did not succeed: a VMI that fails validation
 * or is refused by the server, a VMI that failed, something not found.
 */
export const EXIT_INVALID = 1;
/** Bad usage or unreadable input: unknown option, missing file, not one YAML/JSON document. */
export const EXIT_USAGE = 2;
/** headroom could not be reached, or gave no answer in time (including `--wait` timeouts). */
export const EXIT_UNREACHABLE = 3;

/** The exit codes as `--help` lists them. */
export const EXIT_CODES_HELP = `Exit codes:
  0  success
  1  rejected, failed or not found (e.g. a VMI that fails validation)
  2  usage error or unreadable input
  3  headroom cannot be reached, or did not answer or finish in time`;

/** An error the CLI reports as one line on stderr before exiting with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT_USAGE,
  ) {
    super(message);
    this.name = "CliError";
  }
}

/**
 * The exit code for an error code of the headroom API (ApiError.code): no
 * service answering, or no answer in time, is 3; anything the server refused
 * or failed to do is 1.
 */
export function exitCodeForApiError(code: string): number {
  switch (code) {
    case "UNAVAILABLE":
    case "TIMEOUT":
      return EXIT_UNREACHABLE;
    default:
      return EXIT_INVALID;
  }
}
