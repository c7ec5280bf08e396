// headroom.api.v1.image.prune: this host's image store without what no VMI
// on the host uses and can be had again. Each VMI's directory records the
// images its domain is made from (written before the domain is made), so a
// prune keeps them: a kernel-boot domain reads its kernel from the store.
import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { HostState } from "@headroom/host-state";
import type { IHeldImage, IPruneImagesReply, PruneImagesRequest } from "@headroom/proto";
import type { LauncherContext } from "./context.ts";

/** Records the images the domain of VMI `namespace/name` is made from. */
export async function recordImagesUsed(
  state: HostState,
  namespace: string,
  name: string,
  images: readonly string[],
): Promise<void> {
  const file = state.imagesFile(namespace, name);
  await mkdir(dirname(file), { recursive: true });
  await writeFile(`${file}.new`, `${JSON.stringify(images)}\n`);
  await rename(`${file}.new`, file);
}

interface InUse {
  refs: Set<string>;
  /** VMI directories with no readable record: their images are unknown. */
  unknown: string[];
}

async function imagesInUse(state: HostState): Promise<InUse> {
  const inUse: InUse = { refs: new Set(), unknown: [] };
  for (const namespace of await readdir(state.vmsDir).catch(() => [])) {
    for (const name of await readdir(join(state.vmsDir, namespace)).catch(() => [])) {
      try {
        const refs: unknown = JSON.parse(await readFile(state.imagesFile(namespace, name), "utf8"));
        if (!Array.isArray(refs)) throw new Error("not a list");
        for (const ref of refs) inUse.refs.add(String(ref));
      } catch {
        inUse.unknown.push(`${namespace}/${name}`);
      }
    }
  }
  return inUse;
}

export async function pruneImages(
  ctx: LauncherContext,
  request: PruneImagesRequest,
): Promise<IPruneImagesReply> {
  return ctx.imageLock.exclusive(async () => {
    const inUse = await imagesInUse(ctx.state);
    if (inUse.unknown.length > 0) {
      const shown = inUse.unknown.slice(0, 3).join(", ");
      return {
        node: ctx.node,
        removed: [],
        otherRemoved: 0,
        keptBecause: `the images of vmi ${shown}${inUse.unknown.length > 3 ? " and more" : ""} are not recorded on this host; nothing was removed`,
      };
    }
    // An image placed on the host directly (no digest) cannot be had again.
    const unused = (await ctx.imageStore.list()).filter(
      (image) => image.digest !== undefined && !inUse.refs.has(image.ref),
    );
    const removed: IHeldImage[] = unused.map((image) => ({
      ref: image.ref,
      digest: image.digest ?? "",
      sizeBytes: image.sizeBytes,
    }));
    if (request.dryRun) return { node: ctx.node, removed, otherRemoved: 0 };
    for (const image of unused) await ctx.imageStore.remove(image.ref);
    // No pull runs meanwhile (the lock): a layer no image is made of can go at once.
    const otherRemoved = await ctx.imageStore.prune({ layerGraceMs: 0 });
    ctx.log.info(
      { removed: removed.map((image) => image.ref), otherRemoved },
      "image store pruned",
    );
    await ctx.images.publish();
    return { node: ctx.node, removed, otherRemoved };
  });
}
