// VirtualMachineInstances through the validator's API: get, list, delete, and
// waiting for the launcher to report on them.
import { API_SUBJECTS } from "@headroom/bus/client";
import {
  DeleteReply,
  DeleteRequest,
  GetReply,
  GetRequest,
  type IVmiRecord,
  ListReply,
  ListRequest,
  Phase,
} from "@headroom/proto";
import type { HeadroomClient } from "../client.ts";
import { formatSeconds } from "../duration.ts";
import { CliError, EXIT_INVALID, EXIT_OK, EXIT_UNREACHABLE } from "../exit-codes.ts";
import { formatObjects, formatTable, type OutputFormat } from "../output.ts";
import { imageProgressOf, type ProgressBar } from "../progress-bar.ts";
import {
  currentStatus,
  phaseName,
  statusView,
  VMI_COLUMNS,
  VMI_WIDE_COLUMNS,
  vmiObject,
  vmiRow,
} from "../vmi-view.ts";

/** How often a wait asks again. */
const POLL_MS = 500;

export interface GetVmisOptions {
  namespace: string;
  allNamespaces: boolean;
  name?: string;
  /** A label selector, as kubectl takes it; checked by the validator. */
  selector?: string;
  output: OutputFormat;
  write: (text: string) => void;
  now?: () => number;
}

export async function getVmi(
  client: HeadroomClient,
  namespace: string,
  name: string,
): Promise<IVmiRecord | null> {
  const reply = await client.call(API_SUBJECTS.get, GetRequest, { namespace, name }, GetReply, {
    read: true,
  });
  return reply.found && reply.vmi ? reply.vmi : null;
}

/** Every VMI of a namespace ("" for all) whose labels match, page by page. */
export async function listVmis(
  client: HeadroomClient,
  namespace: string,
  labelSelector = "",
): Promise<IVmiRecord[]> {
  const records: IVmiRecord[] = [];
  let continueToken = "";
  do {
    const page = await client.call(
      API_SUBJECTS.list,
      ListRequest,
      { namespace, continueToken, labelSelector },
      ListReply,
      { read: true },
    );
    records.push(...page.vmis);
    continueToken = page.continueToken;
  } while (continueToken !== "");
  return records;
}

/** `get vmi [NAME]`: a table, or the objects as JSON/YAML. */
export async function getVmis(client: HeadroomClient, options: GetVmisOptions): Promise<number> {
  const now = options.now ?? Date.now;
  let records: IVmiRecord[];
  if (options.name !== undefined) {
    const record = await getVmi(client, options.namespace, options.name);
    if (!record) throw new CliError(`vmi/${options.name} not found`, EXIT_INVALID);
    records = [record];
  } else {
    records = await listVmis(
      client,
      options.allNamespaces ? "" : options.namespace,
      options.selector ?? "",
    );
  }

  if (options.output === "json" || options.output === "yaml") {
    options.write(
      formatObjects(options.output, records.map(vmiObject), options.name !== undefined),
    );
    return EXIT_OK;
  }
  if (records.length === 0) {
    // As kubectl: nothing on stdout, so scripts see an empty table as empty.
    process.stderr.write(
      options.allNamespaces
        ? "No resources found\n"
        : `No resources found in ${options.namespace} namespace.\n`,
    );
    return EXIT_OK;
  }
  const wide = options.output === "wide";
  const headers = [
    ...(options.allNamespaces ? ["NAMESPACE"] : []),
    ...VMI_COLUMNS,
    ...(wide ? VMI_WIDE_COLUMNS : []),
  ];
  const rows = records.map((record) => [
    ...(options.allNamespaces ? [record.namespace ?? ""] : []),
    ...vmiRow(record, now(), wide).map(oneLine),
  ]);
  options.write(formatTable(headers, rows));
  return EXIT_OK;
}

function oneLine(text: string): string {
  return text.replace(/\s*[\r\n]+\s*/g, " ");
}

export interface DeleteVmiOptions {
  namespace: string;
  name: string;
  wait: boolean;
  timeoutMs: number;
  write: (text: string) => void;
}

