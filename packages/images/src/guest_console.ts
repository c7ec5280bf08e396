import { readFile } from "node:fs/promises";
import { setTimeout as sleep } from "node:timers/promises";

/** Kernel command line for the tiny guest: serial console, no kernel chatter, reboot on panic. */
export const TINY_GUEST_CMDLINE = "console=ttyS0 quiet panic=-1";

/**
 * What the tiny guest reports once a second on its serial console:
 *   headroom-guest: nics=2 pci=0000:01:00.0,0000:02:00.0 ifaces=eth0,eth1 up=2.06
 */
export interface GuestReport {
  /** virtio-net PCI functions the guest sees (vendor 0x1af4, device 0x1041 or 0x1000). */
  nics: number;
  /** Their guest PCI addresses, e.g. "0000:01:00.0". */
  pci: string[];
  /** Network interfaces the guest's virtio_net driver created. */
  ifaces: string[];
  /** Guest uptime in seconds when the line was printed. */
  uptimeSeconds: number;
}

const REPORT = /^headroom-guest: nics=(\d+) pci=(\S*) ifaces=(\S*) up=(\d+(?:\.\d+)?)\s*$/;

/** Parses one console line; undefined when the line is not a complete report. */
export function parseGuestReport(line: string): GuestReport | undefined {
  const match = REPORT.exec(line.replace(/\r$/, ""));
  if (!match) return undefined;
  const [, nics, pci, ifaces, up] = match as unknown as [string, string, string, string, string];
  const list = (text: string) => (text === "" ? [] : text.split(","));
  return {
    nics: Number(nics),
    pci: list(pci),
    ifaces: list(ifaces),
    uptimeSeconds: Number(up),
  };
}

/** The line the tiny guest prints once when /init starts. */
export interface GuestBanner {
  /** Guest kernel release (uname -r). */
  kernel: string;
  /** Build id of the tiny guest image (also in /headroom-build-id of the image). */
  buildId: string;
  /**
   * PCIe ports driven by pciehp: > 0 when the platform hands the guest native
   * PCIe hotplug, 0 when hotplug goes through ACPI (acpiphp; pc, and q35 from
   * QEMU 6.1 on).
   */
  pciehpPorts: number;
}

const BANNER = /^headroom-guest: booted kernel=(\S+) build=(\S*) pciehp-ports=(\d+)\s*$/;

/** Finds the boot banner in a console log; undefined until the guest printed it. */
export function parseGuestBanner(consoleText: string): GuestBanner | undefined {
  for (const line of consoleText.split("\n")) {
    const match = BANNER.exec(line.replace(/\r$/, ""));
    if (match) {
      const [, kernel, buildId, ports] = match as unknown as [string, string, string, string];
      return { kernel, buildId, pciehpPorts: Number(ports) };
    }
  }
  return undefined;
}

/** Every complete report in a console log, oldest first; a line still being written is skipped. */
export function parseGuestReports(consoleText: string): GuestReport[] {
  const lines = consoleText.split("\n");
  lines.pop(); // text after the last newline is not a complete line yet
  return lines
    .map(parseGuestReport)
    .filter((report): report is GuestReport => report !== undefined);
}

export interface WaitForReportOptions {
  /** Give up after this long (default 60 s). */
  timeoutMs?: number;
  /** Only look at reports after this many were already in the log. */
  after?: number;
  /** How often to read the log (default 200 ms). */
  intervalMs?: number;
}

export interface ReportMatch {
  report: GuestReport;
  /** Index of the report among all reports in the log. */
  index: number;
}

/**
 * Polls a serial-console log file until a report satisfies `accept`. On timeout
 * the error quotes the last report (or the log's tail) so a failure says what
 * the guest did see.
 */
export async function waitForGuestReport(
  consolePath: string,
  accept: (report: GuestReport) => boolean,
  options: WaitForReportOptions = {},
): Promise<ReportMatch> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const intervalMs = options.intervalMs ?? 200;
  const after = options.after ?? 0;
  const deadline = Date.now() + timeoutMs;
  let text = "";
  for (;;) {
    text = await readFile(consolePath, "utf8").catch(() => "");
    const reports = parseGuestReports(text);
    for (let index = after; index < reports.length; index++) {
      const report = reports[index] as GuestReport;
      if (accept(report)) return { report, index };
    }
    if (Date.now() >= deadline) {
      const last = reports.at(-1);
      const seen = last
        ? `last report: ${JSON.stringify(last)}`
        : `no report yet; console ends with: ${JSON.stringify(text.slice(-400))}`;
      throw new Error(
        `guest console ${consolePath}: no matching report within ${timeoutMs} ms (${seen})`,
      );
    }
    await sleep(intervalMs);
  }
}
