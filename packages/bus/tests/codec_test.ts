import { ApplyRequest, CapacityEvent, CapacityEventType } from "@headroom/proto";
import { describe, expect, it } from "vitest";
import { DecodeError, decode, EncodeError, encode, typeName } from "../src/mod.ts";

describe("codec", () => {
  it("round-trips a message", () => {
    const bytes = encode(CapacityEvent, {
      type: CapacityEventType.CAPACITY_EVENT_TYPE_ATTACHED,
      name: "vm1",
      inUse: 3,
      timestampUnixMs: 1_700_000_000_000,
    });
    const event = decode(CapacityEvent, bytes);
    expect(event.type).toBe(CapacityEventType.CAPACITY_EVENT_TYPE_ATTACHED);
    expect(event.inUse).toBe(3);
    expect(event.timestampUnixMs).toBe(1_700_000_000_000);
  });

  it("throws DecodeError naming the type on garbage", () => {
    const garbage = new TextEncoder().encode("garbage that is not protobuf");
    expect(() => decode(ApplyRequest, garbage)).toThrow(DecodeError);
    try {
      decode(ApplyRequest, garbage);
    } catch (error) {
      expect((error as DecodeError).typeName).toBe("headroom.v1.ApplyRequest");
      expect((error as Error).message).toMatch(/^not a valid headroom.v1.ApplyRequest: /);
    }
  });

  it("throws EncodeError for a value of the wrong shape", () => {
    expect(() => encode(ApplyRequest, { manifestJson: 42 } as never)).toThrow(EncodeError);
  });

  it("names types", () => {
    expect(typeName(CapacityEvent)).toBe("headroom.v1.CapacityEvent");
  });
});
