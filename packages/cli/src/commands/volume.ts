import type { Command } from "commander";
import { EXIT_CODES_HELP } from "../exit-codes.ts";
import { globalsOf } from "../globals.ts";

interface CreateOptions {
  size?: string;
  from?: string;
}

const HELP_AFTER = `
A volume is a named disk of a host that outlives the VMIs using it: what a
VMI's persistentVolumeClaim (claimName) or dataVolume (name) names, since
headroom has no Kubernetes claims. It is blank, or begins as the disk of an
image (--from; the image's disk size unless --size is larger). One VMI uses
a volume at a time: a VMI naming a volume another VMI uses fails saying so,
and one naming a volume that does not exist waits until it is made. A volume
in use cannot be deleted.

List volumes with "headroom get volumes", remove one with
"headroom delete volume NAME".

${EXIT_CODES_HELP}

Examples:
  headroom volume create data --size 10Gi
  headroom volume create root --from headroom/tiny-guest
  headroom get volumes`;

/** `headroom volume create NAME (--size SIZE | --from IMAGE)` */
export function registerVolume(program: Command): void {
  const volume = program
    .command("volume")
    .summary("manage volumes (disks that outlive VMIs)")
    .description("Manage the volumes VMIs' persistentVolumeClaim and dataVolume name.")
    .addHelpText("after", HELP_AFTER);
  volume
    .command("create")
    .description("Create a volume: a blank disk of --size, or one that begins as --from's disk.")
    .argument("<name>", "the claimName VMIs use (a DNS-1123 label)")
    .option("--size <size>", "its size, 1Mi to 1Ti, e.g. 10Gi")
    .option("--from <image>", "an image whose disk it begins as")
    .addHelpText("after", `\n${EXIT_CODES_HELP}`)
    .action(async (name: string, options: CreateOptions, command: Command) => {
      const globals = globalsOf(command);
      const [{ withClient }, { createVolume }] = await Promise.all([
        import("../client.ts"),
        import("../resources/volumes.ts"),
      ]);
      process.exitCode = await withClient(globals, (client) =>
        createVolume(client, name, options, (text) => process.stdout.write(text)),
      );
    });
}
