// A progress bar on stderr (cli-progress), for a terminal: an upload's bytes
// sent, or the bytes of an image a host is fetching or pulling for a VMI.
import { formatBytes } from "./output.ts";

export interface ProgressBar {
  /** `label` replaces the one the bar was made with. */
  update(done: number, total: number, label?: string): void;
  stop(): void;
}

export async function progressBar(label: string): Promise<ProgressBar> {
  const { SingleBar } = await import("cli-progress");
  const bar = new SingleBar({
    format: "{label} [{bar}] {percentage}% {sent} of {size}",
    stream: process.stderr,
    hideCursor: true,
    clearOnComplete: true,
  });
  let started = false;
  return {
    update(done: number, total: number, now = label) {
      const shown = { label: now, sent: formatBytes(done), size: formatBytes(total) };
      if (!started) bar.start(Math.max(total, 1), 0, shown);
      started = true;
      bar.update(Math.min(done, total), shown);
    },
    stop: () => {
      if (started) bar.stop();
      started = false;
    },
  };
}

const MIB = 1024 * 1024;
const IMAGE_PROGRESS = /^((?:pulling|fetching) image \S+ to \S+): ([0-9.]+) MiB of ([0-9.]+) MiB$/;

/** How far a launcher got with an image, from a Scheduled status's reason; undefined for any other reason. */
export function imageProgressOf(
  reason: string,
): { label: string; done: number; total: number } | undefined {
  const m = IMAGE_PROGRESS.exec(reason);
  if (!m) return undefined;
  return { label: m[1] ?? "", done: Number(m[2]) * MIB, total: Number(m[3]) * MIB };
}
