// Listing VMIs in pages, under the shipped NATS permissions: 1,500 VMIs whose
// records add up to more than nats-server's 2 MB payload limit come back,
// each once and in order, through continue tokens, no reply over the page
// size. (In one reply, as before, the list failed past about 1,000 VMIs.)
import {
  API_SUBJECTS,
  ApiError,
  connect,
  encode,
  ensureBuckets,
  request,
  storeKey,
} from "@headroom/bus";
import { ListReply, ListRequest, VmiAccepted } from "@headroom/proto";
import { useStack } from "@headroom/test-stack/vitest";
import { beforeAll, describe, expect, it } from "vitest";
import { keysAfter, MAX_PAGE_BYTES, MAX_PAGE_VMIS, pageLimit } from "../src/list_page.ts";

const stack = useStack({ services: ["validator"], tinyGuest: false, seedNetwork: false });
const MANY = 1_500;
const NAMESPACES = ["paged-a", "paged-b"];

/** Records as the validator stores them, each with a 2 KB manifest, written straight to KV. */
beforeAll(async () => {
  const seed = stack.credentials?.validator;
  if (!seed) throw new Error("the stack runs without logins");
  const validator = await connect({
    name: "list-seeder",
    servers: stack.natsUrl,
    user: "validator",
    seed,
  });
  try {
    const { vmis } = await ensureBuckets(validator);
    const padding = "x".repeat(2_000);
    for (let i = 0; i < MANY; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, MANY - i) }, (_, j) => {
          const n = i + j;
          const namespace = NAMESPACES[n % 2] as string;
          const name = `vm-${n}`;
          // Every third VMI is labelled tier=gold.
          const labels = n % 3 === 0 ? { tier: "gold" } : { tier: "plain" };
          const manifestJson = JSON.stringify({ metadata: { namespace, name, labels }, padding });
          const record = { namespace, name, uid: `uid-${n}`, generation: 1, manifestJson };
          return vmis.put(storeKey(namespace, name), encode(VmiAccepted, record));
        }),
      );
    }
  } finally {
    await validator.close();
  }
}, 120_000);

async function listAll(namespace: string, limit = 0, labelSelector = "") {
  const names: string[] = [];
  const replies: number[] = [];
  let continueToken = "";
  do {
    const reply = await request(
      stack.nc,
      API_SUBJECTS.list,
      ListRequest,
      { namespace, limit, continueToken, labelSelector },
      ListReply,
    );
    replies.push(ListReply.encode(reply).finish().length);
    names.push(...reply.vmis.map((vmi) => `${vmi.namespace}/${vmi.name}`));
    continueToken = reply.continueToken;
  } while (continueToken !== "" && replies.length < 100);
  return { names, replies };
}

function sorted(names: string[]): string[] {
  return [...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

describe("listing VMIs in pages", () => {
  it("returns every VMI once, in order, in replies no bigger than a page", async () => {
    const { names, replies } = await listAll("");
    expect(names).toHaveLength(MANY);
    expect(new Set(names).size).toBe(MANY);
    expect(names).toEqual(sorted(names));
    // 3 MB of records cannot be one reply.
    expect(replies.length).toBeGreaterThan(2);
    for (const size of replies) expect(size).toBeLessThanOrEqual(MAX_PAGE_BYTES + 64 * 1024);
  });

  it("keeps to one namespace and to the limit asked for", async () => {
    const { names, replies } = await listAll("paged-b", 100);
    expect(names).toHaveLength(MANY / 2);
    expect(names.every((name) => name.startsWith("paged-b/"))).toBe(true);
    // 750 VMIs, 100 a page.
    expect(replies).toHaveLength(8);
  });

  it("keeps to the VMIs a label selector takes, across pages", async () => {
    const gold = await listAll("", 100, "tier=gold");
    expect(gold.names).toHaveLength(MANY / 3);
    expect(gold.names).toEqual(sorted(gold.names));
    expect(gold.names).toContain("paged-a/vm-0");
    expect(gold.names).not.toContain("paged-b/vm-1");
    const notGold = await listAll("paged-b", 0, "tier!=gold,tier");
    expect(notGold.names).toHaveLength(MANY / 2 - MANY / 6);
  });

  it("refuses a label selector it cannot read, naming the field", async () => {
    const asked = request(
      stack.nc,
      API_SUBJECTS.list,
      ListRequest,
      { namespace: "", labelSelector: "tier in (gold" },
      ListReply,
    );
    await expect(asked).rejects.toThrow(/label_selector: unbalanced parentheses/);
  });

  it("refuses a continue token no reply gave, saying so", async () => {
    const asked = request(
      stack.nc,
      API_SUBJECTS.list,
      ListRequest,
      { namespace: "", continueToken: "not a token" },
      ListReply,
    );
    await expect(asked).rejects.toThrow(ApiError);
    await expect(asked).rejects.toThrow(/continue_token is not one a list reply gave/);
  });
});

describe("list pages, worked out", () => {
  it("order namespaces before names, whatever the punctuation", () => {
    const keys = [
      storeKey("a-b", "x"),
      storeKey("a", "z"),
      storeKey("a", "y-1"),
      storeKey("a", "y"),
    ];
    expect(keysAfter(keys, "")).toEqual([
      storeKey("a", "y"),
      storeKey("a", "y-1"),
      storeKey("a", "z"),
      storeKey("a-b", "x"),
    ]);
    expect(keysAfter(keys, storeKey("a", "y-1"))).toEqual([
      storeKey("a", "z"),
      storeKey("a-b", "x"),
    ]);
  });

  it("hold at most 500 VMIs, fewer when asked", () => {
    expect(pageLimit(0)).toBe(MAX_PAGE_VMIS);
    expect(pageLimit(10)).toBe(10);
    expect(pageLimit(10_000)).toBe(MAX_PAGE_VMIS);
  });
});
