// apply, get vmi and delete vmi against a real nats-server and the real
// validator service. No libvirt: where a launcher would report a status, the
// tests write it into the status bucket themselves, which is what the CLI's
// waiting logic reads.
import { readFileSync } from "node:fs";
import {
  API_SUBJECTS,
  type Buckets,
  connect,
  encode,
  ensureBuckets,
  type NatsConnection,
  request,
  storeKey,
} from "@headroom/bus";
import {
  ApplyReply,
  GetReply,
  GetRequest,
  type IVmiStatus,
  Phase,
  VmiAccepted,
  VmiStatus,
} from "@headroom/proto";
import {
  freePort,
  type NatsServer,
  type ServiceProcess,
  startNats,
  startService,
} from "@headroom/testing";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { headroom, repoRoot, start } from "./run.ts";

let nats: NatsServer;
let validator: ServiceProcess;
let nc: NatsConnection;
let buckets: Buckets;
let server: string[];

beforeAll(async () => {
  nats = await startNats({ jetstream: true });
  validator = startService("services/validator/src/main.ts", { HEADROOM_NATS_URL: nats.url });
  await validator.waitForLog("validator ready");
  nc = await connect({ name: "cli-test", servers: nats.url });
  buckets = await ensureBuckets(nc);
  server = ["--server", nats.url];
});

afterAll(async () => {
  await validator?.stop();
  await nc?.close();
  await nats?.stop();
});

const seed = parse(readFileSync(`${repoRoot}/examples/vmi-seed.yaml`, "utf8"));

/** The seed example under another name (and namespace), as JSON for `-f -`. */
function vmi(name: string, change: (doc: typeof seed) => void = () => {}): string {
  const doc = structuredClone(seed);
  doc.metadata.name = name;
  change(doc);
  return JSON.stringify(doc);
}

async function stored(namespace: string, name: string) {
  const reply = await request(nc, API_SUBJECTS.get, GetRequest, { namespace, name }, GetReply);
  if (!reply.vmi) throw new Error(`${namespace}/${name} is not stored`);
  return { ...reply.vmi, uid: reply.vmi.uid ?? "" };
}

/** Writes a status as the launcher would. */
async function putStatus(namespace: string, name: string, status: IVmiStatus): Promise<void> {
  await buckets.status.put(storeKey(namespace, name), encode(VmiStatus, status));
}

const runningStatus = (uid: string, generation = 1): IVmiStatus => ({
  phase: Phase.PHASE_RUNNING,
  node: "node-test",
  uid,
  observedGeneration: generation,
  capacity: { requested: 5, interfaces: 2, effective: 5, free: 3, controllersAdded: 4, inUse: 2 },
  interfaces: [
    { name: "default", mac: "52:54:00:aa:00:01", pciAddress: "0000:01:00.0", state: 2 },
    { name: "secondary", mac: "52:54:00:aa:00:02", pciAddress: "0000:02:00.0", state: 2 },
  ],
  updatedUnixMs: Date.now(),
});

