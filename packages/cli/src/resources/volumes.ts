// Volumes (named disks of a host that outlive VMIs: what a VMI's
// persistentVolumeClaim or dataVolume names), through the volume API the
// launcher serves.
import { API_SUBJECTS } from "@headroom/bus/client";
import {
  CreateVolumeReply,
  CreateVolumeRequest,
  DeleteVolumeReply,
  DeleteVolumeRequest,
  type IVolume,
  ListVolumesReply,
  ListVolumesRequest,
} from "@headroom/proto";
import { toBytes } from "@headroom/quantity";
import type { HeadroomClient } from "../client.ts";
import { CliError, EXIT_INVALID, EXIT_OK, EXIT_USAGE } from "../exit-codes.ts";
import {
  formatAge,
  formatBytes,
  formatObjects,
  formatTable,
  type OutputFormat,
} from "../output.ts";

/** A volume as -o json|yaml prints it. */
export function volumeObject(volume: IVolume) {
  return {
    name: volume.name ?? "",
    sizeBytes: Number(volume.sizeBytes ?? 0),
    ...(volume.image ? { image: volume.image } : {}),
    usedBy: volume.usedBy || null,
    node: volume.node ?? "",
    createdAt: new Date(Number(volume.createdUnixMs ?? 0)).toISOString(),
  };
}

export interface CreateVolumeOptions {
  size?: string;
  from?: string;
}

export async function createVolume(
  client: HeadroomClient,
  name: string,
  options: CreateVolumeOptions,
  write: (text: string) => void,
): Promise<number> {
  if (options.size === undefined && options.from === undefined)
    throw new CliError("give the volume a --size (e.g. 10Gi), or --from IMAGE", EXIT_USAGE);
  let sizeBytes = 0;
  if (options.size !== undefined) {
    const size = toBytes(options.size);
    if (!size.ok) throw new CliError(`--size ${options.size}: ${size.reason}`, EXIT_USAGE);
    sizeBytes = Number(size.bytes);
  }
  const reply = await client.call(
    API_SUBJECTS.createVolume,
    CreateVolumeRequest,
    { name, sizeBytes, image: options.from ?? "" },
    CreateVolumeReply,
  );
  if (!reply.created)
    throw new CliError(reply.error || `volume/${name} was not created`, EXIT_INVALID);
  const from = reply.created.image ? `, from ${reply.created.image}` : "";
  write(
    `volume/${name} created (${formatBytes(Number(reply.created.sizeBytes))}${from}, on ${reply.created.node})\n`,
  );
  return EXIT_OK;
}

export interface GetVolumesOptions {
  name?: string;
  output: OutputFormat;
  write: (text: string) => void;
  now?: () => number;
}

export async function getVolumes(
  client: HeadroomClient,
  options: GetVolumesOptions,
): Promise<number> {
  const now = options.now ?? Date.now;
  const reply = await client.call(
    API_SUBJECTS.listVolumes,
    ListVolumesRequest,
    {},
    ListVolumesReply,
    { read: true },
  );
  let volumes = reply.volumes;
  if (options.name !== undefined) {
    volumes = volumes.filter((volume) => volume.name === options.name);
    if (volumes.length === 0) throw new CliError(`volume/${options.name} not found`, EXIT_INVALID);
  }
  if (options.output === "json" || options.output === "yaml") {
    options.write(
      formatObjects(options.output, volumes.map(volumeObject), options.name !== undefined),
    );
    return EXIT_OK;
  }
  if (volumes.length === 0) {
    process.stderr.write("No volumes found.\n");
    return EXIT_OK;
  }
  const rows = volumes.map((volume) => [
    volume.name ?? "",
    formatBytes(Number(volume.sizeBytes ?? 0)),
    volume.usedBy || "<none>",
    volume.image || "<blank>",
    formatAge(now() - Number(volume.createdUnixMs ?? 0)),
  ]);
  options.write(formatTable(["NAME", "SIZE", "USED BY", "FROM", "AGE"], rows));
  return EXIT_OK;
}

export async function deleteVolume(
  client: HeadroomClient,
  name: string,
  write: (text: string) => void,
): Promise<number> {
  const reply = await client.call(
    API_SUBJECTS.deleteVolume,
    DeleteVolumeRequest,
    { name },
    DeleteVolumeReply,
  );
  if (reply.deleted) {
    write(`volume/${name} deleted\n`);
    return EXIT_OK;
  }
  if (/does not exist/.test(reply.error))
    throw new CliError(`volume/${name} not found`, EXIT_INVALID);
  throw new CliError(reply.error || `volume/${name} was not deleted`, EXIT_INVALID);
}
