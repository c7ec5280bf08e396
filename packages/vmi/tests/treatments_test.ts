// The fields headroom refuses for a reason, and those it accepts with a
// warning: each says why, naming the field.
import { describe, expect, it } from "vitest";
import { validateVmi } from "../src/mod.ts";
import { treatmentKey } from "../src/treatments.ts";
import { type Doc, expectOneError, vmiWith } from "./helpers.ts";

describe("spec.architecture", () => {
  it("takes amd64, the hosts' own, and refuses any other, naming the field", () => {
    expect(validateVmi(vmiWith((d) => (d.spec.architecture = "amd64"))).valid).toBe(true);
    const error = expectOneError(
      validateVmi(vmiWith((d) => (d.spec.architecture = "arm64"))),
      "spec.architecture",
    );
    expect(error.message).toContain('"amd64"');
  });
});

describe("refused, saying why", () => {
  it.each([
    ["spec.domain.launchSecurity", (d: Doc) => (d.spec.domain.launchSecurity = {}), "AMD SEV"],
    [
      "spec.domain.devices.interfaces[0].macvtap",
      (d: Doc) => (d.spec.domain.devices.interfaces[0].macvtap = {}),
      "use bridge on a multus network",
    ],
    [
      "spec.domain.devices.interfaces[0].passt",
      (d: Doc) => (d.spec.domain.devices.interfaces[0].passt = {}),
      "libvirt 9.0: use masquerade",
    ],
    [
      "spec.domain.devices.interfaces[1].pciAddress",
      (d: Doc) => (d.spec.domain.devices.interfaces[1].pciAddress = "0000:81:00.1"),
      "around the PCI room the interface request keeps",
    ],
    [
      "spec.domain.devices.disks[0].disk.pciAddress",
      (d: Doc) => (d.spec.domain.devices.disks[0].disk.pciAddress = "0000:81:01.0"),
      "around the PCI room the interface request keeps",
    ],
    [
      "spec.networks[0].pod.vmNetworkCIDR",
      (d: Doc) => (d.spec.networks[0].pod.vmNetworkCIDR = "10.10.0.0/24"),
      "HEADROOM_POD_SUBNET",
    ],
    [
      "spec.domain.devices.interfaces[0].portRanges",
      (d: Doc) => (d.spec.domain.devices.interfaces[0].portRanges = [{ start: 80, end: 90 }]),
      "list each in ports",
    ],
    [
      "spec.domain.devices.interfaces[0].passtBinding",
      (d: Doc) => (d.spec.domain.devices.interfaces[0].passtBinding = {}),
      "libvirt 9.0",
    ],
    [
      "spec.networks[1].resourceClaim",
      (d: Doc) => (d.spec.networks[1].resourceClaim = { claimName: "c", requestName: "r" }),
      "pass no hardware through",
    ],
    [
      "spec.volumes[0].containerPath",
      (d: Doc) => (d.spec.volumes[0].containerPath = { path: "/data" }),
      "virtiofs",
    ],
    [
      "spec.utilityVolumes",
      (d: Doc) => (d.spec.utilityVolumes = [{ name: "dump", claimName: "c" }]),
      "memory dumps and backups",
    ],
    [
      "spec.networks[0].pod.vmIPv6NetworkCIDR",
      (d: Doc) => (d.spec.networks[0].pod.vmIPv6NetworkCIDR = "fd10:0:2::/120"),
      "IPv4 addresses only",
    ],
    [
      "spec.domain.ioThreads",
      (d: Doc) => (d.spec.domain.ioThreads = { supplementalPoolThreadCount: 4 }),
      "use ioThreadsPolicy shared or auto",
    ],
    [
      "spec.domain.devices.interfaces[0].binding",
      (d: Doc) => (d.spec.domain.devices.interfaces[0].binding = { name: "passt" }),
      "use masquerade or bridge",
    ],
    [
      "spec.domain.devices.clientPassthrough",
      (d: Doc) => (d.spec.domain.devices.clientPassthrough = {}),
      "virtctl usbredir",
    ],
    [
      "spec.domain.devices.watchdog.diag288",
      (d: Doc) => (d.spec.domain.devices.watchdog = { name: "w", i6300esb: {}, diag288: {} }),
      "s390x",
    ],
    [
      "spec.domain.devices.filesystems",
      (d: Doc) => (d.spec.domain.devices.filesystems = []),
      "virtiofs",
    ],
    [
      "spec.domain.devices.downwardMetrics",
      (d: Doc) => (d.spec.domain.devices.downwardMetrics = {}),
      "downward metrics",
    ],
    ["spec.volumes[0].configMap", (d: Doc) => (d.spec.volumes[0].configMap = {}), "ConfigMap"],
    ["spec.volumes[0].secret", (d: Doc) => (d.spec.volumes[0].secret = {}), "Secret"],
    [
      "spec.volumes[0].serviceAccount",
      (d: Doc) => (d.spec.volumes[0].serviceAccount = {}),
      "service account",
    ],
    [
      "spec.volumes[0].downwardAPI",
      (d: Doc) => (d.spec.volumes[0].downwardAPI = {}),
      "downward API",
    ],
    [
      "spec.volumes[0].downwardMetrics",
      (d: Doc) => (d.spec.volumes[0].downwardMetrics = {}),
      "downward metrics",
    ],
    ["spec.volumes[0].sysprep", (d: Doc) => (d.spec.volumes[0].sysprep = {}), "answer file"],
    ["spec.volumes[0].memoryDump", (d: Doc) => (d.spec.volumes[0].memoryDump = {}), "memory-dump"],
    ["spec.accessCredentials", (d: Doc) => (d.spec.accessCredentials = []), "Kubernetes secrets"],
    ["spec.resourceClaims", (d: Doc) => (d.spec.resourceClaims = []), "pass no hardware"],
    [
      "spec.domain.devices.disks[0].lun",
      (d: Doc) => (d.spec.domain.devices.disks[0] = { name: "containerdisk", lun: {} }),
      "SCSI commands",
    ],
    [
      "spec.domain.firmware.acpi",
      (d: Doc) => (d.spec.domain.firmware.acpi = { slicNameRef: "slic" }),
      "Secret volumes",
    ],
  ])("%s", (field, change, why) => {
    const error = expectOneError(validateVmi(vmiWith(change)), field);
    expect(error.message.startsWith(`${field} is refused: `)).toBe(true);
    expect(error.message).toContain(why);
  });
});

