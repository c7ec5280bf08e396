// @headroom/bus: how every headroom service talks over NATS. Programs that
// only call the API import "@headroom/bus/client" (src/client.ts) instead.

// The NATS types services handle, so they need no direct dependency for them.
export type { JetStreamClient, JsMsg, PubAck } from "@nats-io/jetstream";
export type { KV, KvEntry } from "@nats-io/kv";
export type { Service } from "@nats-io/services";
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
  type ConsumeOptions,
  type ConsumerLoop,
  consume,
  type MessageHandler,
} from "./consume.ts";
export {
  CLIENT_CREDENTIALS_FILE,
  ensureCredentials,
  generateCredentials,
  NATS_USERS,
  type NatsCredentials,
  type NatsUser,
  passwordVariable,
  readClientCredentials,
  readCredentials,
  SERVER_CREDENTIALS_FILE,
  SERVICE_USERS,
  serverEnv,
  userEnv,
} from "./credentials.ts";
export {
  ApiError,
  ERROR_STATUS,
  type ErrorCode,
  errorCodeFromStatus,
  errorText,
  PermanentError,
} from "./errors.ts";
export {
  type Buckets,
  type CompareAndSetOptions,
  ensureBuckets,
  ensureStreams,
  isApiError,
  isWrongLastSequence,
  readEntry,
  retryCompareAndSet,
  STREAM_CONFIGS,
  toJetStream,
} from "./jetstream.ts";
export { createLogger, type Logger, type LoggerOptions } from "./logger.ts";
export { type RequestOptions, request } from "./request.ts";
export {
  type Endpoint,
  endpoint,
  type MicroService,
  type MicroServiceOptions,
  type RequestContext,
  startMicroService,
} from "./service.ts";
export {
  API_SUBJECTS,
  acceptedSubject,
  BUCKETS,
  CAPACITY_FILTER,
  capacitySubject,
  DURABLES,
  deletedMsgId,
  deletedSubject,
  fromSubjectToken,
  generationMsgId,
  MAX_REQUEST_BYTES,
  PIPELINE_FILTERS,
  parseStoreKey,
  planMsgId,
  planSubject,
  QUEUE_GROUP,
  refusedSubject,
  SERVICE_NAMES,
  STREAMS,
  storeKey,
  subjectToken,
} from "./subjects.ts";
