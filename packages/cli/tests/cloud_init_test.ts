// cloud-init volumes as KubeVirt users write them: a NoCloud seed and a
// ConfigDrive seed (on a CD-ROM drive, as KubeVirt's Windows examples put it), each applied through the CLI under the shipped NATS
// permissions, booted, and read back by the tiny guest, which reports the
// disks it sees and what each seed holds. The guest's report must match the
// VMI: its instance-id and hostname, and the sha256 of its user and network data.
import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { useCliStack } from "./cli_stack.ts";
import { testNamespace, virsh } from "./host.ts";
import { applyAndWait, consoleUntil } from "./run.ts";

const namespace = testNamespace();
const { stack, cli } = useCliStack({
  namespace,
  refusals: /(Publish|Subscription) Violation/,
});

const sha256 = (data: string | Buffer) => createHash("sha256").update(data).digest("hex");

/**
 * Applies the seed VMI as `name` with `volume` added, on the disk entry `disk`
 * (none: KubeVirt's default gives it a virtio disk).
 */
async function applyWith(
  name: string,
  volume: Record<string, unknown>,
  { spec = {}, disk }: { spec?: Record<string, unknown>; disk?: Record<string, unknown> } = {},
): Promise<string> {
  const vmi = await stack.seedManifest(name);
  vmi.spec.volumes.push({ name: "cloudinitdisk", ...volume });
  if (disk) vmi.spec.domain.devices.disks.push({ name: "cloudinitdisk", ...disk });
  Object.assign(vmi.spec, spec);
  const apply = await applyAndWait(cli, stack.stateDir, name, vmi);
  expect(apply.stderr).toBe("");
  expect(apply.code).toBe(0);
  return consoleUntil(cli, name, "headroom-guest: cloud-init ");
}

describe("cloud-init volumes", () => {
  it("gives a cloudInitNoCloud volume a cidata seed the guest reads: instance-id, hostname, user and network data", async () => {
    const userData = "#cloud-config\npassword: fedora\nchpasswd: { expire: False }\n";
    const networkData = "version: 2\nethernets:\n  eth0:\n    dhcp4: true\n";
    const console = await applyWith("nocloud", {
      cloudInitNoCloud: { userData, networkData },
    });
    expect(console).toContain(
      `headroom-guest: cloud-init source=nocloud dev=vdb instance-id=nocloud.${namespace} hostname=nocloud user-data-sha256=${sha256(userData)} network-data-sha256=${sha256(networkData)}`,
    );
    // Two disks: the image's overlay (48 MiB, the tiny guest's bootable disk) and the seed.
    expect(console).toMatch(/^headroom-guest: disks vda=50331648,vdb=\d+$/m);
    // The seed is read-only, and raw.
    const xml = await virsh("dumpxml", `${namespace}_nocloud`);
    expect(xml).toMatch(
      /<driver name='qemu' type='raw'\/>\s*<source file='[^']+\/cloudinitdisk\.iso'/,
    );
    expect(xml).toMatch(/cloudinitdisk\.iso'[\s\S]*?<readonly\/>/);
  }, 320_000);

  it("gives a cloudInitConfigDrive volume a config-2 seed, from base64 user data, on a SCSI CD-ROM drive", async () => {
    const userData = Buffer.from("#!/bin/sh\necho hello from a config drive\n");
    const console = await applyWith(
      "configdrive",
      { cloudInitConfigDrive: { userDataBase64: userData.toString("base64") } },
      { spec: { hostname: "db-primary" }, disk: { cdrom: { bus: "scsi" } } },
    );
    // spec.hostname is the guest's hostname, as KubeVirt gives it.
    expect(console).toContain(
      `headroom-guest: cloud-init source=configdrive dev=sr0 instance-id=configdrive.${namespace} hostname=db-primary user-data-sha256=${sha256(userData)} network-data-sha256=none`,
    );
    expect(console).toMatch(/^headroom-guest: disks vda=50331648,sr0=\d+$/m);
    const xml = await virsh("dumpxml", `${namespace}_configdrive`);
    expect(xml).toMatch(
      /<disk type='file' device='cdrom'>[\s\S]*?cloudinitdisk\.iso'[\s\S]*?<target dev='sda' bus='scsi'\/>[\s\S]*?<readonly\/>/,
    );
    expect(xml).toContain("<controller type='scsi' index='0' model='virtio-scsi'>");
  }, 320_000);
});
