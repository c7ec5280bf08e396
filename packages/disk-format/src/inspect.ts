// What a disk image file is, read from its bytes and never from its name: a
// file called disk.raw that holds a qcow2 header is a qcow2 file to QEMU's
// probe, and a qcow2 file can name any host file as its backing file.
// Layout of the qcow2 header: QEMU's docs/interop/qcow2.txt.
import { open } from "node:fs/promises";
import { DiskFormatError } from "./errors.ts";

export type DiskFormat = "qcow2" | "raw";

export interface DiskInfo {
  format: DiskFormat;
  /** The size the guest sees: the qcow2 header's size, or a raw file's length. */
  virtualSizeBytes: number;
  /** qcow2 only: the file this one reads unwritten clusters from, as the header names it. */
  backingFile?: string;
  /** qcow2 only: the format the header gives for its backing file. */
  backingFormat?: string;
  /** qcow2 only: the guest's data lives in another file ("" when the header does not name it). */
  externalDataFile?: string;
  encrypted: boolean;
}

export const QCOW2_MAGIC = 0x514649fb; // "QFI\xfb"
export const EXT_END = 0;
export const EXT_BACKING_FORMAT = 0xe2792aca;
export const EXT_DATA_FILE = 0x44415441;
const INCOMPATIBLE_DATA_FILE = 1n << 2n;
const MAX_CLUSTER_BITS = 21;
const FIRST_READ = 64 * 1024;

// Formats QEMU would open by probing; headroom takes none of them.
const OTHER_FORMATS: { name: string; offset: number; magic: Buffer }[] = [
  { name: "vmdk", offset: 0, magic: Buffer.from("KDMV") },
  { name: "vmdk", offset: 0, magic: Buffer.from("COWD") },
  { name: "vmdk descriptor", offset: 0, magic: Buffer.from("# Disk DescriptorFile") },
  { name: "vdi", offset: 0x40, magic: Buffer.from([0x7f, 0x10, 0xda, 0xbe]) },
  { name: "vhdx", offset: 0, magic: Buffer.from("vhdxfile") },
  { name: "vpc", offset: 0, magic: Buffer.from("conectix") },
  { name: "qed", offset: 0, magic: Buffer.from("QED\0") },
  { name: "luks", offset: 0, magic: Buffer.from([0x4c, 0x55, 0x4b, 0x53, 0xba, 0xbe]) },
  { name: "parallels", offset: 0, magic: Buffer.from("WithoutFreeSpace") },
  { name: "parallels", offset: 0, magic: Buffer.from("WithouFreSpacExt") },
  { name: "bochs", offset: 0, magic: Buffer.from("Bochs Virtual HD Image") },
  { name: "cloop", offset: 0, magic: Buffer.from("#!/bin/sh\n#V2.0 Format\nmodprobe cloop") },
];

function otherFormatOf(head: Buffer): string | undefined {
  return OTHER_FORMATS.find(({ offset, magic }) =>
    head.subarray(offset, offset + magic.length).equals(magic),
  )?.name;
}

async function readAt(path: string, offset: number, length: number): Promise<Buffer> {
  const file = await open(path, "r");
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await file.read(buffer, 0, length, offset);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

/** Reads a disk image's format, size and the files outside it that it names. */
export async function inspectDisk(path: string): Promise<DiskInfo> {
  const file = await open(path, "r");
  let head: Buffer;
  let fileSize: number;
  try {
    fileSize = (await file.stat()).size;
    head = Buffer.alloc(Math.min(FIRST_READ, fileSize));
    await file.read(head, 0, head.length, 0);
  } finally {
    await file.close();
  }
  if (head.length >= 4 && head.readUInt32BE(0) === QCOW2_MAGIC) return inspectQcow2(path, head);
  const other = otherFormatOf(head);
  if (other) {
    throw new DiskFormatError(path, `is a ${other} image; headroom takes qcow2 and raw disks only`);
  }
  return { format: "raw", virtualSizeBytes: fileSize, encrypted: false };
}

async function inspectQcow2(path: string, first: Buffer): Promise<DiskInfo> {
  const fail = (why: string): never => {
    throw new DiskFormatError(path, why);
  };
  if (first.length < 72) fail("has a qcow2 magic but a truncated header");
  const version = first.readUInt32BE(4);
  if (version !== 2 && version !== 3)
    fail(`is qcow version ${version}; headroom reads versions 2 and 3`);
  const clusterBits = first.readUInt32BE(20);
  if (clusterBits < 9 || clusterBits > MAX_CLUSTER_BITS)
    fail(`has a cluster size of 2^${clusterBits}`);
  const clusterSize = 2 ** clusterBits;
  // The header, its extensions and the backing file's name all sit in the first cluster.
  const head = clusterSize > first.length ? await readAt(path, 0, clusterSize) : first;
  const cluster = head.subarray(0, clusterSize);

  const info: DiskInfo = {
    format: "qcow2",
    virtualSizeBytes: Number(cluster.readBigUInt64BE(24)),
    encrypted: cluster.readUInt32BE(32) !== 0,
  };
  const backingOffset = Number(cluster.readBigUInt64BE(8));
  const backingSize = cluster.readUInt32BE(16);
  if (backingOffset !== 0) {
    if (backingSize > 1023 || backingOffset + backingSize > cluster.length) {
      fail("names a backing file outside its first cluster");
    }
    info.backingFile = cluster.toString("utf8", backingOffset, backingOffset + backingSize);
  }

  let extensionsAt = 72;
  if (version === 3) {
    if (cluster.length < 104) fail("has a truncated version 3 header");
    if (cluster.readBigUInt64BE(72) & INCOMPATIBLE_DATA_FILE) info.externalDataFile = "";
    extensionsAt = cluster.readUInt32BE(100);
    if (extensionsAt < 104 || extensionsAt > cluster.length)
      fail("has a header length out of range");
  }
  for (let at = extensionsAt; ; ) {
    if (at + 8 > cluster.length) fail("has header extensions that run past its first cluster");
    const type = cluster.readUInt32BE(at);
    const length = cluster.readUInt32BE(at + 4);
    if (type === EXT_END) break;
    const data = at + 8;
    if (data + length > cluster.length)
      fail("has a header extension that runs past its first cluster");
    if (type === EXT_BACKING_FORMAT)
      info.backingFormat = cluster.toString("utf8", data, data + length);
    if (type === EXT_DATA_FILE)
      info.externalDataFile = cluster.toString("utf8", data, data + length);
    at = data + Math.ceil(length / 8) * 8;
  }
  return info;
}

/**
 * Refuses a disk that reads anything outside itself, or that the guest could
 * not read: a backing file, an external data file, encryption.
 */
export function requireSelfContained(path: string, info: DiskInfo): void {
  if (info.backingFile !== undefined) {
    throw new DiskFormatError(
      path,
      `names a backing file (${JSON.stringify(info.backingFile)}); images must be self-contained`,
    );
  }
  if (info.externalDataFile !== undefined) {
    const named = info.externalDataFile ? ` (${JSON.stringify(info.externalDataFile)})` : "";
    throw new DiskFormatError(
      path,
      `keeps its data in an external file${named}; images must be self-contained`,
    );
  }
  if (info.encrypted) throw new DiskFormatError(path, "is encrypted; headroom has no key for it");
}
