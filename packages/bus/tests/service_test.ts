import { hostname } from "node:os";
import { ApplyReply, ApplyRequest, GetReply, GetRequest, Outcome } from "@headroom/proto";
import { type NatsServer, startNats } from "@headroom/testing";
import { Svcm } from "@nats-io/services";
import type { NatsConnection } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ApiError,
  answersPing,
  connect,
  createLogger,
  endpoint,
  HOST_METADATA,
  type MicroService,
  request,
  startMicroService,
} from "../src/mod.ts";

const log = createLogger("bus-test", { level: "silent" });
let nats: NatsServer;
let nc: NatsConnection;
let micro: MicroService;

const ECHO = "test.echo";
const GET = "test.get";

beforeAll(async () => {
  nats = await startNats({ jetstream: false });
  nc = await connect({ name: "bus-test", servers: nats.url });
  micro = await startMicroService(nc, {
    name: "headroom-test",
    version: "0.1.0",
    description: "test service",
    maxRequestBytes: 1024,
    log,
    endpoints: [
      endpoint({
        name: "echo",
        subject: ECHO,
        request: ApplyRequest,
        reply: ApplyReply,
        handler: (req) => {
          if (req.manifestJson === "boom") throw new Error("kaput");
          if (req.manifestJson === "missing") throw new ApiError("NOT_FOUND", "no such thing");
          return { accepted: { name: req.manifestJson, outcome: Outcome.OUTCOME_CREATED } };
        },
      }),
      endpoint({
        name: "get",
        subject: GET,
        request: GetRequest,
        reply: GetReply,
        handler: (req) => ({ found: true, vmi: { namespace: req.namespace, name: req.name } }),
      }),
    ],
  });
});

afterAll(async () => {
  await micro?.stop();
  await nc?.close();
  await nats?.stop();
});

describe("micro service endpoints", () => {
  it("decodes the request, runs the handler and encodes the reply", async () => {
    const reply = await request(nc, ECHO, ApplyRequest, { manifestJson: "vm1" }, ApplyReply);
    expect(reply.result).toBe("accepted");
    expect(reply.accepted?.name).toBe("vm1");
  });

  it("answers garbage with BAD_REQUEST and keeps serving", async () => {
    const msg = await nc.request(ECHO, new TextEncoder().encode("garbage, not protobuf"));
    expect(msg.headers?.get("Nats-Service-Error-Code")).toBe("400");
    expect(msg.headers?.get("Nats-Service-Error")).toMatch(/not a valid headroom.v1.ApplyRequest/);
    const reply = await request(nc, ECHO, ApplyRequest, { manifestJson: "after" }, ApplyReply);
    expect(reply.accepted?.name).toBe("after");
  });

  it("answers an oversized request with PAYLOAD_TOO_LARGE", async () => {
    const error = await request(
      nc,
      ECHO,
      ApplyRequest,
      { manifestJson: "x".repeat(2000) },
      ApplyReply,
    ).catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.code).toBe("PAYLOAD_TOO_LARGE");
    expect(error.message).toMatch(/larger than the limit of 1024 bytes/);
  });

  it("turns handler failures into INTERNAL and passes ApiError codes through", async () => {
    const internal = await request(
      nc,
      ECHO,
      ApplyRequest,
      { manifestJson: "boom" },
      ApplyReply,
    ).catch((e) => e);
    expect(internal.code).toBe("INTERNAL");
    expect(internal.message).toMatch(/kaput/);
    const missing = await request(
      nc,
      ECHO,
      ApplyRequest,
      { manifestJson: "missing" },
      ApplyReply,
    ).catch((e) => e);
    expect(missing.code).toBe("NOT_FOUND");
    expect(missing.message).toBe("no such thing");
  });

  it("reports UNAVAILABLE when nobody answers", async () => {
    const error = await request(nc, "test.nobody", GetRequest, {}, GetReply).catch((e) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect(error.code).toBe("UNAVAILABLE");
  });

  it("is discoverable with $SRV.PING and $SRV.INFO", async () => {
    const client = new Svcm(nc).client();
    const pings = [];
    for await (const ping of await client.ping("headroom-test")) pings.push(ping);
    expect(pings.map((p) => p.id)).toEqual([micro.id]);
    const infos = [];
    for await (const info of await client.info("headroom-test")) infos.push(info);
    expect(infos[0]?.endpoints.map((e) => [e.name, e.subject, e.queue_group])).toEqual([
      ["echo", ECHO, "headroom"],
      ["get", GET, "headroom"],
    ]);
  });
});

describe("stopping a micro service", () => {
  it("finishes the requests in flight", async () => {
    const other = await connect({ name: "bus-test-2", servers: nats.url });
    const second = await startMicroService(other, {
      name: "headroom-stop-test",
      version: "0.1.0",
      log,
      endpoints: [
        endpoint({
          name: "slow",
          subject: "test.slow",
          request: GetRequest,
          reply: GetReply,
          handler: async (req) => {
            await new Promise((resolve) => setTimeout(resolve, 300));
            return { found: true, vmi: { name: req.name } };
          },
        }),
      ],
    });
    const pending = request(nc, "test.slow", GetRequest, { name: "late" }, GetReply);
    while (second.inFlight() === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    await second.stop();
    expect(second.inFlight()).toBe(0);
    expect((await pending).vmi?.name).toBe("late");
    const after = await request(nc, "test.slow", GetRequest, {}, GetReply, {
      timeoutMs: 500,
    }).catch((e) => e);
    expect(after.code).toBe("UNAVAILABLE");
    await other.close();
  });
});

describe("answersPing, the containers' healthcheck", () => {
  it("is true for the replica on this host and false for a host that runs none", async () => {
    expect(await answersPing(nc, "headroom-test")).toBe(true);
    expect(await answersPing(nc, "headroom-test", "some-other-host", 300)).toBe(false);
    expect(await answersPing(nc, "headroom-nothing", undefined, 300)).toBe(false);
  });

  it("names the host in $SRV.INFO", async () => {
    const infos = [];
    for await (const info of await new Svcm(nc).client().info("headroom-test")) infos.push(info);
    expect(infos[0]?.metadata?.[HOST_METADATA]).toBe(hostname());
  });
});
