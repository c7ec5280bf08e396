// The domain composer service: NATS micro service "headroom-composer".

export {
  CreateNetworkReply,
  CreateNetworkRequest,
  DeleteNetworkReply,
  DeleteNetworkRequest,
  type ICreateNetworkReply,
  type ICreateNetworkRequest,
  type IDeleteNetworkReply,
  type IDeleteNetworkRequest,
  type IListNetworksReply,
  type IListNetworksRequest,
  type INetworkAttachment,
  ListNetworksReply,
  ListNetworksRequest,
  NetworkAttachment,
} from "@headroom/proto";
export {
  type AcceptedVmi,
  type ComposedPlan,
  type ComposeResult,
  composePlan,
  type HostLookups,
  type PlannedDiskFile,
} from "./compose_plan.ts";
export { type Composer, type ComposerOptions, startComposer } from "./composer.ts";
export {
  bridgeNameProblem,
  type CreateDecision,
  decideCreate,
  inUseMessage,
  missingNetworkMessage,
  networkNameProblem,
  networksUsedBy,
  notFoundMessage,
} from "./network_rules.ts";
