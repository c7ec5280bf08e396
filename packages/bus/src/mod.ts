// @headroom/bus: how every headroom service talks over NATS. Programs that
// only call the API import "@headroom/bus/client" (src/client.ts) instead;
// this entry is that one plus what services need beyond it.

// The NATS types services handle, so they need no direct dependency for them.
export type { JetStreamClient, JsMsg, PubAck } from "@nats-io/jetstream";
export type { KV, KvEntry } from "@nats-io/kv";
export type { ObjectInfo, ObjectStore } from "@nats-io/obj";
export type { Service } from "@nats-io/services";
export * from "./client.ts";
export {
  type ConsumeOptions,
  type ConsumerLoop,
  consume,
  type MessageHandler,
} from "./consume.ts";
export {
  ensureCredentials,
  generateCredentials,
  NATS_USERS,
  type NatsUser,
  nkeyVariable,
  publicKeyOf,
  readCredentials,
  SERVER_CREDENTIALS_FILE,
  SERVICE_USERS,
  seedVariable,
  serverEnv,
  userEnv,
} from "./credentials.ts";
export {
  ERROR_STATUS,
  errorCodeFromStatus,
  errorText,
  PermanentError,
} from "./errors.ts";
export { answersPing, HOST_METADATA, serviceHost } from "./healthcheck.ts";
export {
  BUCKET_LIMITS,
  type Buckets,
  type CompareAndSetOptions,
  ensureBuckets,
  ensureImageObjects,
  ensureStreams,
  IMAGE_STORE_MAX_BYTES,
  isApiError,
  isTransientNatsError,
  isWrongLastSequence,
  jetStreamReplicas,
  readEntry,
  retryCompareAndSet,
  retryTransient,
  STREAM_CONFIGS,
  toJetStream,
} from "./jetstream.ts";
export { KeyedQueue } from "./keyed_queue.ts";
export { createLogger, type Logger, type LoggerOptions } from "./logger.ts";
export { type BucketMirror, mirrorBucket } from "./mirror.ts";
export {
  addPerson,
  PEOPLE_FILE,
  type Person,
  personEnv,
  personNameProblem,
  readPeople,
  removePerson,
  serverConfig,
} from "./people.ts";
export {
  type Endpoint,
  endpoint,
  type MicroService,
  type MicroServiceOptions,
  type RequestContext,
  startMicroService,
} from "./service.ts";
export {
  acceptedSubject,
  DURABLES,
  deletedMsgId,
  deletedSubject,
  generationMsgId,
  HOST_WORK_FILTER,
  type HostWorkKind,
  hostWorkDurable,
  hostWorkFilter,
  hostWorkKind,
  hostWorkSubject,
  MAX_REQUEST_BYTES,
  PIPELINE_FILTERS,
  planMsgId,
  QUEUE_GROUP,
  refusedSubject,
} from "./subjects.ts";
export { defaultLauncherConcurrency, threadPoolEnv } from "./thread_pool.ts";
