// A valid VMI in team-a with two interfaces and room for 5, edited by `change`.
// biome-ignore lint/suspicious/noExplicitAny: documents are edited freely here.
export type Doc = any;

export function vmiDoc(change: (doc: Doc) => void = () => {}): Doc {
  const doc: Doc = {
    apiVersion: "kubevirt.io/v1",
    kind: "VirtualMachineInstance",
    metadata: { name: "vm1", namespace: "team-a", labels: { app: "demo" } },
    spec: {
      domain: {
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
          interfaces: [
            { name: "default", masquerade: {} },
            { name: "secondary", bridge: {} },
          ],
        },
        resources: { requests: { "kubevirt.io/interface": 5 } },
      },
      networks: [
        { name: "default", pod: {} },
        { name: "secondary", multus: { networkName: "headroom-bridge" } },
      ],
    },
  };
  change(doc);
  return doc;
}
