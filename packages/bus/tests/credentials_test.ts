// The secrets directory: NKEY seeds are read only from files that are this
// user's and private; anything else is refused, saying how to fix it.
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  ensureCredentials,
  publicKeyOf,
  readCredentials,
  SERVER_CREDENTIALS_FILE,
} from "../src/mod.ts";

let root = "";
let dir = "";

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), "headroom-credentials-"));
  dir = join(root, "secrets");
});

afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

describe("readCredentials", () => {
  it("reads what ensureCredentials made", async () => {
    const made = await ensureCredentials(dir);
    expect(await readCredentials(dir)).toEqual(made);
  });

  it("makes a seed per user, and nats.env holds their public keys for the server", async () => {
    const made = await ensureCredentials(dir);
    const file = await readFile(join(dir, SERVER_CREDENTIALS_FILE), "utf8");
    for (const [user, seed] of Object.entries(made)) {
      expect(seed).toMatch(/^SU[A-Z2-7]{56}$/);
      expect(file).toContain(`HEADROOM_NATS_NKEY_${user.toUpperCase()}=${publicKeyOf(seed)}`);
    }
  });

  it("refuses the password file of an earlier headroom, saying to make keys", async () => {
    await mkdir(dir, { mode: 0o700 });
    await writeFile(join(dir, SERVER_CREDENTIALS_FILE), "HEADROOM_NATS_PASSWORD_CLIENT=hrold\n", {
      mode: 0o600,
    });
    await expect(readCredentials(dir)).rejects.toThrow(
      `holds passwords from an earlier headroom, which now logs in with NKEYs: remove ${dir}`,
    );
  });

  it("refuses a seed file others can read, naming it and the fix", async () => {
    await ensureCredentials(dir);
    const file = join(dir, SERVER_CREDENTIALS_FILE);
    await chmod(file, 0o644);
    await expect(readCredentials(dir)).rejects.toThrow(
      `${file} is readable by others (mode 0644): run chmod 600 ${file}`,
    );
    await expect(ensureCredentials(dir)).rejects.toThrow("readable by others");
  });

  it("refuses a directory others can write to", async () => {
    await ensureCredentials(dir);
    await chmod(dir, 0o777);
    await expect(readCredentials(dir)).rejects.toThrow(
      `${dir} is writable by others (mode 0777): run chmod go-w ${dir}`,
    );
  });

  it.runIf(process.getuid?.() === 0)(
    "refuses a password file that belongs to another user",
    async () => {
      await ensureCredentials(dir);
      const file = join(dir, SERVER_CREDENTIALS_FILE);
      await chown(file, 65534, 65534);
      await expect(readCredentials(dir)).rejects.toThrow(
        `${file} belongs to uid 65534, not to this user (uid 0)`,
      );
    },
  );
});
