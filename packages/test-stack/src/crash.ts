// The crash batch: on a whole stack (stack.ts) whose processes can be killed and restarted,
// runCrashBatch creates VMIs through the validator API while killing (SIGKILL) services at
// seeded random moments, then checks that every accepted VMI ends Running exactly once. Used
// by the launcher's crash test and by bench/crash/main.ts.
import { domainNameOf } from "@headroom/host-state";
import { CapacityEventType, Phase } from "@headroom/proto";
import { SERVICES, type ServiceName, type Stack } from "./stack.ts";

/** mulberry32: a small seeded generator, so a failing run can be replayed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export interface CrashBatchOptions {
  vmis: number;
  seed: number;
  /** Kill nothing more once this many kills were done (default 2 per VMI). */
  maxKills?: number;
  /** Wait between kills, drawn from [min, max] ms (default 500–2000). */
  killGapMs?: [number, number];
  /** Client i sends its first apply after i × this (default 2000 ms). */
  staggerMs?: number;
  /** How long the batch may take to settle after the last kill (default 150 s). */
  settleTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface VmiOutcome {
  name: string;
  requested: number;
  uid: string;
  applies: number;
  phase: string;
  problems: string[];
}

export interface CrashReport {
  seed: number;
  created: number;
  accepted: number;
  kills: Record<ServiceName, number>;
  restarts: number;
  applyRetries: number;
  /** Accepted VMIs that did not end Running exactly once, as planned. */
  lost: string[];
  problems: string[];
  outcomes: VmiOutcome[];
  seconds: number;
}

/** Requests 0–8 spread over the batch. */
export const requestOf = (index: number) => (index * 5) % 9;

