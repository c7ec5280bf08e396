// Volumes: `headroom volume create`, `get volumes`, `delete volume`, and VMIs
// whose persistentVolumeClaim, dataVolume or ephemeral names one, under the
// shipped NATS permissions with real guests. A volume outlives its VMI: the
// next guest reads the stamp the first one wrote on it; an ephemeral guest's
// stamp goes with its VMI. One VMI uses a volume at a time;
// a volume in use is not deleted; a VMI naming a volume that does not exist
// waits, saying how to make it, and runs once it is made. A volume made from
// an image boots as its disk.
import { writeFile } from "node:fs/promises";
import { describe, expect, it } from "vitest";
import { useCliStack } from "./cli_stack.ts";
import { testNamespace } from "./host.ts";
import { applyAndWait, consoleUntil, headroom, start } from "./run.ts";

const namespace = testNamespace();
const { stack, cli } = useCliStack({
  namespace,
  refusals: /(Publish|Subscription) Violation/,
});
// Volumes are the host's, not a namespace's: each run names its own.
const data = `data-${namespace.slice(-6)}`;
const root = `root-${namespace.slice(-6)}`;

/** The seed VMI with volume `data` on a disk of serial VOL; its guest stamps VOL with `text`. */
async function withVolume(name: string, source: Record<string, unknown>, text: string) {
  const vmi = await stack.seedManifest(name);
  vmi.spec.domain.firmware.kernelBoot.kernelArgs += ` headroom.stamp=VOL:${text}`;
  vmi.spec.domain.devices.disks.push({ name: "data", serial: "VOL", disk: { bus: "virtio" } });
  vmi.spec.volumes.push({ name: "data", ...source });
  return vmi;
}

const run = (...args: string[]) => headroom([...cli, ...args]);

