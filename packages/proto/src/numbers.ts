// Imported before the generated code: without Long, protobufjs reads and
// writes 64-bit integers as plain numbers, which is what the generated types
// promise (pbjs --force-number). Generations and unix milliseconds stay far
// below 2^53.
import protobuf from "protobufjs/minimal.js";

protobuf.util.Long = undefined as unknown as typeof protobuf.util.Long;
protobuf.configure();
