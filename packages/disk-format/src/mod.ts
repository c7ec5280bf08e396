export { createQcow2, type Qcow2Options, qcow2Bytes } from "./create.ts";
export { DiskFormatError } from "./errors.ts";
export { type DiskFormat, type DiskInfo, inspectDisk, requireSelfContained } from "./inspect.ts";
