import type { Command } from "commander";
import { EXIT_CODES_HELP } from "../exit-codes.ts";
import { globalsOf } from "../globals.ts";

const HELP_AFTER = `
Images live in headroom's image store, on its NATS server: a host's launcher
fetches an image when a VMI there needs one it lacks (or holds an older
upload), and checks it as it does any image. PATH is a directory tree (e.g.
/boot/vmlinuz, /disk/disk.qcow2) or one file, placed at the image's root; it
may hold only folders and regular files. Adding an image under a reference
that exists replaces it; hosts fetch the new one for the VMIs they launch next.

An image whose reference names a registry host (quay.io/..., 127.0.0.1:5000/...)
is not uploaded: hosts pull it from that registry. "image push" publishes an
image of headroom's store to a registry, so another headroom, KubeVirt or any
OCI tool can pull it.

List images with "headroom get images", remove one with
"headroom delete image REF". "image prune" frees a host's disk: it removes the
images no VMI on the host uses that can be had again (pulled from a registry,
or fetched from headroom's image store) and the registry layers no image is
made of.

${EXIT_CODES_HELP}

Examples:
  headroom image add headroom/tiny-guest ./tiny-guest
  headroom image add lab/cirros:v1.4.0 ./cirros
  headroom image push headroom/tiny-guest 127.0.0.1:5000/headroom/tiny-guest:1
  headroom image prune --dry-run`;

interface AddOptions {
  progress?: boolean;
}

/** `headroom image add REF PATH`, `image push SOURCE DESTINATION`, `image prune` */
export function registerImage(program: Command): void {
  const image = program
    .command("image")
    .summary("manage headroom's image store")
    .description("Manage the images VMIs boot from, in headroom's image store.")
    .addHelpText("after", HELP_AFTER);
  image
    .command("add")
    .description("Upload a directory tree or a file into headroom's image store under REF.")
    .argument("<ref>", "image reference, as VMIs name it (e.g. headroom/tiny-guest)")
    .argument("<path>", "directory tree or file to upload")
    .option("--no-progress", "no progress bar (there is none when stderr is not a terminal)")
    .addHelpText("after", `\n${EXIT_CODES_HELP}`)
    .action(async (ref: string, path: string, options: AddOptions, command: Command) => {
      const globals = globalsOf(command);
      const [{ withClient }, { addImage }] = await Promise.all([
        import("../client.ts"),
        import("../resources/images.ts"),
      ]);
      process.exitCode = await withClient(globals, (client) =>
        addImage(client, ref, path, {
          write: (text) => process.stdout.write(text),
          progress: options.progress !== false && Boolean(process.stderr.isTTY),
        }),
      );
    });
  image
    .command("push")
    .description(
      "Publish SOURCE, an image of headroom's image store, to the registry DESTINATION names.",
    )
    .argument("<source>", "an image of headroom's image store (e.g. headroom/tiny-guest)")
    .argument(
      "<destination>",
      "registry host, repository and tag (e.g. 127.0.0.1:5000/lab/guest:1)",
    )
    .option(
      "--insecure-registry <host>",
      "may be reached over plain HTTP when HTTPS fails (loopback registries always may)",
    )
    .addHelpText("after", `\n${EXIT_CODES_HELP}`)
    .action(
      async (
        source: string,
        destination: string,
        options: { insecureRegistry?: string },
        command: Command,
      ) => {
        const globals = globalsOf(command);
        const [{ withClient }, { pushImageTo }] = await Promise.all([
          import("../client.ts"),
          import("../resources/images.ts"),
        ]);
        process.exitCode = await withClient(globals, (client) =>
          pushImageTo(client, source, destination, {
            write: (text) => process.stdout.write(text),
            insecure: options.insecureRegistry ? [options.insecureRegistry] : [],
          }),
        );
      },
    );
  image
    .command("prune")
    .description(
      "Remove from the host's store what no VMI there uses: images it can have again, unused layers.",
    )
    .option("--dry-run", "only say which images would be removed")
    .addHelpText("after", `\n${EXIT_CODES_HELP}`)
    .action(async (options: { dryRun?: boolean }, command: Command) => {
      const globals = globalsOf(command);
      const [{ withClient }, { pruneImages }] = await Promise.all([
        import("../client.ts"),
        import("../resources/images.ts"),
      ]);
      process.exitCode = await withClient(globals, (client) =>
        pruneImages(client, {
          dryRun: options.dryRun === true,
          write: (text) => process.stdout.write(text),
          warn: (text) => process.stderr.write(text),
        }),
      );
    });
}
