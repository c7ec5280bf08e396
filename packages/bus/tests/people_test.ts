import { chmod, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  addPerson,
  PEOPLE_FILE,
  personNameProblem,
  readPeople,
  removePerson,
  serverConfig,
} from "../src/mod.ts";

let dir = "";
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "headroom-people-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("people", () => {
  it("adds, lists and removes people, keeping public keys only", async () => {
    expect(await readPeople(dir)).toEqual([]);
    const { person, seed } = await addPerson(dir, "alice", new Date("2026-12-02T00:00:00Z"));
    expect(person).toEqual({
      name: "alice",
      nkey: expect.stringMatching(/^U[A-Z2-7]{55}$/),
      added: "2026-12-02T00:00:00.000Z",
    });
    expect(seed).toMatch(/^SU/);
    expect(await readFile(join(dir, PEOPLE_FILE), "utf8")).not.toContain(seed);
    await addPerson(dir, "bob");
    expect((await readPeople(dir)).map((p) => p.name)).toEqual(["alice", "bob"]);
    await expect(addPerson(dir, "alice")).rejects.toThrow("user alice already has a login");
    expect(await removePerson(dir, "alice")).toBe(true);
    expect(await removePerson(dir, "alice")).toBe(false);
    expect((await readPeople(dir)).map((p) => p.name)).toEqual(["bob"]);
  });

  it.each(["client", "launcher", "Alice", "-a", "a-", "a.b", "x".repeat(33), ""])(
    "refuses the name %j",
    async (name) => {
      expect(personNameProblem(name)).toBeDefined();
      await expect(addPerson(dir, name)).rejects.toThrow(/^user name /);
    },
  );

  it("refuses a list others may write, and entries that are not people", async () => {
    await addPerson(dir, "alice");
    await chmod(join(dir, PEOPLE_FILE), 0o666);
    await expect(readPeople(dir)).rejects.toThrow("is writable by others");
    await writeFile(join(dir, PEOPLE_FILE), '[{"name":"eve\\"","nkey":"UX"}]', { mode: 0o600 });
    await chmod(join(dir, PEOPLE_FILE), 0o600);
    await expect(readPeople(dir)).rejects.toThrow("entry 0 has no valid name");
  });
});

describe("serverConfig", () => {
  it("includes the shipped file and gives each person the client's rights and an inbox of their own", async () => {
    const { person } = await addPerson(dir, "alice", new Date("2026-12-02T00:00:00Z"));
    const text = serverConfig("../../infra/nats/headroom.conf", "/s/nats/pid", [person]);
    expect(text).toContain('include "../../infra/nats/headroom.conf"');
    expect(text).toContain('pid_file: "/s/nats/pid"');
    expect(text).toContain("{ nkey: $HEADROOM_NATS_NKEY_CLIENT, permissions: $CLIENT }");
    expect(text).toContain(
      `{ nkey: ${person.nkey}, permissions: { publish: $CLIENT_PUBLISH, subscribe: { allow: ["_INBOX_alice.>"] } } }`,
    );
  });

  it("refuses a person that could change the configuration", () => {
    expect(() => serverConfig("h.conf", "/p", [{ name: "a } ] }", nkey: "U", added: "" }])).toThrow(
      "not a person's login",
    );
  });
});
