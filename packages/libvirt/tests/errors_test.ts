import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Connection, ErrorCode, ErrorDomain, isLibvirtError, LibvirtError } from "../src/mod.ts";
import { buildXml, DomainJanitor, domainXml, uniqueName } from "./helpers.ts";

const janitor = new DomainJanitor();
let connection: Connection;

beforeAll(async () => {
  connection = await Connection.open();
});

afterAll(async () => {
  await janitor.cleanUp();
  await connection?.close();
});

async function failureOf(call: Promise<unknown>): Promise<LibvirtError> {
  try {
    await call;
  } catch (error) {
    if (error instanceof LibvirtError) return error;
    throw error;
  }
  throw new Error("the call succeeded");
}

describe("typed errors", () => {
  it("says VIR_ERR_NO_DOMAIN for a missing domain, with libvirt's message and domain", async () => {
    const name = uniqueName("missing");
    const failure = await failureOf(connection.lookupByName(name));
    expect(failure.code).toBe(ErrorCode.NO_DOMAIN);
    expect(failure.code).toBe(42);
    expect(failure.codeName).toBe("VIR_ERR_NO_DOMAIN");
    expect(failure.domain).toBe(ErrorDomain.QEMU);
    expect(failure.domainName).toBe("VIR_FROM_QEMU");
    expect(failure.message).toContain(name);
    expect(failure.name).toBe("LibvirtError");
    expect(isLibvirtError(failure, ErrorCode.NO_DOMAIN)).toBe(true);
    // The stack leads back to the caller, not only into the binding.
    expect(failure.stack).toContain("errors_test.ts");

    const byUuid = await failureOf(connection.lookupByUuid("00000000-0000-4000-8000-00000000abcd"));
    expect(byUuid.code).toBe(ErrorCode.NO_DOMAIN);
  });

  it("says which XML problem: syntax, content, schema, unsupported configuration", async () => {
    const name = janitor.track(uniqueName("invalid"));
    const malformed = await failureOf(connection.defineXml("<domain type='qemu'><name>"));
    expect(malformed.codeName).toBe("VIR_ERR_XML_DETAIL");

    const noOs = buildXml(["domain", { type: "qemu" }, ["name", {}, name]]);
    const incomplete = await failureOf(connection.defineXml(noOs));
    expect(incomplete.code).toBe(ErrorCode.XML_ERROR);
    expect(incomplete.message).toMatch(/os <type>/);

    const unknownElement = buildXml([
      "domain",
      { type: "qemu" },
      ["name", {}, name],
      ["bogus", {}],
    ]);
    const invalid = await failureOf(connection.defineXml(unknownElement, { validate: true }));
    expect(invalid.code).toBe(ErrorCode.XML_INVALID_SCHEMA);

    const unknownType = buildXml([
      "domain",
      { type: "nope" },
      ["name", {}, name],
      ["memory", {}, "65536"],
    ]);
    const unsupported = await failureOf(connection.defineXml(unknownType));
    expect(unsupported.code).toBe(ErrorCode.CONFIG_UNSUPPORTED);
    expect(await connection.findDomain(name)).toBeUndefined();
  });

  it("says VIR_ERR_OPERATION_INVALID for destroying a domain that is not running", async () => {
    const domain = await connection.defineXml(domainXml(janitor.track(uniqueName("inactive"))));
    try {
      const failure = await failureOf(domain.destroy());
      expect(failure.code).toBe(ErrorCode.OPERATION_INVALID);
      expect(failure.message).toMatch(/not running/);
    } finally {
      await janitor.cleanUp();
    }
  });

  it("rejects calls on domains of a closed connection, and closing twice is safe", async () => {
    const own = await Connection.open();
    const domain = await own.defineXml(domainXml(janitor.track(uniqueName("closed"))));
    await own.close();
    await own.close();
    expect(own.closed).toBe(true);
    expect(await own.isAlive()).toBe(false);

    const onDomain = await failureOf(domain.getState());
    expect(onDomain.code).toBe(ErrorCode.INVALID_CONN);
    expect(onDomain.message).toMatch(/closed/);
    const onConnection = await failureOf(own.lookupByName(domain.name));
    expect(onConnection.code).toBe(ErrorCode.INVALID_CONN);
    domain.free();
    domain.free();
    await janitor.cleanUp();
  });

  it("rejects calls on a freed domain handle without touching others", async () => {
    const name = janitor.track(uniqueName("freed"));
    const domain = await connection.defineXml(domainXml(name));
    const other = await connection.lookupByName(name);
    domain.free();
    const failure = await failureOf(domain.getXmlDesc());
    expect(failure.code).toBe(ErrorCode.INVALID_DOMAIN);
    expect(failure.message).toMatch(/freed/);
    expect((await other.getState()).state).toBe("shutoff");
    await janitor.cleanUp();
  });

  it("says VIR_ERR_NO_CONNECT for a URI no driver handles", async () => {
    const failure = await failureOf(Connection.open("nothing-here:///system"));
    expect(failure.code).toBe(ErrorCode.NO_CONNECT);
    expect(failure.message).toMatch(
      /^cannot open a libvirt connection to nothing-here:\/\/\/system: /,
    );
  });
});
