// protobuf encode/decode with typed errors, for any generated message type.

/** What a generated protobufjs message class offers (static side). */
export interface MessageType<Init, Message> {
  encode(message: Init): { finish(): Uint8Array };
  decode(bytes: Uint8Array): Message;
  verify(message: { [key: string]: unknown }): string | null;
  getTypeUrl(prefix?: string): string;
}

/** The plain-object shape encode() accepts for a message type. */
export type InitOf<T> = T extends MessageType<infer Init, unknown> ? Init : never;
/** The decoded message of a message type. */
export type MessageOf<T> = T extends MessageType<never, infer Message> ? Message : never;

export function typeName(type: MessageType<never, unknown>): string {
  return type.getTypeUrl("").replace(/^\//, "");
}

/** Bytes that are not a valid encoding of the expected message. */
export class DecodeError extends Error {
  override readonly name = "DecodeError";
  constructor(
    readonly typeName: string,
    cause: unknown,
  ) {
    super(`not a valid ${typeName}: ${cause instanceof Error ? cause.message : String(cause)}`, {
      cause,
    });
  }
}

/** A value that does not fit the message type (a programming error). */
export class EncodeError extends Error {
  override readonly name = "EncodeError";
  constructor(
    readonly typeName: string,
    reason: string,
  ) {
    super(`cannot encode ${typeName}: ${reason}`);
  }
}

export function encode<Init>(type: MessageType<Init, unknown>, value: Init): Uint8Array {
  const problem = type.verify(value as { [key: string]: unknown });
  if (problem) throw new EncodeError(typeName(type as MessageType<never, unknown>), problem);
  return type.encode(value).finish();
}

export function decode<Message>(type: MessageType<never, Message>, bytes: Uint8Array): Message {
  try {
    return type.decode(bytes);
  } catch (error) {
    throw new DecodeError(typeName(type), error);
  }
}
