// The ports a VMI's masquerade interface lists (interfaces[].ports): the
// launcher listens on the host for each and hands every connection to the
// guest's address on the pod network, found in libvirt's DHCP leases when
// the connection comes. A user-space relay: no firewall rule on the host.
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import type { Logger } from "@headroom/bus";
import type { IForwardedPort, IGuestPort } from "@headroom/proto";

/** Where each forward listens, kept in the VMI's folder so a restarted launcher listens there again. */
const PORTS_FILE = "ports.json";

/** How a connection finds the guest: its IPv4 address on the pod network, if it has one yet. */
export type GuestAddress = (
  domainName: string,
  interfaceName: string,
) => Promise<string | undefined>;

interface Forward extends IForwardedPort {
  interface: string;
  server: Server;
  /** Open connections, both ends: closing the forward ends them too. */
  sockets: Set<Socket>;
}

export class PortForwards {
  readonly #open = new Map<string, Forward[]>();
  readonly #address: string;
  readonly #guestAddress: GuestAddress;
  readonly #log: Logger;

  /** `address`: the host address forwards listen on. */
  constructor(address: string, guestAddress: GuestAddress, log: Logger) {
    this.#address = address;
    this.#guestAddress = guestAddress;
    this.#log = log;
  }

  /**
   * Makes the domain's forwards those of `ports`: new ones listen (on the host
   * port recorded in `vmDir` when there is one, else on one the kernel picks),
   * dropped ones close.
   */
  async sync(domainName: string, vmDir: string, ports: readonly IGuestPort[]): Promise<void> {
    const before = this.#open.get(domainName) ?? [];
    const wanted = ports
      .map((port) => ({
        interface: port.interface ?? "",
        name: port.name ?? "",
        port: port.port ?? 0,
        protocol: port.protocol || "TCP",
      }))
      .filter((port) => {
        // The record is the validator's; a port it could never have accepted is skipped.
        const valid = isPortNumber(port.port) && port.interface !== "" && port.protocol === "TCP";
        if (!valid)
          this.#log.warn({ domain: domainName, port }, "guest port not forwarded: not a TCP port");
        return valid;
      });
    const forwards = before.filter((forward) => wanted.some((port) => samePort(port, forward)));
    await Promise.all(before.filter((forward) => !forwards.includes(forward)).map(closeForward));
    this.#open.set(domainName, forwards);
    const recorded = await readRecorded(vmDir);
    const added: Forward[] = [];
    for (const port of wanted.filter((port) => !forwards.some((f) => samePort(port, f)))) {
      const hostPort = recorded.find((entry) => samePort(port, entry))?.hostPort ?? 0;
      const forward = await this.#listen(domainName, port, hostPort);
      // Kept at once: a later port failing to listen leaves this one closable.
      forwards.push(forward);
      added.push(forward);
    }
    if (forwards.length === 0) this.#open.delete(domainName);
    if (forwards.length === before.length && added.length === 0) return;
    await mkdir(vmDir, { recursive: true });
    const entries = forwards.map(({ server: _server, sockets: _sockets, ...entry }) => entry);
    await writeFile(join(vmDir, PORTS_FILE), `${JSON.stringify(entries)}\n`);
    if (added.length > 0)
      this.#log.info(
        {
          domain: domainName,
          forwards: added.map((f) => `${f.hostAddress}:${f.hostPort}->${f.port}`),
        },
        "forwarding host ports to the guest",
      );
  }

  /** A listening forward for `port`, on `hostPort` if it is free, else on one the kernel picks. */
  async #listen(
    domainName: string,
    port: { interface: string; name: string; port: number; protocol: string },
    hostPort: number,
  ): Promise<Forward> {
    const sockets = new Set<Socket>();
    const server = createServer({ pauseOnConnect: true }, (socket) =>
      this.#relay(socket, sockets, domainName, port),
    );
    const listening = await listen(server, this.#address, hostPort).catch(async (error) => {
      if (hostPort === 0) throw error;
      this.#log.warn(
        { domain: domainName, port: port.port, hostPort, err: error },
        "recorded host port taken meanwhile; listening on another",
      );
      return listen(server, this.#address, 0);
    });
    return { ...port, server, sockets, hostAddress: this.#address, hostPort: listening };
  }

  /** The domain's forwards on `interfaceName`, as the VMI's status shows them. */
  of(domainName: string, interfaceName: string): IForwardedPort[] {
    return (this.#open.get(domainName) ?? [])
      .filter((forward) => forward.interface === interfaceName)
      .map(({ name, port, protocol, hostAddress, hostPort }) => ({
        name,
        port,
        protocol,
        hostAddress,
        hostPort,
      }));
  }

  async close(domainName: string): Promise<void> {
    const forwards = this.#open.get(domainName) ?? [];
    this.#open.delete(domainName);
    await Promise.all(forwards.map(closeForward));
  }

  async closeAll(): Promise<void> {
    await Promise.all([...this.#open.keys()].map((domainName) => this.close(domainName)));
  }

  #relay(
    socket: Socket,
    sockets: Set<Socket>,
    domainName: string,
    port: { interface: string; port: number },
  ): void {
    const log = this.#log.child({ domain: domainName, port: port.port });
    track(sockets, socket);
    this.#guestAddress(domainName, port.interface).then(
      (address) => {
        if (socket.destroyed) return;
        if (!address) {
          log.info("connection closed: the guest has no address yet");
          socket.destroy();
          return;
        }
        const guest = track(sockets, connect({ host: address, port: port.port }));
        socket.on("close", () => guest.destroy());
        guest.on("close", () => socket.destroy());
        socket.pipe(guest).pipe(socket);
        socket.resume();
      },
      (error: unknown) => {
        log.warn({ err: error }, "connection closed: the guest's address could not be read");
        socket.destroy();
      },
    );
  }
}

function isPortNumber(port: number): boolean {
  return Number.isInteger(port) && port > 0 && port < 65536;
}

function samePort(
  a: { interface: string; port?: number | null },
  b: { interface: string; port?: number | null },
): boolean {
  return a.interface === b.interface && a.port === b.port;
}

/** Keeps `socket` in `sockets` while it is open; an error just closes it. */
function track(sockets: Set<Socket>, socket: Socket): Socket {
  sockets.add(socket);
  socket.on("error", () => socket.destroy());
  socket.on("close", () => sockets.delete(socket));
  return socket;
}

async function readRecorded(
  vmDir: string,
): Promise<{ interface: string; port: number; hostPort: number }[]> {
  try {
    const entries: unknown = JSON.parse(await readFile(join(vmDir, PORTS_FILE), "utf8"));
    if (!Array.isArray(entries)) return [];
    return entries.filter(
      (entry) =>
        typeof entry?.interface === "string" &&
        Number.isInteger(entry.port) &&
        isPortNumber(entry.hostPort),
    );
  } catch {
    return [];
  }
}

function listen(server: Server, address: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen({ host: address, port, exclusive: true }, () => {
      server.off("error", reject);
      const bound = server.address();
      resolve(typeof bound === "object" && bound ? bound.port : port);
    });
  });
}

function closeForward(forward: Forward): Promise<void> {
  const closed = new Promise<void>((resolve) => forward.server.close(() => resolve()));
  for (const socket of forward.sockets) socket.destroy();
  return closed;
}
