// `describe vmi NAME`: the stored VMI (validator), the live view of its domain
// (launcher) and its last capacity events (event stream), together.
import { HOST_API, hostApiSubject } from "@headroom/bus/client";
import { DescribeReply, DescribeRequest } from "@headroom/proto";
import type { HeadroomClient } from "../client.ts";
import { DESCRIBE_EVENTS } from "../constants.ts";
import { type CapacitySource, formatDescription, vmiDescription } from "../describe-view.ts";
import { CliError, EXIT_INVALID, EXIT_OK, EXIT_UNREACHABLE } from "../exit-codes.ts";
import { formatJson, formatYaml, type OutputFormat } from "../output.ts";
import { lastEventsOf } from "./events.ts";
import { getVmi } from "./vmis.ts";

export interface DescribeVmiOptions {
  namespace: string;
  name: string;
  output: OutputFormat;
  write: (text: string) => void;
  now?: () => number;
}

export async function describeVmi(
  client: HeadroomClient,
  options: DescribeVmiOptions,
): Promise<number> {
  const { namespace, name } = options;
  const record = await getVmi(client, namespace, name);
  if (!record) throw new CliError(`vmi/${name} not found`, EXIT_INVALID);
  const source = await liveView(client, record.status?.node || record.node || "", namespace, name);
  const events = await lastEventsOf(
    client,
    { namespace, name, uid: record.uid ?? "" },
    DESCRIBE_EVENTS,
  );
  const description = vmiDescription(record, source, events);
  if (options.output === "json") options.write(formatJson(description));
  else if (options.output === "yaml") options.write(formatYaml(description));
  else options.write(formatDescription(description, (options.now ?? Date.now)()));
  return EXIT_OK;
}

/**
 * The reading of the running domain by the launcher of the VMI's host; when
 * it has none (not placed, not running, or its launcher not answering), why,
 * so the stored status is shown instead.
 */
async function liveView(
  client: HeadroomClient,
  node: string,
  namespace: string,
  name: string,
): Promise<CapacitySource> {
  if (!node) return { note: `vmi ${namespace}/${name} is not placed on a host yet` };
  try {
    const reply = await client.call(
      hostApiSubject(node, HOST_API.describe),
      DescribeRequest,
      { namespace, name },
      DescribeReply,
      { read: true },
    );
    if (reply.found && reply.live) return { live: reply.live };
    return { note: reply.message || `vmi ${namespace}/${name} has no running domain` };
  } catch (error) {
    // No launcher is not the end of describe: the stored status still tells a lot.
    if (error instanceof CliError && error.exitCode === EXIT_UNREACHABLE) {
      return { note: `no launcher answered for host ${node} (${error.message})` };
    }
    throw error;
  }
}
