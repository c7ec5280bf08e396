import { ErrorCode, ErrorDomain } from "./constants.ts";

const CODE_NAMES = new Map<number, string>(
  Object.entries(ErrorCode).map(([name, value]) => [
    value,
    `VIR_${name.startsWith("WAR_") ? "" : "ERR_"}${name}`,
  ]),
);
const DOMAIN_NAMES = new Map<number, string>(
  Object.entries(ErrorDomain).map(([name, value]) => [value, `VIR_FROM_${name}`]),
);

/** A failed libvirt call, with libvirt's own error numbers. */
export class LibvirtError extends Error {
  override readonly name = "LibvirtError";
  /** virErrorNumber; compare with `ErrorCode`, e.g. `ErrorCode.NO_DOMAIN`. */
  readonly code: number;
  /** virErrorDomain: which part of libvirt failed; compare with `ErrorDomain`. */
  readonly domain: number;
  /** virErrorLevel: 1 warning, 2 error. */
  readonly level: number;

  constructor(
    message: string,
    details: { code: number; domain: number; level?: number },
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.code = details.code;
    this.domain = details.domain;
    this.level = details.level ?? 2;
  }

  /** libvirt's name of `code`, e.g. "VIR_ERR_NO_DOMAIN". */
  get codeName(): string {
    return CODE_NAMES.get(this.code) ?? `unknown (${this.code})`;
  }

  /** libvirt's name of `domain`, e.g. "VIR_FROM_QEMU". */
  get domainName(): string {
    return DOMAIN_NAMES.get(this.domain) ?? `unknown (${this.domain})`;
  }
}

/** Whether `error` is a LibvirtError, optionally with the given code. */
export function isLibvirtError(error: unknown, code?: number): error is LibvirtError {
  return error instanceof LibvirtError && (code === undefined || error.code === code);
}

interface NativeFailure {
  message: string;
  code: number;
  domain: number;
  level: number;
  fromLibvirt: true;
}

function isNativeFailure(error: unknown): error is NativeFailure {
  return error instanceof Error && (error as Partial<NativeFailure>).fromLibvirt === true;
}

/**
 * Awaits a call into the addon and turns its failures into LibvirtError. The
 * error is made here, on the caller's async path, so its stack shows who
 * called.
 */
export async function settle<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    if (isNativeFailure(error)) {
      throw new LibvirtError(error.message, error);
    }
    throw error;
  }
}
