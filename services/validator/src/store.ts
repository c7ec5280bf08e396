// One attempt at storing a checked manifest against the VMI read just before:
// create, update (compare-and-set on its revision) or nothing. A lost race
// throws (wrong last sequence); retryCompareAndSet reads and decides again.
import { randomUUID } from "node:crypto";
import { encode, type JetStreamClient, type KV, type Logger } from "@headroom/bus";
import { type IApplyReply, Outcome, Phase, VmiAccepted } from "@headroom/proto";
import { type CheckedManifest, planApply, type StoredVmi } from "./apply.ts";
import { acceptedReply, publishAccepted, readStatus, republishIfUnseen } from "./records.ts";

export interface StoreDeps {
  js: JetStreamClient;
  vmis: KV;
  status: KV;
  now: () => number;
  /**
   * Runs `create` unless the namespace's quota is used up; the refusal's
   * words then, else null.
   */
  createWithinQuota: (
    namespace: string,
    name: string,
    create: () => Promise<void>,
  ) => Promise<string | null>;
  /** Throws when the VMI bucket is too full to take new or changed VMIs (deletes still fit). */
  requireRoom: () => Promise<void>;
}

export async function storeOnce(
  deps: StoreDeps,
  checked: CheckedManifest & { ok: true },
  stored: StoredVmi | null,
  dryRun: boolean,
  log: Logger,
): Promise<IApplyReply> {
  const { js, vmis, status, now } = deps;
  const { key } = checked;
  const plan = planApply(checked, stored, { nowMs: now(), newUid: randomUUID });
  switch (plan.kind) {
    case "rejected":
      log.info({ key, errors: plan.errors.length }, "apply rejected");
      return { rejected: { errors: plan.errors } };
    case "unchanged": {
      const current = await readStatus(status, key, log);
      if (stored && current?.uid === plan.record.uid && current.phase === Phase.PHASE_FAILED) {
        // Applying a failed VMI again tries it again (say, after its image
        // was added), as a new generation of the same spec.
        const retry = {
          ...plan.record,
          generation: plan.record.generation + 1,
          acceptedUnixMs: now(),
        };
        if (dryRun) return acceptedReply(retry, Outcome.OUTCOME_UPDATED, true);
        await deps.requireRoom();
        await vmis.update(key, encode(VmiAccepted, retry), stored.revision);
        await publishAccepted(js, retry);
        log.info({ key, uid: retry.uid, generation: retry.generation }, "failed vmi retried");
        return acceptedReply(retry, Outcome.OUTCOME_UPDATED, false);
      }
      if (!dryRun) await republishIfUnseen(js, status, plan.record, log);
      return acceptedReply(plan.record, Outcome.OUTCOME_UNCHANGED, dryRun);
    }
    case "create": {
      // A dry run assigns no uid.
      if (dryRun) return acceptedReply({ ...plan.record, uid: "" }, Outcome.OUTCOME_CREATED, true);
      await deps.requireRoom();
      const full = await deps.createWithinQuota(checked.namespace, checked.name, async () => {
        await vmis.create(key, encode(VmiAccepted, plan.record));
      });
      if (full) {
        log.info({ key, reason: full }, "apply rejected: namespace quota");
        return { rejected: { errors: [{ field: "metadata.namespace", message: full }] } };
      }
      await publishAccepted(js, plan.record);
      log.info({ key, uid: plan.record.uid, generation: 1 }, "vmi created");
      return acceptedReply(plan.record, Outcome.OUTCOME_CREATED, false);
    }
    case "update":
      if (dryRun) return acceptedReply(plan.record, Outcome.OUTCOME_UPDATED, true);
      await deps.requireRoom();
      await vmis.update(key, encode(VmiAccepted, plan.record), plan.revision);
      await publishAccepted(js, plan.record);
      log.info({ key, uid: plan.record.uid, generation: plan.record.generation }, "vmi updated");
      return acceptedReply(plan.record, Outcome.OUTCOME_UPDATED, false);
  }
}
