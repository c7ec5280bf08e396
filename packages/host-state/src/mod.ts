// @headroom/host-state: where headroom keeps its files on a host, in one place.
export {
  domainNameOf,
  domainUuidOf,
  type HostState,
  hostState,
  isDnsLabel,
  vmiOfDomainName,
} from "./host_state.ts";
