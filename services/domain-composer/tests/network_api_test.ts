import { API_SUBJECTS, decode, encode, request, SERVICE_NAMES, storeKey } from "@headroom/bus";
import { VmiAccepted } from "@headroom/proto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  DeleteNetworkReply,
  DeleteNetworkRequest,
  ListNetworksReply,
  ListNetworksRequest,
  NetworkAttachment,
} from "../src/mod.ts";
import { seedVmi } from "./fixtures.ts";
import { createNetwork, type Harness, startHarness } from "./harness.ts";

let h: Harness;

beforeAll(async () => {
  h = await startHarness(1);
});

afterAll(async () => {
  await h?.stop();
});

function deleteNetwork(name: string) {
  return request(
    h.nc,
    API_SUBJECTS.deleteNetwork,
    DeleteNetworkRequest,
    { name },
    DeleteNetworkReply,
  );
}

function listNetworks() {
  return request(h.nc, API_SUBJECTS.listNetworks, ListNetworksRequest, {}, ListNetworksReply);
}

async function storedNetwork(name: string) {
  const entry = await h.buckets.networks.get(name);
  return entry?.operation === "PUT" ? decode(NetworkAttachment, entry.value) : null;
}

/** Stores a VMI joining `network`, as the validator would. */
async function storeVmiOn(namespace: string, name: string, network: string) {
  const vmi = seedVmi((doc) => {
    doc.metadata = { name, namespace };
    doc.spec.networks[1].multus.networkName = network;
  });
  const record = {
    namespace,
    name,
    uid: `uid-${name}`,
    generation: 1,
    manifestJson: JSON.stringify(vmi),
  };
  await h.buckets.vmis.put(storeKey(namespace, name), encode(VmiAccepted, record));
}

describe("network create", () => {
  it("stores a new attachment under its name", async () => {
    const reply = await createNetwork(h.nc, "lab", "br-lab");
    expect(reply.result).toBe("created");
    expect(reply.created).toMatchObject({ name: "lab", bridge: "br-lab" });
    expect(reply.created?.createdUnixMs).toBeGreaterThan(Date.now() - 60_000);
    expect(await storedNetwork("lab")).toMatchObject({ name: "lab", bridge: "br-lab" });
  });

  it("is unchanged when created again with the same bridge", async () => {
    const first = await createNetwork(h.nc, "same", "br-same");
    const again = await createNetwork(h.nc, "same", "br-same");
    expect(again.result).toBe("unchanged");
    expect(again.unchanged).toMatchObject({
      name: "same",
      bridge: "br-same",
      createdUnixMs: first.created?.createdUnixMs,
    });
  });

  it("refuses another bridge for a stored name: delete it first", async () => {
    await createNetwork(h.nc, "fixed", "br-fixed");
    const reply = await createNetwork(h.nc, "fixed", "br-other");
    expect(reply.result).toBe("error");
    expect(reply.error).toBe(
      "network attachment 'fixed' exists with bridge 'br-fixed' and its bridge cannot change; " +
        "delete it first (headroom delete network fixed), then create it again",
    );
    expect((await storedNetwork("fixed"))?.bridge).toBe("br-fixed");
  });

  it("refuses names that are not DNS labels and bridges that are not interface names", async () => {
    const cases: Array<[string, string, RegExp]> = [
      ["", "br0", /^name is required$/],
      ["Lab", "br0", /name "Lab" is not a DNS-1123 label/],
      ["a.b", "br0", /name "a.b" is not a DNS-1123 label/],
      ["ok", "", /^bridge is required$/],
      ["ok", "lo", /bridge "lo" is the loopback interface/],
      ["ok", "..", /bridge "\.\." is not a Linux interface name/],
      ["ok", "bridge-name-too-long", /is not a Linux interface name: 1 to 15/],
      ["ok", "br 0", /is not a Linux interface name/],
    ];
    for (const [name, bridge, message] of cases) {
      const reply = await createNetwork(h.nc, name, bridge);
      expect(reply.result, `${name} ${bridge}`).toBe("error");
      expect(reply.error, `${name} ${bridge}`).toMatch(message);
    }
    expect(await storedNetwork("ok")).toBeNull();
  });

  it("of one name by racing clients: one bridge wins, the others are told", async () => {
    const replies = await Promise.all(
      Array.from({ length: 8 }, (_, i) => createNetwork(h.nc, "race", `br-race${i % 2}`)),
    );
    const created = replies.filter((r) => r.result === "created");
    expect(created).toHaveLength(1);
    const winner = created[0]?.created?.bridge;
    for (const reply of replies) {
      if (reply.result === "unchanged") expect(reply.unchanged?.bridge).toBe(winner);
      if (reply.result === "error") expect(reply.error).toContain(`exists with bridge '${winner}'`);
    }
    expect((await storedNetwork("race"))?.bridge).toBe(winner);
  });
});