describe("accepted with a warning that says why", () => {
  it.each([
    [
      "spec.domain.resources.requests.ephemeral-storage",
      (d: Doc) => (d.spec.domain.resources.requests["ephemeral-storage"] = "1Gi"),
      "no quota",
    ],
    [
      "spec.domain.resources.limits.ephemeral-storage",
      (d: Doc) => (d.spec.domain.resources.limits = { "ephemeral-storage": "1Gi" }),
      "no quota",
    ],
    [
      "spec.domain.resources.limits.cpu",
      (d: Doc) => (d.spec.domain.resources.limits = { cpu: "2" }),
      "no CPU limit",
    ],
    ["spec.schedulerName", (d: Doc) => (d.spec.schedulerName = "x"), "places VMIs itself"],
    ["spec.priorityClassName", (d: Doc) => (d.spec.priorityClassName = "high"), "never evicts"],
    ["spec.evictionStrategy", (d: Doc) => (d.spec.evictionStrategy = "LiveMigrate"), "migrate"],
    ["spec.livenessProbe", (d: Doc) => (d.spec.livenessProbe = { tcpSocket: {} }), "probe"],
    ["spec.readinessProbe", (d: Doc) => (d.spec.readinessProbe = {}), "probe"],
    ["spec.dnsPolicy", (d: Doc) => (d.spec.dnsPolicy = "None"), "resolver"],
    ["spec.dnsConfig", (d: Doc) => (d.spec.dnsConfig = {}), "resolver"],
    ["spec.subdomain", (d: Doc) => (d.spec.subdomain = "lab"), "hostname is spec.hostname"],
    [
      "spec.domain.devices.autoattachSerialConsole",
      (d: Doc) => (d.spec.domain.devices.autoattachSerialConsole = false),
      "always attaches a serial console",
    ],
    [
      "spec.domain.devices.logSerialConsole",
      (d: Doc) => (d.spec.domain.devices.logSerialConsole = false),
      "headroom logs reads it",
    ],
    [
      "spec.domain.devices.autoattachInputDevice",
      (d: Doc) => (d.spec.domain.devices.autoattachInputDevice = true),
      "headless",
    ],
    [
      "spec.domain.devices.inputs",
      (d: Doc) => (d.spec.domain.devices.inputs = [{ type: "tablet", bus: "virtio", name: "t" }]),
      "headless",
    ],
    [
      "spec.domain.devices.sound",
      (d: Doc) => (d.spec.domain.devices.sound = { name: "audio", model: "ich9" }),
      "no display or audio",
    ],
    [
      "spec.domain.devices.disableHotplug",
      (d: Doc) => (d.spec.domain.devices.disableHotplug = true),
      "hot-plugs no disks",
    ],
    [
      "spec.domain.features.apic.endOfInterrupt",
      (d: Doc) => (d.spec.domain.features = { apic: { endOfInterrupt: true } }),
      "end-of-interrupt",
    ],
    [
      "spec.domain.clock.timer.kvm",
      (d: Doc) => (d.spec.domain.clock = { timer: { kvm: { present: false } } }),
      "kvmclock",
    ],
    [
      "spec.serviceAccountName",
      (d: Doc) => (d.spec.serviceAccountName = "default"),
      "no Kubernetes service account",
    ],
    [
      "spec.domain.memory.reservedOverhead",
      (d: Doc) => (d.spec.domain.memory.reservedOverhead = { addedOverhead: "100Mi" }),
      "no memory for QEMU's own overhead",
    ],
    [
      "spec.domain.devices.panicDevices",
      (d: Doc) => (d.spec.domain.devices.panicDevices = [{ model: "isa" }]),
      "no panic device",
    ],
    [
      "spec.domain.devices.disks[0].changedBlockTracking",
      (d: Doc) => (d.spec.domain.devices.disks[0].changedBlockTracking = true),
      "no backups",
    ],
    [
      "spec.domain.cpu.maxSockets",
      (d: Doc) => (d.spec.domain.cpu = { sockets: 1, maxSockets: 4 }),
      "does not hot-plug vCPUs",
    ],
    [
      "spec.domain.memory.maxGuest",
      (d: Doc) => (d.spec.domain.memory = { guest: "128Mi", maxGuest: "512Mi" }),
      "does not hot-plug memory",
    ],
    [
      "spec.domain.devices.disks[0].tag",
      (d: Doc) => (d.spec.domain.devices.disks[0].tag = "root"),
      "no device metadata",
    ],
    [
      "spec.domain.devices.interfaces[1].tag",
      (d: Doc) => (d.spec.domain.devices.interfaces[1].tag = "lan"),
      "no device metadata",
    ],
    [
      "spec.domain.devices.disks[0].blockSize.matchVolume",
      (d: Doc) => (d.spec.domain.devices.disks[0].blockSize = { matchVolume: { enabled: true } }),
      "QEMU's default (512 bytes)",
    ],
    [
      "spec.domain.devices.interfaces[0].dhcpOptions",
      (d: Doc) =>
        (d.spec.domain.devices.interfaces[0].dhcpOptions = { bootFileName: "pxelinux.0" }),
      "the same options",
    ],
    [
      "spec.volumes[1].persistentVolumeClaim.hotpluggable",
      (d: Doc) =>
        d.spec.volumes.push({
          name: "data",
          persistentVolumeClaim: { claimName: "data", hotpluggable: true },
        }) && d.spec.domain.devices.disks.push({ name: "data" }),
      "detaches none while it runs",
    ],
    [
      "spec.volumes[1].dataVolume.hotpluggable",
      (d: Doc) =>
        d.spec.volumes.push({ name: "data", dataVolume: { name: "data", hotpluggable: true } }) &&
        d.spec.domain.devices.disks.push({ name: "data" }),
      "detaches none while it runs",
    ],
    [
      "spec.affinity.podAntiAffinity",
      (d: Doc) => (d.spec.affinity = { podAntiAffinity: {} }),
      "not by the VMIs already on them",
    ],
    ["spec.tolerations", (d: Doc) => (d.spec.tolerations = []), "no taints"],
    [
      "metadata.annotations[hooks.kubevirt.io/hookSidecars]",
      (d: Doc) =>
        (d.metadata.annotations = {
          "hooks.kubevirt.io/hookSidecars":
            '[{"image": "registry:5000/kubevirt/example-hook-sidecar:devel"}]',
        }),
      "no sidecar hooks",
    ],
  ])("%s", (field, change, why) => {
    const result = validateVmi(vmiWith(change));
    expect(result.errors).toEqual([]);
    expect(result.warnings.map((warning) => warning.field)).toEqual([field]);
    expect(result.warnings[0]?.message.startsWith(`${field} has no effect: `)).toBe(true);
    expect(result.warnings[0]?.message).toContain(why);
  });

  it("takes quietly the values that ask for what headroom always does", () => {
    const result = validateVmi(
      vmiWith((d) =>
        Object.assign(d.spec.domain.devices, {
          autoattachSerialConsole: true,
          logSerialConsole: true,
          autoattachInputDevice: false,
          disableHotplug: false,
        }),
      ),
    );
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
  });

  it("keeps the sidecar annotation it warns about, as any other annotation", () => {
    const annotations = { "hooks.kubevirt.io/hookSidecars": "[]", "smbios.vm.kubevirt.io/x": "y" };
    const result = validateVmi(vmiWith((d) => (d.metadata.annotations = annotations)));
    expect(result.vmi?.metadata.annotations).toEqual(annotations);
  });

  it("warns about each such field of a VMI, and about none of a plain one", () => {
    expect(validateVmi(vmiWith(() => {})).warnings).toEqual([]);
    const result = validateVmi(
      vmiWith((d) => {
        d.spec.tolerations = [];
        d.spec.dnsPolicy = "None";
        d.status = {};
      }),
    );
    expect(result.warnings.map((warning) => warning.field).sort()).toEqual([
      "spec.dnsPolicy",
      "spec.tolerations",
      "status",
    ]);
  });
});

