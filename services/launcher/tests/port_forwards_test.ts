// The host side of interfaces[].ports, with real sockets on loopback: a local
// server stands in for the guest (its address is what the lease lookup gives).
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { connect, createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createLogger } from "@headroom/bus";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type GuestAddress, PortForwards } from "../src/port_forwards.ts";

const log = createLogger("port-forwards-test", { level: "silent" });
let dir = "";
let guest: Server;
let guestPort = 0;
const open: PortForwards[] = [];

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "headroom-ports-"));
  // Answers each connection with one line, and holds it open until the peer closes.
  guest = createServer((socket) => {
    socket.on("error", () => socket.destroy());
    socket.write(`guest ${socket.localPort}\n`);
  });
  await new Promise<void>((resolve) => guest.listen(0, "127.0.0.1", resolve));
  guestPort = (guest.address() as { port: number }).port;
});

afterEach(async () => {
  await Promise.all(open.splice(0).map((forwards) => forwards.closeAll()));
});

afterAll(async () => {
  guest.close();
  await rm(dir, { recursive: true, force: true });
});

function forwardsTo(address: string | undefined): PortForwards {
  const guestAddress: GuestAddress = async () => address;
  const forwards = new PortForwards("127.0.0.1", guestAddress, log);
  open.push(forwards);
  return forwards;
}

const port = (n = guestPort) => ({ interface: "default", name: "web", port: n, protocol: "TCP" });

/** The first line the server at port sends, "" when it closes without one, or the error's code. */
function firstLine(hostPort: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port: hostPort });
    let text = "";
    socket.setEncoding("utf8");
    socket.on("data", (chunk) => {
      text += chunk;
      if (text.includes("\n")) socket.end();
    });
    socket.on("error", (error: NodeJS.ErrnoException) => resolve(`error: ${error.code}`));
    socket.on("close", () => resolve(text.split("\n")[0] ?? ""));
  });
}

describe("PortForwards", () => {
  it("listens for each port and hands connections to the guest", async () => {
    const forwards = forwardsTo("127.0.0.1");
    await forwards.sync("ns_vm", dir, [port()]);
    const [shown] = forwards.of("ns_vm", "default");
    expect(shown).toEqual({
      name: "web",
      port: guestPort,
      protocol: "TCP",
      hostAddress: "127.0.0.1",
      hostPort: expect.any(Number),
    });
    expect(shown?.hostPort).not.toBe(guestPort);
    expect(await firstLine(shown?.hostPort ?? 0)).toBe(`guest ${guestPort}`);
    expect(forwards.of("ns_vm", "other")).toEqual([]);
  });

  it("listens again on the host port recorded in the VMI's folder", async () => {
    const first = forwardsTo("127.0.0.1");
    await first.sync("ns_vm", dir, [port()]);
    const hostPort = first.of("ns_vm", "default")[0]?.hostPort;
    const recorded = JSON.parse(await readFile(join(dir, "ports.json"), "utf8"));
    expect(recorded).toEqual([expect.objectContaining({ interface: "default", hostPort })]);
    await first.closeAll();

    const restarted = forwardsTo("127.0.0.1");
    await restarted.sync("ns_vm", dir, [port()]);
    expect(restarted.of("ns_vm", "default")[0]?.hostPort).toBe(hostPort);
    expect(await firstLine(hostPort ?? 0)).toBe(`guest ${guestPort}`);
  });

  it("takes another host port when the recorded one is taken", async () => {
    const first = forwardsTo("127.0.0.1");
    await first.sync("ns_vm", dir, [port()]);
    const taken = first.of("ns_vm", "default")[0]?.hostPort;
    const second = forwardsTo("127.0.0.1");
    await second.sync("ns_vm", dir, [port()]);
    const other = second.of("ns_vm", "default")[0]?.hostPort;
    expect(other).toEqual(expect.any(Number));
    expect(other).not.toBe(taken);
  });

  it("closes the ports a later sync drops, and their open connections", async () => {
    const forwards = forwardsTo("127.0.0.1");
    await forwards.sync("ns_vm", dir, [port(), port(1)]);
    const [kept, dropped] = forwards.of("ns_vm", "default");
    // An open connection through the forward that will be dropped.
    const held = connect({ host: "127.0.0.1", port: kept?.hostPort ?? 0 });
    const closed = new Promise((resolve) => held.on("close", resolve));
    held.on("error", () => {});
    await new Promise((resolve) => held.once("data", resolve));

    await forwards.sync("ns_vm", dir, [port(1)]);
    expect(forwards.of("ns_vm", "default")).toEqual([dropped]);
    expect(await firstLine(kept?.hostPort ?? 0)).toBe("error: ECONNREFUSED");
    await closed;

    await forwards.close("ns_vm");
    expect(forwards.of("ns_vm", "default")).toEqual([]);
    expect(await firstLine(dropped?.hostPort ?? 0)).toBe("error: ECONNREFUSED");
  });

  it("skips a port no validator could have accepted", async () => {
    const forwards = forwardsTo("127.0.0.1");
    await forwards.sync("ns_vm", dir, [port(0), port(70_000), { ...port(), protocol: "UDP" }]);
    expect(forwards.of("ns_vm", "default")).toEqual([]);
  });

  it("closes a connection at once while the guest has no address", async () => {
    const forwards = forwardsTo(undefined);
    await forwards.sync("ns_vm", dir, [port()]);
    expect(await firstLine(forwards.of("ns_vm", "default")[0]?.hostPort ?? 0)).toBe("");
  });
});
