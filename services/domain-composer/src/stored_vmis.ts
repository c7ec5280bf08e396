// Reading the VMI store, shared by composing (is this still the stored VMI?)
// and the network API (which VMIs use a network?).
import { type KV, readEntry } from "@headroom/bus";
import { VmiAccepted } from "@headroom/proto";

/** The stored VMI record, or null once deleted. */
export async function readStoredVmi(vmis: KV, key: string): Promise<VmiAccepted | null> {
  return (await readEntry(vmis, key, VmiAccepted))?.value ?? null;
}