describe("headroom apply", () => {
  it("creates a VMI, then finds it unchanged", async () => {
    const first = await headroom([...server, "apply", "-f", "examples/vmi-seed.yaml"]);
    expect(first.stderr).toBe("");
    expect(first.code).toBe(0);
    expect(first.stdout).toBe("vmi/vmi-iface-request-example created (capacity 5)\n");

    const again = await headroom([...server, "apply", "-f", "examples/vmi-seed.yaml"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toBe("vmi/vmi-iface-request-example unchanged (capacity 5)\n");
    expect((await stored("default", "vmi-iface-request-example")).generation).toBe(1);
  });

  it("says configured for an allowed change", async () => {
    await headroom([...server, "apply", "-f", "-"], {}, vmi("relabel"));
    const changed = vmi("relabel", (doc) => {
      doc.metadata.labels = { tier: "web" };
    });
    const run = await headroom([...server, "apply", "-f", "-"], {}, changed);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("vmi/relabel configured (capacity 5)\n");
    expect((await stored("default", "relabel")).generation).toBe(2);
  });

  it("accepts a KubeVirt VMI as written, printing a Warning: line for each field without effect", async () => {
    const doc = vmi("as-written", (doc) => {
      doc.apiVersion = "kubevirt.io/v1alpha3";
      doc.spec.terminationGracePeriodSeconds = 0;
      doc.spec.tolerations = [{ key: "a", operator: "Exists" }];
      doc.spec.domain.machine = { type: "" };
    });
    const run = await headroom([...server, "apply", "-f", "-"], {}, doc);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("vmi/as-written created (capacity 5)\n");
    expect(run.stderr.split("\n").filter(Boolean)).toEqual([
      "Warning: apiVersion: kubevirt.io/v1alpha3 is deprecated in KubeVirt; the VMI is read and stored as kubevirt.io/v1",
      "Warning: spec.tolerations has no effect: headroom's hosts carry no taints, so there is nothing to tolerate",
    ]);
    const kept = await stored("default", "as-written");
    expect(kept.manifestJson).not.toContain("tolerations");
    const spec = JSON.parse(kept.manifestJson ?? "{}").spec;
    expect(spec.domain.machine).toEqual({ type: "q35" });
    expect(spec.terminationGracePeriodSeconds).toBe(0);
  });

  it("puts a VMI without a namespace into -n, and refuses a mismatch", async () => {
    const run = await headroom([...server, "-n", "team-a", "apply", "-f", "-"], {}, vmi("in-a"));
    expect(run.code).toBe(0);
    expect((await stored("team-a", "in-a")).namespace).toBe("team-a");

    const elsewhere = vmi("in-b", (doc) => {
      doc.metadata.namespace = "team-b";
    });
    const refused = await headroom([...server, "apply", "-n", "team-a", "-f", "-"], {}, elsewhere);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('namespace of the VMI ("team-b") does not match -n team-a');
  });

  it("refuses an invalid file locally with field paths (exit 1), storing nothing", async () => {
    const run = await headroom([
      ...server,
      "apply",
      "-f",
      "packages/cli/tests/fixtures/bad-request.yaml",
    ]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toContain("packages/cli/tests/fixtures/bad-request.yaml: invalid, 1 error:");
    expect(run.stderr).toContain(
      "  - spec.domain.resources.requests[kubevirt.io/interface]: provided resources interface requests must be an integer between 0 to 32 (got 33)",
    );
  });

  it("prints the server's rejection with field paths (exit 1): the request is immutable", async () => {
    await headroom([...server, "apply", "-f", "-"], {}, vmi("fixed-room"));
    const more = vmi("fixed-room", (doc) => {
      doc.spec.domain.resources.requests["kubevirt.io/interface"] = 6;
    });
    const run = await headroom([...server, "apply", "-f", "-"], {}, more);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(
      /^vmi\/fixed-room rejected, 1 error:\n {2}- spec\.domain\.resources\.requests\[kubevirt\.io\/interface\].*immutable/,
    );
  });

  it("says what a dry run would do and stores nothing", async () => {
    const run = await headroom([...server, "apply", "--dry-run", "-f", "-"], {}, vmi("dry"));
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("vmi/dry created (capacity 5) (dry run)\n");
    const get = await headroom([...server, "get", "vmi", "dry"]);
    expect(get.code).toBe(1);
  });

  it("exits 3 with how to start headroom when nothing listens", async () => {
    const url = `nats://127.0.0.1:${await freePort()}`;
    const run = await headroom(["apply", "-f", "examples/vmi-seed.yaml"], {
      HEADROOM_NATS_URL: url,
    });
    expect(run.code).toBe(3);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe(
      `headroom: cannot reach headroom at ${url}: is it running? start it with: npm start\n`,
    );
  });

  it("exits 3 when NATS answers but no validator does", async () => {
    const bare = await startNats({ jetstream: true });
    try {
      const run = await headroom(["--server", bare.url, "apply", "-f", "examples/vmi-seed.yaml"]);
      expect(run.code).toBe(3);
      expect(run.stderr).toContain(
        `headroom at ${bare.url} has no service answering on headroom.api.v1.vmi.apply: is it running? start it with: npm start`,
      );
    } finally {
      await bare.stop();
    }
  });

  it("sends the request again when no service got it, and is answered by one back in time", async () => {
    // As after a validator's NATS server died: the request reaches nobody
    // until it is back on another server, about a second later here.
    const bare = await startNats({ jetstream: true });
    const back = await connect({ name: "validator-back", servers: bare.url });
    try {
      const apply = start(["--server", bare.url, "apply", "-f", "examples/vmi-seed.yaml"]);
      await new Promise((resolve) => setTimeout(resolve, 1000));
      const received: string[] = [];
      back.subscribe(API_SUBJECTS.apply, {
        callback: (_error, msg) => {
          received.push(msg.subject);
          const accepted = { namespace: "default", name: "seed", uid: "u-1", generation: 1 };
          msg.respond(encode(ApplyReply, { accepted: { ...accepted, outcome: 1 } }));
        },
      });
      const run = await apply.done;
      expect(run.stderr).toBe("");
      expect(run.code).toBe(0);
      expect(run.stdout).toContain("created");
      expect(received).toHaveLength(1);
    } finally {
      await back.close();
      await bare.stop();
    }
  });
});

describe("headroom apply --wait", () => {
  // The launcher is not running here: the test writes the statuses it would
  // write, which exercises exactly what the CLI waits on.
  it("prints Pending, Scheduled, Running as the status changes, then exits 0", async () => {
    const apply = start(
      [...server, "apply", "-f", "-", "--wait", "--timeout", "60s"],
      {},
      vmi("waits"),
    );
    await apply.waitForOutput("vmi/waits Pending\n");
    const { uid } = await stored("default", "waits");
    await putStatus("default", "waits", {
      phase: Phase.PHASE_SCHEDULED,
      node: "node-test",
      uid,
      observedGeneration: 1,
    });
    await apply.waitForOutput("vmi/waits Scheduled on node-test\n");
    await putStatus("default", "waits", runningStatus(uid));
    const run = await apply.done;
    expect(run.stderr).toBe("");
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      [
        "vmi/waits created (capacity 5)",
        "vmi/waits Pending",
        "vmi/waits Scheduled on node-test",
        "vmi/waits Running on node-test: capacity 5, 2 in use, 3 free (4 controllers added)",
        "",
      ].join("\n"),
    );
  });

  it("ignores a status of an older generation, then returns at once when it is current", async () => {
    await headroom([...server, "apply", "-f", "-"], {}, vmi("gen"));
    const { uid } = await stored("default", "gen");
    await putStatus("default", "gen", runningStatus(uid, 1));
    const changed = vmi("gen", (doc) => {
      doc.metadata.labels = { v: "2" };
    });
    const apply = start([...server, "apply", "-f", "-", "--wait"], {}, changed);
    await apply.waitForOutput("vmi/gen Pending\n");
    await putStatus("default", "gen", runningStatus(uid, 2));
    const run = await apply.done;
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(
      "vmi/gen configured (capacity 5)\nvmi/gen Pending\nvmi/gen Running",
    );

    const unchanged = await headroom([...server, "apply", "-f", "-", "--wait"], {}, changed);
    expect(unchanged.code).toBe(0);
    expect(unchanged.stdout).toBe(
      "vmi/gen unchanged (capacity 5)\nvmi/gen Running on node-test: capacity 5, 2 in use, 3 free (4 controllers added)\n",
    );
  });

  it("exits 1 with the reason when the VMI fails", async () => {
    const apply = start([...server, "apply", "-f", "-", "--wait"], {}, vmi("fails"));
    await apply.waitForOutput("vmi/fails Pending\n");
    const { uid } = await stored("default", "fails");
    await putStatus("default", "fails", {
      phase: Phase.PHASE_FAILED,
      reason: "internal error: No more available PCI slots",
      uid,
      observedGeneration: 1,
    });
    const run = await apply.done;
    expect(run.code).toBe(1);
    expect(run.stdout).toContain("vmi/fails Failed\n");
    expect(run.stderr).toBe(
      "headroom: vmi/fails failed: internal error: No more available PCI slots\n",
    );
  });

  it("exits 3 when the VMI is not Running in time", async () => {
    const run = await headroom(
      [...server, "apply", "-f", "-", "--wait", "--timeout", "1500ms"],
      {},
      vmi("slow"),
    );
    expect(run.code).toBe(3);
    expect(run.stdout).toBe("vmi/slow created (capacity 5)\nvmi/slow Pending\n");
    expect(run.stderr).toBe(
      "headroom: timed out after 1.5 s waiting for vmi/slow to be Running (it is Pending)\n",
    );
  });

  it("refuses --wait with --dry-run, and a bad --timeout, as usage errors", async () => {
    const both = await headroom([
      ...server,
      "apply",
      "-f",
      "examples/vmi-seed.yaml",
      "--wait",
      "--dry-run",
    ]);
    expect(both.code).toBe(2);
    const bad = await headroom([
      ...server,
      "apply",
      "-f",
      "examples/vmi-seed.yaml",
      "--timeout",
      "soon",
    ]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--timeout "soon" is not a duration');
  });
});

describe("headroom get vmi", () => {
  beforeAll(async () => {
    await headroom([...server, "-n", "listing", "apply", "-f", "-"], {}, vmi("alpha"));
    await headroom([...server, "-n", "listing", "apply", "-f", "-"], {}, vmi("beta"));
    const { uid } = await stored("listing", "beta");
    await putStatus("listing", "beta", runningStatus(uid));
  });

  it("prints a table of the namespace's VMIs; no status reads Pending", async () => {
    const run = await headroom([...server, "get", "vmi", "-n", "listing"]);
    expect(run.code).toBe(0);
    const lines = run.stdout.trimEnd().split("\n");
    expect(lines[0]).toMatch(/^NAME +PHASE +CAPACITY +FREE +NODE +AGE$/);
    expect(lines.slice(1).map((line) => line.split(/ +/).slice(0, 5))).toEqual([
      ["alpha", "Pending", "5", "3", "<none>"],
      ["beta", "Running", "5", "3", "node-test"],
    ]);
    expect(lines[1]).toMatch(/ \d+s$/);
  });

  it("accepts vmis, and -o wide adds the launcher's view", async () => {
    const run = await headroom([...server, "-n", "listing", "get", "vmis", "-o", "wide"]);
    expect(run.code).toBe(0);
    const [header, , beta] = run.stdout.trimEnd().split("\n");
    expect(header?.split(/ +/)).toEqual([
      "NAME",
      "PHASE",
      "CAPACITY",
      "FREE",
      "NODE",
      "AGE",
      "REQUESTED",
      "IN-USE",
      "CONTROLLERS",
      "REASON",
    ]);
    expect(beta?.split(/ +/).filter((_, i) => i !== 5)).toEqual([
      "beta",
      "Running",
      "5",
      "3",
      "node-test",
      "5",
      "2",
      "4",
      "<none>",
    ]);
  });

  it("lists every namespace with -A", async () => {
    const run = await headroom([...server, "get", "vmi", "-A"]);
    expect(run.code).toBe(0);
    expect(run.stdout.split("\n")[0]).toMatch(/^NAMESPACE +NAME +PHASE/);
    expect(run.stdout).toMatch(/\nlisting +alpha +Pending/);
    expect(run.stdout).toMatch(/\nteam-a +in-a +Pending/);
  });

  it("selects VMIs by label with -l, and shows their annotations with -o yaml", async () => {
    const labelled = (name: string, labels: Record<string, string>) =>
      vmi(name, (doc) => {
        doc.metadata.namespace = "labelled";
        doc.metadata.labels = labels;
        doc.metadata.annotations = { "example.com/owner": `team ${name}` };
      });
    for (const [name, labels] of [
      ["web-1", { app: "web", tier: "front" }],
      ["web-2", { app: "web", tier: "back" }],
      ["db-1", { app: "db" }],
    ] as const) {
      expect(
        (await headroom([...server, "apply", "-f", "-"], {}, labelled(name, labels))).code,
      ).toBe(0);
    }
    const names = async (...selector: string[]) => {
      const run = await headroom([
        ...server,
        "-n",
        "labelled",
        "get",
        "vmi",
        ...selector,
        "-o",
        "json",
      ]);
      expect(run.stderr).toBe("");
      return JSON.parse(run.stdout).items.map(
        (item: { metadata: { name: string } }) => item.metadata.name,
      );
    };
    expect(await names("-l", "app=web")).toEqual(["web-1", "web-2"]);
    expect(await names("-l", "app=web,tier!=back")).toEqual(["web-1"]);
    expect(await names("--selector", "app in (db, cache)")).toEqual(["db-1"]);
    expect(await names("-l", "!tier")).toEqual(["db-1"]);

    const yaml = await headroom([...server, "-n", "labelled", "get", "vmi", "db-1", "-o", "yaml"]);
    expect(parse(yaml.stdout).metadata.annotations).toEqual({ "example.com/owner": "team db-1" });

    const bad = await headroom([...server, "-n", "labelled", "get", "vmi", "-l", "app in (web"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain("label_selector: unbalanced parentheses");
    const both = await headroom([...server, "get", "vmi", "web-1", "-l", "app=web"]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("give a NAME or -l, not both");
    const images = await headroom([...server, "get", "images", "-l", "app=web"]);
    expect(images.code).toBe(2);
    expect(images.stderr).toContain("-l selects VMIs and nodes by label; images have none");
  });

  it("prints one VMI as Kubernetes would with -o json", async () => {
    const run = await headroom([...server, "get", "vmi", "beta", "-n", "listing", "-o", "json"]);
    expect(run.code).toBe(0);
    const object = JSON.parse(run.stdout);
    const { uid } = await stored("listing", "beta");
    expect(object).toMatchObject({
      apiVersion: "kubevirt.io/v1",
      kind: "VirtualMachineInstance",
      metadata: { name: "beta", namespace: "listing", uid, generation: 1 },
      spec: { domain: { resources: { requests: { "kubevirt.io/interface": 5 } } } },
      status: {
        phase: "Running",
        reason: "",
        node: "node-test",
        capacity: {
          requested: 5,
          interfaces: 2,
          effective: 5,
          free: 3,
          controllersAdded: 4,
          inUse: 2,
        },
        interfaces: [
          {
            name: "default",
            mac: "52:54:00:aa:00:01",
            pciAddress: "0000:01:00.0",
            state: "Attached",
          },
          {
            name: "secondary",
            mac: "52:54:00:aa:00:02",
            pciAddress: "0000:02:00.0",
            state: "Attached",
          },
        ],
      },
    });
    expect(object.metadata.creationTimestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it("prints a List with -o json and the same objects with -o yaml", async () => {
    const json = await headroom([...server, "-n", "listing", "get", "vmi", "-o", "json"]);
    const list = JSON.parse(json.stdout);
    expect(list.apiVersion).toBe("v1");
    expect(list.kind).toBe("List");
    expect(list.items.map((item: { metadata: { name: string } }) => item.metadata.name)).toEqual([
      "alpha",
      "beta",
    ]);
    expect(list.items[0].status.phase).toBe("Pending");
    const yaml = await headroom([...server, "-n", "listing", "get", "vmi", "-o", "yaml"]);
    expect(yaml.code).toBe(0);
    expect(parse(yaml.stdout)).toEqual(list);
  });

  it("lists more VMIs than one reply can hold, page by page", async () => {
    // 2,000 seed records (about 3 MB) written as the validator stores them.
    const namespace = "crowded";
    const manifest = JSON.parse(vmi("x"));
    for (let i = 0; i < 2_000; i += 200) {
      await Promise.all(
        Array.from({ length: 200 }, (_, j) => {
          const name = `vm-${String(i + j).padStart(4, "0")}`;
          const manifestJson = JSON.stringify({ ...manifest, metadata: { namespace, name } });
          const record = { namespace, name, uid: `uid-${i + j}`, generation: 1, manifestJson };
          return buckets.vmis.put(storeKey(namespace, name), encode(VmiAccepted, record));
        }),
      );
    }
    const json = await headroom([...server, "-n", namespace, "get", "vmi", "-o", "json"]);
    expect(json.stderr).toBe("");
    const names = JSON.parse(json.stdout).items.map(
      (item: { metadata: { name: string } }) => item.metadata.name,
    );
    expect(names).toHaveLength(2_000);
    expect(names[0]).toBe("vm-0000");
    expect(names.at(-1)).toBe("vm-1999");
    const table = await headroom([...server, "get", "vmi", "-A"]);
    expect(table.code).toBe(0);
    expect(table.stdout.split("\n").filter((line) => line.startsWith("crowded "))).toHaveLength(
      2_000,
    );
  });

  it("exits 1 for a VMI that does not exist", async () => {
    const run = await headroom([...server, "get", "vmi", "nope"]);
    expect(run.code).toBe(1);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe("headroom: vmi/nope not found\n");
  });

  it("says so on stderr when a namespace has none", async () => {
    const run = await headroom([...server, "get", "vmi", "-n", "empty"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("");
    expect(run.stderr).toBe("No resources found in empty namespace.\n");
  });
});

describe("headroom delete vmi", () => {
  it("deletes, and a second delete finds nothing (exit 1)", async () => {
    await headroom([...server, "apply", "-f", "-"], {}, vmi("short-lived"));
    const run = await headroom([...server, "delete", "vmi", "short-lived"]);
    expect(run.code).toBe(0);
    expect(run.stdout).toBe("vmi/short-lived deleted\n");
    expect((await headroom([...server, "get", "vmi", "short-lived"])).code).toBe(1);
    const again = await headroom([...server, "delete", "vmi", "short-lived"]);
    expect(again.code).toBe(1);
    expect(again.stderr).toBe("headroom: vmi/short-lived not found\n");
  });

  it("--wait waits until the launcher removed the status", async () => {
    // As above, the test plays the launcher: Deleting, then the status goes.
    await headroom([...server, "apply", "-f", "-"], {}, vmi("torn-down"));
    const { uid } = await stored("default", "torn-down");
    await putStatus("default", "torn-down", runningStatus(uid));
    const deleting = start([...server, "delete", "vmi", "torn-down", "--wait"]);
    await deleting.waitForOutput("vmi/torn-down deleted\nvmi/torn-down Running\n");
    await putStatus("default", "torn-down", { ...runningStatus(uid), phase: Phase.PHASE_DELETING });
    await deleting.waitForOutput("vmi/torn-down Deleting\n");
    expect(deleting.child.exitCode).toBeNull();
    await buckets.status.delete(storeKey("default", "torn-down"));
    const run = await deleting.done;
    expect(run.code).toBe(0);
    expect(run.stdout).toBe(
      "vmi/torn-down deleted\nvmi/torn-down Running\nvmi/torn-down Deleting\nvmi/torn-down removed: its domain is gone\n",
    );
  });

  it("--wait exits 3 when the domain is not removed in time", async () => {
    await headroom([...server, "apply", "-f", "-"], {}, vmi("stuck"));
    const { uid } = await stored("default", "stuck");
    await putStatus("default", "stuck", runningStatus(uid));
    const run = await headroom([...server, "delete", "vmi", "stuck", "--wait", "--timeout", "1s"]);
    expect(run.code).toBe(3);
    expect(run.stderr).toBe(
      "headroom: timed out after 1 s waiting for vmi/stuck to be removed (it is Running)\n",
    );
  });

  it("needs a name (exit 2)", async () => {
    const run = await headroom([...server, "delete", "vmi"]);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("missing required argument 'name'");
  });
});
