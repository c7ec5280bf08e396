// An image pulled from an OCI registry by headroom, against skopeo pulling the same image:
//
//   node --import tsx bench/registry-pull/main.ts [--mib 512] [--runs 3] [--quick] [--json PATH]
//
// One image tree, disk/disk.raw of N MiB of pseudo-random bytes, pushed once (untimed) to
// Debian's docker-registry on loopback as one gzip'd layer. Each run, side by side in this
// order, each into a fresh directory after a `sync` (untimed):
//   skopeo    `skopeo copy docker://… dir:DIR`: the manifest and the layer as they are (no
//             unpack), skopeo checking the layer's digest;
//   headroom  pullImage into a fresh host store: manifest, the layer checked against its
//             digest, unpacked (gunzip, tar), checked by the store (the disk read by its
//             bytes) and committed;
//   copy      `cp` of the disk file: the plain copy of the same bytes.
// Everything is in the page cache; the figures are what the programs cost, not the disk.
import { execFile, spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { openImageStore } from "@headroom/images";
import { pullImage, pushImage } from "@headroom/registry";
import { startRegistry } from "@headroom/testing";
import { benchArgs, integer } from "../lib/args.ts";
import { writeRandomDisk } from "../lib/disk.ts";
import { describeMachine, finishMachine, machineLine, writeResult } from "../lib/machine.ts";
import { roundTo, summarize } from "../lib/stats.ts";
import { markdownTable } from "../lib/table.ts";

const run = promisify(execFile);
const MIB = 1024 * 1024;
const args = benchArgs({
  script: "bench/registry-pull/main.ts",
  json: "bench/results/registry-pull.json",
  flags: {
    mib: integer({ full: 512, quick: 64 }),
    runs: integer({ full: 3, quick: 1 }),
  },
});

const STEPS = ["skopeo", "headroom", "copy"] as const;
type Step = (typeof STEPS)[number];
const STEP_NAMES: Record<Step, string> = {
  skopeo: "skopeo copy docker:// → dir: (no unpack)",
  headroom: "headroom pull (checked, unpacked, committed)",
  copy: "file copy (cp)",
};

const machine = await describeMachine();
console.log(`registry-pull on ${machineLine(machine)}`);
const skopeoVersion = spawnSync("skopeo", ["--version"], { encoding: "utf8" }).stdout.trim();
const started = performance.now();
const work = await mkdtemp(join(tmpdir(), "hrbench-registry-pull-"));
const registry = await startRegistry();
const samples: Record<Step, number[]> = { skopeo: [], headroom: [], copy: [] };
let imageBytes = 0;
let layerBytes = 0;

try {
  const tree = join(work, "image");
  await mkdir(join(tree, "disk"), { recursive: true });
  const disk = join(tree, "disk", "disk.raw");
  await writeRandomDisk(disk, args.mib);
  imageBytes = (await stat(disk)).size;
  const ref = `${registry.host}/bench/pull:1`;
  const pushing = performance.now();
  await pushImage(tree, ref, { workDir: work });
  console.log(
    `pushed a ${args.mib} MiB image in ${roundTo((performance.now() - pushing) / 1000, 1)} s; ${args.runs} run(s)`,
  );

  async function measure(step: Step, body: () => Promise<void>): Promise<void> {
    await run("sync");
    const t0 = performance.now();
    await body();
    const seconds = (performance.now() - t0) / 1000;
    samples[step].push(seconds);
    console.log(`  ${step.padEnd(8)} ${seconds.toFixed(2)} s`);
  }

  for (let r = 0; r < args.runs; r++) {
    console.log(`run ${r + 1}`);
    const skopeoDir = join(work, `skopeo-${r}`);
    await measure("skopeo", async () => {
      await run("skopeo", [
        "copy",
        "--quiet",
        "--src-tls-verify=false",
        `docker://${ref}`,
        `dir:${skopeoDir}`,
      ]);
    });
    if (layerBytes === 0) {
      const { stdout } = await run("du", ["-sb", skopeoDir]);
      layerBytes = Number(stdout.split("\t")[0]);
    }
    await rm(skopeoDir, { recursive: true, force: true });
    const storeDir = join(work, `store-${r}`);
    await measure("headroom", async () => {
      const pulled = await pullImage(openImageStore(storeDir), ref, { maxBytes: 4 * 1024 * MIB });
      if (pulled === "unchanged" || pulled.image.sizeBytes !== imageBytes)
        throw new Error(`pulled ${JSON.stringify(pulled)}`);
    });
    await rm(storeDir, { recursive: true, force: true });
    const copy = join(work, "copy.raw");
    await measure("copy", async () => {
      await run("cp", ["--sparse=never", "--reflink=never", disk, copy]);
    });
    await rm(copy, { force: true });
  }
} finally {
  await registry.stop();
  await rm(work, { recursive: true, force: true });
}

const summaries = Object.fromEntries(
  STEPS.map((step) => [
    step,
    {
      seconds: summarize(samples[step], 3),
      mibPerSecond: summarize(
        samples[step].map((s) => imageBytes / MIB / s),
        0,
      ),
    },
  ]),
) as Record<
  Step,
  { seconds: ReturnType<typeof summarize>; mibPerSecond: ReturnType<typeof summarize> }
>;
const skopeoMedian = summaries.skopeo.seconds.median;
const seconds = roundTo((performance.now() - started) / 1000, 1);
const range = (s: ReturnType<typeof summarize>, digits: number) =>
  `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
console.log(
  `\n${args.mib} MiB image (layer ${(layerBytes / MIB).toFixed(1)} MiB gzip'd), ${args.runs} run(s), median (min–max); ${skopeoVersion}\n`,
);
console.log(
  markdownTable(
    ["step", "seconds", "MiB/s of image", "× skopeo"],
    STEPS.map((step) => [
      STEP_NAMES[step],
      range(summaries[step].seconds, 2),
      range(summaries[step].mibPerSecond, 0),
      (summaries[step].seconds.median / skopeoMedian).toFixed(2),
    ]),
  ),
);
console.log(`\nregistry-pull took ${seconds} s`);
if (args.json) {
  await writeResult(args.json, {
    benchmark: "registry-pull",
    date: new Date().toISOString(),
    command: args.command,
    machine: finishMachine(machine),
    skopeo: skopeoVersion,
    registry:
      "Debian docker-registry (distribution 2.8.2) on loopback, plain HTTP, filesystem storage",
    image: `disk/disk.raw, ${args.mib} MiB of pseudo-random bytes, one gzip'd layer`,
    imageBytes,
    layerBytes,
    runs: args.runs,
    seconds,
    results: Object.fromEntries(
      STEPS.map((step) => [
        step,
        {
          ...summaries[step],
          timesSkopeo: roundTo(summaries[step].seconds.median / skopeoMedian, 2),
        },
      ]),
    ),
  });
  console.log(`wrote ${args.json}`);
}
