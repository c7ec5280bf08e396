// A plan forged with the composer's login, against the real launcher under the
// shipped NATS permissions: it asks for a host device and writes a disk file
// outside the state directory. The launcher refuses it before touching the
// host, logs why, and fails the VMI; applying the VMI again, with the real
// composer running, launches it.
import { existsSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import {
  API_SUBJECTS,
  connect,
  encode,
  hostWorkSubject,
  planMsgId,
  request,
  toJetStream,
} from "@headroom/bus";
import { domainNameOf } from "@headroom/host-state";
import { CreateNetworkReply, CreateNetworkRequest, DomainPlan, Phase } from "@headroom/proto";
import { SEED_NETWORK } from "@headroom/test-stack";
import { useStack } from "@headroom/test-stack/vitest";
import { describe, expect, it } from "vitest";

const stack = useStack({ services: ["validator", "launcher"] });
// Outside the state dir; a launcher that obeyed would write its disk here.
const HOSTILE_FILE = join(tmpdir(), `headroom-forged-plan-${process.pid}.qcow2`);

describe("a plan forged with the composer's login", () => {
  it("is refused and logged, changes nothing on the host, and the VMI fails saying why", async () => {
    const name = "forged";
    const applied = await stack.apply(await stack.seedManifest(name));
    const uid = applied.accepted?.uid ?? "";
    expect(uid).not.toBe("");
    const domainName = domainNameOf(stack.namespace, name);

    const seed = stack.credentials?.composer;
    if (!seed) throw new Error("the stack runs without logins");
    const composer = await connect({
      name: "forger",
      servers: stack.natsUrl,
      user: "composer",
      seed,
    });
    try {
      const forged = DomainPlan.create({
        namespace: stack.namespace,
        name,
        uid,
        generation: 1,
        domainName,
        domainUuid: uid,
        domainXml: `<domain type="kvm"><name>${domainName}</name><memory unit="KiB">65536</memory><devices><hostdev mode="subsystem" type="pci"><source><address bus="0x00" slot="0x1f" function="0x3"/></source></hostdev></devices></domain>`,
        diskFiles: [{ volumeName: "root", path: HOSTILE_FILE, blankSizeBytes: 1 << 20 }],
      });
      await toJetStream(composer).publish(
        // The stack's launcher runs under this machine's name.
        hostWorkSubject(hostname(), "plan", stack.namespace, name),
        encode(DomainPlan, forged),
        { msgID: planMsgId(uid, 1) },
      );
    } finally {
      await composer.close();
    }

    const settled = await stack.settled(name);
    expect(settled.status?.phase).toBe(Phase.PHASE_FAILED);
    expect(settled.status?.reason).toMatch(/^the plan was refused: /);
    expect(settled.status?.reason).toContain(`diskFiles[0].path "${HOSTILE_FILE}"`);
    expect(settled.status?.reason).toContain("domain/devices/hostdev: not an element");
    await stack.service("launcher").waitForLog(/plan refused/, 10_000);
    expect(await stack.conn.findDomain(domainName)).toBeUndefined();
    expect(existsSync(HOSTILE_FILE)).toBe(false);
    expect(existsSync(stack.state.vmDir(stack.namespace, name))).toBe(false);

    // The real composer's plan for the VMI, applied again, passes the same check.
    await stack.start("domain-composer");
    const created = await request(
      stack.nc,
      API_SUBJECTS.createNetwork,
      CreateNetworkRequest,
      { name: SEED_NETWORK, bridge: stack.bridge },
      CreateNetworkReply,
    );
    expect(created.error ?? "").toBe("");
    const again = await stack.apply(await stack.seedManifest(name));
    expect(Number(again.accepted?.generation)).toBe(2);
    const running = await stack.settled(name, 2);
    expect({ phase: running.status?.phase, reason: running.status?.reason }).toEqual({
      phase: Phase.PHASE_RUNNING,
      reason: "",
    });
    expect(await stack.conn.findDomain(domainName)).toBeDefined();
  }, 240_000);
});
