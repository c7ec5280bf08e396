// One stage of the hand-off skeleton (see main.ts), as its own process:
//
//   HANDOFF_STAGE=validator|composer|launcher node --import tsx bench/handoffs/stage.ts
//
// It makes the NATS calls its service makes on the way from apply to the reserved event,
// in the same order, on headroom's streams and buckets, and nothing else. For a VMI whose
// name starts with "reads-" it also makes the reads those services made on the way.
import {
  acceptedSubject,
  capacitySubject,
  connect,
  consume,
  DURABLES,
  ensureBuckets,
  hostWorkDurable,
  hostWorkFilter,
  hostWorkSubject,
  PIPELINE_FILTERS,
  parseStoreKey,
  STREAMS,
  storeKey,
  toJetStream,
} from "@headroom/bus";
import { APPLY_SUBJECT, HANDOFF_NODE, NAMESPACE, withReads } from "./names.ts";

// Sizes like the seed VMI's: its stored record, its plan, its status and event.
const RECORD = new Uint8Array(2_500).fill(0x61);
const PLAN = new Uint8Array(9_000).fill(0x62);
const SMALL = new Uint8Array(300).fill(0x63);

// startService passes no arguments: the stage comes in the environment.
const { env } = process;
const role = env.HANDOFF_STAGE;
const nc = await connect({ name: `handoffs-${role}` });
const js = toJetStream(nc);
const buckets = await ensureBuckets(js);

if (role === "validator") {
  nc.subscribe(APPLY_SUBJECT, {
    callback: (_error, msg) => {
      const name = new TextDecoder().decode(msg.data);
      const key = storeKey(NAMESPACE, name);
      void (async () => {
        if (withReads(name)) await buckets.vmis.get(key);
        await buckets.vmis.create(key, RECORD);
        await js.publish(acceptedSubject(NAMESPACE, name), RECORD, { msgID: `accepted-${key}` });
        msg.respond(SMALL);
      })().catch((error: unknown) => console.error(`${name}: ${String(error)}`));
    },
  });
} else if (role === "composer") {
  await consume(
    js,
    STREAMS.pipeline,
    DURABLES.composerAccepted,
    PIPELINE_FILTERS.accepted,
    async (msg) => {
      const name = msg.subject.split(".").at(-1) as string;
      const key = storeKey(NAMESPACE, name);
      if (withReads(name)) await buckets.vmis.get(key);
      await buckets.placements.put(key, SMALL);
      await js.publish(hostWorkSubject(HANDOFF_NODE, "plan", NAMESPACE, name), PLAN, {
        msgID: `plan-${key}`,
      });
    },
  );
} else if (role === "launcher") {
  await consume(
    js,
    STREAMS.hostWork,
    hostWorkDurable(HANDOFF_NODE),
    hostWorkFilter(HANDOFF_NODE),
    async (msg) => {
      const { name } = parseStoreKey(msg.subject.split(".").slice(-2).join("."));
      const key = storeKey(NAMESPACE, name);
      if (withReads(name)) await Promise.all([buckets.vmis.get(key), buckets.status.get(key)]);
      // The Scheduled status is written beside the launch; the launch itself is left out.
      await buckets.status.put(key, SMALL);
      await js.publish(capacitySubject(NAMESPACE, name), SMALL);
      await buckets.status.put(key, SMALL);
    },
  );
} else {
  console.error(`HANDOFF_STAGE must be validator, composer or launcher (got ${role})`);
  process.exit(2);
}
console.log(`${role} stage ready`);
process.on("SIGTERM", () => void nc.close().then(() => process.exit(0)));
