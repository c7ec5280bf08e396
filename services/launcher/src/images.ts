// The images a plan boots from, held on this host before its domain is
// defined: fetched from headroom's image store when this host lacks them or
// holds an older upload, checked like any image, and recorded in the host's
// record so `headroom get images` shows which hosts hold what.
import { errorText, type Logger, type ObjectInfo, type ObjectStore } from "@headroom/bus";
import { fetchImage } from "@headroom/image-objects";
import {
  type ImageInfo,
  ImageNotFoundError,
  type ImageStore,
  ImageStoreError,
  validateImageRef,
} from "@headroom/images";
import {
  defaultPullPolicy,
  InvalidRegistryRefError,
  type PullPolicy,
  pullImage,
  RegistryError,
  readRegistryLogins,
  registryRefOf,
} from "@headroom/registry";
import type { HostRecorder } from "./host_record.ts";

/**
 * A plan names a handful of images (a VMI has at most 16 volumes, and a
 * kernel boot image); a forged one cannot make a host look up thousands.
 */
export const MAX_PLAN_IMAGES = 17;

const PULL_POLICIES: readonly PullPolicy[] = ["Always", "IfNotPresent", "Never"];

/** How often a fetch in progress says how far it got (status reason, log). */
const PROGRESS_EVERY_MS = 1000;

/** The image cannot be had: the plan's VMI fails with `message`. */
export class ImageUnavailableError extends Error {}

/** What headroom's image store (or the image's registry) and this host have of one image. */
export interface LookedUp {
  ref: string;
  /** null for an image in a registry, which headroom's image store never holds. */
  object: ObjectInfo | null;
  local: ImageInfo | null;
  /** The registry host the image is pulled from; undefined for headroom's image store. */
  registry: string | undefined;
  /** The VMI's imagePullPolicy for it, or KubeVirt's default by tag. */
  pullPolicy: PullPolicy;
}

export interface ImageHolder {
  /**
   * What the store and this host have of each image. It only reads, so a
   * launch starts it beside its other reads. Throws ImageUnavailableError for
   * a reference that cannot be one, or too many.
   */
  lookUp(refs: string[], pullPolicies?: Record<string, string>): Promise<LookedUp[]>;
  /**
   * Makes sure this host holds each image looked up, fetching what it lacks;
   * `onProgress` hears how a fetch goes. Throws ImageUnavailableError for an
   * image nobody has or that fails its checks; anything else is passing
   * trouble (NATS), worth retrying.
   */
  hold(looked: LookedUp[], onProgress: (text: string) => void): Promise<void>;
  /** Writes this host's record (what it holds) to the hosts bucket. */
  publish(): Promise<void>;
  /** Removes replaced copies and leftovers from this host's store. */
  tidy(): Promise<void>;
}

export interface ImageSources {
  objects: ObjectStore;
  /** Registries besides loopback ones that may be reached over plain HTTP. */
  insecureRegistries: readonly string[];
  /** Where `headroom registry login` keeps the logins (the host's secrets). */
  secretsDir: string;
}