export async function runCrashBatch(
  stack: Stack,
  options: CrashBatchOptions,
): Promise<CrashReport> {
  const started = Date.now();
  const log = options.log ?? (() => {});
  const random = seededRandom(options.seed);
  const maxKills = options.maxKills ?? options.vmis * 2;
  const [gapMin, gapMax] = options.killGapMs ?? [500, 2000];
  const kills: Record<ServiceName, number> = { validator: 0, "domain-composer": 0, launcher: 0 };
  let restarts = 0;
  let applyRetries = 0;
  const outcomes: VmiOutcome[] = [];
  let clientsDone = false;

  // Clients: apply, and apply again when no reply came, as a user re-runs `headroom apply`.
  const clients = Array.from({ length: options.vmis }, async (_, index) => {
    const name = `vmi-${index}`;
    const requested = requestOf(index);
    const outcome: VmiOutcome = { name, requested, uid: "", applies: 0, phase: "", problems: [] };
    outcomes.push(outcome);
    const manifest = await stack.seedManifest(name, { request: requested });
    await sleep(index * (options.staggerMs ?? 2000));
    const deadline = Date.now() + 120_000;
    for (;;) {
      outcome.applies++;
      try {
        const reply = await stack.apply(manifest, 5000);
        if (reply.accepted) {
          if (outcome.uid && outcome.uid !== reply.accepted.uid)
            outcome.problems.push(`uid changed from ${outcome.uid} to ${reply.accepted.uid}`);
          outcome.uid = reply.accepted.uid ?? "";
          return;
        }
        outcome.problems.push(`rejected: ${JSON.stringify(reply.toJSON())}`);
        return;
      } catch (error) {
        applyRetries++;
        if (Date.now() > deadline) {
          outcome.problems.push(`never accepted: ${String(error)}`);
          return;
        }
        await sleep(500);
      }
    }
  });

  const settledCount = async () => {
    let count = 0;
    for (const outcome of outcomes) {
      if (!outcome.uid) continue;
      const reply = await stack.get(outcome.name).catch(() => null);
      const phase = reply?.vmi?.status?.phase;
      if (phase === Phase.PHASE_RUNNING || phase === Phase.PHASE_FAILED) count++;
    }
    return count;
  };

  // Chaos: kill a random service at a random moment, restart it after a random pause.
  const chaos = (async () => {
    let done = 0;
    while (done < maxKills) {
      await sleep(gapMin + random() * (gapMax - gapMin));
      if (clientsDone && (await settledCount().catch(() => 0)) >= options.vmis) break;
      const victim = SERVICES[Math.floor(random() * SERVICES.length)] as ServiceName;
      const pause = Math.floor(random() * 1500);
      log(`kill ${victim} (restart in ${pause} ms)`);
      await stack.kill(victim);
      kills[victim]++;
      done++;
      await sleep(pause);
      await stack.start(victim);
      restarts++;
    }
  })();

  await Promise.all(clients);
  clientsDone = true;
  await chaos;
  log(`chaos over: ${JSON.stringify(kills)}; waiting for the batch to settle`);

  const problems: string[] = [];
  const deadline = Date.now() + (options.settleTimeoutMs ?? 150_000);
  for (const outcome of outcomes) {
    if (!outcome.uid) continue;
    for (;;) {
      const reply = await stack.get(outcome.name).catch(() => null);
      const status = reply?.vmi?.status;
      if (status?.phase === Phase.PHASE_RUNNING || status?.phase === Phase.PHASE_FAILED) {
        outcome.phase = Phase[status.phase] ?? String(status.phase);
        if (status.phase === Phase.PHASE_FAILED)
          outcome.problems.push(`failed: ${status.reason ?? ""}`);
        if (status.uid !== outcome.uid) outcome.problems.push(`status uid ${status.uid}`);
        break;
      }
      if (Date.now() > deadline) {
        outcome.phase = status ? (Phase[status.phase ?? 0] ?? "?") : "none";
        outcome.problems.push(`did not settle (phase ${outcome.phase})`);
        break;
      }
      await sleep(500);
    }
  }

  // Every accepted VMI: one domain, named and identified as planned, running,
  // without placeholders, with its room free, and one reserved event.
  const domains = await stack.domains();
  const events = await stack.capacityEventsByName();
  const expected = new Set(outcomes.map((o) => domainNameOf(stack.namespace, o.name)));
  for (const orphan of domains.filter((d) => !expected.has(d)))
    problems.push(`orphan domain ${orphan}`);
  for (const outcome of outcomes) {
    if (!outcome.uid) continue;
    const domainName = domainNameOf(stack.namespace, outcome.name);
    const found = domains.filter((d) => d === domainName).length;
    if (found !== 1) {
      outcome.problems.push(`${found} domains named ${domainName}`);
      continue;
    }
    const domain = await stack.conn.lookupByName(domainName);
    if (domain.uuid.toLowerCase() !== outcome.uid.toLowerCase())
      outcome.problems.push(`domain uuid ${domain.uuid}, vmi uid ${outcome.uid}`);
    if (!(await domain.isActive())) outcome.problems.push("domain not running");
    const inactive = await domain.getXmlDesc({ inactive: true });
    if (inactive.includes("placeholder-")) outcome.problems.push("domain still holds placeholders");
    const described = await stack.describe(outcome.name).catch(() => null);
    const free = described?.live?.capacity?.free ?? -1;
    const interfaces = 2;
    if (free < Math.max(0, outcome.requested - interfaces))
      outcome.problems.push(`free ${free} < ${Math.max(0, outcome.requested - interfaces)}`);
    const reserved = (events.get(outcome.name) ?? []).filter(
      (e) => e.type === CapacityEventType.CAPACITY_EVENT_TYPE_RESERVED && e.uid === outcome.uid,
    ).length;
    if (reserved !== 1) outcome.problems.push(`${reserved} reserved events`);
  }
  const lost = outcomes.filter((o) => o.uid && o.problems.length > 0).map((o) => o.name);
  for (const outcome of outcomes) {
    for (const problem of outcome.problems) problems.push(`${outcome.name}: ${problem}`);
  }
  outcomes.sort((a, b) => a.name.localeCompare(b.name, "en", { numeric: true }));
  return {
    seed: options.seed,
    created: outcomes.length,
    accepted: outcomes.filter((o) => o.uid).length,
    kills,
    restarts,
    applyRetries,
    lost,
    problems,
    outcomes,
    seconds: Math.round((Date.now() - started) / 1000),
  };
}
