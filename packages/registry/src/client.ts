// A client of the OCI Distribution API, as far as pulling needs it: manifests
// (OCI and Docker v2, and the indexes of multi-platform images) and blobs,
// each checked against its digest, with the registries' token and basic
// logins. Written on fetch: see the README for why no library.
import { createHash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as WebReadableStream } from "node:stream/web";
import { isLoopbackRegistry } from "./reference.ts";

export class RegistryError extends Error {
  /** The network error's code when the registry could not be reached (ECONNREFUSED, a TLS code). */
  readonly code?: string;
  constructor(message: string, options?: ErrorOptions & { code?: string }) {
    super(message, options);
    if (options?.code) this.code = options.code;
  }
}

// Node's codes for a certificate that does not check out: HTTPS answered, and
// must not be traded for plain HTTP.
const CERTIFICATE_CODES =
  /^(CERT_|UNABLE_TO_|SELF_SIGNED_|DEPTH_ZERO_|ERR_TLS_CERT|HOSTNAME_MISMATCH)/;

export const MEDIA_TYPES = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerList: "application/vnd.docker.distribution.manifest.list.v2+json",
} as const;

const ACCEPT = Object.values(MEDIA_TYPES).join(", ");
/** A manifest is a page of JSON; anything larger is not one. */
const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
const DIGEST = /^sha256:[a-f0-9]{64}$/;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

export interface Manifest {
  mediaType: string;
  config: Descriptor;
  layers: Descriptor[];
}

export interface Login {
  username: string;
  password: string;
}

export interface ClientOptions {
  /** Registries (host[:port]) that may be reached over plain HTTP besides loopback ones. */
  insecure?: readonly string[];
  login?: Login;
  /** The platform of a multi-platform image (default linux/amd64). */
  platform?: { os: string; architecture: string };
  signal?: AbortSignal;
}

