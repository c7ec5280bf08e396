// @headroom/labels: Kubernetes labels and label selectors, for VMIs and hosts,
// and the rule for a host's name (the value of its kubernetes.io/hostname label).
export {
  matchesLabels,
  parseLabelSelector,
  type Requirement,
  type SelectorResult,
} from "./selector.ts";
export { LABEL_KEY, LABEL_VALUE, nodeNameProblem, parseLabel } from "./syntax.ts";
