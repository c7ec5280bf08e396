// Memory of the libvirt binding over many define/undefine round trips.
//
//   node --import tsx bench/libvirt-memory/main.ts [--rounds 10000] [--uri qemu:///system] [--no-free]
//
// Each round defines a tiny domain, undefines it and frees the handle (with
// --no-free, leaves that to the garbage collector's finalizers), while a
// listener receives the lifecycle events (defined, undefined) of every round.
// Prints the process's RSS and V8 heap (after a forced GC) before, at every
// tenth of the run and after, as one JSON document and a readable line; also
// libvirtd's RSS when its pid file is readable. A leak per call shows as RSS
// growing with the rounds; a steady RSS after warm-up means none.
import { readFileSync } from "node:fs";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { Connection } from "@headroom/libvirt";
import { DOMImplementation, type Element, XMLSerializer } from "@xmldom/xmldom";
import { benchArgs, integer, text, toggle } from "../lib/args.ts";

const args = benchArgs({
  script: "bench/libvirt-memory/main.ts",
  quick: false,
  flags: {
    rounds: integer(10_000),
    uri: text("qemu:///system"),
    "no-free": toggle(),
  },
});

const { rounds } = args;

setFlagsFromString("--expose-gc");
const collectGarbage = runInNewContext("gc") as () => void;

function domainXml(name: string): string {
  const doc = new DOMImplementation().createDocument(null, "domain", null);
  const root = doc.documentElement as Element;
  root.setAttribute("type", "qemu");
  const add = (
    parent: Element,
    tag: string,
    text?: string,
    attributes: Record<string, string> = {},
  ) => {
    const element = doc.createElement(tag);
    for (const [key, value] of Object.entries(attributes)) element.setAttribute(key, value);
    if (text !== undefined) element.appendChild(doc.createTextNode(text));
    parent.appendChild(element);
    return element;
  };
  add(root, "name", name);
  add(root, "memory", "64", { unit: "MiB" });
  add(root, "vcpu", "1");
  add(add(root, "os"), "type", "hvm", { arch: "x86_64", machine: "q35" });
  add(add(root, "devices"), "emulator", "/usr/bin/qemu-system-x86_64");
  return new XMLSerializer().serializeToString(doc);
}

function libvirtdRssKiB(): number | undefined {
  try {
    const pid = readFileSync("/run/libvirtd.pid", "utf8").trim();
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match === null ? undefined : Number(match[1]);
  } catch {
    return undefined;
  }
}

interface Sample {
  round: number;
  rssMiB: number;
  heapUsedMiB: number;
  externalMiB: number;
  libvirtdRssMiB?: number;
  events: number;
}

const mib = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;
let events = 0;

function sample(round: number): Sample {
  collectGarbage();
  const usage = process.memoryUsage();
  const daemon = libvirtdRssKiB();
  return {
    round,
    rssMiB: mib(usage.rss),
    heapUsedMiB: mib(usage.heapUsed),
    externalMiB: mib(usage.external),
    ...(daemon === undefined ? {} : { libvirtdRssMiB: Math.round((daemon / 1024) * 10) / 10 }),
    events,
  };
}

const name = `hrtest-lv-bench-${process.pid}`;
const xml = domainXml(name);
const connection = await Connection.open(args.uri);
const unsubscribe = await connection.onDomainEvent(
  (event) => {
    if (event.domain.name === name) events++;
  },
  { kinds: ["lifecycle"] },
);

async function roundTrip(): Promise<void> {
  const domain = await connection.defineXml(xml);
  try {
    await domain.undefine();
  } finally {
    if (!args["no-free"]) domain.free();
  }
}

const samples: Sample[] = [];
const started = performance.now();
try {
  // Warm-up: first calls load libvirt's and V8's lazily built parts.
  for (let i = 0; i < 50; i++) await roundTrip();
  samples.push(sample(0));
  const every = Math.max(1, Math.floor(rounds / 10));
  for (let round = 1; round <= rounds; round++) {
    await roundTrip();
    if (round % every === 0 || round === rounds) samples.push(sample(round));
  }
} finally {
  const leftover = await connection.findDomain(name);
  if (leftover !== undefined) await leftover.undefine();
  await unsubscribe();
  await connection.close();
}
const seconds = (performance.now() - started) / 1000;
// Give the last events a moment to arrive before the final count.
await new Promise((resolve) => setTimeout(resolve, 200));
samples.push({ ...sample(rounds), round: rounds });

const first = samples[0] as Sample;
const last = samples.at(-1) as Sample;
const report = {
  benchmark: "libvirt-memory",
  uri: args.uri,
  rounds,
  handlesFreedBy: args["no-free"] ? "garbage collection" : "free()",
  seconds: Math.round(seconds * 10) / 10,
  roundTripsPerSecond: Math.round(rounds / seconds),
  eventsReceived: events,
  rssGrowthMiB: Math.round((last.rssMiB - first.rssMiB) * 10) / 10,
  heapGrowthMiB: Math.round((last.heapUsedMiB - first.heapUsedMiB) * 10) / 10,
  samples,
};
console.log(JSON.stringify(report, null, 2));
console.log(
  `libvirt-memory: ${rounds} define/undefine round trips in ${report.seconds} s; ` +
    `RSS ${first.rssMiB} → ${last.rssMiB} MiB (${report.rssGrowthMiB >= 0 ? "+" : ""}${report.rssGrowthMiB}), ` +
    `heap ${first.heapUsedMiB} → ${last.heapUsedMiB} MiB, ${events} lifecycle events received` +
    (first.libvirtdRssMiB === undefined
      ? ""
      : `; libvirtd RSS ${first.libvirtdRssMiB} → ${last.libvirtdRssMiB} MiB`),
);
