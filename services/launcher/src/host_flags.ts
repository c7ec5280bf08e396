// Who this host is: its node name and labels, from the launcher's flags or,
// without them, its environment.
import { hostname } from "node:os";
import { parseArgs } from "node:util";
import { nodeNameProblem, parseLabel } from "@headroom/labels";
import { DEFAULT_LOST_AFTER_MS } from "@headroom/proto";
import { DEFAULT_HEARTBEAT_MS } from "./host_record.ts";

export const LAUNCHER_USAGE = `Usage: headroom-launcher [--node NAME] [--label key=value]...

Runs the VMs of this host's libvirt, as one host of headroom.

  --node NAME        this host's name (default: HEADROOM_NODE_NAME, else the host name)
  --label key=value  a label of this host, for nodeSelector (repeatable; default:
                     HEADROOM_NODE_LABELS, key=value,...). Every host also carries
                     kubernetes.io/hostname, kubernetes.io/os and kubernetes.io/arch.
  -h, --help         this text

The rest of its settings are environment variables (see the launcher's README).
`;

export interface HostIdentity {
  node: string;
  labels: Record<string, string>;
  heartbeatMs: number;
  lostAfterMs: number;
}

/** Throws an Error naming the flag or variable that is wrong. */
export function hostIdentity(args: string[], env: NodeJS.ProcessEnv): HostIdentity | "help" {
  const { values } = parseArgs({
    args,
    options: {
      node: { type: "string" },
      label: { type: "string", multiple: true },
      help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help) return "help";
  const node = values.node ?? (env.HEADROOM_NODE_NAME || hostname());
  const problem = nodeNameProblem(node);
  if (problem) throw new Error(`${problem}${values.node ? "" : ": pass --node NAME"}`);
  const texts =
    values.label ??
    (env.HEADROOM_NODE_LABELS ?? "")
      .split(",")
      .map((text) => text.trim())
      .filter(Boolean);
  const labels: Record<string, string> = {};
  for (const text of texts) {
    const [key, value] = parseLabel(text);
    labels[key] = value;
  }
  const heartbeatMs = Number(env.HEADROOM_HEARTBEAT_MS || DEFAULT_HEARTBEAT_MS);
  if (!Number.isInteger(heartbeatMs) || heartbeatMs < 100 || heartbeatMs > 600_000)
    throw new Error(
      `HEADROOM_HEARTBEAT_MS=${env.HEADROOM_HEARTBEAT_MS} must be a whole number of milliseconds from 100 to 600000`,
    );
  const lostAfterMs = Number(env.HEADROOM_NODE_LOST_AFTER_MS || DEFAULT_LOST_AFTER_MS);
  if (!Number.isInteger(lostAfterMs) || lostAfterMs < 1000 || lostAfterMs > 86_400_000)
    throw new Error(
      `HEADROOM_NODE_LOST_AFTER_MS=${env.HEADROOM_NODE_LOST_AFTER_MS} must be a whole number of milliseconds from 1000 to 86400000`,
    );
  return { node, labels, heartbeatMs, lostAfterMs };
}
