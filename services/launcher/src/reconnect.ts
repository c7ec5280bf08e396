// Keeps a libvirt connection open across libvirtd restarts: when libvirt
// reports the connection closed, it is reopened with a growing delay. Running
// domains survive a libvirtd restart, so the launcher resumes instead of
// exiting; work that arrives while disconnected fails and is retried by
// JetStream.
import { Connection } from "@headroom/libvirt";

/** Where the launcher takes its libvirt connection from, each time it needs one. */
export interface LibvirtLink {
  /** The open connection; throws LibvirtUnavailableError while reconnecting. */
  current(): Connection;
  readonly connected: boolean;
}

export class LibvirtUnavailableError extends Error {
  constructor(uri: string) {
    super(`libvirt at ${uri} is not connected; reconnecting`);
    this.name = "LibvirtUnavailableError";
  }
}

export interface ReconnectOptions {
  /** First wait before reopening, doubled after each failure (default 500 ms). */
  minDelayMs?: number;
  /** Longest wait between attempts (default 10 s). */
  maxDelayMs?: number;
  onLost?: (reason: unknown) => void;
  onReconnected?: (attempts: number) => void;
  onRetry?: (error: unknown, delayMs: number) => void;
  /** Opens a connection; default Connection.open(uri). */
  open?: (uri: string) => Promise<Connection>;
}

/** A libvirt connection that reopens itself after libvirtd goes away. */
export class ReconnectingConnection implements LibvirtLink {
  readonly uri: string;
  #conn: Connection | undefined;
  #closed = false;
  #timer: NodeJS.Timeout | undefined;
  readonly #options: ReconnectOptions;

  private constructor(uri: string, options: ReconnectOptions) {
    this.uri = uri;
    this.#options = options;
  }

  /** Opens the first connection; fails when libvirtd cannot be reached now. */
  static async open(uri: string, options: ReconnectOptions = {}): Promise<ReconnectingConnection> {
    const link = new ReconnectingConnection(uri, options);
    link.#adopt(await link.#openOnce());
    return link;
  }

  get connected(): boolean {
    return this.#conn !== undefined;
  }

  current(): Connection {
    if (!this.#conn) throw new LibvirtUnavailableError(this.uri);
    return this.#conn;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    const conn = this.#conn;
    this.#conn = undefined;
    await conn?.close();
  }

  #openOnce(): Promise<Connection> {
    return (this.#options.open ?? ((uri) => Connection.open(uri)))(this.uri);
  }

  #adopt(conn: Connection): void {
    this.#conn = conn;
    conn.onClose((reason) => {
      if (this.#conn !== conn || this.#closed) return;
      this.#conn = undefined;
      this.#options.onLost?.(reason);
      // The broken handle holds nothing worth keeping; free it.
      void conn.close().catch(() => {});
      this.#schedule(this.#options.minDelayMs ?? 500, 1);
    });
  }

  #schedule(delayMs: number, attempt: number): void {
    if (this.#closed) return;
    const maxDelay = this.#options.maxDelayMs ?? 10_000;
    this.#timer = setTimeout(async () => {
      try {
        const conn = await this.#openOnce();
        if (this.#closed) {
          await conn.close();
          return;
        }
        this.#adopt(conn);
        this.#options.onReconnected?.(attempt);
      } catch (error) {
        const next = Math.min(maxDelay, delayMs * 2);
        this.#options.onRetry?.(error, next);
        this.#schedule(next, attempt + 1);
      }
    }, delayMs);
  }
}