/** `delete vmi NAME [--wait]`. */
export async function deleteVmi(
  client: HeadroomClient,
  options: DeleteVmiOptions,
): Promise<number> {
  const { namespace, name } = options;
  const reply = await client.call(
    API_SUBJECTS.delete,
    DeleteRequest,
    { namespace, name },
    DeleteReply,
  );
  if (!reply.deleted) throw new CliError(`vmi/${name} not found`, EXIT_INVALID);
  options.write(`vmi/${name} deleted\n`);
  if (!options.wait) return EXIT_OK;
  await waitForStatusGone(client, { ...options, uid: reply.uid ?? "" });
  options.write(`vmi/${name} removed: its domain is gone\n`);
  return EXIT_OK;
}

/**
 * Waits until the launcher removed the deleted VMI's status (it does so once
 * the domain is gone), or a status of a newer VMI of that name replaced it.
 */
async function waitForStatusGone(
  client: HeadroomClient,
  options: DeleteVmiOptions & { uid: string },
): Promise<void> {
  const { namespace, name, uid } = options;
  const deadline = Date.now() + options.timeoutMs;
  let last = "";
  for (;;) {
    const status = await client.readStatus(namespace, name);
    if (!status || (uid && status.uid && status.uid !== uid)) return;
    const phase = phaseName(status.phase);
    if (phase !== last) {
      options.write(`vmi/${name} ${phase}\n`);
      last = phase;
    }
    if (Date.now() >= deadline) {
      throw new CliError(
        `timed out after ${formatSeconds(options.timeoutMs)} waiting for vmi/${name} to be removed (it is ${phase})`,
        EXIT_UNREACHABLE,
      );
    }
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
  }
}

export interface WaitForRunningOptions {
  namespace: string;
  name: string;
  /** The VMI and generation the apply stored: older statuses do not count. */
  uid: string;
  generation: number;
  timeoutMs: number;
  write: (text: string) => void;
  /** Where a host's image fetch or pull is drawn (a bar on a terminal); without it, lines. */
  progress?: ProgressBar;
}

/**
 * Follows a VMI's status after an apply, printing a line each time it
 * changes, until it is Running (exit 0) or Failed (exit 1); a timeout is exit 3.
 */
export async function waitForRunning(
  client: HeadroomClient,
  options: WaitForRunningOptions,
): Promise<number> {
  const { namespace, name } = options;
  const deadline = Date.now() + options.timeoutMs;
  let last = "";
  let phase = "Pending";
  for (;;) {
    const record = await getVmi(client, namespace, name);
    if (!record || (options.uid && record.uid !== options.uid)) {
      throw new CliError(`vmi/${name} was deleted while waiting for it`, EXIT_INVALID);
    }
    const status = currentStatus(record);
    const fresh = status !== null && (status.observedGeneration ?? 0) >= options.generation;
    phase = fresh ? phaseName(status.phase) : "Pending";
    const image = fresh && options.progress ? imageProgressOf(status.reason ?? "") : undefined;
    if (image && options.progress) {
      options.progress.update(image.done, image.total, image.label);
    } else {
      const line = progressLine(record, fresh);
      if (line !== last) {
        options.progress?.stop();
        options.write(`${line}\n`);
        last = line;
      }
    }
    if (fresh && status.phase === Phase.PHASE_RUNNING) return EXIT_OK;
    if (fresh && status.phase === Phase.PHASE_FAILED) {
      throw new CliError(
        `vmi/${name} failed: ${status.reason || "the launcher gave no reason"}`,
        EXIT_INVALID,
      );
    }
    if (Date.now() >= deadline) {
      throw new CliError(
        `timed out after ${formatSeconds(options.timeoutMs)} waiting for vmi/${name} to be Running (it is ${phase})`,
        EXIT_UNREACHABLE,
      );
    }
    await sleep(Math.min(POLL_MS, Math.max(0, deadline - Date.now())));
  }
}

/** e.g. "vmi/web Running on node-1: capacity 5, 2 in use, 3 free (4 controllers added)" */
function progressLine(record: IVmiRecord, fresh: boolean): string {
  const prefix = `vmi/${record.name}`;
  if (!fresh) return `${prefix} Pending`;
  const view = statusView(record);
  const on = view.node ? ` on ${view.node}` : "";
  if (view.phase === "Running") {
    const { effective, inUse, free, controllersAdded } = view.capacity;
    const added = controllersAdded === 1 ? "1 controller" : `${controllersAdded} controllers`;
    return `${prefix} Running${on}: capacity ${effective}, ${inUse} in use, ${free} free (${added} added)`;
  }
  if (view.phase === "Failed") return `${prefix} Failed${on}`;
  return `${prefix} ${view.phase}${on}${view.reason ? `: ${oneLine(view.reason)}` : ""}`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
