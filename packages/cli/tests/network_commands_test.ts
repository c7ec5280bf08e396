// network create, get networks and delete network against a real nats-server,
// the real domain composer (which serves the network API) and the real
// validator (a stored VMI keeps a network from being deleted).
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type NatsServer, type ServiceProcess, startNats, startService } from "@headroom/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { headroom } from "./run.ts";

let nats: NatsServer;
let stateDir: string;
const services: ServiceProcess[] = [];
let server: string[];

beforeAll(async () => {
  nats = await startNats({ jetstream: true });
  stateDir = await mkdtemp(join(tmpdir(), "headroom-cli-net-"));
  const env = { HEADROOM_NATS_URL: nats.url, HEADROOM_STATE_DIR: stateDir };
  const validator = startService("services/validator/src/main.ts", env);
  const composer = startService("services/domain-composer/src/main.ts", env);
  services.push(validator, composer);
  await validator.waitForLog("validator ready");
  await composer.waitForLog("domain-composer ready");
  server = ["--server", nats.url];
});

afterAll(async () => {
  await Promise.all(services.map((service) => service.stop()));
  await nats?.stop();
  await rm(stateDir, { recursive: true, force: true });
});

describe("headroom network", () => {
  it("creates a network, then finds it unchanged", async () => {
    const run = await headroom([...server, "network", "create", "lab-a", "--bridge", "hrbr-a"]);
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("network/lab-a created (bridge hrbr-a)\n");
    const again = await headroom([...server, "network", "create", "lab-a", "--bridge", "hrbr-a"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe("network/lab-a unchanged (bridge hrbr-a)\n");
  });

  it("refuses another bridge for an existing network, and a bad name (exit 1)", async () => {
    await headroom([...server, "network", "create", "lab-b", "--bridge", "hrbr-b"]);
    const moved = await headroom([...server, "network", "create", "lab-b", "--bridge", "other"]);
    expect(moved.code).toBe(1);
    expect(moved.stderr).toContain(
      "headroom: network attachment 'lab-b' exists with bridge 'hrbr-b' and its bridge cannot change",
    );
    const bad = await headroom([...server, "network", "create", "Lab_B", "--bridge", "x"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('name "Lab_B" is not a DNS-1123 label');
  });

  it("needs --bridge (exit 2)", async () => {
    const run = await headroom([...server, "network", "create", "lab-c"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("required option '--bridge <bridge>' not specified");
  });

  it("lists networks as a table, JSON and YAML", async () => {
    await headroom([...server, "network", "create", "lab-list", "--bridge", "hrbr-l"]);
    const table = await headroom([...server, "get", "networks"]);
    expect(table.code).toBe(0);
    const lines = table.stdout.trimEnd().split("\n");
    expect(lines[0]?.split(/ +/)).toEqual(["NAME", "BRIDGE", "AGE"]);
    expect(lines.some((line) => /^lab-list +hrbr-l +\d+s$/.test(line))).toBe(true);

    const json = await headroom([...server, "get", "networks", "-o", "json"]);
    const list = JSON.parse(json.stdout);
    expect(list).toMatchObject({ apiVersion: "v1", kind: "List" });
    expect(list.items).toContainEqual({
      name: "lab-list",
      bridge: "hrbr-l",
      createdAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    const one = await headroom([...server, "get", "network", "lab-list", "-o", "yaml"]);
    expect(parse(one.stdout)).toMatchObject({ name: "lab-list", bridge: "hrbr-l" });

    const missing = await headroom([...server, "get", "network", "nope"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe("headroom: network/nope not found\n");
  });

  it("deletes a network; a second delete finds nothing (exit 1)", async () => {
    await headroom([...server, "network", "create", "lab-gone", "--bridge", "hrbr-g"]);
    const run = await headroom([...server, "delete", "network", "lab-gone"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("network/lab-gone deleted\n");
    const again = await headroom([...server, "delete", "network", "lab-gone"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe("headroom: network/lab-gone not found\n");
  });

  it("refuses to delete a network a VMI uses, naming the VMI (exit 1)", async () => {
    await headroom([...server, "network", "create", "headroom-bridge", "--bridge", "hrbr-used"]);
    const apply = await headroom([...server, "apply", "-f", "examples/vmi-seed.yaml"]);
    expect(apply.code).toBe(0);
    const run = await headroom([...server, "delete", "network", "headroom-bridge"]);
    expect(run.code).toBe(1);
    expect(run.stderr).toContain(
      "network attachment 'headroom-bridge' is used by vmi default/vmi-iface-request-example",
    );
  });

  it("exits 3 when no composer answers", async () => {
    const bare = await startNats({ jetstream: true });
    try {
      const run = await headroom(["--server", bare.url, "get", "networks"]);
      expect(run.code).toBe(3);
      expect(run.stderr).toContain("has no service answering on headroom.api.v1.network.list");
    } finally {
      await bare.stop();
    }
  });
});
