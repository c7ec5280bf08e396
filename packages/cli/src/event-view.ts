// A capacity event as the user sees it: a table row, and an object for
// `-o json` (one per line) and `describe -o json|yaml`; and how `headroom
// events` prints them.
import { CapacityEventType, type ICapacityEvent } from "@headroom/proto";
import { columnWidths, formatAge, formatRow, visible } from "./output.ts";
import type { EventScope } from "./resources/events.ts";

const TYPE_NAMES: Record<number, string> = {
  [CapacityEventType.CAPACITY_EVENT_TYPE_UNSPECIFIED]: "unknown",
  [CapacityEventType.CAPACITY_EVENT_TYPE_RESERVED]: "reserved",
  [CapacityEventType.CAPACITY_EVENT_TYPE_ATTACHED]: "attached",
  [CapacityEventType.CAPACITY_EVENT_TYPE_DETACHED]: "detached",
  [CapacityEventType.CAPACITY_EVENT_TYPE_EXHAUSTED]: "exhausted",
  [CapacityEventType.CAPACITY_EVENT_TYPE_RELEASED]: "released",
  [CapacityEventType.CAPACITY_EVENT_TYPE_NODE_LOST]: "node-lost",
};

/** "reserved", "attached", "detached", "exhausted", "released". */
export function eventTypeName(type: CapacityEventType | null | undefined): string {
  return TYPE_NAMES[type ?? CapacityEventType.CAPACITY_EVENT_TYPE_UNSPECIFIED] ?? "unknown";
}

export interface EventObject {
  /** RFC 3339, to the millisecond: events of one VMI often come within a second. */
  time: string;
  type: string;
  namespace: string;
  name: string;
  uid: string;
  interfaceName: string;
  /** The VMI's interface request; null when it asks for none. */
  requested: number | null;
  effective: number;
  inUse: number;
  free: number;
  controllersAdded: number;
  node: string;
  message: string;
  timestampUnixMs: number;
}

export function eventObject(event: ICapacityEvent): EventObject {
  const timestampUnixMs = Number(event.timestampUnixMs ?? 0);
  return {
    time: new Date(timestampUnixMs).toISOString(),
    type: eventTypeName(event.type),
    namespace: event.namespace ?? "",
    name: event.name ?? "",
    uid: event.uid ?? "",
    interfaceName: event.interfaceName ?? "",
    requested: event.requested ?? null,
    effective: event.effective ?? 0,
    inUse: event.inUse ?? 0,
    free: event.free ?? 0,
    controllersAdded: event.controllersAdded ?? 0,
    node: event.node ?? "",
    message: event.message ?? "",
    timestampUnixMs,
  };
}

export const EVENT_COLUMNS = [
  "TIME",
  "NAMESPACE/NAME",
  "TYPE",
  "INTERFACE",
  "REQUESTED",
  "EFFECTIVE",
  "IN-USE",
  "FREE",
  "MESSAGE",
];

/** A row of `headroom events`: the time to the second, UTC. */
export function eventRow(event: EventObject): string[] {
  return [
    event.time.replace(/\.\d{3}Z$/, "Z"),
    visible(`${event.namespace}/${event.name}`),
    event.type,
    visible(event.interfaceName) || "<none>",
    event.requested === null ? "<none>" : String(event.requested),
    String(event.effective),
    String(event.inUse),
    String(event.free),
    oneLine(event.message),
  ];
}

/** The columns of the Events section of `describe`. */
export const DESCRIBE_EVENT_COLUMNS = ["TYPE", "INTERFACE", "IN-USE", "FREE", "AGE", "MESSAGE"];

export function describeEventRow(event: EventObject, nowMs: number): string[] {
  return [
    event.type,
    visible(event.interfaceName) || "<none>",
    String(event.inUse),
    String(event.free),
    formatAge(nowMs - event.timestampUnixMs),
    oneLine(event.message),
  ];
}

/** A message on one line, with no control character left for the terminal. */
function oneLine(text: string): string {
  return visible(text.replace(/\s*[\r\n]+\s*/g, " "));
}

/** How `headroom events` prints the stored events, then each new one. */
export interface Printer {
  stored(events: ICapacityEvent[]): void;
  next(event: ICapacityEvent): void;
}

export function jsonPrinter(write: (text: string) => void): Printer {
  const line = (event: ICapacityEvent) => write(`${JSON.stringify(eventObject(event))}\n`);
  return { stored: (events) => events.forEach(line), next: line };
}

/**
 * The stored events as one table; with --follow, later ones are printed as
 * they come in the columns the first rows set (as kubectl get --watch does),
 * wide enough for the usual cells when there were none.
 */
export function tablePrinter(
  write: (text: string) => void,
  scope: EventScope,
  follow: boolean,
): Printer {
  let widths: number[] = [];
  let headerPrinted = false;
  const print = (rows: string[][]) => {
    const lines = headerPrinted ? rows : [EVENT_COLUMNS, ...rows];
    headerPrinted = true;
    write(`${lines.map((row) => formatRow(row, widths)).join("\n")}\n`);
  };
  return {
    stored(events) {
      const rows = events.map((event) => eventRow(eventObject(event)));
      const typical = [
        "2006-01-02T15:04:05Z",
        scope.name === undefined ? "" : `${scope.namespace}/${scope.name}`,
        "exhausted",
        "<none>",
        "<none>",
      ];
      widths = columnWidths(EVENT_COLUMNS, follow ? [...rows, typical] : rows);
      if (rows.length > 0) {
        print(rows);
        return;
      }
      // As kubectl: nothing on stdout, so scripts see no events as empty.
      const where =
        scope.namespace === undefined
          ? ""
          : scope.name === undefined
            ? ` in ${scope.namespace} namespace`
            : ` for vmi/${scope.name} in ${scope.namespace} namespace`;
      process.stderr.write(
        follow
          ? `No events yet${where}; waiting for new ones (Ctrl-C to stop).\n`
          : `No events found${where}.\n`,
      );
    },
    next(event) {
      print([eventRow(eventObject(event))]);
    },
  };
}
