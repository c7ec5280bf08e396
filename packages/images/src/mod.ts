export { IMAGE_ENTRY_TYPES, isArchiveError, notFilesAndFolders } from "./archive.ts";
export {
  ImageFileNotFoundError,
  ImageNotFoundError,
  ImagePathError,
  ImageSourceError,
  ImageStoreError,
  InvalidImageRefError,
  OverlayError,
  QemuAccessError,
} from "./errors.ts";
export type {
  GuestBanner,
  GuestReport,
  ReportMatch,
  WaitForReportOptions,
} from "./guest_console.ts";
export {
  parseGuestBanner,
  parseGuestReport,
  parseGuestReports,
  TINY_GUEST_CMDLINE,
  waitForGuestReport,
} from "./guest_console.ts";
export { imageKey, MAX_IMAGE_REF_LENGTH, validateImageRef } from "./image_ref.ts";
export type { LayerStaging } from "./layers.ts";
export type { QemuAccessOptions } from "./qemu_access.ts";
export { assertQemuCanRead, DEFAULT_QEMU_USER } from "./qemu_access.ts";
export type {
  AddOptions,
  CreateOverlayOptions,
  ImageInfo,
  ImageStore,
  Overlay,
  PruneOptions,
  ResolvedImage,
  Staging,
} from "./store.ts";
export {
  checkImageSource,
  defaultImageStoreDir,
  detectDiskFormat,
  imageFilePath,
  imageRootPath,
  openImageStore,
  TINY_GUEST_REF,
} from "./store.ts";
export type { TreeSize } from "./tree.ts";
