// Builds the native addon with node-gyp (a devDependency), against the running
// Node's own headers when they are installed beside it, so no header download
// is needed. npm's `nodedir` setting, when present, wins.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const packageDir = dirname(dirname(fileURLToPath(import.meta.url)));
const require = createRequire(import.meta.url);
const nodeGyp = require.resolve("node-gyp/bin/node-gyp.js");

const options = [];
const installPrefix = dirname(dirname(process.execPath));
if (!process.env.npm_config_nodedir && existsSync(join(installPrefix, "include/node/node.h"))) {
  options.push(`--nodedir=${installPrefix}`);
}

// configure + build rather than rebuild: an incremental build never deletes
// the addon that a running process may be loading.
for (const step of [["configure"], ["build", "--jobs", "max"]]) {
  const result = spawnSync(process.execPath, [nodeGyp, ...step, ...options], {
    cwd: packageDir,
    stdio: "inherit",
  });
  if (result.status !== 0) {
    console.error(
      "libvirt: building the native addon failed; it needs g++, make, python3, pkg-config and libvirt-dev",
    );
    process.exit(result.status ?? 1);
  }
}
