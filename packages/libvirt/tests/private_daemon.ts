// A libvirtd of the tests' own, so they can stop and kill it without touching
// the system one that everybody shares. It runs as user "nobody", which makes
// it a session daemon with all its state under a temporary directory.
import { type ChildProcess, spawn } from "node:child_process";
import {
  chmodSync,
  chownSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Connection } from "../src/mod.ts";
import { PREFIX } from "./helpers.ts";

const NOBODY = 65534;

export interface PrivateDaemon {
  /** URI that reaches this daemon's socket. */
  uri: string;
  socket: string;
  process: ChildProcess;
  signal(signal: NodeJS.Signals): void;
  /** Kills the daemon (if still running) and removes its directory. */
  remove(): Promise<void>;
  log(): string;
}

export async function startPrivateDaemon(timeoutMs = 30_000): Promise<PrivateDaemon> {
  const dir = mkdtempSync(join(tmpdir(), `${PREFIX}daemon-`));
  chmodSync(dir, 0o755);
  const run = join(dir, "run");
  const home = join(dir, "home");
  for (const sub of [run, home]) {
    mkdirSync(sub);
    chownSync(sub, NOBODY, NOBODY);
  }
  const config = join(dir, "libvirtd.conf");
  writeFileSync(config, `unix_sock_dir = "${run}"\nunix_sock_rw_perms = "0777"\n`);
  const logFile = join(dir, "libvirtd.log");
  const logFd = openSync(logFile, "w");
  const child = spawn("libvirtd", ["-f", config, "-p", join(run, "libvirtd.pid")], {
    uid: NOBODY,
    gid: NOBODY,
    stdio: ["ignore", logFd, logFd],
    env: {
      PATH: "/usr/sbin:/usr/bin:/sbin:/bin",
      HOME: home,
      XDG_RUNTIME_DIR: run,
      XDG_CONFIG_HOME: join(home, ".config"),
      XDG_CACHE_HOME: join(home, ".cache"),
    },
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const socket = join(run, "libvirt-sock");
  const daemon: PrivateDaemon = {
    uri: `qemu+unix:///session?socket=${socket}`,
    socket,
    process: child,
    signal: (signal) => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    remove: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGCONT");
        child.kill("SIGKILL");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => (existsSync(logFile) ? readFileSync(logFile, "utf8") : ""),
  };

  // Ready once a connection opens.
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) break;
    if (existsSync(socket)) {
      const probe = await Connection.open(daemon.uri).catch(() => undefined);
      if (probe !== undefined) {
        await probe.close();
        return daemon;
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const log = daemon.log();
  await daemon.remove();
  throw new Error(`the private libvirtd did not come up within ${timeoutMs} ms:\n${log}`);
}