describe("treatmentKey", () => {
  it("names list entries with []", () => {
    expect(treatmentKey(["spec", "volumes", 3, "secret"])).toBe("spec.volumes[].secret");
    expect(treatmentKey(["spec", "domain", "devices", "gpus"])).toBe("spec.domain.devices.gpus");
  });
});

describe("switches for devices headroom does not give", () => {
  it.each([
    ["autoattachVSOCK", "no VSOCK device"],
    ["useVirtioTransitional", "virtio 1.0 drivers"],
  ])("%s: false is taken quietly, true refused saying why", (name, why) => {
    const off = validateVmi(vmiWith((d) => (d.spec.domain.devices[name] = false)));
    expect(off.errors).toEqual([]);
    expect(off.warnings).toEqual([]);
    const field = `spec.domain.devices.${name}`;
    const on = vmiWith((d) => (d.spec.domain.devices[name] = true));
    const error = expectOneError(validateVmi(on), field);
    expect(error.message).toMatch(new RegExp(`^${field.replace(/\./g, "\\.")} true is refused: `));
    expect(error.message).toContain(why);
  });

  it("takes rebootPolicy Reboot quietly, as headroom's guests always reboot, and refuses Terminate", () => {
    const reboot = validateVmi(vmiWith((d) => (d.spec.domain.rebootPolicy = "Reboot")));
    expect(reboot.errors).toEqual([]);
    expect(reboot.warnings).toEqual([]);
    const doc = vmiWith((d) => (d.spec.domain.rebootPolicy = "Terminate"));
    expect(expectOneError(validateVmi(doc), "spec.domain.rebootPolicy").message).toContain(
      "delete the VMI to end it",
    );
  });

  it("refuses spec.startStrategy saying why", () => {
    const doc = vmiWith((d) => (d.spec.startStrategy = "Paused"));
    expect(expectOneError(validateVmi(doc), "spec.startStrategy").message).toContain(
      "no command to unpause",
    );
  });
});
