import type { Command } from "commander";
import { EXIT_CODES_HELP } from "../exit-codes.ts";
import { globalsOf, hostStateOf } from "../globals.ts";

const HELP_AFTER = `
Images live in this host's image store, under --state-dir (default
$HEADROOM_STATE_DIR or /var/lib/headroom): the launcher on this host boots VMIs
from them. PATH is a directory tree (e.g. /boot/vmlinuz, /disk/disk.qcow2) or
one file, placed at the image's root. Adding an image under a reference that
exists replaces it atomically.

List images with "headroom get images", remove one with
"headroom delete image REF".

${EXIT_CODES_HELP}

Examples:
  headroom image add headroom/tiny-guest ./tiny-guest
  headroom image add quay.io/kubevirt/cirros-container-disk-demo:v1.4.0 ./cirros`;

/** `headroom image add REF PATH` */
export function registerImage(program: Command): void {
  const image = program
    .command("image")
    .summary("manage this host's image store")
    .description("Manage the images VMIs boot from, in this host's image store.")
    .addHelpText("after", HELP_AFTER);
  image
    .command("add")
    .description("Copy a directory tree or a file into the image store under REF.")
    .argument("<ref>", "image reference, as VMIs name it (e.g. headroom/tiny-guest)")
    .argument("<path>", "directory tree or file to copy")
    .addHelpText("after", `\n${EXIT_CODES_HELP}`)
    .action(async (ref: string, path: string, _options: unknown, command: Command) => {
      const globals = globalsOf(command);
      const { addImage } = await import("../resources/images.ts");
      process.exitCode = await addImage(hostStateOf(globals).images, ref, path, (text) =>
        process.stdout.write(text),
      );
    });
}
