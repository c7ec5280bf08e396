// Validation through NATS request/reply: how many apply requests one validator process
// answers per second, and two in the same queue group, at a few requests in flight.
//
//   node --import tsx bench/validation-nats/main.ts [--inflight 1,8,32] [--seconds 2]
//     [--rounds 3] [--quick] [--json PATH]
//
// The request is a dry-run apply of the seed example (examples/vmi-seed.yaml) under a name
// that is not stored: the validator parses the manifest JSON, validates it (JSON Schema,
// rules, normalization), reads the VMI bucket once (a miss) and replies "would be created";
// nothing is stored or published. That is the whole check an apply makes before it writes.
// One client process (this one) keeps N requests in flight on one NATS connection; a real
// nats-server and the validator processes run beside it. Each level is warmed up, then timed
// in rounds; the validators' own processing time comes from their $SRV.STATS.
import { dirname } from "node:path";
import { API_SUBJECTS, decode, encode, SERVICE_NAMES } from "@headroom/bus";
import { ApplyReply, ApplyRequest, Outcome } from "@headroom/proto";
import { type Stack, startStack } from "@headroom/test-stack";
import { benchArgs, integer, integers, positive } from "../lib/args.ts";
import { describeMachine, finishMachine, machineLine, writeResult } from "../lib/machine.ts";
import { cpuSeconds, pidsMatching } from "../lib/proc.ts";
import { roundTo, summarize } from "../lib/stats.ts";
import { markdownTable } from "../lib/table.ts";

const args = benchArgs({
  script: "bench/validation-nats/main.ts",
  json: "bench/results/validation-nats.json",
  flags: {
    inflight: integers([1, 8, 32]),
    seconds: positive({ full: 2, quick: 0.5 }),
    rounds: integer({ full: 3, quick: 2 }),
  },
});

const { quick, inflight: levels, seconds: roundSeconds, rounds, json: jsonPath } = args;
const WARM_UP_SECONDS = quick ? 0.3 : 1;
const REPLICAS = [1, 2];

interface EndpointStats {
  name: string;
  num_requests: number;
  processing_time: number;
}
interface ServiceStats {
  id: string;
  endpoints: EndpointStats[];
}

/** Apply-endpoint requests and processing time (ns) per validator instance, from $SRV.STATS. */
async function applyStats(stack: Stack): Promise<Map<string, { requests: number; ns: number }>> {
  const stats = new Map<string, { requests: number; ns: number }>();
  const replies = await stack.nc.requestMany(`$SRV.STATS.${SERVICE_NAMES.validator}`, undefined, {
    maxWait: 500,
  });
  for await (const msg of replies) {
    const body = JSON.parse(new TextDecoder().decode(msg.data)) as ServiceStats;
    const apply = body.endpoints.find((e) => e.name === "apply");
    if (apply) stats.set(body.id, { requests: apply.num_requests, ns: apply.processing_time });
  }
  return stats;
}

/** Keeps `inflight` requests going for `seconds`; every reply is checked. */
async function drive(stack: Stack, payload: Uint8Array, inflight: number, seconds: number) {
  const latencies: number[] = [];
  const started = performance.now();
  const until = started + seconds * 1000;
  const worker = async () => {
    while (performance.now() < until) {
      const sent = performance.now();
      const msg = await stack.nc.request(API_SUBJECTS.apply, payload, { timeout: 10_000 });
      latencies.push(performance.now() - sent);
      if (msg.headers?.get("Nats-Service-Error-Code"))
        throw new Error(`error reply: ${msg.headers.get("Nats-Service-Error")}`);
      const reply = decode(ApplyReply, msg.data);
      if (!reply.accepted?.dryRun) throw new Error(`unexpected reply ${JSON.stringify(reply)}`);
    }
  };
  await Promise.all(Array.from({ length: inflight }, worker));
  return { latencies, seconds: (performance.now() - started) / 1000 };
}

const machine = await describeMachine();
console.log(`validation-nats on ${machineLine(machine)}`);
const wallStarted = performance.now();
// No logins, as the recorded results ran; the nats-server is found by its config's directory.
const stack = await startStack({
  namespace: "bench-validation",
  services: ["validator"],
  logins: false,
});
let stopping = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    void stack.stop().finally(() => process.exit(signal === "SIGINT" ? 130 : 143));
  });
}

interface Level {
  validators: number;
  inflight: number;
  requestsPerSecond: ReturnType<typeof summarize>;
  latencyMs: ReturnType<typeof summarize>;
  /** Mean time inside the validators' apply handler per request, µs ($SRV.STATS). */
  serviceMicroseconds: number;
  /** Share of the requests each validator answered. */
  shares: number[];
  /** CPU used per wall second, percent of one core. */
  cpuPercent: { validators: number[]; natsServer: number; client: number };
}
const results: Level[] = [];

