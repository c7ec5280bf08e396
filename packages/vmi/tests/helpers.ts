import { readFileSync } from "node:fs";
import { expect } from "vitest";
import { type FieldError, parseDocument, type ValidationResult } from "../src/mod.ts";

// biome-ignore lint/suspicious/noExplicitAny: tests reach into documents freely.
export type Doc = any;

/** A valid VMI with two interfaces (pod + multus), a disk, kernel boot and memory. */
export function baseVmi(): Doc {
  return {
    apiVersion: "kubevirt.io/v1",
    kind: "VirtualMachineInstance",
    metadata: { name: "vm1", labels: { app: "demo" } },
    spec: {
      domain: {
        cpu: { cores: 1, sockets: 1, threads: 1 },
        memory: { guest: "128Mi" },
        firmware: {
          kernelBoot: {
            kernelArgs: "console=ttyS0",
            container: {
              image: "headroom/tiny-guest",
              kernelPath: "/boot/vmlinuz",
              initrdPath: "/boot/initrd.img",
            },
          },
        },
        devices: {
          disks: [{ name: "containerdisk", disk: { bus: "virtio" } }],
          interfaces: [
            { name: "default", masquerade: {} },
            { name: "secondary", bridge: {} },
          ],
          rng: {},
        },
        resources: { requests: { "kubevirt.io/interface": 5 } },
      },
      networks: [
        { name: "default", pod: {} },
        { name: "secondary", multus: { networkName: "headroom-bridge" } },
      ],
      volumes: [{ name: "containerdisk", containerDisk: { image: "headroom/tiny-guest" } }],
    },
  };
}

/** baseVmi() changed by `change`. */
export function vmiWith(change: (doc: Doc) => void): Doc {
  const doc = baseVmi();
  change(doc);
  return doc;
}

export function fixture(name: string): unknown {
  const url = new URL(`./fixtures/${name}`, import.meta.url);
  return parseDocument(readFileSync(url, "utf8"), name);
}

/** Asserts the result is invalid with exactly one error, on `field`, and returns it. */
export function expectOneError(result: ValidationResult, field: string): FieldError {
  expect(result.valid).toBe(false);
  expect(result.vmi).toBeNull();
  expect(result.capacity).toBeNull();
  expect(result.errors.map((error) => error.field)).toEqual([field]);
  const [error] = result.errors;
  if (!error) throw new Error("unreachable");
  // Every message names its field, so it reads on its own.
  expect(error.message.startsWith(field)).toBe(true);
  return error;
}

export function expectValid(result: ValidationResult): void {
  expect(result.errors).toEqual([]);
  expect(result.valid).toBe(true);
}