describe("network list", () => {
  it("lists every attachment sorted by name", async () => {
    await createNetwork(h.nc, "zz-last", "br-z");
    await createNetwork(h.nc, "aa-first", "br-a");
    const { networks } = await listNetworks();
    const names = networks.map((n) => n.name);
    expect(names).toEqual([...names].sort());
    expect(names).toEqual(expect.arrayContaining(["aa-first", "lab", "zz-last"]));
    expect(networks.find((n) => n.name === "aa-first")).toMatchObject({ bridge: "br-a" });
  });
});

describe("network delete", () => {
  it("is refused while stored VMIs use the network, naming them", async () => {
    await createNetwork(h.nc, "busy", "br-busy");
    await storeVmiOn("team-b", "web", "busy");
    await storeVmiOn("team-a", "db", "busy");
    await storeVmiOn("team-a", "elsewhere", "lab");
    const reply = await deleteNetwork("busy");
    expect(reply.deleted).toBe(false);
    expect(reply.usedBy).toEqual(["team-a/db", "team-b/web"]);
    expect(reply.message).toBe(
      "network attachment 'busy' is used by vmis team-a/db, team-b/web; delete them or remove their interfaces on it first",
    );
    expect(await storedNetwork("busy")).not.toBeNull();

    // Once the VMIs are gone it can go.
    await h.buckets.vmis.delete(storeKey("team-b", "web"));
    await h.buckets.vmis.delete(storeKey("team-a", "db"));
    const deleted = await deleteNetwork("busy");
    expect(deleted).toMatchObject({ deleted: true, message: "network attachment 'busy' deleted" });
    expect(deleted.usedBy).toEqual([]);
  });

  it("deletes an unused attachment, which can then be created with another bridge", async () => {
    await createNetwork(h.nc, "temp", "br-temp");
    expect((await deleteNetwork("temp")).deleted).toBe(true);
    expect(await storedNetwork("temp")).toBeNull();
    expect((await listNetworks()).networks.map((n) => n.name)).not.toContain("temp");
    const again = await createNetwork(h.nc, "temp", "br-temp2");
    expect(again.result).toBe("created");
    expect(again.created?.bridge).toBe("br-temp2");
  });

  it("says so when there is no such attachment, or the name cannot be one", async () => {
    expect(await deleteNetwork("nothing-here")).toMatchObject({
      deleted: false,
      message: "network attachment 'nothing-here' does not exist",
    });
    const bad = await deleteNetwork("Not/A.Label");
    expect(bad.deleted).toBe(false);
    expect(bad.message).toMatch(/is not a DNS-1123 label/);
  });
});

describe("the network API", () => {
  const subjects = [
    API_SUBJECTS.createNetwork,
    API_SUBJECTS.deleteNetwork,
    API_SUBJECTS.listNetworks,
  ];

  it("answers garbage on every subject with an error reply and keeps serving", async () => {
    for (const subject of subjects) {
      const reply = await h.nc.request(subject, new Uint8Array([0xff, 0xff, 0xff]), {
        timeout: 5000,
      });
      expect(reply.headers?.get("Nats-Service-Error-Code"), subject).toBe("400");
      expect(reply.headers?.get("Nats-Service-Error"), subject).toMatch(
        /^not a valid headroom\.v1\./,
      );
    }
    const tooLarge = await h.nc.request(
      API_SUBJECTS.createNetwork,
      new Uint8Array(1024 * 1024 + 1),
      {
        timeout: 5000,
      },
    );
    expect(tooLarge.headers?.get("Nats-Service-Error-Code")).toBe("413");
    const reply = await createNetwork(h.nc, "after-garbage", "br-ag");
    expect(reply.result).toBe("created");
    expect((await listNetworks()).networks.length).toBeGreaterThan(0);
  });

  it("is discoverable as the composer micro service", async () => {
    const reply = await h.nc.request(`$SRV.INFO.${SERVICE_NAMES.composer}`, new Uint8Array(), {
      timeout: 5000,
    });
    const info = JSON.parse(new TextDecoder().decode(reply.data));
    expect(info.name).toBe(SERVICE_NAMES.composer);
    expect(info.endpoints.map((e: { subject: string }) => e.subject).sort()).toEqual(
      [...subjects].sort(),
    );
    expect(info.endpoints.every((e: { queue_group: string }) => e.queue_group === "headroom")).toBe(
      true,
    );
  });

  it("stops cleanly on SIGTERM", async () => {
    const composer = await h.addComposer();
    expect(await composer.stop()).toBe(0);
    expect(composer.logs()).toContain("domain-composer stopped");
    // The other replica still answers.
    expect((await listNetworks()).networks.length).toBeGreaterThan(0);
  });
});
