// The network attachment API: the requests that create, delete and list
// attachments in their bucket. The rules they apply are in network_rules.ts;
// composing reads attachments through readNetwork.
import {
  API_SUBJECTS,
  ApiError,
  decode,
  encode,
  endpoint,
  errorText,
  type KV,
  type Logger,
  type MicroServiceOptions,
  mirrorBucket,
  retryCompareAndSet,
} from "@headroom/bus";
import {
  CreateNetworkReply,
  CreateNetworkRequest,
  DeleteNetworkReply,
  DeleteNetworkRequest,
  type ICreateNetworkReply,
  type IDeleteNetworkReply,
  type IListNetworksReply,
  ListNetworksReply,
  ListNetworksRequest,
  NetworkAttachment,
} from "@headroom/proto";
import type { Vmi } from "@headroom/vmi";
import {
  decideCreate,
  inUseMessage,
  networkNameProblem,
  networksUsedBy,
  notFoundMessage,
} from "./network_rules.ts";
import { readStoredVmi } from "./stored_vmis.ts";

export interface NetworkApi {
  /** The network-create, -delete and -list endpoints, for the composer's micro service. */
  endpoints: MicroServiceOptions["endpoints"];
  /**
   * The bridge of network attachment `name`, null when there is none: from
   * the list this composer follows, read when the list does not have it yet
   * (another composer may have made it a moment ago).
   */
  bridgeOf(name: string): Promise<string | null>;
  /** Resolves if the list stops following the bucket. */
  lost: Promise<Error>;
  stop(): void;
}

/** The network attachment API; resolves once the attachments stored now are known. */
export async function openNetworkApi(
  buckets: { vmis: KV; networks: KV },
  now: () => number,
  log: Logger,
): Promise<NetworkApi> {
  const { vmis, networks } = buckets;
  // Lists come from memory: kv.keys() makes a consumer per request, which a
  // cluster that just lost a server may take longer than a request's timeout to
  // make (and every addinterface asks for the list).
  const listed = await mirrorBucket(networks, NetworkAttachment, log);

  const createNetwork = async (
    request: CreateNetworkRequest,
    rlog: Logger,
  ): Promise<ICreateNetworkReply> => {
    const wanted = { name: request.name ?? "", bridge: request.bridge ?? "" };
    const first = decideCreate(wanted, null);
    if (first.kind === "invalid") return { error: first.error };
    return retryCompareAndSet(
      async (): Promise<ICreateNetworkReply> => {
        const stored = await readNetwork(networks, wanted.name);
        const decision = decideCreate(wanted, stored?.live ? stored.attachment : null);
        switch (decision.kind) {
          case "invalid":
          case "conflict":
            rlog.info({ network: wanted.name, reason: decision.error }, "network create refused");
            return { error: decision.error };
          case "unchanged":
            return { unchanged: stored?.attachment ?? null };
          case "create": {
            // Someone else may create it meanwhile: then this write loses and
            // the decision is made again against theirs.
            const attachment = { ...wanted, createdUnixMs: now() };
            const data = encode(NetworkAttachment, attachment);
            if (stored) await networks.update(wanted.name, data, stored.revision);
            else await networks.create(wanted.name, data);
            listed.remember(wanted.name, NetworkAttachment.create(attachment));
            rlog.info(attachment, "network created");
            return { created: attachment };
          }
        }
      },
      {
        gaveUp: () =>
          new ApiError("CONFLICT", `network ${wanted.name} kept changing while it was created`),
      },
    );
  };

  const deleteNetwork = async (
    request: DeleteNetworkRequest,
    rlog: Logger,
  ): Promise<IDeleteNetworkReply> => {
    const name = request.name ?? "";
    const problem = networkNameProblem(name);
    if (problem) return { deleted: false, message: problem };
    return retryCompareAndSet(
      async (): Promise<IDeleteNetworkReply> => {
        const stored = await readNetwork(networks, name);
        if (!stored?.live) return { deleted: false, message: notFoundMessage(name) };
        const users = await vmisUsing(vmis, name);
        if (users.length > 0) {
          const message = inUseMessage(name, users);
          rlog.info({ network: name, usedBy: users }, "network delete refused: in use");
          return { deleted: false, message, usedBy: users };
        }
        await networks.delete(name, { previousSeq: stored.revision });
        listed.remember(name, null);
        rlog.info({ network: name, bridge: stored.attachment.bridge }, "network deleted");
        return { deleted: true, message: `network attachment '${name}' deleted` };
      },
      {
        gaveUp: () =>
          new ApiError("CONFLICT", `network ${name} kept changing while it was deleted`),
      },
    );
  };

  const listNetworks = (): IListNetworksReply => {
    const found = [...listed.entries.values()];
    found.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    return { networks: found };
  };

  const endpoints = [
    endpoint({
      name: "network-create",
      subject: API_SUBJECTS.createNetwork,
      request: CreateNetworkRequest,
      reply: CreateNetworkReply,
      handler: (request, context) => createNetwork(request, context.log),
    }),
    endpoint({
      name: "network-delete",
      subject: API_SUBJECTS.deleteNetwork,
      request: DeleteNetworkRequest,
      reply: DeleteNetworkReply,
      handler: (request, context) => deleteNetwork(request, context.log),
    }),
    endpoint({
      name: "network-list",
      subject: API_SUBJECTS.listNetworks,
      request: ListNetworksRequest,
      reply: ListNetworksReply,
      handler: async () => listNetworks(),
    }),
  ];
  const bridgeOf = async (name: string): Promise<string | null> => {
    const attachment = listed.entries.get(name) ?? (await readNetwork(networks, name))?.attachment;
    return attachment?.bridge || null;
  };
  return { endpoints, bridgeOf, lost: listed.lost, stop: () => listed.stop() };
}

/** A network attachment entry: its revision (for compare-and-set) and, when not deleted, its value. */
export async function readNetwork(
  networks: KV,
  name: string,
): Promise<{ revision: number; live: boolean; attachment: NetworkAttachment } | null> {
  const entry = await networks.get(name);
  if (!entry) return null;
  if (entry.operation !== "PUT")
    return {
      revision: entry.revision,
      live: false,
      attachment: NetworkAttachment.create({ name, bridge: "", createdUnixMs: 0 }),
    };
  try {
    return {
      revision: entry.revision,
      live: true,
      attachment: decode(NetworkAttachment, entry.value),
    };
  } catch (error) {
    throw new Error(`network attachment '${name}' is stored unreadably: ${errorText(error)}`);
  }
}

async function keysOf(kv: KV): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of await kv.keys()) keys.push(key);
  return keys;
}

/** The stored VMIs ("<namespace>/<name>", sorted) whose networks join `network`. */
async function vmisUsing(vmis: KV, network: string): Promise<string[]> {
  const users: string[] = [];
  for (const key of await keysOf(vmis)) {
    const stored = await readStoredVmi(vmis, key).catch(() => null);
    if (!stored) continue;
    let vmi: Vmi;
    try {
      vmi = JSON.parse(stored.manifestJson) as Vmi;
    } catch {
      continue;
    }
    if (networksUsedBy(vmi).includes(network)) users.push(`${stored.namespace}/${stored.name}`);
  }
  return users.sort();
}
