// The network attachment messages of schemas/headroom/v1/network.proto.
// @headroom/proto generates a fixed list of .proto files; until network.proto
// is on it, the types are built here from the same file by protobufjs
// reflection. Both encode the same bytes; the generated ones win when present.
import { readFileSync } from "node:fs";
import type { MessageType } from "@headroom/bus";
import { v1 } from "@headroom/proto"; // first: makes protobufjs read int64 as numbers
import protobuf from "protobufjs";

export interface INetworkAttachment {
  name?: string | null;
  bridge?: string | null;
  createdUnixMs?: number | null;
}
export interface NetworkAttachment {
  name: string;
  bridge: string;
  createdUnixMs: number;
}

export interface ICreateNetworkRequest {
  name?: string | null;
  bridge?: string | null;
}
export interface CreateNetworkRequest {
  name: string;
  bridge: string;
}

export interface ICreateNetworkReply {
  created?: INetworkAttachment | null;
  unchanged?: INetworkAttachment | null;
  error?: string | null;
}
export interface CreateNetworkReply {
  created?: NetworkAttachment | null;
  unchanged?: NetworkAttachment | null;
  error?: string | null;
  result?: "created" | "unchanged" | "error";
}

export interface IDeleteNetworkRequest {
  name?: string | null;
}
export interface DeleteNetworkRequest {
  name: string;
}

export interface IDeleteNetworkReply {
  deleted?: boolean | null;
  message?: string | null;
  usedBy?: string[] | null;
}
export interface DeleteNetworkReply {
  deleted: boolean;
  message: string;
  usedBy: string[];
}

export type IListNetworksRequest = Record<string, never>;
export type ListNetworksRequest = Record<string, never>;

export interface IListNetworksReply {
  networks?: INetworkAttachment[] | null;
}
export interface ListNetworksReply {
  networks: NetworkAttachment[];
}

const PROTO = new URL("../../../schemas/headroom/v1/network.proto", import.meta.url);
let reflected: protobuf.Root | undefined;

function messageType<Init, Message>(name: string): MessageType<Init, Message> {
  const generated = (v1 as unknown as Record<string, unknown>)[name];
  if (generated) return generated as MessageType<Init, Message>;
  reflected ??= protobuf.parse(readFileSync(PROTO, "utf8")).root;
  return reflected.lookupType(`headroom.v1.${name}`) as unknown as MessageType<Init, Message>;
}

export const NetworkAttachment = messageType<INetworkAttachment, NetworkAttachment>(
  "NetworkAttachment",
);
export const CreateNetworkRequest = messageType<ICreateNetworkRequest, CreateNetworkRequest>(
  "CreateNetworkRequest",
);
export const CreateNetworkReply = messageType<ICreateNetworkReply, CreateNetworkReply>(
  "CreateNetworkReply",
);
export const DeleteNetworkRequest = messageType<IDeleteNetworkRequest, DeleteNetworkRequest>(
  "DeleteNetworkRequest",
);
export const DeleteNetworkReply = messageType<IDeleteNetworkReply, DeleteNetworkReply>(
  "DeleteNetworkReply",
);
export const ListNetworksRequest = messageType<IListNetworksRequest, ListNetworksRequest>(
  "ListNetworksRequest",
);
export const ListNetworksReply = messageType<IListNetworksReply, ListNetworksReply>(
  "ListNetworksReply",
);
