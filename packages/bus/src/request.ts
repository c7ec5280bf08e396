import { ErrorReply } from "@headroom/proto";
import { errors, type NatsConnection } from "@nats-io/transport-node";
import { decode, encode, type MessageType, typeName } from "./codec.ts";
import { ApiError, type ErrorCode, errorCodeFromStatus } from "./errors.ts";

export interface RequestOptions {
  timeoutMs?: number;
}

/**
 * Client side of an endpoint: encodes the request, decodes the reply. An error
 * reply, no responder or a timeout throws ApiError (UNAVAILABLE, TIMEOUT, or
 * the code the service sent).
 */
export async function request<RequestInit, Reply>(
  nc: NatsConnection,
  subject: string,
  requestType: MessageType<RequestInit, unknown>,
  value: RequestInit,
  replyType: MessageType<never, Reply>,
  options: RequestOptions = {},
): Promise<Reply> {
  let msg: Awaited<ReturnType<NatsConnection["request"]>>;
  try {
    msg = await nc.request(subject, encode(requestType, value), {
      timeout: options.timeoutMs ?? 10_000,
    });
  } catch (error) {
    if (error instanceof errors.RequestError && error.isNoResponders()) {
      throw new ApiError("UNAVAILABLE", `no service is answering on ${subject}`, { cause: error });
    }
    if (error instanceof errors.TimeoutError) {
      throw new ApiError("TIMEOUT", `no reply on ${subject} in time`, { cause: error });
    }
    throw error;
  }
  const status = msg.headers?.get("Nats-Service-Error-Code");
  if (status) {
    let code: ErrorCode = errorCodeFromStatus(Number(status));
    let message = msg.headers?.get("Nats-Service-Error") ?? "error";
    try {
      const body = decode(ErrorReply, msg.data);
      if (body.code) code = body.code as ErrorCode;
      if (body.message) message = body.message;
    } catch {
      // Headers alone are enough.
    }
    throw new ApiError(code, message);
  }
  try {
    return decode(replyType, msg.data);
  } catch (error) {
    throw new ApiError("INTERNAL", `reply on ${subject} is not a ${typeName(replyType)}`, {
      cause: error,
    });
  }
}
