// An image through NATS, against a plain file copy of the same size:
//
//   node --import tsx bench/image-transfer/main.ts [--mib 512] [--runs 3] [--js-sha256]
//     [--quick] [--json PATH]
//
// One image tree, disk/disk.raw of N MiB of pseudo-random bytes (a raw disk, which the store
// accepts), in a temporary directory. Each run, side by side in this order:
//   copy    `cp --sparse=never --reflink=never` of the disk file beside it: the plain copy;
//   upload  uploadImage as the client user: the tree as one tar object, 1 MiB chunks;
//   get     the object read through NATS as the launcher user, its bytes dropped: the bus
//           alone, without the tar extract and the store;
//   fetch   fetchImage as the launcher user into a fresh host store: read, extract, check.
// A real nats-server runs infra/nats/headroom.conf with its logins, as the tests run it; the
// validator user creates the image store. Every step starts after a `sync` (not timed) and
// none syncs itself: nats-server writes its store without fsync, so the copy does too. Every
// file is in the page cache; the figures are what the programs cost, not the disk.
// The object store client hashes every chunk (SHA-256) both ways; @headroom/image-objects sets
// node:crypto for it, as headroom runs it. --js-sha256 puts back the library's default, a hash
// in JavaScript, for comparison.
import { execFile, spawnSync } from "node:child_process";
import { mkdir, mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import {
  connect,
  ensureCredentials,
  ensureImageObjects,
  IMAGE_STORE_MAX_BYTES,
  type NatsConnection,
  type NatsUser,
  OBJECT_STORES,
  serverEnv,
} from "@headroom/bus";
import { fetchImage, uploadImage } from "@headroom/image-objects";
import { openImageStore } from "@headroom/images";
import { startNats } from "@headroom/testing";
import { getSha256Backend, Objm, setSha256Backend } from "@nats-io/obj";
import { benchArgs, integer, toggle } from "../lib/args.ts";
import { writeRandomDisk } from "../lib/disk.ts";
import { describeMachine, finishMachine, machineLine, writeResult } from "../lib/machine.ts";
import { cpuSeconds, pidsMatching } from "../lib/proc.ts";
import { roundTo, type Summary, summarize } from "../lib/stats.ts";
import { markdownTable } from "../lib/table.ts";

const run = promisify(execFile);
const MIB = 1024 * 1024;

const args = benchArgs({
  script: "bench/image-transfer/main.ts",
  json: "bench/results/image-transfer.json",
  flags: {
    mib: integer({ full: 512, quick: 64 }),
    runs: integer({ full: 3, quick: 1 }),
    "js-sha256": toggle(),
  },
});
if (args["js-sha256"]) setSha256Backend("js");

const REF = "bench/transfer:1";
const STEPS = ["copy", "upload", "get", "fetch"] as const;
type Step = (typeof STEPS)[number];
const STEP_NAMES: Record<Step, string> = {
  copy: "file copy (cp)",
  upload: "upload (client)",
  get: "get, bytes dropped (launcher)",
  fetch: "host fetch (launcher)",
};

interface Sample {
  seconds: number;
  /** CPU seconds of this process (the NATS client, tar, the store) and of nats-server. */
  cpuClient: number;
  cpuNats: number;
}

const machine = await describeMachine();
console.log(`image-transfer on ${machineLine(machine)}`);
const natsVersion = spawnSync("nats-server", ["--version"], { encoding: "utf8" }).stdout.trim();
const wallStarted = performance.now();
const work = await mkdtemp(join(tmpdir(), "hrbench-image-transfer-"));
const credentials = await ensureCredentials(join(work, "secrets"));
const nats = await startNats({
  configFile: "infra/nats/headroom.conf",
  env: serverEnv(credentials),
});
const connections: NatsConnection[] = [];
let stopping = false;
async function cleanUp(): Promise<void> {
  for (const nc of connections) await nc.close().catch(() => {});
  await nats.stop();
  await rm(work, { recursive: true, force: true });
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void cleanUp().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  });
}

async function login(user: NatsUser, seed: string): Promise<NatsConnection> {
  const nc = await connect({ name: `bench-${user}`, servers: nats.url, user, seed });
  connections.push(nc);
  return nc;
}

const samples: Record<Step, Sample[]> = { copy: [], upload: [], get: [], fetch: [] };
let imageBytes = 0;
let objectBytes = 0;
let stored: { streamBytes: number; messages: number; storeDirBytes: number } | undefined;

