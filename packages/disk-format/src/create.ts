// Writes new, empty qcow2 files in-process: what `qemu-img create -f qcow2`
// writes, without a child process on the launch path. The layout is the one
// qemu-img uses (docs/interop/qcow2.txt): cluster 0 the header, cluster 1 the
// refcount table, cluster 2 its one refcount block, then the L1 table; no L2
// table yet, so every cluster reads from the backing file, or as zeros.
import { randomBytes } from "node:crypto";
import { link, unlink, writeFile } from "node:fs/promises";
import { type DiskFormat, EXT_BACKING_FORMAT, EXT_END, QCOW2_MAGIC } from "./inspect.ts";

const CLUSTER_BITS = 16;
const CLUSTER = 2 ** CLUSTER_BITS;
const L2_ENTRIES = CLUSTER / 8;
const REFCOUNT_ORDER = 4; // 16-bit refcounts, QEMU's default
const HEADER_LENGTH = 104; // the version 3 header without optional fields
const MAX_BACKING_NAME = 1023; // QEMU's limit
const SECTOR = 512;

export interface Qcow2Options {
  /** The size the guest sees; rounded up to whole 512-byte sectors. */
  virtualSizeBytes: number;
  /** An overlay: unwritten clusters read from this file, which is never written. */
  backing?: { path: string; format: DiskFormat };
}

function extension(type: number, data: Buffer): Buffer {
  const padded = Buffer.alloc(8 + Math.ceil(data.length / 8) * 8);
  padded.writeUInt32BE(type, 0);
  padded.writeUInt32BE(data.length, 4);
  data.copy(padded, 8);
  return padded;
}

/** The bytes of an empty qcow2 file (version 3, 64 KiB clusters). */
export function qcow2Bytes(options: Qcow2Options): Buffer {
  const size = Math.ceil(options.virtualSizeBytes / SECTOR) * SECTOR;
  if (!Number.isSafeInteger(size) || size <= 0) {
    throw new RangeError(`virtual size ${options.virtualSizeBytes} is not a positive byte count`);
  }
  const backingName = Buffer.from(options.backing?.path ?? "", "utf8");
  if (backingName.length > MAX_BACKING_NAME) {
    throw new RangeError(
      `backing file name is ${backingName.length} bytes; qcow2 allows ${MAX_BACKING_NAME}`,
    );
  }
  const l1Entries = Math.ceil(size / (CLUSTER * L2_ENTRIES));
  const l1Clusters = Math.ceil((l1Entries * 8) / CLUSTER);
  const refcountTableAt = CLUSTER;
  const refcountBlockAt = 2 * CLUSTER;
  const l1At = 3 * CLUSTER;
  const usedClusters = 3 + l1Clusters;
  if (usedClusters > CLUSTER / 2)
    throw new RangeError(`virtual size ${size} needs more than one refcount block`);

  const extensions = Buffer.concat([
    ...(options.backing
      ? [extension(EXT_BACKING_FORMAT, Buffer.from(options.backing.format))]
      : []),
    extension(EXT_END, Buffer.alloc(0)),
  ]);
  const backingAt = HEADER_LENGTH + extensions.length;

  const file = Buffer.alloc(l1At + l1Entries * 8);
  file.writeUInt32BE(QCOW2_MAGIC, 0);
  file.writeUInt32BE(3, 4); // version
  file.writeBigUInt64BE(backingName.length ? BigInt(backingAt) : 0n, 8);
  file.writeUInt32BE(backingName.length, 16);
  file.writeUInt32BE(CLUSTER_BITS, 20);
  file.writeBigUInt64BE(BigInt(size), 24);
  file.writeUInt32BE(0, 32); // no encryption
  file.writeUInt32BE(l1Entries, 36);
  file.writeBigUInt64BE(BigInt(l1At), 40);
  file.writeBigUInt64BE(BigInt(refcountTableAt), 48);
  file.writeUInt32BE(1, 56); // refcount table clusters
  // 60–99: no snapshots, no feature bits.
  file.writeUInt32BE(REFCOUNT_ORDER, 96);
  file.writeUInt32BE(HEADER_LENGTH, 100);
  extensions.copy(file, HEADER_LENGTH);
  backingName.copy(file, backingAt);

  file.writeBigUInt64BE(BigInt(refcountBlockAt), refcountTableAt);
  for (let cluster = 0; cluster < usedClusters; cluster++) {
    file.writeUInt16BE(1, refcountBlockAt + cluster * 2);
  }
  return file;
}

/**
 * Creates `path` as an empty qcow2 file; fails with EEXIST when it exists. The
 * bytes are written beside it first and linked into place, so nobody ever
 * sees half a header and a file already there is never replaced.
 */
export async function createQcow2(path: string, options: Qcow2Options): Promise<void> {
  const bytes = qcow2Bytes(options);
  const staging = `${path}.${randomBytes(6).toString("hex")}.partial`;
  await writeFile(staging, bytes, { flag: "wx", mode: 0o644 });
  try {
    await link(staging, path);
  } finally {
    await unlink(staging);
  }
}
