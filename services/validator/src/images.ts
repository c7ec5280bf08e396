// headroom.api.v1.image.delete: the validator holds the VMIs, so it alone can
// refuse to delete an image a VMI boots from.
import { ApiError, errorText, type KV, type Logger, type ObjectStore } from "@headroom/bus";
import { validateImageRef } from "@headroom/images";
import type { DeleteImageRequest, IDeleteImageReply } from "@headroom/proto";
import { imagesUsedBy } from "@headroom/vmi";
import { readStored } from "./records.ts";

/** VMIs named in a refusal; the rest are counted. */
const USERS_SHOWN = 5;

export async function deleteImage(
  objects: ObjectStore,
  vmis: KV,
  request: DeleteImageRequest,
  log: Logger,
): Promise<IDeleteImageReply> {
  const ref = request.ref ?? "";
  try {
    validateImageRef(ref);
  } catch (error) {
    throw new ApiError("BAD_REQUEST", errorText(error));
  }
  const users = await vmisUsing(vmis, ref);
  if (users.length > 0) {
    const shown = users.slice(0, USERS_SHOWN).join(", ");
    const more = users.length > USERS_SHOWN ? ` and ${users.length - USERS_SHOWN} more` : "";
    log.info({ image: ref, usedBy: users.length }, "image delete refused: in use");
    throw new ApiError(
      "CONFLICT",
      `image ${ref} is used by vmi ${shown}${more}; delete them first`,
    );
  }
  const info = await objects.info(ref);
  if (info === null || info.deleted)
    return { deleted: false, message: `image ${ref} not found in headroom's image store` };
  await objects.delete(ref);
  log.info({ image: ref, bytes: info.size }, "image deleted");
  return { deleted: true, message: `image ${ref} deleted` };
}

/**
 * The stored VMIs ("<namespace>/<name>", sorted) that boot from `ref`. A
 * record that cannot be read counts as one: nothing is deleted on a guess.
 */
async function vmisUsing(vmis: KV, ref: string): Promise<string[]> {
  const users: string[] = [];
  for await (const key of await vmis.keys()) {
    const stored = await readStored(vmis, key).catch(() => undefined);
    if (stored === undefined) users.push(`${key} (unreadable)`);
    else if (stored && imagesUsedBy(stored.vmi).includes(ref))
      users.push(`${stored.record.namespace}/${stored.record.name}`);
  }
  return users.sort();
}
