// The CLI tests run bin/headroom.js as a user does, and it runs the compiled
// dist/, as do the services `headroom up` starts: build first, so that the
// tests never run stale JavaScript. turbo makes this quick when nothing changed.
import { execFileSync } from "node:child_process";
import { fileURLToPath } from "node:url";

export default function setup(): void {
  const root = fileURLToPath(new URL("../../../", import.meta.url));
  try {
    execFileSync("npx", ["turbo", "run", "build", "--output-logs=errors-only"], {
      cwd: root,
      encoding: "utf8",
      stdio: "pipe",
    });
  } catch (error) {
    const { stdout = "", stderr = "" } = error as { stdout?: string; stderr?: string };
    throw new Error(
      `npm run build failed, and the CLI tests run what it builds:\n${stdout}${stderr}`,
    );
  }
}
