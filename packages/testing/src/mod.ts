// Helpers for integration tests: a real nats-server, libvirtd, service processes.
export { makeCertificates, type TestCertificates } from "./certificates.ts";
export { cliStateWithLogin } from "./client_login.ts";
export { ensureLibvirtd } from "./libvirt.ts";
export {
  freePort,
  type NatsCluster,
  type NatsServer,
  type StartNatsOptions,
  startNats,
  startNatsCluster,
} from "./nats.ts";
export { type Registry, type RegistryOptions, startRegistry } from "./registry.ts";
export { repoRoot } from "./root.ts";
export { type ServiceProcess, startService } from "./service.ts";
