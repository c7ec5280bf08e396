/** Exit codes every command uses, so scripts can tell outcomes apart. */
export const EXIT_OK = 0;
/** The input was read and is not acceptable (e.g. a VMI that fails validation). */
export const EXIT_INVALID = 1;
/** Bad usage or unreadable input: unknown option, missing file, not one YAML/JSON document. */
export const EXIT_USAGE = 2;

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