export function imageHolder(
  ctx: { node: string; now: () => number; host: Pick<HostRecorder, "setImages"> },
  store: ImageStore,
  { objects, insecureRegistries, secretsDir }: ImageSources,
  maxBytes: number,
  log: Logger,
): ImageHolder {
  // Two plans needing one upload of an image, or one pull, share it.
  const inFlight = new Map<string, Promise<ImageInfo | null>>();
  function shared(key: string, start: () => Promise<ImageInfo | null>) {
    let running = inFlight.get(key);
    if (!running) {
      running = start().finally(() => inFlight.delete(key));
      inFlight.set(key, running);
    }
    return running;
  }

  /** Says how far a fetch or pull of `ref` got, at most once every PROGRESS_EVERY_MS. */
  function progressOf(verb: string, ref: string, onProgress: (text: string) => void) {
    let told = 0;
    return (done: number, total: number) => {
      if (ctx.now() - told < PROGRESS_EVERY_MS) return;
      told = ctx.now();
      onProgress(`${verb} image ${ref} to ${ctx.node}: ${mib(done)} of ${mib(total)}`);
    };
  }
  // Records are written one after another, so the last one written is the newest.
  let publishing = Promise.resolve();

  async function lookUpOne(ref: string, policy: PullPolicy | undefined): Promise<LookedUp> {
    let parsed: ReturnType<typeof registryRefOf>;
    try {
      parsed = registryRefOf(ref);
    } catch (error) {
      throw new ImageUnavailableError(errorText(error));
    }
    const [object, local] = await Promise.all([
      parsed ? null : objects.info(ref),
      heldOrNull(store, ref),
    ]);
    const pullPolicy = policy ?? (parsed ? defaultPullPolicy(parsed) : "IfNotPresent");
    return { ref, object, local, registry: parsed?.registry, pullPolicy };
  }

  async function holdOne(
    { ref, object, local, registry, pullPolicy }: LookedUp,
    onProgress: (text: string) => void,
  ): Promise<boolean> {
    if (registry !== undefined) return pullShared(ref, registry, local, pullPolicy, onProgress);
    if (object === null || object.deleted) {
      // Placed on this host directly (the test guest's build does so); a copy
      // fetched from the store went with the image's deletion.
      if (local && !local.digest) return false;
      const gone = local ? "was deleted from" : "is not in";
      throw new ImageUnavailableError(
        `image ${ref} ${gone} headroom's image store; add it with: headroom image add ${ref} PATH`,
      );
    }
    if (local?.digest === object.digest) return false;
    await shared(`${ref}@${object.digest}`, () => fetchOne(ref, onProgress));
    return true;
  }

  async function fetchOne(ref: string, onProgress: (text: string) => void) {
    const started = ctx.now();
    log.info({ image: ref }, "fetching image from the image store");
    try {
      const fetched = await fetchImage(objects, store, ref, {
        maxBytes,
        onProgress: progressOf("fetching", ref, onProgress),
      });
      if (fetched === null) throw new ImageUnavailableError(`image ${ref} was deleted meanwhile`);
      log.info(
        { image: ref, bytes: fetched.sizeBytes, ms: ctx.now() - started, digest: fetched.digest },
        "image fetched",
      );
      return fetched;
    } catch (error) {
      if (error instanceof ImageStoreError)
        throw new ImageUnavailableError(`image ${ref} was refused: ${error.message}`);
      throw error;
    }
  }

  /**
   * As KubeVirt's imagePullPolicy says: IfNotPresent pulls what this host
   * lacks, Always asks the registry at each launch (only the manifest moves
   * when the image did not change), Never uses what this host holds.
   */
  async function pullShared(
    ref: string,
    registry: string,
    local: ImageInfo | null,
    policy: PullPolicy,
    onProgress: (text: string) => void,
  ): Promise<boolean> {
    if (policy === "Never") {
      if (local) return false;
      throw new ImageUnavailableError(
        `image ${ref} is not on host ${ctx.node}, and its imagePullPolicy is Never`,
      );
    }
    if (local && policy === "IfNotPresent") return false;
    const pulled = await shared(`pull:${ref}`, () =>
      pullOne(ref, registry, local?.digest, onProgress),
    );
    return pulled !== null;
  }

  async function pullOne(
    ref: string,
    registry: string,
    held: string | undefined,
    onProgress: (text: string) => void,
  ): Promise<ImageInfo | null> {
    const started = ctx.now();
    log.info({ image: ref }, "pulling image from its registry");
    try {
      // Read at each pull: a login given meanwhile counts at once.
      const login = (
        await readRegistryLogins(secretsDir).catch((error: unknown) => {
          throw new ImageUnavailableError(`pulling image ${ref}: ${errorText(error)}`);
        })
      )[registry];
      const pulled = await pullImage(store, ref, {
        maxBytes,
        insecure: insecureRegistries,
        ...(login ? { login } : {}),
        ...(held ? { held } : {}),
        onProgress: progressOf("pulling", ref, onProgress),
      });
      if (pulled === "unchanged") {
        log.info({ image: ref, ms: ctx.now() - started }, "image unchanged in its registry");
        return null;
      }
      const { image, downloadedBytes, reusedLayers } = pulled;
      log.info(
        {
          image: ref,
          bytes: image.sizeBytes,
          downloadedBytes,
          reusedLayers,
          ms: ctx.now() - started,
          digest: image.digest,
        },
        "image pulled",
      );
      return image;
    } catch (error) {
      if (
        error instanceof RegistryError ||
        error instanceof InvalidRegistryRefError ||
        error instanceof ImageStoreError
      )
        throw new ImageUnavailableError(`pulling image ${ref}: ${error.message}`);
      throw error;
    }
  }

  async function writeRecord(): Promise<void> {
    const images = (await store.list()).map((image) => ({
      ref: image.ref,
      digest: image.digest ?? "",
      sizeBytes: image.sizeBytes,
    }));
    await ctx.host.setImages(images);
  }

  /**
   * Removes what a replaced image left in the store (its old copy, once no
   * reference names it) and stale staging trees; VMs keep their pinned bases.
   */
  async function tidy(): Promise<void> {
    try {
      const removed = await store.prune();
      if (removed > 0) log.info({ removed }, "image store tidied");
    } catch (error) {
      log.warn({ err: error }, "image store not tidied");
    }
  }

  function publish(): Promise<void> {
    const written = publishing.then(writeRecord);
    publishing = written.catch(() => {});
    return written;
  }

  return {
    async lookUp(refs, pullPolicies = {}) {
      if (refs.length > MAX_PLAN_IMAGES)
        throw new ImageUnavailableError(
          `the plan names ${refs.length} images, more than ${MAX_PLAN_IMAGES}`,
        );
      for (const [ref, policy] of Object.entries(pullPolicies)) {
        if (!refs.includes(ref) || !PULL_POLICIES.includes(policy as PullPolicy))
          throw new ImageUnavailableError(
            `the plan gives ${JSON.stringify(ref.slice(0, 80))} the imagePullPolicy ${JSON.stringify(policy.slice(0, 20))}: only Always, IfNotPresent or Never, for one of its images`,
          );
      }
      for (const ref of refs) {
        try {
          validateImageRef(ref);
        } catch (error) {
          throw new ImageUnavailableError(errorText(error));
        }
      }
      return Promise.all(
        refs.map((ref) =>
          lookUpOne(
            ref,
            Object.hasOwn(pullPolicies, ref) ? (pullPolicies[ref] as PullPolicy) : undefined,
          ),
        ),
      );
    },
    async hold(looked, onProgress) {
      const fetched = await Promise.all(looked.map((one) => holdOne(one, onProgress)));
      if (fetched.some(Boolean)) {
        await publish();
        void tidy();
      }
    },
    publish,
    tidy,
  };
}

async function heldOrNull(store: ImageStore, ref: string): Promise<ImageInfo | null> {
  try {
    return await store.resolve(ref);
  } catch (error) {
    if (error instanceof ImageNotFoundError) return null;
    throw error;
  }
}

function mib(bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`;
}
