// @headroom/host-state: where headroom keeps its files on a host, in one place.
export { domainNameOf, domainUuidOf, type HostState, hostState } from "./host_state.ts";
