/** What Linux's /proc says about a process: its memory and the CPU time it used. */
import { readdirSync, readFileSync } from "node:fs";

/** Resident memory of a process in KiB (VmRSS), or undefined when it cannot be read. */
export function rssKiB(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** User + system CPU seconds a process used so far (0 when it cannot be read). */
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const ticks = Number(fields[11]) + Number(fields[12]);
    return ticks / 100; // USER_HZ is 100 on Linux
  } catch {
    return 0;
  }
}

/** Pids of processes whose command line (arguments joined by spaces) matches `pattern`. */
export function pidsMatching(pattern: RegExp): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, "utf8").split("\0").join(" ");
      if (pattern.test(cmdline)) pids.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** libvirtd's pid, from its pid file. */
export function libvirtdPid(): number | undefined {
  for (const path of ["/run/libvirtd.pid", "/var/run/libvirtd.pid"]) {
    try {
      return Number(readFileSync(path, "utf8").trim());
    } catch {
      // try the next
    }
  }
  return pidsMatching(/(^|\/)libvirtd( |$)/)[0];
}
