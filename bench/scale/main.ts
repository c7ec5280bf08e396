// Scale of one host: many domains defined with their room, none started.
//
//   node --import tsx bench/scale/main.ts [--domains 500] [--bucket 50] [--quick] [--json PATH]
//
// Defines --domains domains shaped like the seed's VMI (q35, one NIC, reserved capacity 8)
// one after another with launchDomain({ start: false }) — the launcher's define → read back
// → add placeholders → define → read back → strip → protect → define sequence, without the
// start — and reports how the time per domain grows with the number already defined (median
// and p95 per bucket), this process's RSS and libvirtd's RSS every 100 domains, and how long
// listing every domain and looking one up by name take there. Every domain is undefined at
// the end (timed), also on failure and Ctrl-C. Domains are named hrbench-scale-<pid>-….
import { randomUUID } from "node:crypto";
import { loadavg } from "node:os";
import { launchDomain, removeDomain } from "@headroom/domain-manager";
import { composeDomain } from "@headroom/domain-xml";
import type { Connection } from "@headroom/libvirt";
import { benchArgs, integer } from "../lib/args.ts";
import { withBenchHost } from "../lib/guest.ts";
import { describeMachine, finishMachine, machineLine, writeResult } from "../lib/machine.ts";
import { libvirtdPid, rssKiB } from "../lib/proc.ts";
import { roundTo, type Summary, summarize } from "../lib/stats.ts";
import { markdownTable } from "../lib/table.ts";

const args = benchArgs({
  script: "bench/scale/main.ts",
  json: "bench/results/scale.json",
  flags: {
    domains: integer({ full: 500, quick: 100 }),
    bucket: integer({ full: 50, quick: 25 }),
  },
});

const { quick, domains: total, bucket, json: jsonPath } = args;
const checkpointEvery = quick ? 50 : 100;

const CAPACITY = 8;
const NICS = 1;
const PLACEHOLDERS = CAPACITY - NICS;
const MiB = 1024;

/** Median ms of `rounds` calls of `work`. */
async function timeCalls(work: () => Promise<unknown>, rounds: number): Promise<number> {
  const times: number[] = [];
  for (let i = 0; i < rounds; i++) {
    const started = performance.now();
    await work();
    times.push(performance.now() - started);
  }
  return summarize(times, 2).median;
}

interface Checkpoint {
  defined: number;
  /** Every domain of the host, ours and others'. */
  domainsOnHost: number;
  processRssMiB: number;
  processHeapMiB: number;
  libvirtdRssMiB: number | undefined;
  listAllMs: number;
  lookupMs: number | undefined;
}

async function checkpoint(conn: Connection, names: string[]): Promise<Checkpoint> {
  const daemon = libvirtdPid();
  const daemonRss = daemon ? rssKiB(daemon) : undefined;
  const all = await conn.listDomainNames();
  const probe = names[Math.floor(names.length / 2)];
  const memory = process.memoryUsage();
  return {
    defined: names.length,
    domainsOnHost: all.length,
    processRssMiB: roundTo(memory.rss / 1024 / MiB, 1),
    processHeapMiB: roundTo(memory.heapUsed / 1024 / MiB, 1),
    libvirtdRssMiB: daemonRss === undefined ? undefined : roundTo(daemonRss / MiB, 1),
    listAllMs: await timeCalls(() => conn.listDomainNames(), 10),
    lookupMs:
      probe === undefined
        ? undefined
        : await timeCalls(async () => (await conn.lookupByName(probe)).free(), 20),
  };
}

const wallStarted = performance.now();
const result = await withBenchHost(
  "scale",
  async (host) => {
    const machine = await describeMachine(host.conn);
    console.log(`scale on ${machineLine(machine)}`);
    const spec = await host.seedLikeSpec("q35", NICS);
    const names: string[] = [];
    const defineMs: number[] = [];
    const checkpoints: Checkpoint[] = [await checkpoint(host.conn, names)];
    let controllersAdded = 0;
    let freeSlots = 0;
    let maxLoad1 = loadavg()[0] ?? 0;
    for (let i = 0; i < total; i++) {
      const name = `${host.namePrefix}d${i}`;
      const uuid = randomUUID();
      const baseXml = composeDomain({ ...spec, name, uuid, title: `bench/${name}` });
      names.push(name);
      const started = performance.now();
      const defined = await launchDomain(host.conn, {
        domainName: name,
        ownerUid: uuid,
        baseXml,
        placeholders: PLACEHOLDERS,
        placeholderModel: "virtio-non-transitional",
        start: false,
      });
      defineMs.push(performance.now() - started);
      controllersAdded = defined.controllersAdded;
      freeSlots = defined.freeSlots.length;
      defined.domain.free();
      if ((i + 1) % checkpointEvery === 0 || i + 1 === total) {
        checkpoints.push(await checkpoint(host.conn, names));
        maxLoad1 = Math.max(maxLoad1, loadavg()[0] ?? 0);
        const last = checkpoints.at(-1) as Checkpoint;
        console.log(
          `${i + 1} defined: last ${checkpointEvery} median ` +
            `${summarize(defineMs.slice(-checkpointEvery), 1).median} ms; ` +
            `process ${last.processRssMiB} MiB, libvirtd ${last.libvirtdRssMiB} MiB, ` +
            `list ${last.listAllMs} ms, lookup ${last.lookupMs} ms`,
        );
      }
    }
    // Undefine them all, timed; the host's clean-up catches anything left.
    const undefineStarted = performance.now();
    for (const name of names) {
      const domain = await host.conn.findDomain(name);
      if (domain) await removeDomain(domain);
    }
    const undefineSeconds = (performance.now() - undefineStarted) / 1000;
    const afterUndefine = await checkpoint(host.conn, []);
    await host.remove(spec.name);
    return {
      machine: finishMachine(machine),
      defineMs,
      checkpoints,
      afterUndefine,
      undefineSeconds,
      controllersAdded,
      freeSlots,
      maxLoad1,
    };
  },
  { virtType: "qemu" },
);

