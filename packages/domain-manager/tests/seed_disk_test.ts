// The files of a cloud-init seed, and the seed disk genisoimage makes of
// them: labelled for its datasource, holding exactly those files.
import { execFile } from "node:child_process";
import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureSeedDisk, seedFiles } from "../src/mod.ts";

const run = promisify(execFile);
let dir = "";
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "headroom-seed-"));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const base = {
  instanceId: "web.default",
  hostname: "web",
  userData: Buffer.from("#cloud-config\n"),
};

describe("seedFiles", () => {
  it("lays out NoCloud and ConfigDrive as cloud-init reads them, network data only when given", () => {
    expect(Object.keys(seedFiles({ ...base, path: "", kind: "nocloud" }))).toEqual([
      "meta-data",
      "user-data",
    ]);
    expect(
      Object.keys(
        seedFiles({ ...base, path: "", kind: "configdrive", networkData: Buffer.from("{}") }),
      ),
    ).toEqual([
      "openstack/latest/meta_data.json",
      "openstack/latest/user_data",
      "openstack/latest/network_data.json",
    ]);
  });

  it("writes meta-data no value can break out of", () => {
    const files = seedFiles({ ...base, path: "", kind: "nocloud", hostname: 'x"\ninjected: true' });
    expect(JSON.parse(String(files["meta-data"]))).toEqual({
      "instance-id": "web.default",
      "local-hostname": 'x"\ninjected: true',
    });
  });
});

describe("ensureSeedDisk", () => {
  it("makes an ISO 9660 image labelled cidata once, readable by QEMU, and keeps it", async () => {
    const path = join(dir, "vm", "cloudinitdisk.iso");
    expect(await ensureSeedDisk({ ...base, path, kind: "nocloud" })).toBe("created");
    const { stdout } = await run("isoinfo", ["-d", "-i", path]);
    expect(stdout).toMatch(/^Volume id: cidata$/m);
    const listing = (await run("isoinfo", ["-R", "-f", "-i", path])).stdout.split("\n");
    expect(listing).toEqual(expect.arrayContaining(["/meta-data", "/user-data"]));
    expect((await stat(path)).mode & 0o777).toBe(0o644);
    expect(await ensureSeedDisk({ ...base, path, kind: "nocloud" })).toBe("kept");
  });
});
