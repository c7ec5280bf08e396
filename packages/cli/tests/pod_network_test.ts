// What a guest on the pod network can reach, seen from inside the guest: the
// tiny guest takes a DHCP lease and tries TCP connections, and reports each on
// its console. It must not reach services on the host's loopback (NATS listens
// there) — QEMU user networking maps its gateway onto the host's 127.0.0.1 —
// and must reach the host's own network address, as it would reach another
// machine. Through the whole stack, under the shipped NATS permissions.
import { readFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { networkInterfaces } from "node:os";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { useCliStack } from "./cli_stack.ts";
import { testNamespace, virsh } from "./host.ts";
import { applyAndWait, consoleUntil } from "./run.ts";

const namespace = testNamespace();
const name = "pod-reach";
const { stack, cli } = useCliStack({
  namespace,
  seedNetwork: false,
  refusals: /(Publish|Subscription) Violation/,
});
let listener: Server | undefined;
let hostAddress = "";
let listenerPort = 0;
let connections = 0;

/** The IPv4 address of the interface the host's default route leaves by. */
function defaultRouteAddress(): string {
  const routes = readFileSync("/proc/net/route", "utf8").trim().split("\n").slice(1);
  const iface = routes.map((line) => line.split("\t")).find((f) => f[1] === "00000000")?.[0];
  const address = iface
    ? networkInterfaces()[iface]?.find((a) => a.family === "IPv4" && !a.internal)?.address
    : undefined;
  if (!address) throw new Error("this host has no default route with an IPv4 address");
  return address;
}

beforeAll(async () => {
  hostAddress = defaultRouteAddress();
  listener = createServer((socket) => {
    connections++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => listener?.listen(0, hostAddress, resolve));
  listenerPort = (listener.address() as { port: number }).port;
});

afterAll(async () => {
  listener?.close();
});

describe("a guest on the pod network", () => {
  it("gets an address by DHCP, reaches the host's network address, and not its loopback", async () => {
    const natsPort = new URL(stack.natsUrl).port;
    const vmi = await stack.seedManifest(name);
    // The pod interface alone; the probes run once the guest has its lease.
    vmi.spec.domain.devices.interfaces = [{ name: "default", masquerade: {} }];
    vmi.spec.networks = [{ name: "default", pod: {} }];
    vmi.spec.domain.firmware.kernelBoot.kernelArgs += ` headroom.dhcp=1 headroom.probe=gateway:${natsPort},${hostAddress}:${listenerPort}`;
    const apply = await applyAndWait(cli, stack.stateDir, name, vmi);
    expect(apply.stderr).toBe("");
    expect(apply.code).toBe(0);

    const stdout = await consoleUntil(
      cli,
      name,
      `probe target=${hostAddress}:${listenerPort} result=`,
    );

    const lease = /^headroom-guest: dhcp iface=eth0 addr=(\S+) router=(\S+)$/m.exec(stdout);
    const [address, router] = lease?.slice(1) ?? [];
    // The host as the guest sees it: nothing that listens only on loopback answers there.
    expect(stdout).toContain(`probe target=${router}:${natsPort} result=closed`);
    expect(stdout).toContain(`probe target=${hostAddress}:${listenerPort} result=open`);
    expect(connections).toBe(1);
    expect([address, router]).toEqual([expect.stringMatching(/^10\.0\.2\.\d+\/24$/), "10.0.2.1"]);

    const domainXml = await virsh("dumpxml", `${namespace}_${name}`);
    expect(domainXml).toContain("<source network='headroom-pod'");
    expect(domainXml).not.toContain("type='user'");
  }, 320_000);
});
