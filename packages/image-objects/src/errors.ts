import { ImageStoreError } from "@headroom/images";

/** An image could not be fetched from headroom's image store (too large, cut short, corrupt). */
export class ImageFetchError extends ImageStoreError {
  constructor(message: string) {
    super("IMAGE_FETCH_FAILED", message);
    this.name = "ImageFetchError";
  }
}
