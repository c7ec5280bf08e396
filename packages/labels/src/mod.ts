// @headroom/labels: Kubernetes labels and label selectors, for VMIs and hosts.
export {
  matchesLabels,
  parseLabelSelector,
  type Requirement,
  type SelectorResult,
} from "./selector.ts";
export { LABEL_KEY, LABEL_VALUE, parseLabel } from "./syntax.ts";
