export { ImageFetchError } from "./errors.ts";
export type { FetchOptions, Progress, Uploaded } from "./transfer.ts";
export { fetchImage, listImageObjects, uploadImage } from "./transfer.ts";
