import { existsSync, readdirSync } from "node:fs";
import { defaultServerConditions } from "vite";
import { defineConfig } from "vitest/config";

// Workspace packages export their TypeScript sources under this condition and
// their compiled dist/ otherwise: tests import the sources, with no build.
const SOURCE_CONDITION = "headroom:source";

// One vitest project per workspace package or service that has a tests/ folder.
const workspaces = ["packages", "services"].flatMap((group) =>
  existsSync(group)
    ? readdirSync(group)
        .map((name) => `${group}/${name}`)
        .filter((dir) => existsSync(`${dir}/tests`))
    : [],
);

export default defineConfig({
  ssr: { resolve: { conditions: [SOURCE_CONDITION, ...defaultServerConditions] } },
  test: {
    projects: workspaces.map((dir) => ({
      extends: true,
      test: {
        name: dir,
        root: dir,
        include: ["tests/**/*_test.ts"],
        // Run once before the project's tests, when it has one.
        ...(existsSync(`${dir}/tests/global-setup.ts`)
          ? { globalSetup: ["tests/global-setup.ts"] }
          : {}),
      },
    })),
    // One file at a time: the fault tests restart the host's libvirtd, which
    // would cut the libvirt connections of any file running beside them. The
    // guests share two cores anyway, so little is lost.
    fileParallelism: false,
    // Tests that boot guests share two cores; a long timeout beats a flaky one.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
