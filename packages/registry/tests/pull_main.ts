// Pulls one image, as a launcher would, in a process of its own, so a test
// can give it an environment (NODE_EXTRA_CA_CERTS: a CA the registry's
// certificate is signed by). Prints the manifest digest.
//   node --import tsx tests/pull_main.ts REF STORE_DIR [USER PASSWORD]
import { openImageStore } from "@headroom/images";
import { pullImage } from "../src/mod.ts";

const [ref = "", storeDir = "", username, password] = process.argv.slice(2);
const pulled = await pullImage(openImageStore(storeDir), ref, {
  maxBytes: 1 << 26,
  ...(username && password ? { login: { username, password } } : {}),
});
console.log(pulled === "unchanged" ? "unchanged" : pulled.image.digest);