function sha256(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

function descriptorOf(value: unknown, what: string): Descriptor {
  const d = (value ?? {}) as Partial<Descriptor>;
  if (typeof d.mediaType !== "string" || typeof d.digest !== "string" || !DIGEST.test(d.digest))
    throw new RegistryError(`${what} has no media type or sha256 digest`);
  if (typeof d.size !== "number" || !Number.isSafeInteger(d.size) || d.size < 0)
    throw new RegistryError(`${what} has no size`);
  return { mediaType: d.mediaType, digest: d.digest, size: d.size };
}

interface Call {
  method?: string;
  accept: string;
  headers?: Record<string, string>;
  /** Made afresh for each send: a stream is read once. */
  body?: () => RequestInit["body"];
}

/** The first error of a registry's JSON error body, for a message. */
function registryMessage(text: string): string {
  try {
    const first = (JSON.parse(text) as { errors?: { message?: string }[] }).errors?.[0]?.message;
    return first ? `: ${first}` : "";
  } catch {
    return "";
  }
}

export class RegistryClient {
  #scheme: "https" | "http" | undefined;
  #authorization: string | undefined;
  readonly #plainAllowed: boolean;

  constructor(
    readonly registry: string,
    readonly repository: string,
    readonly options: ClientOptions = {},
  ) {
    this.#plainAllowed =
      isLoopbackRegistry(registry) || (options.insecure ?? []).includes(registry);
  }

  /** The image manifest `reference` (tag or digest) names, for this client's platform. */
  async manifest(reference: string): Promise<{ manifest: Manifest; digest: string }> {
    const first = await this.#manifestDocument(reference);
    if (first.mediaType !== MEDIA_TYPES.ociIndex && first.mediaType !== MEDIA_TYPES.dockerList)
      return { manifest: this.#imageManifest(first.body, first.mediaType), digest: first.digest };
    const chosen = this.#platformEntry(first.body);
    const second = await this.#manifestDocument(chosen.digest);
    return { manifest: this.#imageManifest(second.body, second.mediaType), digest: second.digest };
  }

  /**
   * Writes blob `d` to `file`, checking its size and digest; `onBytes` hears
   * each chunk's length. A blob that differs from its descriptor is refused.
   */
  async blobTo(d: Descriptor, file: string, onBytes: (n: number) => void): Promise<void> {
    const response = await this.#fetch(`blobs/${d.digest}`, { accept: "*/*" });
    const hash = createHash("sha256");
    let received = 0;
    const check = new Transform({
      transform: (chunk: Buffer, _encoding, done) => {
        received += chunk.length;
        if (received > d.size) {
          done(new RegistryError(`blob ${d.digest} is larger than its ${d.size} bytes`));
          return;
        }
        hash.update(chunk);
        onBytes(chunk.length);
        done(null, chunk);
      },
    });
    if (!response.body) throw new RegistryError(`blob ${d.digest} came without a body`);
    await pipeline(
      Readable.fromWeb(response.body as unknown as WebReadableStream<Uint8Array>),
      check,
      createWriteStream(file, { mode: 0o600 }),
      this.options.signal ? { signal: this.options.signal } : {},
    );
    const digest = `sha256:${hash.digest("hex")}`;
    if (received !== d.size || digest !== d.digest)
      throw new RegistryError(
        `blob ${d.digest} does not match its digest: the registry sent ${received} bytes hashing to ${digest}`,
      );
  }

  /** Checks that the registry answers, and takes this client's login (the API's base, /v2/). */
  async ping(): Promise<void> {
    const response = await this.#fetch("", { accept: "application/json" });
    await response.body?.cancel();
  }

  /** Sends blob `d` from `file` unless the repository has it already; true when it was sent. */
  async pushBlob(d: Descriptor, file: string): Promise<boolean> {
    const head = await this.#fetch(`blobs/${d.digest}`, { method: "HEAD", accept: "*/*" }, [404]);
    if (head.status !== 404) return false;
    const started = await this.#fetch("blobs/uploads/", { method: "POST", accept: "*/*" });
    const location = started.headers.get("location");
    if (!location) throw new RegistryError(`${this.registry} started an upload without a Location`);
    const base = new URL(location, `${this.#scheme}://${this.registry}`);
    base.searchParams.set("digest", d.digest);
    await this.#fetch(base.toString(), {
      method: "PUT",
      accept: "*/*",
      headers: { "content-type": "application/octet-stream", "content-length": String(d.size) },
      body: () => Readable.toWeb(createReadStream(file)) as unknown as ReadableStream<Uint8Array>,
    });
    return true;
  }

  /** Puts a manifest under `tag`; the registry checks that it has every blob it names. */
  async pushManifest(tag: string, bytes: Uint8Array, mediaType: string): Promise<void> {
    await this.#fetch(`manifests/${tag}`, {
      method: "PUT",
      accept: "*/*",
      headers: { "content-type": mediaType },
      body: () => bytes,
    });
  }

  async #manifestDocument(reference: string) {
    const response = await this.#fetch(`manifests/${reference}`, { accept: ACCEPT });
    const length = Number(response.headers.get("content-length") ?? 0);
    if (length > MAX_MANIFEST_BYTES)
      throw new RegistryError(`the manifest of ${reference} is ${length} bytes; too large`);
    const bytes = new Uint8Array(await response.arrayBuffer());
    if (bytes.length > MAX_MANIFEST_BYTES)
      throw new RegistryError(`the manifest of ${reference} is too large`);
    const digest = sha256(bytes);
    if (DIGEST.test(reference) && digest !== reference)
      throw new RegistryError(`the manifest sent for ${reference} hashes to ${digest}`);
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(new TextDecoder().decode(bytes));
    } catch {
      throw new RegistryError(`the manifest of ${reference} is not JSON`);
    }
    const mediaType =
      (typeof body.mediaType === "string" ? body.mediaType : undefined) ??
      response.headers.get("content-type")?.split(";")[0]?.trim() ??
      "";
    return { body, mediaType, digest };
  }

  #imageManifest(body: Record<string, unknown>, mediaType: string): Manifest {
    if (mediaType !== MEDIA_TYPES.ociManifest && mediaType !== MEDIA_TYPES.dockerManifest)
      throw new RegistryError(`the registry sent a manifest of type "${mediaType}", not an image`);
    if (!Array.isArray(body.layers)) throw new RegistryError("the manifest lists no layers");
    return {
      mediaType,
      config: descriptorOf(body.config, "the manifest's config"),
      layers: body.layers.map((layer, i) => descriptorOf(layer, `layer ${i}`)),
    };
  }

  #platformEntry(index: Record<string, unknown>): Descriptor {
    const want = this.options.platform ?? { os: "linux", architecture: "amd64" };
    const entries = Array.isArray(index.manifests) ? index.manifests : [];
    const platformOf = (entry: unknown) =>
      ((entry ?? {}) as { platform?: { os?: string; architecture?: string } }).platform ?? {};
    const found = entries.find((entry) => {
      const p = platformOf(entry);
      return p.os === want.os && p.architecture === want.architecture;
    });
    if (!found) {
      const offered = entries.map((e) => `${platformOf(e).os}/${platformOf(e).architecture}`);
      throw new RegistryError(
        `the image has no ${want.os}/${want.architecture} variant (it has ${offered.join(", ") || "none"})`,
      );
    }
    return descriptorOf(found, `the ${want.os}/${want.architecture} entry`);
  }

  /**
   * One call of the API, at a path under /v2/<repository>/ or at a URL the
   * registry gave (an upload's Location), answering a login challenge once.
   * Statuses in `tolerate` come back as they are; other failures throw.
   */
  async #fetch(target: string, call: Call, tolerate: readonly number[] = []): Promise<Response> {
    let response = await this.#send(target, call);
    if (response.status === 401) {
      await response.body?.cancel();
      this.#authorization = await this.#answerChallenge(response);
      response = await this.#send(target, call);
    }
    if (response.ok || tolerate.includes(response.status)) return response;
    const detail = await response.text().catch(() => "");
    const where = `${this.registry}/${this.repository}`;
    switch (response.status) {
      case 401:
      case 403:
        throw new RegistryError(
          this.options.login
            ? `${where} refused the login of ${this.options.login.username} (HTTP ${response.status})`
            : `${where} wants a login (HTTP ${response.status}); give one with headroom registry login`,
        );
      case 404:
        throw new RegistryError(`${where} has no ${target.replace(/^manifests\//, "")} (HTTP 404)`);
      default:
        throw new RegistryError(
          `${where} answered HTTP ${response.status} to ${call.method ?? "GET"} ${target.startsWith("http") ? "an upload" : target}${registryMessage(detail)}`,
        );
    }
  }

  async #send(target: string, call: Call): Promise<Response> {
    const headers: Record<string, string> = { accept: call.accept, ...call.headers };
    if (this.#authorization) headers.authorization = this.#authorization;
    const init = (): RequestInit => ({
      method: call.method ?? "GET",
      headers,
      redirect: "follow",
      ...(call.body ? { body: call.body(), duplex: "half" } : {}),
      ...(this.options.signal ? { signal: this.options.signal } : {}),
    });
    const url = (scheme: string) =>
      target.startsWith("http")
        ? target
        : target === ""
          ? `${scheme}://${this.registry}/v2/`
          : `${scheme}://${this.registry}/v2/${this.repository}/${target}`;
    if (this.#scheme) return this.#request(url(this.#scheme), init());
    try {
      const response = await this.#request(url("https"), init());
      this.#scheme = "https";
      return response;
    } catch (error) {
      // As Docker does: a registry allowed plain HTTP is tried over HTTPS first;
      // one whose HTTPS answers with a certificate that does not check out is not.
      const code = (error as RegistryError).code ?? "";
      if (!this.#plainAllowed || this.options.signal?.aborted || CERTIFICATE_CODES.test(code))
        throw error;
      const response = await this.#request(url("http"), init());
      this.#scheme = "http";
      return response;
    }
  }

  async #request(url: string, init: RequestInit): Promise<Response> {
    try {
      return await fetch(url, init);
    } catch (error) {
      const cause = (error as { cause?: { code?: string; message?: string } }).cause;
      const code = cause?.code;
      const why =
        code && CERTIFICATE_CODES.test(code)
          ? `its certificate: ${cause?.message}`
          : (code ?? cause?.message ?? (error as Error).message);
      throw new RegistryError(`${this.registry} cannot be reached: ${why}`, {
        cause: error,
        ...(code ? { code } : {}),
      });
    }
  }

  /** The Authorization header a 401's challenge asks for (token or basic). */
  async #answerChallenge(response: Response): Promise<string> {
    const challenge = response.headers.get("www-authenticate") ?? "";
    const scheme = challenge.split(" ")[0]?.toLowerCase();
    const params = Object.fromEntries(
      [...challenge.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
    );
    const login = this.options.login;
    const basic = login
      ? `Basic ${Buffer.from(`${login.username}:${login.password}`).toString("base64")}`
      : undefined;
    if (scheme === "basic") {
      if (!basic)
        throw new RegistryError(
          `${this.registry} wants a login; give one with headroom registry login`,
        );
      return basic;
    }
    if (scheme !== "bearer" || !params.realm)
      throw new RegistryError(
        `${this.registry} asks for a login headroom cannot give ("${challenge.slice(0, 80)}")`,
      );
    const realm = new URL(params.realm);
    // The token server gets the login: never over plain HTTP to another host.
    if (realm.protocol !== "https:" && !(this.#plainAllowed && realm.host === this.registry))
      throw new RegistryError(
        `${this.registry} names a token server that is not HTTPS (${realm.origin})`,
      );
    if (params.service) realm.searchParams.set("service", params.service);
    // The challenge names what the call needs; the API's base (ping) needs no scope.
    const scope = params.scope ?? (this.repository ? `repository:${this.repository}:pull` : "");
    if (scope) realm.searchParams.set("scope", scope);
    const answer = await this.#request(realm.toString(), {
      headers: basic ? { authorization: basic } : {},
      ...(this.options.signal ? { signal: this.options.signal } : {}),
    });
    if (!answer.ok) {
      await answer.body?.cancel();
      throw new RegistryError(
        `${this.registry}'s token server refused ${login ? `the login of ${login.username}` : "an anonymous pull"} (HTTP ${answer.status})`,
      );
    }
    const body = (await answer.json()) as { token?: string; access_token?: string };
    const token = body.token ?? body.access_token;
    if (!token) throw new RegistryError(`${this.registry}'s token server sent no token`);
    return `Bearer ${token}`;
  }
}
