// The quota of VMIs per namespace, under the shipped NATS permissions: a
// create past it is refused naming metadata.namespace, and stores nothing;
// other namespaces and changes to stored VMIs go on; a deletion frees room;
// a validator started later counts what is already stored.
import { API_SUBJECTS, request } from "@headroom/bus";
import { DeleteReply, DeleteRequest, GetReply, GetRequest } from "@headroom/proto";
import { useStack } from "@headroom/test-stack/vitest";
import { startService } from "@headroom/testing";
import { describe, expect, it } from "vitest";

const stack = useStack({
  services: ["validator"],
  tinyGuest: false,
  seedNetwork: false,
  env: { HEADROOM_MAX_VMIS_PER_NAMESPACE: "3" },
});

async function applyIn(namespace: string, name: string, labels: Record<string, string> = {}) {
  const vmi = await stack.seedManifest(name);
  vmi.metadata.namespace = namespace;
  vmi.metadata.labels = labels;
  return stack.apply(vmi);
}

describe("the quota of VMIs per namespace", () => {
  it("refuses a create past it, naming the field; everything else goes on", async () => {
    for (const name of ["a", "b", "c"])
      expect((await applyIn("small", name)).accepted?.uid).toBeTruthy();

    const refused = await applyIn("small", "d");
    expect(refused.accepted ?? null).toBeNull();
    expect(refused.rejected?.errors).toEqual([
      {
        field: "metadata.namespace",
        message:
          'namespace "small" already holds 3 VMIs, the most one may hold (HEADROOM_MAX_VMIS_PER_NAMESPACE); delete one first',
      },
    ]);
    expect(await foundIn("small", "d")).toBe(false);

    expect((await applyIn("other", "d")).accepted?.uid).toBeTruthy();
    // A change to a stored VMI is no create.
    const relabelled = await applyIn("small", "a", { tier: "web" });
    expect(Number(relabelled.accepted?.generation)).toBe(2);
  });

  it("holds when creates race: of ten at once into the last place, one is created", async () => {
    for (const name of ["r1", "r2"])
      expect((await applyIn("race", name)).accepted?.uid).toBeTruthy();
    const replies = await Promise.all(
      Array.from({ length: 10 }, (_, i) => applyIn("race", `late-${i}`)),
    );
    expect(replies.filter((reply) => reply.accepted?.uid).length).toBe(1);
    expect(
      replies.filter((reply) => reply.rejected?.errors?.[0]?.field === "metadata.namespace").length,
    ).toBe(9);
  });

  it("takes a new VMI once one is deleted", async () => {
    expect(await deleteIn("small", "b")).toBe(true);
    await expect
      .poll(async () => Boolean((await applyIn("small", "e")).accepted?.uid), { timeout: 5_000 })
      .toBe(true);
  });

  it("is counted from what is stored by a validator started later", async () => {
    await stack.kill("validator");
    await stack.start("validator");
    expect((await applyIn("small", "f")).rejected?.errors?.[0]?.field).toBe("metadata.namespace");
  });

  it("must be a whole number: a validator given another value says so and stops", async () => {
    const validator = startService("services/validator/src/main.ts", {
      ...stack.clientEnv,
      HEADROOM_MAX_VMIS_PER_NAMESPACE: "lots",
    });
    expect(await validator.exited).toBe(1);
    expect(validator.logs()).toContain(
      'HEADROOM_MAX_VMIS_PER_NAMESPACE is \\"lots\\"; it must be a whole number (0 for no limit)',
    );
  });
});

async function deleteIn(namespace: string, name: string): Promise<boolean> {
  const ask = { namespace, name };
  return (await request(stack.nc, API_SUBJECTS.delete, DeleteRequest, ask, DeleteReply)).deleted;
}

async function foundIn(namespace: string, name: string): Promise<boolean> {
  const ask = { namespace, name };
  return (await request(stack.nc, API_SUBJECTS.get, GetRequest, ask, GetReply)).found;
}
