// @headroom/bus/client: what a program that only calls headroom's API needs
// (connect and log in, request, the names, the codec), without the modules of
// JetStream, micro services and logging, whose loading would add tens of
// milliseconds to every start of the CLI. The same functions as the main entry.
export type { Msg, MsgHdrs, NatsConnection } from "@nats-io/transport-node";
export {
  DecodeError,
  decode,
  EncodeError,
  encode,
  type InitOf,
  type MessageOf,
  type MessageType,
  typeName,
} from "./codec.ts";
export {
  type ConnectOptions,
  connect,
  DEFAULT_NATS_URL,
  NotAuthorizedError,
} from "./connect.ts";
export {
  CLIENT_CREDENTIALS_FILE,
  type NatsCredentials,
  readClientCredentials,
} from "./credentials.ts";
export { ApiError, type ErrorCode, TRANSIENT_RETRY_MS } from "./errors.ts";
export { type RequestOptions, request } from "./request.ts";
export {
  API_SUBJECTS,
  BUCKETS,
  CAPACITY_FILTER,
  capacitySubject,
  fromSubjectToken,
  HOST_API,
  hostApiSubject,
  OBJECT_STORES,
  parseStoreKey,
  SERVICE_NAMES,
  STREAMS,
  storeKey,
  subjectToken,
} from "./subjects.ts";
