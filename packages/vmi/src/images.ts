import type { Vmi } from "./types.ts";

/** Every image a VMI boots from (containerDisk volumes, kernel boot), once each, in spec order. */
export function imagesUsedBy(vmi: Pick<Vmi, "spec">): string[] {
  const refs = (vmi.spec.volumes ?? []).flatMap((volume) =>
    volume.containerDisk ? [volume.containerDisk.image] : [],
  );
  const kernelImage = vmi.spec.domain?.firmware?.kernelBoot?.container?.image;
  if (kernelImage !== undefined) refs.push(kernelImage);
  return [...new Set(refs)];
}
