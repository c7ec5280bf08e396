// @headroom/registry: images from OCI registries, pulled into a host's image store.
export {
  type ClientOptions,
  type Descriptor,
  type Login,
  type Manifest,
  MEDIA_TYPES,
  RegistryClient,
  RegistryError,
} from "./client.ts";
export { writeOciLayout } from "./layout.ts";
export {
  REGISTRY_LOGINS_FILE,
  readRegistryLogins,
  removeRegistryLogin,
  saveRegistryLogin,
} from "./logins.ts";
export { type Pulled, type PullOptions, pullImage } from "./pull.ts";
export { type Pushed, pushImage } from "./push.ts";
export {
  defaultPullPolicy,
  InvalidRegistryRefError,
  isLoopbackRegistry,
  namesRegistry,
  type PullPolicy,
  type RegistryRef,
  registryRefOf,
} from "./reference.ts";