const buckets: (Summary & { from: number; to: number })[] = [];
for (let from = 0; from < result.defineMs.length; from += bucket) {
  const slice = result.defineMs.slice(from, from + bucket);
  buckets.push({ from: from + 1, to: from + slice.length, ...summarize(slice, 1) });
}
const first = buckets[0] as Summary;
const lastBucket = buckets.at(-1) as Summary;
const seconds = roundTo((performance.now() - wallStarted) / 1000, 1);
/** RSS growth per defined domain from the first checkpoint to the last, KiB. */
function perDomainKiB(pick: (c: Checkpoint) => number | undefined): number | undefined {
  const start = pick(result.checkpoints[0] as Checkpoint);
  const end = pick(result.checkpoints.at(-1) as Checkpoint);
  if (start === undefined || end === undefined) return undefined;
  return roundTo(((end - start) * 1024) / total, 1);
}
const report = {
  benchmark: "scale",
  date: new Date().toISOString(),
  command: args.command,
  machine: result.machine,
  domain: `q35, 128 MiB, 1 vCPU, ${NICS} user NIC, virtio disk, rng, serial console; reserved capacity ${CAPACITY} (${PLACEHOLDERS} placeholders, ${result.controllersAdded} controllers added, ${result.freeSlots} free slots); defined, never started`,
  what: "launchDomain({ start: false }): existence check, define, read back, add placeholders, define, read back, strip, protect, define, read back",
  domains: total,
  seconds,
  maxLoad1: roundTo(result.maxLoad1, 2),
  defineMsByBucket: buckets,
  growth: {
    what: "median ms per domain, last bucket against the first",
    first: first.median,
    last: lastBucket.median,
    ratio: roundTo(lastBucket.median / first.median, 2),
  },
  checkpoints: result.checkpoints,
  libvirtdKiBPerDomain: perDomainKiB((c) => c.libvirtdRssMiB),
  processKiBPerDomain: perDomainKiB((c) => c.processRssMiB),
  undefineAll: {
    seconds: roundTo(result.undefineSeconds, 1),
    perDomainMs: roundTo((result.undefineSeconds * 1000) / total, 1),
    after: result.afterUndefine,
  },
};

console.log(
  `\n${total} domains defined (not started), q35, capacity ${CAPACITY}: ` +
    `${result.controllersAdded} root ports added and ${result.freeSlots} free slots each\n`,
);
console.log(
  markdownTable(
    ["domains already defined", "ms per domain, median", "p95", "min–max"],
    buckets.map((b) => [
      `${b.from - 1}–${b.to - 1}`,
      b.median.toFixed(1),
      b.p95.toFixed(1),
      `${b.min.toFixed(1)}–${b.max.toFixed(1)}`,
    ]),
  ),
);
console.log("");
console.log(
  markdownTable(
    [
      "defined",
      "domains on host",
      "this process RSS MiB (heap)",
      "libvirtd RSS MiB",
      "list all ms",
      "lookup by name ms",
    ],
    [...result.checkpoints, { ...result.afterUndefine, defined: -1 }].map((c) => [
      c.defined < 0 ? "after undefining" : String(c.defined),
      String(c.domainsOnHost),
      `${c.processRssMiB} (${c.processHeapMiB})`,
      String(c.libvirtdRssMiB ?? "?"),
      c.listAllMs.toFixed(2),
      c.lookupMs === undefined ? "—" : c.lookupMs.toFixed(2),
    ]),
  ),
);
console.log(
  `\nRSS per defined domain: libvirtd ${report.libvirtdKiBPerDomain} KiB, this process ${report.processKiBPerDomain} KiB`,
);
console.log(
  `undefining all ${total}: ${report.undefineAll.seconds} s (${report.undefineAll.perDomainMs} ms each)`,
);
console.log(`scale took ${seconds} s`);
if (jsonPath) {
  await writeResult(jsonPath, report);
  console.log(`wrote ${jsonPath}`);
}
