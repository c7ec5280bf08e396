/** The spec the fixtures under fixtures/ were captured from (scripts/capture-fixtures.ts). */
import type { DomainSpec } from "../src/mod.ts";

export function fixtureSpec(machine: "q35" | "pc", name: string): DomainSpec {
  return {
    name,
    uuid:
      machine === "q35"
        ? "5f0c6c0b-8e11-4d7a-9d1e-000000000035"
        : "5f0c6c0b-8e11-4d7a-9d1e-0000000000c0",
    title: "default/fixture",
    description: "",
    virtType: "qemu",
    machine,
    vcpus: 1,
    memoryKiB: 262144,
    kernelBoot: {
      kernelPath: "/var/lib/headroom/boot/vmlinuz",
      initrdPath: "/var/lib/headroom/boot/initrd.img",
      cmdline: "console=ttyS0",
    },
    disks: [
      {
        name: "rootdisk",
        bus: "virtio",
        sourceFile: "/var/lib/headroom/disks/rootdisk.qcow2",
        format: "qcow2",
      },
    ],
    interfaces: [
      { name: "default", kind: "pod", model: "virtio-non-transitional" },
      { name: "secondary", kind: "bridge", bridge: "hrbr0", model: "virtio-non-transitional" },
    ],
    serialConsoleLogPath: "/var/log/headroom/fixture-serial.log",
    rng: true,
  };
}
