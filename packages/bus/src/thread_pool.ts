// libuv's thread pool for a service process, set by whoever starts it: libuv
// reads UV_THREADPOOL_SIZE once, when the pool is first used, which is before
// any of the service's own code runs.
import { availableParallelism } from "node:os";
import type { SERVICE_USERS } from "./credentials.ts";

/**
 * VMIs a launcher works on at once unless HEADROOM_LAUNCHER_CONCURRENCY says:
 * 4 per CPU, at least 4, as launches mostly wait on libvirt and the guest.
 */
export function defaultLauncherConcurrency(): number {
  return Math.max(4, 4 * availableParallelism());
}

/**
 * UV_THREADPOOL_SIZE for a service, unless `env` already sets it. Each libvirt
 * call holds a pool thread until it returns (a domain start takes seconds
 * under TCG), so the launcher gets a thread per VMI it works on at once and 4
 * for files and DNS; with libuv's default 4, starts queued for threads.
 */
export function threadPoolEnv(
  service: keyof typeof SERVICE_USERS,
  env: NodeJS.ProcessEnv = process.env,
): Record<string, string> {
  if (service !== "launcher" || env.UV_THREADPOOL_SIZE) return {};
  const concurrency = Number(env.HEADROOM_LAUNCHER_CONCURRENCY) || defaultLauncherConcurrency();
  return { UV_THREADPOOL_SIZE: String(Math.min(1024, concurrency + 4)) };
}
