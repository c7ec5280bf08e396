#!/usr/bin/env node
// Runs the compiled CLI with plain node: `npm run build` (which npm start and
// infra/setup.sh run) writes it to dist/. Compiling TypeScript at each start
// took most of a second.
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";

const main = new URL("../dist/main.js", import.meta.url);
if (!existsSync(main)) {
  const root = resolve(fileURLToPath(new URL("../../..", import.meta.url)));
  process.stderr.write(
    `headroom: the CLI is not built (${fileURLToPath(main)} is missing): run npm run build in ${root}\n`,
  );
  process.exit(2);
}
await import(main.href);