describe("volumes", () => {
  it("outlive their VMI, serve one VMI at a time, and are deleted once free", async () => {
    const created = await run("volume", "create", data, "--size", "64Mi");
    expect(created.stderr).toBe("");
    expect(created.stdout).toMatch(
      new RegExp(`^volume/${data} created \\(64MiB, on \\S+\\)$`, "m"),
    );
    const again = await run("volume", "create", data, "--size", "64Mi");
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(`volume ${data} exists`);

    const first = await withVolume(
      "vol-a",
      { persistentVolumeClaim: { claimName: data } },
      "from-a",
    );
    const applied = await applyAndWait(cli, stack.stateDir, "vol-a", first);
    expect(applied.code, applied.stderr).toBe(0);
    const a = await consoleUntil(cli, "vol-a", "headroom-guest: stamp ");
    expect(a).toMatch(/^headroom-guest: disks vda=50331648,vdb=67108864:VOL$/m);
    expect(a).toContain("headroom-guest: stamp dev=vdb found=none wrote=from-a");

    const listed = await run("get", "volumes");
    expect(listed.stdout).toMatch(
      new RegExp(`^${data}\\s+64MiB\\s+${namespace}/vol-a\\s+<blank>`, "m"),
    );
    // In use: neither another VMI nor a delete may have it.
    const second = await withVolume("vol-b", { dataVolume: { name: data } }, "from-b");
    const refused = await applyAndWait(cli, stack.stateDir, "vol-b", second);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(
      `volume ${data} is used by vmi ${namespace}/vol-a; a volume serves one VMI at a time`,
    );
    const busy = await run("delete", "volume", data);
    expect(busy.code).toBe(1);
    expect(busy.stderr).toContain(
      `volume ${data} is used by vmi ${namespace}/vol-a; delete that VMI first`,
    );

    for (const name of ["vol-a", "vol-b"]) {
      const deleted = await run("delete", "vmi", name, "--wait");
      expect(deleted.code, deleted.stderr).toBe(0);
    }
    const free = await run("get", "volume", data, "-o", "json");
    expect(JSON.parse(free.stdout)).toMatchObject({
      name: data,
      sizeBytes: 64 << 20,
      usedBy: null,
    });

    // The next VMI reads what the first one wrote.
    const third = await withVolume("vol-c", { dataVolume: { name: data } }, "from-c");
    const reapplied = await applyAndWait(cli, stack.stateDir, "vol-c", third);
    expect(reapplied.code, reapplied.stderr).toBe(0);
    const c = await consoleUntil(cli, "vol-c", "headroom-guest: stamp ");
    expect(c).toContain("headroom-guest: stamp dev=vdb found=from-a wrote=from-c");
    expect((await run("delete", "vmi", "vol-c", "--wait")).code).toBe(0);

    // Ephemeral: the guest reads the volume and writes to an overlay of its
    // VMI's, which goes with the VMI; the next VMI finds the volume as it was.
    const ephemeral = { ephemeral: { persistentVolumeClaim: { claimName: data } } };
    const fourth = await withVolume("vol-d", ephemeral, "from-d");
    expect((await applyAndWait(cli, stack.stateDir, "vol-d", fourth)).code).toBe(0);
    const d = await consoleUntil(cli, "vol-d", "headroom-guest: stamp ");
    expect(d).toContain("headroom-guest: stamp dev=vdb found=from-c wrote=from-d");
    expect((await run("delete", "vmi", "vol-d", "--wait")).code).toBe(0);
    const fifth = await withVolume("vol-e", { dataVolume: { name: data } }, "from-e");
    expect((await applyAndWait(cli, stack.stateDir, "vol-e", fifth)).code).toBe(0);
    const e = await consoleUntil(cli, "vol-e", "headroom-guest: stamp ");
    expect(e).toContain("headroom-guest: stamp dev=vdb found=from-c wrote=from-e");
    expect((await run("delete", "vmi", "vol-e", "--wait")).code).toBe(0);

    const gone = await run("delete", "volume", data);
    expect(gone.stdout).toBe(`volume/${data} deleted\n`);
    expect((await run("get", "volume", data)).stderr).toContain(`volume/${data} not found`);
  }, 400_000);

  it("keeps a VMI whose volume does not exist waiting, across a launcher restart, and runs it once made", async () => {
    const later = `later-${namespace.slice(-6)}`;
    const vmi = await withVolume("vol-later", { persistentVolumeClaim: { claimName: later } }, "x");
    const file = `${stack.stateDir}/vol-later.json`;
    await writeFile(file, JSON.stringify(vmi));
    const apply = start([...cli, "apply", "-f", file, "--wait", "--timeout", "150s"]);
    const waiting = `waiting for volume ${later}: create it (headroom volume create ${later} --size SIZE) and the VMI starts`;
    await apply.waitForOutput(waiting, 60_000);
    expect((await run("get", "vmi", "vol-later")).stdout).toMatch(/vol-later\s+Scheduled/);
    // The waiting plan is the host's: a launcher killed and started again still has it.
    await stack.kill("launcher");
    await stack.start("launcher");

    expect((await run("volume", "create", later, "--size", "32Mi")).code).toBe(0);
    const done = await apply.done;
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toMatch(/^vmi\/vol-later Running/m);
    const console = await consoleUntil(cli, "vol-later", "headroom-guest: stamp ");
    expect(console).toContain("headroom-guest: stamp dev=vdb found=none wrote=x");
    expect((await run("delete", "vmi", "vol-later", "--wait")).code).toBe(0);
    expect((await run("delete", "volume", later)).code).toBe(0);
  }, 300_000);

  it("boots a volume made from an image, as its disk, and as an ephemeral one", async () => {
    const created = await run("volume", "create", root, "--from", "headroom/tiny-guest");
    expect(created.stdout).toContain(`volume/${root} created (48MiB, from headroom/tiny-guest`);
    const vmi = await stack.seedManifest("vol-boot");
    vmi.spec.domain.firmware = {};
    vmi.spec.volumes[0] = { name: "containerdisk", persistentVolumeClaim: { claimName: root } };
    const apply = await applyAndWait(cli, stack.stateDir, "vol-boot", vmi);
    expect(apply.code, apply.stderr).toBe(0);
    const booted = await consoleUntil(cli, "vol-boot", "headroom-guest: firmware ");
    expect(booted).toContain("headroom-guest: firmware boot=bios secure-boot=off loader=disk");
    expect((await run("delete", "vmi", "vol-boot", "--wait")).code).toBe(0);

    // Ephemeral on it: the overlay reads the volume, which reads the image's disk.
    const ephemeral = await stack.seedManifest("vol-eph-boot");
    ephemeral.spec.domain.firmware = {};
    ephemeral.spec.volumes[0] = {
      name: "containerdisk",
      ephemeral: { persistentVolumeClaim: { claimName: root } },
    };
    const applied = await applyAndWait(cli, stack.stateDir, "vol-eph-boot", ephemeral);
    expect(applied.code, applied.stderr).toBe(0);
    const again = await consoleUntil(cli, "vol-eph-boot", "headroom-guest: firmware ");
    expect(again).toContain("headroom-guest: firmware boot=bios secure-boot=off loader=disk");
    expect((await run("delete", "vmi", "vol-eph-boot", "--wait")).code).toBe(0);
    expect((await run("delete", "volume", root)).code).toBe(0);
  }, 300_000);

  it("refuses a size out of bounds and a name that is not a label, before anything is made", async () => {
    const big = await run("volume", "create", "big", "--size", "2Ti");
    expect(big.code).toBe(1);
    expect(big.stderr).toContain("a volume's size must be between 1Mi and 1Ti");
    const none = await run("volume", "create", "nosize");
    expect(none.code).toBe(2);
    expect(none.stderr).toContain("give the volume a --size (e.g. 10Gi), or --from IMAGE");
    const bad = await run("volume", "create", "Bad_Name", "--size", "1Gi");
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain('volume name "Bad_Name" must be a DNS-1123 label');
    expect((await run("get", "volumes", "-o", "json")).stdout).not.toContain("big");
  }, 60_000);
});
