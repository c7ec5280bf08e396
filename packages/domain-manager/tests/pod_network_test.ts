// The pod network on the real libvirtd: made once, marked as headroom's, NAT
// with DHCP and isolated ports, and found again rather than made twice.
import { execFile } from "node:child_process";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import {
  DEFAULT_POD_SUBNET,
  isHeadroomPodNetwork,
  POD_NETWORK,
  parsePodSubnet,
} from "@headroom/domain-xml";
import { Connection } from "@headroom/libvirt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensurePodNetwork } from "../src/mod.ts";

const run = promisify(execFile);
const repoRoot = fileURLToPath(new URL("../../../", import.meta.url));
let conn: Connection;

beforeAll(async () => {
  await run("bash", [join(repoRoot, "infra/daemons.sh"), "--quiet"]);
  conn = await Connection.open("qemu:///system");
}, 60_000);

afterAll(async () => {
  await conn?.close();
});

describe("ensurePodNetwork", () => {
  it("runs the marked NAT network, one check shared by launches at once", async () => {
    const subnet = parsePodSubnet(DEFAULT_POD_SUBNET);
    const outcomes = await Promise.all([1, 2, 3].map(() => ensurePodNetwork(conn, subnet)));
    expect(new Set(outcomes).size).toBe(1);
    expect(await ensurePodNetwork(conn, subnet)).toBe("kept");
    expect(await conn.isNetworkActive(POD_NETWORK)).toBe(true);
    const xml = await conn.networkXml(POD_NETWORK);
    expect(isHeadroomPodNetwork(xml)).toBe(true);
    expect(xml).toMatch(/<forward mode=["']nat["']/);
    expect(xml).toMatch(/<port isolated=["']yes["']\/>/);
    expect(xml).toMatch(/<ip address=["']10\.0\.2\.1["'] prefix=["']24["']>/);
  });
});
