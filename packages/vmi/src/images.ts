import type { ImagePullPolicy, Vmi } from "./types.ts";

/** Every image a VMI boots from (containerDisk volumes, kernel boot), once each, in spec order. */
export function imagesUsedBy(vmi: Pick<Vmi, "spec">): string[] {
  const refs = (vmi.spec.volumes ?? []).flatMap((volume) =>
    volume.containerDisk ? [volume.containerDisk.image] : [],
  );
  const kernelImage = vmi.spec.domain?.firmware?.kernelBoot?.container?.image;
  if (kernelImage !== undefined) refs.push(kernelImage);
  return [...new Set(refs)];
}

// When volumes disagree, the policy that pulls more wins.
const PULL_ORDER: readonly ImagePullPolicy[] = ["Never", "IfNotPresent", "Always"];

/** The imagePullPolicy the VMI sets for each image that has one. */
export function imagePullPolicies(vmi: Pick<Vmi, "spec">): Record<string, ImagePullPolicy> {
  const set: [string, ImagePullPolicy | undefined][] = (vmi.spec.volumes ?? []).map((volume) => [
    volume.containerDisk?.image ?? "",
    volume.containerDisk?.imagePullPolicy,
  ]);
  const container = vmi.spec.domain?.firmware?.kernelBoot?.container;
  if (container) set.push([container.image, container.imagePullPolicy]);
  const policies: Record<string, ImagePullPolicy> = {};
  for (const [image, policy] of set) {
    if (!image || !policy) continue;
    const known = policies[image];
    if (!known || PULL_ORDER.indexOf(policy) > PULL_ORDER.indexOf(known)) policies[image] = policy;
  }
  return policies;
}
