// @headroom/test-stack: the one headroom stack of the tests and the benchmarks.
export {
  type CrashBatchOptions,
  type CrashReport,
  requestOf,
  runCrashBatch,
  seededRandom,
  type VmiOutcome,
} from "./crash.ts";
export {
  deleteBridge,
  type Manifest,
  privateStateDir,
  SEED_NETWORK,
  SERVICES,
  type ServiceName,
  type Stack,
  type StackOptions,
  seedManifest,
  startStack,
  uniqueNamespace,
} from "./stack.ts";
