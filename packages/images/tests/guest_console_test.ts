import { appendFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  parseGuestBanner,
  parseGuestReport,
  parseGuestReports,
  waitForGuestReport,
} from "../src/mod.ts";

describe("parseGuestReport", () => {
  it("reads the tiny guest's console line", () => {
    expect(
      parseGuestReport(
        "headroom-guest: nics=2 pci=0000:01:00.0,0000:02:00.0 ifaces=eth0,eth1 up=2.06\r",
      ),
    ).toEqual({
      nics: 2,
      pci: ["0000:01:00.0", "0000:02:00.0"],
      ifaces: ["eth0", "eth1"],
      uptimeSeconds: 2.06,
    });
  });

  it("reads a guest without NICs", () => {
    expect(parseGuestReport("headroom-guest: nics=0 pci= ifaces= up=1.5")).toEqual({
      nics: 0,
      pci: [],
      ifaces: [],
      uptimeSeconds: 1.5,
    });
  });

  it("ignores kernel messages, the boot banner and cut lines", () => {
    expect(parseGuestReport("[    1.471934] Run /init as init process")).toBeUndefined();
    expect(parseGuestReport("headroom-guest: booted kernel=6.1.0 build=abc")).toBeUndefined();
    expect(parseGuestReport("headroom-guest: nics=2 pci=0000:01:00.0 ifa")).toBeUndefined();
  });

  it("skips the last line of a log until it is complete", () => {
    const log =
      "noise\r\nheadroom-guest: nics=1 pci=0000:01:00.0 ifaces=eth0 up=2.0\r\n" +
      "headroom-guest: nics=2 pci=0000:01:00.0,0000:02:00.0 ifaces=eth0,eth1 up=3";
    expect(parseGuestReports(log).map((report) => report.nics)).toEqual([1]);
    expect(parseGuestReports(`${log}.1\r\n`).map((report) => report.nics)).toEqual([1, 2]);
  });
});

describe("parseGuestBanner", () => {
  it("finds the boot banner among kernel messages", () => {
    const log =
      "[    1.47] Run /init as init process\r\n" +
      "headroom-guest: booted kernel=6.1.0-56-cloud-amd64 build=c08d9238 pciehp-ports=4\r\n" +
      "headroom-guest: nics=0 pci= ifaces= up=1.9\r\n";
    expect(parseGuestBanner(log)).toEqual({
      kernel: "6.1.0-56-cloud-amd64",
      buildId: "c08d9238",
      pciehpPorts: 4,
    });
    expect(parseGuestBanner("[    1.47] Run /init as init process\r\n")).toBeUndefined();
  });
});

describe("waitForGuestReport", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "headroom-console-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("waits for a matching report that is written later", async () => {
    const log = join(dir, "console.log");
    await writeFile(log, "headroom-guest: nics=2 pci=a,b ifaces=eth0,eth1 up=1.0\n");
    const waiting = waitForGuestReport(log, (report) => report.nics === 3, { intervalMs: 20 });
    setTimeout(() => {
      void appendFile(log, "headroom-guest: nics=3 pci=a,b,c ifaces=eth0,eth1,eth2 up=2.0\n");
    }, 100);
    const match = await waiting;
    expect(match.index).toBe(1);
    expect(match.report.pci).toEqual(["a", "b", "c"]);
  });

  it("looks only after a given report index", async () => {
    const log = join(dir, "console.log");
    await writeFile(
      log,
      "headroom-guest: nics=2 pci=a,b ifaces= up=1.0\nheadroom-guest: nics=3 pci=a,b,c ifaces= up=2.0\n",
    );
    await expect(
      waitForGuestReport(log, (report) => report.nics === 2, { after: 1, timeoutMs: 100 }),
    ).rejects.toThrow(/no matching report within 100 ms \(last report: .*"nics":3/);
  });

  it("quotes the console's end when the guest never reported", async () => {
    const log = join(dir, "console.log");
    await writeFile(log, "Kernel panic - not syncing: No working init found.\n");
    await expect(waitForGuestReport(log, () => true, { timeoutMs: 50 })).rejects.toThrow(
      /no report yet; console ends with: .*Kernel panic/,
    );
  });
});
