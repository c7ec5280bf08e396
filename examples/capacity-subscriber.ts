// A program of your own that follows headroom's capacity events: every VMI's
// reserved, attached, detached, exhausted and released events, replayed from
// the start of the stream and then live.
//
//   set -a; . /var/lib/headroom/secrets/client.env; set +a   # headroom's client login
//   node --import tsx examples/capacity-subscriber.ts [namespace [name]]
import { CapacityEvent, CapacityEventType } from "@headroom/proto";
import { jetstream } from "@nats-io/jetstream";
import { connect, nkeyAuthenticator } from "@nats-io/transport-node";

const [namespace = "*", name = "*"] = process.argv.slice(2);
const user = process.env.HEADROOM_NATS_USER;
const seed = process.env.HEADROOM_NATS_SEED;
const nc = await connect({
  servers: process.env.HEADROOM_NATS_URL ?? "nats://127.0.0.1:4222",
  // The login is an NKEY: the seed signs the server's challenge. The client
  // user may read replies only on its own inbox prefix.
  ...(user && seed
    ? {
        authenticator: nkeyAuthenticator(new TextEncoder().encode(seed)),
        inboxPrefix: `_INBOX_${user}`,
      }
    : {}),
});
// An ordered consumer: no state on the server, replays the stream in order.
const consumer = await jetstream(nc).consumers.get("HEADROOM_CAPACITY", {
  // One subject as a string: nats-server 2.9 takes a single filter, not a list.
  filter_subjects: `headroom.capacity.${namespace}.${name}`,
});
for await (const msg of await consumer.consume()) {
  const event = CapacityEvent.decode(msg.data);
  const type = CapacityEventType[event.type].replace("CAPACITY_EVENT_TYPE_", "").toLowerCase();
  console.log(
    `${new Date(event.timestampUnixMs).toISOString()} ${event.namespace}/${event.name} ${type}` +
      `${event.interfaceName ? ` ${event.interfaceName}` : ""}: in use ${event.inUse}, free ${event.free}`,
  );
}
