// The pod network guests' pod NICs join: a libvirt NAT network headroom makes
// once per host (transient: it goes at reboot and is made again at the next
// launch). A network of that name someone else made is used by no guest.
import {
  isHeadroomPodNetwork,
  POD_BRIDGE,
  POD_NETWORK,
  type PodSubnet,
  podBridgeNetworkXml,
  podNetworkXml,
} from "@headroom/domain-xml";
import { type Connection, ErrorCode, isLibvirtError } from "@headroom/libvirt";
import { linkState, netSysctlsWritable } from "./host.ts";

async function podNetworkState(conn: Connection): Promise<"absent" | "ours" | "inactive"> {
  let xml: string;
  try {
    xml = await conn.networkXml(POD_NETWORK);
  } catch (error) {
    if (isLibvirtError(error, ErrorCode.NO_NETWORK)) return "absent";
    throw error;
  }
  if (!isHeadroomPodNetwork(xml))
    throw new Error(
      `libvirt network ${POD_NETWORK} exists and is not headroom's; headroom puts no guest on a network it did not make (see virsh net-dumpxml ${POD_NETWORK})`,
    );
  return (await conn.isNetworkActive(POD_NETWORK)) ? "ours" : "inactive";
}

let inHand: Promise<"created" | "kept"> | undefined;

/**
 * Makes sure the pod network runs on this host, making it on `subnet` when
 * missing. Launches that need it at once share one check.
 */
export function ensurePodNetwork(conn: Connection, subnet: PodSubnet): Promise<"created" | "kept"> {
  inHand ??= checkOrCreate(conn, subnet).finally(() => {
    inHand = undefined;
  });
  return inHand;
}

async function checkOrCreate(conn: Connection, subnet: PodSubnet): Promise<"created" | "kept"> {
  const state = await podNetworkState(conn);
  if (state === "ours") return "kept";
  if (state === "inactive")
    throw new Error(
      `libvirt network ${POD_NETWORK} is defined but not running; start it (virsh net-start ${POD_NETWORK}) or undefine it so headroom makes it`,
    );
  try {
    await conn.createNetworkXml(await podNetworkXmlHere(subnet));
    return "created";
  } catch (error) {
    // Another launcher on this host made it meanwhile.
    if ((await podNetworkState(conn)) === "ours") return "kept";
    throw error;
  }
}

/**
 * libvirt makes a NAT network by writing /proc/sys/net, read-only in a
 * container that is not privileged. There the container's entrypoint makes
 * the bridge with its NAT and DHCP (infra/docker/libvirt-entrypoint.sh), and
 * libvirt is only given the bridge.
 */
async function podNetworkXmlHere(subnet: PodSubnet): Promise<string> {
  if (await netSysctlsWritable()) return podNetworkXml(subnet);
  if ((await linkState(POD_BRIDGE)) !== "bridge-up")
    throw new Error(
      `libvirt cannot make the pod network here (/proc/sys/net is read-only, as in a container), and there is no bridge ${POD_BRIDGE} that is up with NAT and DHCP to use instead; make it before the launcher starts, as infra/docker/libvirt-entrypoint.sh does`,
    );
  return podBridgeNetworkXml();
}
