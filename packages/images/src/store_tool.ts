// Minimal command line over the image store for shell scripts (infra/tiny-guest/build.sh).
// The user-facing commands are `headroom image add` and `headroom get images`.
//
//   node --import tsx packages/images/src/store_tool.ts add REF PATH   prints the image root
//   node --import tsx packages/images/src/store_tool.ts root REF       prints the image root
//   node --import tsx packages/images/src/store_tool.ts list           one JSON object a line
//
// Exit codes: 0 done, 2 usage, 3 image not found, 1 anything else.
import { ImageNotFoundError } from "./errors.ts";
import { openImageStore } from "./store.ts";

const usage = "usage: store_tool.ts add REF PATH | root REF | list";

async function main(args: string[]): Promise<number> {
  const store = openImageStore();
  const [command, ...rest] = args;
  if (command === "add" && rest.length === 2) {
    const [ref, source] = rest as [string, string];
    console.log((await store.add(ref, source)).path);
    return 0;
  }
  if (command === "root" && rest.length === 1) {
    console.log((await store.resolve(rest[0] as string)).root);
    return 0;
  }
  if (command === "list" && rest.length === 0) {
    for (const image of await store.list()) console.log(JSON.stringify(image));
    return 0;
  }
  console.error(usage);
  return 2;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (error: unknown) => {
    console.error(error instanceof Error ? error.message : String(error));
    process.exitCode = error instanceof ImageNotFoundError ? 3 : 1;
  },
);
