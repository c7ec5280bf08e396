// The error scheme of the request/reply API. An error reply carries the NATS
// micro headers Nats-Service-Error (message) and Nats-Service-Error-Code (an
// HTTP-like status) and an ErrorReply body { code, message }.

export const ERROR_STATUS = {
  BAD_REQUEST: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  INTERNAL: 500,
  UNAVAILABLE: 503,
  TIMEOUT: 504,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

/**
 * How long a service keeps trying an operation that fails for a passing
 * reason, such as a NATS cluster electing new stream leaders after losing a
 * server (observed: 6 to 11 s). A client waiting on a change must wait longer.
 */
export const TRANSIENT_RETRY_MS = 20_000;

/** An error that is sent to (or was received from) a client as an error reply. */
export class ApiError extends Error {
  override readonly name = "ApiError";
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }

  get status(): number {
    return ERROR_STATUS[this.code];
  }
}

export function errorCodeFromStatus(status: number): ErrorCode {
  const found = Object.entries(ERROR_STATUS).find(([, value]) => value === status);
  return (found?.[0] as ErrorCode | undefined) ?? "INTERNAL";
}

/** A pipeline message that no retry can fix (garbage, impossible content): terminated at once. */
export class PermanentError extends Error {
  override readonly name = "PermanentError";
}

/** An error's message, or the thrown value as text. */
export function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
