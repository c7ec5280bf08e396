import { execFile } from "node:child_process";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { interfacesOf, stripPlaceholders } from "@headroom/domain-xml";
import { ImagePathError } from "@headroom/images";
import { CloudInitSeed } from "@headroom/proto";
import { describe, expect, it } from "vitest";
import { type ComposeResult, composePlan } from "../src/mod.ts";
import { accepted, fakeHost, SEED_NETWORK, SEED_UID, seedVmi } from "./fixtures.ts";

const run = promisify(execFile);

function planOf(result: ComposeResult) {
  if (!result.ok) throw new Error(`expected a plan, got failure: ${result.reason}`);
  return result.plan;
}

function reasonOf(result: ComposeResult): string {
  if (result.ok) throw new Error("expected a failure, got a plan");
  return result.reason;
}

/** libvirt's own schema check of a domain XML. */
async function virtXmlValidate(xml: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "composer-xml-"));
  try {
    const file = join(dir, "domain.xml");
    await writeFile(file, xml);
    const { stdout, stderr } = await run("virt-xml-validate", [file, "domain"]);
    return `${stdout}${stderr}`;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe("composePlan on the seed example", () => {
  it("places disk, kernel, bridge and console on the host and plans 3 placeholders", async () => {
    const vmi = seedVmi();
    const plan = planOf(await composePlan(accepted(vmi), fakeHost()));
    const vmDir = "/state/vms/default/vmi-iface-request-example";

    expect(plan).toMatchObject({
      namespace: "default",
      name: "vmi-iface-request-example",
      uid: SEED_UID,
      generation: 1,
      domainName: "default_vmi-iface-request-example",
      domainUuid: SEED_UID,
      machineType: "q35",
      capacity: { requested: 5, interfaces: 2, effective: 5 },
      bridges: ["hrbr0"],
      consoleLogPath: `${vmDir}/console.log`,
      placeholderModel: "virtio-non-transitional",
    });
    expect(plan.placeholderCount).toBe(3);
    expect(plan.diskFiles).toEqual([
      {
        volumeName: "containerdisk",
        path: `${vmDir}/containerdisk.qcow2`,
        image: "headroom/tiny-guest",
      },
    ]);
    expect(plan.images).toEqual(["headroom/tiny-guest"]);
    expect(plan.imagePullPolicies).toEqual({});

    const xml = plan.domainXml;
    expect(stripPlaceholders(xml).removed).toBe(0);
    expect(xml).not.toContain("placeholder");
    expect(xml).toContain(`<uuid>${SEED_UID}</uuid>`);
    expect(xml).toContain("<name>default_vmi-iface-request-example</name>");
    expect(xml).toContain(`<source file="${vmDir}/containerdisk.qcow2"/>`);
    expect(xml).toContain('<driver name="qemu" type="qcow2"/>');
    // Through the reference's link in the host's store: the launcher fetches the image first.
    expect(xml).toContain(
      "<kernel>/state/images/refs/headroom%2Ftiny-guest/root/boot/vmlinuz</kernel>",
    );
    expect(xml).toContain(
      "<initrd>/state/images/refs/headroom%2Ftiny-guest/root/boot/initrd.img</initrd>",
    );
    expect(xml).toContain("<cmdline>console=ttyS0 quiet panic=-1</cmdline>");
    expect(xml).toContain(`<log file="${vmDir}/console.log" append="on"/>`);
    expect(xml).toContain('<source bridge="hrbr0"/>');
    expect(interfacesOf(xml).map((nic) => nic.alias)).toEqual([
      "ua-net-default",
      "ua-net-secondary",
    ]);
    expect(await virtXmlValidate(xml)).toContain("validates");
  });

  it("composes the same plan every time (redelivery composes the same domain)", async () => {
    const vmi = seedVmi();
    const first = planOf(await composePlan(accepted(vmi), fakeHost()));
    const second = planOf(await composePlan(accepted(vmi), fakeHost()));
    expect(second).toEqual(first);
  });

  it("composes a later generation the same way, with its own generation", async () => {
    const vmi = seedVmi((doc) => {
      doc.spec.domain.devices.interfaces.push({ name: "third", bridge: {} });
      doc.spec.networks.push({ name: "third", multus: { networkName: SEED_NETWORK } });
    });
    const plan = planOf(await composePlan(accepted(vmi, { generation: 2 }), fakeHost()));
    expect(plan.generation).toBe(2);
    expect(plan.capacity).toEqual({ requested: 5, interfaces: 3, effective: 5 });
    expect(plan.placeholderCount).toBe(2);
    // Two networks on one bridge: the host prepares it once.
    expect(plan.bridges).toEqual(["hrbr0"]);
    expect(interfacesOf(plan.domainXml)).toHaveLength(3);
  });
});

describe("composePlan networks", () => {
  it("finds a NAMESPACE/NAME networkName's attachment by NAME", async () => {
    const vmi = seedVmi((doc) => {
      doc.spec.networks[1].multus.networkName = `default/${SEED_NETWORK}`;
    });
    const plan = planOf(await composePlan(accepted(vmi), fakeHost()));
    expect(plan.bridges).toEqual(["hrbr0"]);
    expect(interfacesOf(plan.domainXml).map((nic) => nic.bridge)).toContain("hrbr0");
  });
});

describe("composePlan placement", () => {
  it("plans an emptyDisk as a blank qcow2 of its capacity", async () => {
    const vmi = seedVmi((doc) => {
      doc.spec.domain.devices.disks.push({ name: "scratch", disk: { bus: "sata" } });
      doc.spec.volumes.push({ name: "scratch", emptyDisk: { capacity: "1Gi" } });
    });
    const plan = planOf(await composePlan(accepted(vmi), fakeHost()));
    expect(plan.diskFiles[1]).toEqual({
      volumeName: "scratch",
      path: "/state/vms/default/vmi-iface-request-example/scratch.qcow2",
      blankSizeBytes: 1024 ** 3,
    });
    expect(plan.domainXml).toContain(
      '<source file="/state/vms/default/vmi-iface-request-example/scratch.qcow2"/>',
    );
    expect(await virtXmlValidate(plan.domainXml)).toContain("validates");
  });

  it("plans a cloud-init volume as a read-only raw seed holding its data, base64 decoded", async () => {
    const vmi = seedVmi((doc) => {
      doc.spec.volumes.push({
        name: "cloudinitdisk",
        cloudInitConfigDrive: {
          userDataBase64: Buffer.from("#cloud-config\n").toString("base64"),
          networkData: "version: 2\n",
        },
      });
    });
    const plan = planOf(await composePlan(accepted(vmi), fakeHost()));
    const seed = "/state/vms/default/vmi-iface-request-example/cloudinitdisk.iso";
    expect(plan.diskFiles[1]).toEqual({
      volumeName: "cloudinitdisk",
      path: seed,
      cloudInit: {
        kind: CloudInitSeed.Kind.KIND_CONFIG_DRIVE,
        instanceId: "vmi-iface-request-example.default",
        hostname: "vmi-iface-request-example",
        userData: Buffer.from("#cloud-config\n"),
        networkData: Buffer.from("version: 2\n"),
      },
    });
    expect(plan.domainXml).toMatch(
      new RegExp(
        `<driver name="qemu" type="raw"/>\\s*<source file="${seed}"/>[\\s\\S]*?<readonly/>`,
      ),
    );
    expect(await virtXmlValidate(plan.domainXml)).toContain("validates");
  });

  it("lists each image the host must hold once, kernel boot's included", async () => {
    const vmi = seedVmi((doc) => {
      doc.spec.domain.firmware.kernelBoot.container.image = "lab/kernels:6.1";
      doc.spec.domain.devices.disks.push({ name: "extra", disk: { bus: "virtio" } });
      doc.spec.volumes.push({ name: "extra", containerDisk: { image: "headroom/tiny-guest" } });
    });
    const plan = planOf(await composePlan(accepted(vmi), fakeHost()));
    expect(plan.images).toEqual(["headroom/tiny-guest", "lab/kernels:6.1"]);
    expect(plan.diskFiles.map((file) => "image" in file && file.image)).toEqual([
      "headroom/tiny-guest",
      "headroom/tiny-guest",
    ]);
    expect(plan.domainXml).toContain("/state/images/refs/lab%2Fkernels%3A6.1/root/boot/vmlinuz");
  });

  it("carries each image's imagePullPolicy, the one that pulls more when volumes disagree", async () => {
    const vmi = seedVmi((doc) => {
      doc.spec.domain.firmware.kernelBoot.container.image = "quay.io/lab/kernels:6.1";
      doc.spec.domain.firmware.kernelBoot.container.imagePullPolicy = "Never";
      doc.spec.volumes[0].containerDisk.imagePullPolicy = "IfNotPresent";
      doc.spec.domain.devices.disks.push({ name: "extra", disk: { bus: "virtio" } });
      doc.spec.volumes.push({
        name: "extra",
        containerDisk: { image: "headroom/tiny-guest", imagePullPolicy: "Always" },
      });
    });
    const plan = planOf(await composePlan(accepted(vmi), fakeHost()));
    expect(plan.imagePullPolicies).toEqual({
      "headroom/tiny-guest": "Always",
      "quay.io/lab/kernels:6.1": "Never",
    });
  });

  it("plans no placeholder without an interface request, or below the interface count", async () => {
    const without = seedVmi((doc) => {
      delete doc.spec.domain.resources;
    });
    const plain = planOf(await composePlan(accepted(without), fakeHost()));
    expect(plain.placeholderCount).toBe(0);
    expect(plain.capacity).toEqual({ interfaces: 2, effective: 2 });

    const below = seedVmi((doc) => {
      doc.spec.domain.resources.requests["kubevirt.io/interface"] = 1;
    });
    expect(planOf(await composePlan(accepted(below), fakeHost())).placeholderCount).toBe(0);
  });

  it("composes a pc machine with only a pod network and no kernel boot", async () => {
    const vmi = seedVmi((doc) => {
      doc.spec.domain.machine = { type: "pc" };
      delete doc.spec.domain.firmware;
      doc.spec.domain.devices.interfaces = [{ name: "default", masquerade: {} }];
      doc.spec.networks = [{ name: "default", pod: {} }];
    });
    const plan = planOf(await composePlan(accepted(vmi), fakeHost()));
    expect(plan.machineType).toBe("pc");
    expect(plan.bridges).toEqual([]);
    expect(plan.placeholderCount).toBe(4);
    expect(plan.domainXml).not.toContain("<kernel>");
    expect(plan.domainXml).toContain('<boot dev="hd"/>');
    expect(await virtXmlValidate(plan.domainXml)).toContain("validates");
  });
});

describe("composePlan failures", () => {
  it("fails a VMI whose boot file the image store refuses, naming the field", async () => {
    const host = fakeHost();
    host.imageFile = (image, pathInImage) => {
      throw new ImagePathError(`path ${pathInImage} in image ${image} is refused`);
    };
    const reason = reasonOf(await composePlan(accepted(seedVmi()), host));
    expect(reason).toBe(
      "spec.domain.firmware.kernelBoot.container.kernelPath: path /boot/vmlinuz in image headroom/tiny-guest is refused; " +
        "spec.domain.firmware.kernelBoot.container.initrdPath: path /boot/initrd.img in image headroom/tiny-guest is refused",
    );
  });

  it("fails a VMI on an unknown network attachment, saying how to create it", async () => {
    const host = fakeHost();
    host.bridges.clear();
    const result = await composePlan(accepted(seedVmi()), host);
    expect(reasonOf(result)).toBe(
      "spec.networks[1].multus.networkName: network attachment 'headroom-bridge' does not exist; create it with: headroom network create headroom-bridge --bridge BRIDGE",
    );
    expect(result.ok === false && result.domainName).toBe("default_vmi-iface-request-example");
  });

  it("fails a manifest that is not JSON, not a valid VMI, or not the VMI it was handed over as", async () => {
    const vmi = seedVmi();
    expect(reasonOf(await composePlan(accepted(vmi, { manifestJson: "{" }), fakeHost()))).toMatch(
      /^the accepted manifest is not valid JSON: /,
    );
    const invalid = { ...vmi, spec: { ...vmi.spec, domain: { ...vmi.spec.domain, gpus: [] } } };
    const reason = reasonOf(
      await composePlan(accepted(vmi, { manifestJson: JSON.stringify(invalid) }), fakeHost()),
    );
    expect(reason).toMatch(/^the accepted VMI is not valid: /);
    expect(reason).toContain("spec.domain.gpus");
    expect(reasonOf(await composePlan(accepted(vmi, { name: "other" }), fakeHost()))).toBe(
      "the accepted manifest is VMI default/vmi-iface-request-example, but it was handed over as default/other",
    );
    expect(reasonOf(await composePlan(accepted(vmi, { generation: 0 }), fakeHost()))).toContain(
      "generation 0",
    );
    expect(reasonOf(await composePlan(accepted(vmi, { uid: "" }), fakeHost()))).toBe(
      "the accepted VMI has no uid",
    );
  });

  it("throws on passing trouble in a lookup instead of failing the VMI", async () => {
    const host = fakeHost();
    host.bridgeOf = async () => {
      throw new Error("TIMEOUT");
    };
    await expect(composePlan(accepted(seedVmi()), host)).rejects.toThrow("TIMEOUT");
  });
});