try {
  const manifest = await stack.seedManifest("validation-probe", { request: 8 });
  const payload = encode(ApplyRequest, { manifestJson: JSON.stringify(manifest), dryRun: true });
  const check = decode(
    ApplyReply,
    (await stack.nc.request(API_SUBJECTS.apply, payload, { timeout: 10_000 })).data,
  );
  if (check.accepted?.outcome !== Outcome.OUTCOME_CREATED || !check.accepted.dryRun)
    throw new Error(`the probe does not validate as a dry-run create: ${JSON.stringify(check)}`);
  const natsDir = dirname(stack.nats.storeDir);
  const natsPid = pidsMatching(new RegExp(`nats-server .*${natsDir.replaceAll(".", "\\.")}`))[0];

  for (const validators of REPLICAS) {
    if (validators > stack.processes("validator").length) {
      await stack.start("validator");
      console.log(`\nstarted validator replica ${validators}`);
    }
    const pids = stack.processes("validator").map((p) => p.pid);
    for (const inflight of levels) {
      await drive(stack, payload, inflight, WARM_UP_SECONDS);
      const before = await applyStats(stack);
      const cpuBefore = {
        validators: pids.map(cpuSeconds),
        nats: natsPid ? cpuSeconds(natsPid) : 0,
        client: process.cpuUsage(),
      };
      const perSecond: number[] = [];
      const latencies: number[] = [];
      const measuredFrom = performance.now();
      for (let r = 0; r < rounds; r++) {
        const round = await drive(stack, payload, inflight, roundSeconds);
        perSecond.push(round.latencies.length / round.seconds);
        latencies.push(...round.latencies);
      }
      const wall = (performance.now() - measuredFrom) / 1000;
      const after = await applyStats(stack);
      const client = process.cpuUsage(cpuBefore.client);
      const deltas = [...after].map(([id, s]) => ({
        requests: s.requests - (before.get(id)?.requests ?? 0),
        ns: s.ns - (before.get(id)?.ns ?? 0),
      }));
      const served = deltas.reduce((sum, d) => sum + d.requests, 0);
      const level: Level = {
        validators,
        inflight,
        requestsPerSecond: summarize(perSecond, 0),
        latencyMs: summarize(latencies, 3),
        serviceMicroseconds: roundTo(
          deltas.reduce((sum, d) => sum + d.ns, 0) / 1000 / Math.max(1, served),
          1,
        ),
        shares: deltas.map((d) => roundTo(d.requests / Math.max(1, served), 2)),
        cpuPercent: {
          validators: pids.map((pid, i) =>
            roundTo(((cpuSeconds(pid) - (cpuBefore.validators[i] as number)) / wall) * 100, 0),
          ),
          natsServer: natsPid
            ? roundTo(((cpuSeconds(natsPid) - cpuBefore.nats) / wall) * 100, 0)
            : Number.NaN,
          client: roundTo(((client.user + client.system) / 1e6 / wall) * 100, 0),
        },
      };
      results.push(level);
      console.log(
        `${validators} validator(s), ${inflight} in flight: ` +
          `${level.requestsPerSecond.median.toLocaleString("en-US")} req/s, ` +
          `latency median ${level.latencyMs.median} ms, p95 ${level.latencyMs.p95} ms`,
      );
    }
  }
} finally {
  if (!stopping) await stack.stop();
}

const seconds = roundTo((performance.now() - wallStarted) / 1000, 1);
const report = {
  benchmark: "validation-nats",
  date: new Date().toISOString(),
  command: args.command,
  machine: finishMachine(machine),
  request:
    "ApplyRequest dry_run of examples/vmi-seed.yaml (kubevirt.io/interface 8) under a name not stored: parse, validateVmi, one KV get (miss), reply; nothing stored or published",
  setup:
    "one nats-server, 1 then 2 validator processes (queue group headroom), one client process with N requests in flight on one connection; all on the same 2 cores",
  warmUpSeconds: WARM_UP_SECONDS,
  rounds,
  roundSeconds,
  seconds,
  levels: results,
};

console.log(`\nvalidation over NATS request/reply, ${machine.cores} cores for everything\n`);
console.log(
  markdownTable(
    [
      "validators",
      "in flight",
      "requests/s (min–max)",
      "latency median ms",
      "p95 ms",
      "in validator µs",
      "share per validator",
      "CPU % validators / nats / client",
    ],
    results.map((l) => [
      String(l.validators),
      String(l.inflight),
      `${l.requestsPerSecond.median.toLocaleString("en-US")} (${l.requestsPerSecond.min.toLocaleString("en-US")}–${l.requestsPerSecond.max.toLocaleString("en-US")})`,
      l.latencyMs.median.toFixed(2),
      l.latencyMs.p95.toFixed(2),
      l.serviceMicroseconds.toFixed(0),
      l.shares.map((s) => `${Math.round(s * 100)} %`).join(" / "),
      `${l.cpuPercent.validators.join(" + ")} / ${l.cpuPercent.natsServer} / ${l.cpuPercent.client}`,
    ]),
  ),
);
console.log(`\nvalidation-nats took ${seconds} s`);
if (jsonPath) {
  await writeResult(jsonPath, report);
  console.log(`wrote ${jsonPath}`);
}