try {
  const natsPid = pidsMatching(new RegExp(`nats-server .*-p ${nats.port}( |$)`))[0];
  await ensureImageObjects(await login("validator", credentials.validator));
  const asClient = await new Objm(await login("client", credentials.client)).open(
    OBJECT_STORES.images,
  );
  const asLauncher = await ensureImageObjects(await login("launcher", credentials.launcher));

  const source = join(work, "image");
  await mkdir(join(source, "disk"), { recursive: true });
  const disk = join(source, "disk", "disk.raw");
  const made = performance.now();
  await writeRandomDisk(disk, args.mib);
  imageBytes = (await stat(disk)).size;
  console.log(
    `made a ${args.mib} MiB image in ${roundTo((performance.now() - made) / 1000, 1)} s; ${args.runs} run(s)`,
  );

  /** Runs one step after a sync, timing it and the CPU it took here and in nats-server. */
  async function measure(step: Step, body: () => Promise<void>): Promise<void> {
    await run("sync");
    const client = process.cpuUsage();
    const natsBefore = natsPid ? cpuSeconds(natsPid) : Number.NaN;
    const started = performance.now();
    await body();
    const seconds = (performance.now() - started) / 1000;
    const used = process.cpuUsage(client);
    const sample: Sample = {
      seconds,
      cpuClient: (used.user + used.system) / 1e6,
      cpuNats: natsPid ? cpuSeconds(natsPid) - natsBefore : Number.NaN,
    };
    samples[step].push(sample);
    console.log(
      `  ${step.padEnd(6)} ${seconds.toFixed(2)} s, ${(imageBytes / MIB / seconds).toFixed(0)} MiB/s`,
    );
  }

  for (let r = 0; r < args.runs; r++) {
    console.log(`run ${r + 1}`);
    const copyPath = join(work, "copy.raw");
    const hostDir = join(work, `host-${r}`);
    await measure("copy", async () => {
      await run("cp", ["--sparse=never", "--reflink=never", disk, copyPath]);
    });
    await rm(copyPath, { force: true });

    await measure("upload", async () => {
      objectBytes = (await uploadImage(asClient, REF, source)).objectBytes;
    });
    if (stored === undefined) {
      const status = await asClient.status();
      const du = await run("du", ["-sb", nats.storeDir]);
      stored = {
        streamBytes: status.size,
        messages: status.streamInfo.state.messages,
        storeDirBytes: Number(du.stdout.split("\t")[0]),
      };
    }

    await measure("get", async () => {
      const result = await asLauncher.get(REF);
      if (result === null) throw new Error(`${REF} is not in the image store`);
      let bytes = 0;
      for await (const chunk of result.data) bytes += chunk.length;
      const failure = await result.error;
      if (failure) throw failure;
      if (bytes !== objectBytes) throw new Error(`read ${bytes} bytes of ${objectBytes}`);
    });

    await measure("fetch", async () => {
      const info = await fetchImage(asLauncher, openImageStore(hostDir), REF, {
        maxBytes: IMAGE_STORE_MAX_BYTES,
      });
      if (info?.sizeBytes !== imageBytes) throw new Error(`fetched ${JSON.stringify(info)}`);
    });
    await rm(hostDir, { recursive: true, force: true });
  }
} finally {
  if (!stopping) await cleanUp();
}

const seconds = roundTo((performance.now() - wallStarted) / 1000, 1);
const summaries = Object.fromEntries(
  STEPS.map((step) => {
    const list = samples[step];
    return [
      step,
      {
        seconds: summarize(
          list.map((s) => s.seconds),
          3,
        ),
        mibPerSecond: summarize(
          list.map((s) => imageBytes / MIB / s.seconds),
          0,
        ),
        cpuSecondsClient: summarize(
          list.map((s) => s.cpuClient),
          2,
        ),
        cpuSecondsNats: summarize(
          list.map((s) => s.cpuNats),
          2,
        ),
      },
    ];
  }),
) as Record<
  Step,
  { seconds: Summary; mibPerSecond: Summary; cpuSecondsClient: Summary; cpuSecondsNats: Summary }
>;
const copyMedian = summaries.copy.seconds.median;
const report = {
  benchmark: "image-transfer",
  date: new Date().toISOString(),
  command: args.command,
  machine: finishMachine(machine),
  natsServer: natsVersion,
  sha256Backend: getSha256Backend(),
  image: `disk/disk.raw, ${args.mib} MiB of pseudo-random bytes (one random MiB repeated, each stamped with its index)`,
  setup:
    "nats-server with infra/nats/headroom.conf and its logins on loopback, file store; this process is the client and the launcher; everything in one temporary directory on one filesystem, in the page cache; a sync before each step, untimed; no step syncs",
  steps: {
    copy: "cp --sparse=never --reflink=never of the disk file",
    upload: "uploadImage as the client user: tar of the tree, SHA-256, 1 MiB chunks",
    get: "the object read through NATS as the launcher user, bytes dropped",
    fetch:
      "fetchImage as the launcher user into a fresh host store: read, tar extract, check, commit",
  },
  runs: args.runs,
  imageBytes,
  objectBytes,
  stored,
  seconds,
  results: Object.fromEntries(
    STEPS.map((step) => [
      step,
      {
        ...summaries[step],
        timesCopy: roundTo(summaries[step].seconds.median / copyMedian, 1),
        samples: samples[step].map((s) => ({
          seconds: roundTo(s.seconds, 3),
          cpuClient: roundTo(s.cpuClient, 2),
          cpuNats: roundTo(s.cpuNats, 2),
        })),
      },
    ]),
  ),
};

const range = (s: Summary, digits: number) =>
  `${s.median.toFixed(digits)} (${s.min.toFixed(digits)}–${s.max.toFixed(digits)})`;
console.log(
  `\n${args.mib} MiB image, ${args.runs} run(s), median (min–max); ${natsVersion}, SHA-256 in ${getSha256Backend() === "js" ? "JavaScript" : "node:crypto"}\n`,
);
console.log(
  markdownTable(
    ["step", "seconds", "MiB/s", "× copy", "CPU s here / nats-server"],
    STEPS.map((step) => {
      const s = summaries[step];
      return [
        STEP_NAMES[step],
        range(s.seconds, 2),
        range(s.mibPerSecond, 0),
        step === "copy" ? "1" : (s.seconds.median / copyMedian).toFixed(1),
        step === "copy"
          ? "– (cp)"
          : `${s.cpuSecondsClient.median.toFixed(2)} / ${s.cpuSecondsNats.median.toFixed(2)}`,
      ];
    }),
  ),
);
if (stored) {
  console.log(
    `\nafter upload: object ${(objectBytes / MIB).toFixed(1)} MiB; stream ${(stored.streamBytes / MIB).toFixed(1)} MiB in ${stored.messages} messages; store directory ${(stored.storeDirBytes / MIB).toFixed(1)} MiB`,
  );
}
console.log(`\nimage-transfer took ${seconds} s`);
if (args.json) {
  await writeResult(args.json, report);
  console.log(`wrote ${args.json}`);
}
