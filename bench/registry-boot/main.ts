// Time to Running for a VMI whose image is in an OCI registry: cold (the host pulls it) and
// warm (the host holds it), through the whole stack:
//
//   node --import tsx bench/registry-boot/main.ts [--mib 256] [--runs 3] [--quick] [--json PATH]
//
// The tiny guest, with a file of N MiB of pseudo-random bytes beside its kernel and disk, is
// pushed (untimed) to Debian's docker-registry on loopback under a new tag each run, so the
// host never holds it yet. Each run: a VMI naming it is applied and timed until Running
// (cold: the pull is in it), then a second VMI naming the same image (warm: nothing to pull).
// Both are deleted, untimed. The virtualization type is the launcher's own choice.
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { Phase } from "@headroom/proto";
import { pushImage } from "@headroom/registry";
import { startStack } from "@headroom/test-stack";
import { startRegistry } from "@headroom/testing";
import { benchArgs, integer } from "../lib/args.ts";
import { writeRandomDisk } from "../lib/disk.ts";
import { withBenchHost } from "../lib/guest.ts";
import {
  describeMachine,
  finishMachine,
  machineLine,
  repoPath,
  writeResult,
} from "../lib/machine.ts";
import { roundTo, summarize } from "../lib/stats.ts";
import { markdownTable } from "../lib/table.ts";

const run = promisify(execFile);
const args = benchArgs({
  script: "bench/registry-boot/main.ts",
  json: "bench/results/registry-boot.json",
  flags: {
    mib: integer({ full: 256, quick: 16 }),
    runs: integer({ full: 3, quick: 1 }),
  },
});

const started = performance.now();
const result = await withBenchHost("registry-boot", async (host) => {
  const machine = await describeMachine(host.conn);
  console.log(`registry-boot on ${machineLine(machine)}`);
  console.log(`virtualization: ${host.virtType} (${host.virtTypeReason})`);
  const work = await mkdtemp(join(tmpdir(), "hrbench-registry-boot-"));
  host.onClose(() => rm(work, { recursive: true, force: true }));
  const registry = await startRegistry();
  host.onClose(() => registry.stop());
  const tree = join(work, "tree");
  await run("bash", [repoPath("infra/tiny-guest/build.sh"), "--quiet", "--out", tree]);
  await mkdir(join(tree, "filler"), { recursive: true });
  await writeRandomDisk(join(tree, "filler", "blob"), args.mib);

  const stack = await startStack({
    namespace: `${host.namePrefix}ns`,
    env: { HEADROOM_VIRT_TYPE: host.virtType },
    seedNetwork: false,
  });
  host.onClose(() => stack.stop());

  /** Applies a VMI booting `image` and resolves with the seconds until it is Running. */
  async function boot(name: string, image: string): Promise<number> {
    const vmi = await stack.seedManifest(name);
    vmi.spec.domain.devices.interfaces = [{ name: "default", masquerade: {} }];
    vmi.spec.networks = [{ name: "default", pod: {} }];
    vmi.spec.domain.firmware.kernelBoot.container.image = image;
    vmi.spec.volumes[0].containerDisk.image = image;
    const t0 = performance.now();
    await stack.apply(vmi);
    const record = await stack.settled(name);
    const seconds = (performance.now() - t0) / 1000;
    if (record.status?.phase !== Phase.PHASE_RUNNING)
      throw new Error(`${name} is not Running: ${record.status?.reason}`);
    return seconds;
  }

  const cold: number[] = [];
  const warm: number[] = [];
  for (let r = 0; r < args.runs; r++) {
    const image = `${registry.host}/bench/boot:r${r}`;
    await pushImage(tree, image, { workDir: work });
    cold.push(await boot(`cold-${r}`, image));
    warm.push(await boot(`warm-${r}`, image));
    console.log(
      `run ${r + 1}: cold ${cold.at(-1)?.toFixed(2)} s, warm ${warm.at(-1)?.toFixed(2)} s`,
    );
    for (const name of [`cold-${r}`, `warm-${r}`]) await stack.delete(name);
  }
  return { machine: finishMachine(machine), virtType: host.virtType, cold, warm };
});

const cold = summarize(result.cold, 2);
const warm = summarize(result.warm, 2);
const seconds = roundTo((performance.now() - started) / 1000, 1);
const range = (s: ReturnType<typeof summarize>) =>
  `${s.median.toFixed(2)} (${s.min.toFixed(2)}–${s.max.toFixed(2)})`;
console.log(
  `\ntiny guest + ${args.mib} MiB, ${args.runs} run(s), ${result.virtType}, median (min–max)\n`,
);
console.log(
  markdownTable(
    ["VMI", "apply → Running, s"],
    [
      ["cold: the host pulls the image", range(cold)],
      ["warm: the host holds it", range(warm)],
    ],
  ),
);
console.log(`\nregistry-boot took ${seconds} s`);
if (args.json) {
  await writeResult(args.json, {
    benchmark: "registry-boot",
    date: new Date().toISOString(),
    command: args.command,
    machine: result.machine,
    virtType: result.virtType,
    image: `the tiny guest and filler/blob, ${args.mib} MiB of pseudo-random bytes, one gzip'd layer`,
    runs: args.runs,
    seconds,
    results: { cold, warm, samples: { cold: result.cold, warm: result.warm } },
  });
  console.log(`wrote ${args.json}`);
}
