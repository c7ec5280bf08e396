// interfaces[].ports on the pod network, as KubeVirt's vmi-masquerade example
// writes them: the host listens for each guest port and `describe vmi` says
// where. The tiny guest answers on its ports with its SMBIOS UUID, so a reply
// proves which guest it came from. The ports stay where they were across a
// launcher restart and close with the VMI. Through the whole stack, under the
// shipped NATS permissions.
import { connect } from "node:net";
import { describe, expect, it } from "vitest";
import { useCliStack } from "./cli_stack.ts";
import { testNamespace, virsh } from "./host.ts";
import { applyAndWait, consoleUntil, headroom } from "./run.ts";

const namespace = testNamespace();
const name = "ports";
const { stack, cli } = useCliStack({
  namespace,
  seedNetwork: false,
  refusals: /(Publish|Subscription) Violation/,
});

interface Forward {
  name: string;
  port: number;
  protocol: string;
  hostAddress: string;
  hostPort: number;
}

/** The first line a TCP server at host:port sends, or the error that ended the try. */
function firstLine(host: string, port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    let text = "";
    socket.setEncoding("utf8");
    socket.setTimeout(10_000, () => socket.destroy(new Error("timed out")));
    socket.on("data", (chunk) => {
      text += chunk;
    });
    socket.on("error", (error: NodeJS.ErrnoException) =>
      resolve(`error: ${error.code ?? error.message}`),
    );
    socket.on("close", () => resolve(text.split("\n")[0] ?? ""));
  });
}

/** firstLine, tried again for a while: the guest may still be starting its listeners. */
async function answerOf(host: string, port: number): Promise<string> {
  let line = "";
  for (let attempt = 0; attempt < 20; attempt++) {
    line = await firstLine(host, port);
    if (line.startsWith("headroom-guest")) return line;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  return line;
}

async function forwards(): Promise<Forward[]> {
  const got = await headroom([...cli, "get", "vmi", name, "-o", "json"]);
  expect(got.code, got.stderr).toBe(0);
  const vmi = JSON.parse(got.stdout);
  return vmi.status.interfaces.flatMap((iface: { ports?: Forward[] }) => iface.ports ?? []);
}

describe("interface ports", () => {
  let uuid = "";
  let before: Forward[] = [];

  it("are forwarded from the host to the guest, and describe vmi says where", async () => {
    const vmi = await stack.seedManifest(name);
    vmi.spec.domain.devices.interfaces = [
      {
        name: "default",
        masquerade: {},
        ports: [{ name: "http", port: 80, protocol: "TCP" }, { port: 8080 }],
      },
    ];
    vmi.spec.networks = [{ name: "default", pod: {} }];
    vmi.spec.domain.firmware.kernelBoot.kernelArgs += " headroom.dhcp=1 headroom.serve=80,8080";
    const apply = await applyAndWait(cli, stack.stateDir, name, vmi);
    expect(apply.stderr).toBe("");
    expect(apply.code).toBe(0);
    const guestConsole = await consoleUntil(cli, name, "serving port=8080");
    const lease = /^headroom-guest: dhcp iface=eth0 addr=(\S+)\//m.exec(guestConsole)?.[1];
    uuid = (await virsh("domuuid", `${namespace}_${name}`)).trim();

    before = await forwards();
    expect(before).toEqual([
      {
        name: "http",
        port: 80,
        protocol: "TCP",
        hostAddress: "127.0.0.1",
        hostPort: expect.any(Number),
      },
      {
        name: "",
        port: 8080,
        protocol: "TCP",
        hostAddress: "127.0.0.1",
        hostPort: expect.any(Number),
      },
    ]);
    for (const forward of before) {
      expect(await answerOf(forward.hostAddress, forward.hostPort)).toBe(
        `headroom-guest port=${forward.port} uuid=${uuid}`,
      );
    }

    const described = await headroom([...cli, "describe", "vmi", name]);
    expect(described.code, described.stderr).toBe(0);
    const [http, other] = before;
    expect(described.stdout).toMatch(
      new RegExp(`^\\s+default\\s+http\\s+80/TCP\\s+127\\.0\\.0\\.1:${http?.hostPort}$`, "m"),
    );
    expect(described.stdout).toMatch(
      new RegExp(`^\\s+default\\s+<none>\\s+8080/TCP\\s+127\\.0\\.0\\.1:${other?.hostPort}$`, "m"),
    );
    // The IP column: the address the guest leased.
    expect(lease).toMatch(/^10\.0\.2\.\d+$/);
    expect(described.stdout).toMatch(
      new RegExp(`^\\s+default\\s+pod\\s+\\S+\\s+${lease?.replaceAll(".", "\\.")}\\s`, "m"),
    );
  }, 320_000);

  it("stay on the same host ports when the launcher restarts", async () => {
    await stack.kill("launcher");
    // No launcher: nothing listens.
    expect(await firstLine("127.0.0.1", before[0]?.hostPort ?? 0)).toBe("error: ECONNREFUSED");
    await stack.start("launcher");
    for (const forward of before) {
      expect(await answerOf(forward.hostAddress, forward.hostPort)).toBe(
        `headroom-guest port=${forward.port} uuid=${uuid}`,
      );
    }
    const described = await headroom([...cli, "describe", "vmi", name, "-o", "json"]);
    expect(described.code, described.stderr).toBe(0);
    const ports = JSON.parse(described.stdout).interfaces.flatMap(
      (i: { ports: Forward[] }) => i.ports,
    );
    expect(ports).toEqual(before);
  }, 120_000);

  it("close with the VMI", async () => {
    const deleted = await headroom([...cli, "delete", "vmi", name, "--wait"]);
    expect(deleted.code, deleted.stderr).toBe(0);
    for (const forward of before) {
      expect(await firstLine(forward.hostAddress, forward.hostPort)).toBe("error: ECONNREFUSED");
    }
  }, 120_000);
});
