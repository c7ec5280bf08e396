// The validator service: NATS micro service "headroom-validator".
export {
  type AcceptedRecord,
  type ApplyDecision,
  type ApplyPlan,
  type CheckedManifest,
  checkManifest,
  decideApply,
  planApply,
  type StoredVmi,
} from "./apply.ts";
export { startValidator, type Validator, type ValidatorOptions } from "./validator.ts";
