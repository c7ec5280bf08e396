// The floor under headroom's own cost: the pipeline's hand-offs with no work in them.
//
//   node --import tsx bench/handoffs/main.ts [--rounds 60] [--quick] [--json PATH]
//
// Three stage processes (stage.ts) make the NATS calls the validator, the composer and the
// launcher make between an apply request and the reserved event — the VMI's KV create and
// its accepted hand-off, the placement write and the plan hand-off, the Scheduled status,
// the event and the final status — on a real nats-server with headroom's streams and
// buckets, and nothing else: no parsing, validation, composition, plan check, host
// preparation or libvirt. Timed from the request to the event arriving here, as
// end-to-end's side A is. Rounds alternate between the calls alone and the calls plus the
// reads those services made on the way before this change set (the stored VMI in the
// validator and the composer, the stored VMI and status in the launcher), so the two sit
// side by side in one run.
import { loadavg } from "node:os";
import { CAPACITY_FILTER, connect, ensureBuckets, ensureStreams, toJetStream } from "@headroom/bus";
import { startNats, startService } from "@headroom/testing";
import { benchArgs, integer } from "../lib/args.ts";
import { describeMachine, finishMachine, machineLine, writeResult } from "../lib/machine.ts";
import { roundTo, summarize } from "../lib/stats.ts";
import { markdownTable } from "../lib/table.ts";
import { APPLY_SUBJECT, STAGES } from "./names.ts";

const args = benchArgs({
  script: "bench/handoffs/main.ts",
  json: "bench/results/handoffs.json",
  flags: { rounds: integer({ full: 60, quick: 8 }) },
});
const { rounds, json: jsonPath } = args;
const WARM_UP = 5;
// Between rounds, so one round's tail (acks, the last status write) is not in the next.
const PAUSE_MS = 30;
const VARIANTS = {
  calls: "the calls alone",
  reads: "the calls and the reads",
} as const;
type Variant = keyof typeof VARIANTS;

const machine = await describeMachine();
console.log(`handoffs on ${machineLine(machine)}`);
const nats = await startNats({ jetstream: true });
const stages = STAGES.map((stage) =>
  startService("bench/handoffs/stage.ts", { HEADROOM_NATS_URL: nats.url, HANDOFF_STAGE: stage }),
);
const nc = await connect({ name: "handoffs", servers: [nats.url] });
try {
  const js = toJetStream(nc);
  await ensureStreams(js);
  await ensureBuckets(js);
  await Promise.all(stages.map((stage) => stage.waitForLog(/stage ready/)));

  // Each round's event, by VMI name.
  const arrived = new Map<string, () => void>();
  nc.subscribe(CAPACITY_FILTER, {
    callback: (_error, msg) => arrived.get(msg.subject.split(".").at(-1) as string)?.(),
  });
  await nc.flush();

  const round = async (name: string): Promise<number> => {
    const event = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no event for ${name} in 10 s`)), 10_000);
      arrived.set(name, () => {
        clearTimeout(timer);
        resolve();
      });
    });
    const started = performance.now();
    await nc.request(APPLY_SUBJECT, new TextEncoder().encode(name), { timeout: 10_000 });
    await event;
    const ms = performance.now() - started;
    arrived.delete(name);
    await new Promise((resolve) => setTimeout(resolve, PAUSE_MS));
    return ms;
  };

  for (let i = 0; i < WARM_UP; i++) {
    await round(`warm-${i}`);
    await round(`reads-warm-${i}`);
  }
  const samples: Record<Variant, number[]> = { calls: [], reads: [] };
  let maxLoad1 = 0;
  for (let i = 0; i < rounds; i++) {
    // Which goes first alternates, so neither always follows the other.
    const order: Variant[] = i % 2 === 0 ? ["calls", "reads"] : ["reads", "calls"];
    for (const variant of order)
      samples[variant].push(await round(variant === "reads" ? `reads-${i}` : `calls-${i}`));
    maxLoad1 = Math.max(maxLoad1, loadavg()[0] ?? 0);
  }

  const calls = summarize(samples.calls, 2);
  const reads = summarize(samples.reads, 2);
  console.log(`\n${rounds} rounds each, alternating\n`);
  console.log(
    markdownTable(
      ["apply request → reserved event", "median ms", "p95 ms", "min–max ms"],
      (Object.keys(VARIANTS) as Variant[]).map((variant) => {
        const s = variant === "calls" ? calls : reads;
        return [
          VARIANTS[variant],
          s.median.toFixed(2),
          s.p95.toFixed(2),
          `${s.min.toFixed(2)}–${s.max.toFixed(2)}`,
        ];
      }),
    ),
  );
  console.log(
    `\nthe reads add ${roundTo(reads.median - calls.median, 2)} ms at the median; ` +
      `highest 1-minute load average: ${roundTo(maxLoad1, 2)}`,
  );
  if (jsonPath) {
    await writeResult(jsonPath, {
      benchmark: "handoffs",
      date: new Date().toISOString(),
      command: args.command,
      machine: finishMachine(machine),
      what: "apply request → reserved event through three processes making only the pipeline's NATS calls (KV create, accepted publish, placement put, plan publish, status put, event publish, status put, each consumed as the services do): the part of headroom's own cost that no parsing, validation, composition or host work is in",
      rounds,
      maxLoad1: roundTo(maxLoad1, 2),
      calls: {
        what: VARIANTS.calls,
        ms: calls,
        samplesMs: samples.calls.map((x) => roundTo(x, 2)),
      },
      reads: {
        what: `${VARIANTS.reads}: the stored VMI read in the validator and the composer, the stored VMI and status in the launcher`,
        ms: reads,
        samplesMs: samples.reads.map((x) => roundTo(x, 2)),
      },
    });
    console.log(`wrote ${jsonPath}`);
  }
} finally {
  await nc.close();
  await Promise.all(stages.map((stage) => stage.stop()));
  await nats.stop();
}
