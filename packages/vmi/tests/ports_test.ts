// Interface ports as KubeVirt's vmi-masquerade example writes them: guest TCP
// ports of a masquerade interface, each once, that the host forwards to.
import { describe, expect, it } from "vitest";
import { guestResources, type Vmi, validateUpdate, validateVmi } from "../src/mod.ts";
import { type Doc, expectOneError, expectValid, vmiWith } from "./helpers.ts";

const PORTS = "spec.domain.devices.interfaces[0].ports";

function withPorts(ports: unknown, index = 0): Doc {
  return vmiWith((doc) => (doc.spec.domain.devices.interfaces[index].ports = ports));
}

describe("interface ports", () => {
  it("are stored with TCP as their protocol when the document has none", () => {
    const result = validateVmi(
      withPorts([
        { name: "http", port: 80 },
        { port: 22, protocol: "TCP" },
      ]),
    );
    expectValid(result);
    expect((result.vmi as Vmi).spec.domain.devices.interfaces[0]?.ports).toEqual([
      { name: "http", port: 80, protocol: "TCP" },
      { port: 22, protocol: "TCP" },
    ]);
  });

  it("reach the guest's resources with their interface, for the launcher", () => {
    const vmi = validateVmi(withPorts([{ name: "http", port: 80 }])).vmi as Vmi;
    const guest = guestResources(vmi);
    expect(guest.ok && guest.resources.ports).toEqual([
      { interface: "default", name: "http", port: 80, protocol: "TCP" },
    ]);
  });

  it("are absent from an interface that has none", () => {
    const result = validateVmi(vmiWith(() => {}));
    expectValid(result);
    expect((result.vmi as Vmi).spec.domain.devices.interfaces[0]).not.toHaveProperty("ports");
  });

  it("are refused on a bridge interface, saying why", () => {
    const error = expectOneError(
      validateVmi(withPorts([{ port: 80 }], 1)),
      "spec.domain.devices.interfaces[1].ports",
    );
    expect(error.message).toContain("only to masquerade interfaces");
  });

  it("refuse UDP for now, naming the protocol field", () => {
    const error = expectOneError(
      validateVmi(withPorts([{ port: 53, protocol: "UDP" }])),
      `${PORTS}[0].protocol`,
    );
    expect(error.message).toContain("TCP ports only");
  });

  it("refuse a port or a name given twice, naming the first", () => {
    const port = expectOneError(
      validateVmi(withPorts([{ port: 80 }, { port: 80 }])),
      `${PORTS}[1].port`,
    );
    expect(port.message).toContain(`${PORTS}[0]`);
    const name = expectOneError(
      validateVmi(
        withPorts([
          { name: "web", port: 80 },
          { name: "web", port: 8080 },
        ]),
      ),
      `${PORTS}[1].name`,
    );
    expect(name.message).toContain(`${PORTS}[0]`);
  });

  it.each([
    [[{ port: 0 }], `${PORTS}[0].port`],
    [[{ port: 65536 }], `${PORTS}[0].port`],
    [[{ port: "80" }], `${PORTS}[0].port`],
    [[{ port: 80, protocol: "SCTP" }], `${PORTS}[0].protocol`],
    [[{ name: "HTTP", port: 80 }], `${PORTS}[0].name`],
    [[{ name: "123", port: 80 }], `${PORTS}[0].name`],
    [[{ name: "a-very-long-port-name", port: 80 }], `${PORTS}[0].name`],
    [[{ name: "http" }], `${PORTS}[0].port`],
    [[{ port: 80, hostPort: 8080 }], `${PORTS}[0].hostPort`],
    [Array.from({ length: 33 }, (_, i) => ({ port: i + 1 })), PORTS],
  ])("refuse %j, naming %s", (ports, field) => {
    const result = validateVmi(withPorts(ports));
    expect(result.valid).toBe(false);
    expect(result.errors.map((error) => error.field)).toContain(field);
  });

  it("cannot change in place on a running VMI's interface", () => {
    const stored = validateVmi(withPorts([{ port: 80 }])).vmi as Vmi;
    expectOneError(
      validateUpdate(stored, withPorts([{ port: 8080 }])),
      "spec.domain.devices.interfaces[0]",
    );
  });
});
