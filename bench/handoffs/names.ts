// What the hand-off skeleton's stages (stage.ts) and its driver (main.ts) agree on.
export const HANDOFF_NODE = "handoffs";
export const APPLY_SUBJECT = "handoffs.apply";
export const NAMESPACE = "handoffs";
export const STAGES = ["validator", "composer", "launcher"] as const;

/** Whether a VMI's round makes the reads too: its name says so. */
export const withReads = (name: string) => name.startsWith("reads-");
