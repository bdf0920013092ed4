// codec.js against chat-proto: every vector in vectors.json (written by
// proto/tests/golden_vectors.rs from chat-proto's own encoder) decodes to the frame written
// beside it and encodes back to the same bytes; malformed bodies throw.
//
// Run from the workspace root: `node --test server/web/test/`; `cargo test -p chat-proto
// --test golden_vectors` runs it too, after checking that vectors.json is current.
//
// In vectors.json an integer a JSON reader would round (beyond 2^53 - 1 either way) is
// written {"$bigint": "<decimal>"}; it stands for the BigInt the codec decodes it to.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";

import {
  CLIENT_MAX_FRAME,
  DecodeError,
  ERROR_KINDS,
  FrameReader,
  LEFT_REASONS,
  clientBodyLength,
  decodeClient,
  decodeClientBody,
  decodeServer,
  decodeServerBody,
  encodeClient,
  encodeServer,
  fromHex,
  splitFrames,
  toHex,
} from "../codec.js";

const vectors = JSON.parse(
  readFileSync(new URL("./vectors.json", import.meta.url), "utf8"),
  (_key, value) =>
    value !== null && typeof value === "object" && typeof value.$bigint === "string"
      ? BigInt(value.$bigint)
      : value,
);

const codecs = {
  client: { encode: encodeClient, decode: decodeClient },
  server: { encode: encodeServer, decode: decodeServer },
};

for (const v of vectors) {
  test(`${v.direction} ${v.name}`, () => {
    const { encode, decode } = codecs[v.direction];
    const bytes = fromHex(v.hex);
    assert.deepStrictEqual(decode(bytes), v.frame);
    assert.equal(toHex(encode(v.frame)), v.hex);
  });
}

test("the vectors cover every error kind and leave reason codec.js knows", () => {
  const kinds = new Set(vectors.filter((v) => v.frame.type === "Error").map((v) => v.frame.kind));
  assert.deepStrictEqual([...kinds].sort(), [...ERROR_KINDS].sort());
  const reasons = new Set(
    vectors.filter((v) => v.frame.type === "UserLeft").map((v) => v.frame.reason),
  );
  assert.deepStrictEqual([...reasons].sort(), [...LEFT_REASONS].sort());
});

test("one message payload of many frames splits into each of them", () => {
  const server = vectors.filter((v) => v.direction === "server");
  const payload = fromHex(server.map((v) => v.hex).join(""));
  const { frames, errors } = new FrameReader().read(payload);
  assert.deepStrictEqual(errors, []);
  assert.deepStrictEqual(frames, server.map((v) => v.frame));
});

test("a bad body among good ones is reported and the rest still read", () => {
  const ping = encodeServer({ type: "Ping" });
  const bad = fromHex("00000001 63"); // variant 99
  const pong = encodeServer({ type: "Pong" });
  const payload = new Uint8Array([...ping, ...bad, ...pong]);
  const { frames, errors } = new FrameReader().read(payload);
  assert.deepStrictEqual(frames, [{ type: "Ping" }, { type: "Pong" }]);
  assert.equal(errors.length, 1);
  assert.ok(errors[0] instanceof DecodeError);
});

test("broken framing throws", () => {
  // Ends inside the prefix, inside the body; a prefix over the limit, before its body.
  for (const hex of ["000000", "00000005 0001", "00100001"]) {
    assert.throws(() => splitFrames(fromHex(hex)), DecodeError, hex);
  }
  assert.throws(() => splitFrames(fromHex("00000005 0000000000"), 4), /over the limit/);
  assert.deepStrictEqual(splitFrames(new Uint8Array(0)), []);
  assert.equal(CLIENT_MAX_FRAME, 1 << 20);
});

test("decodeServer wants exactly one whole frame", () => {
  assert.throws(() => decodeServer(new Uint8Array(0)), DecodeError);
  assert.throws(() => decodeServer(fromHex("00000001 06 00000001 07")), DecodeError);
  assert.throws(() => decodeServer(fromHex("00000002 06")), DecodeError);
});

// Malformed bodies (prefix removed), each of which chat-proto also refuses. An "unknown"
// index is the first past the last variant of protocol 7: server frame 26, error kind 44,
// leave reason 10, client frame 25, and so on.
const badServerBodies = {
  "an empty body": "",
  "an unknown frame": "1a",
  "a frame index as a long varint past the end": "fd 0f 00 00 00 00 00 00 00",
  "an unknown error kind": "05 30 00",
  "a token cut short": "0f 07 01 ab ab",
  "an unknown leave reason": "0d 00 00 00 0a",
  "an unknown cursor": "0e 00 00 00 03 00 00",
  "an unknown past kind": "0e 00 01 00 00 00 00 03 00 00 00 00",
  "a version-6 past, without its kind": "0e 00 01 00 00 00 00 00 00 00 00",
  "an unknown room change": "16 00 00 0b 00",
  "an unknown ban target in a room change": "16 00 00 02 03 00 00 00 00",
  "an unknown ban target in a room's bans": "15 00 00 00 00 00 00 01 03 00 00 00 00 00",
  "an option byte of 2 in a mute's until": "15 00 00 00 00 00 00 00 01 00 00 00 02",
  "an option byte of 2 in an audit entry's until": "18 01 00 00 00 00 00 00 02",
  "a vec of 2 audit entries in 7 bytes": "18 02 00 00 00 00 00 00 00",
  "a closed count over 32 bits": "19 fd 00 00 00 00 01 00 00 00",
  "trailing bytes": "06 00",
  "a string past the end": "09 0a 61 62",
  "a string whose length runs out": "09 fb 01",
  "a vec of 2^60 names": "03 fd 00 00 00 00 00 00 00 10",
  "a vec of 2 rooms in 3 bytes": "0a 02 00 00 00",
  "bad UTF-8": "09 02 c3 28",
  "a UTF-16 surrogate in UTF-8": "09 03 ed a0 80",
  "an overlong encoding": "09 02 c0 af",
  "a bool byte of 2": "0e 00 00 02 00 00 00",
  "a u32 over 32 bits": "00 fd 00 00 00 00 01 00 00 00 00 00 00 00 00",
  "a varint starting fe": "0c 00 00 fe",
  "a varint starting ff": "0c 00 00 ff",
  "a u64 cut short": "01 00 00 00 00 fd 01 02",
};

const badClientBodies = {
  "an unknown frame": "19",
  "an unknown room action": "14 00 0a",
  "an unknown ban target": "14 00 01 03 00 00 00",
  "an unknown server action": "16 04",
  "an option byte of 2 in a ban's duration": "16 00 00 00 02 00",
  "a missing mod log limit": "18 00",
  "an option byte of 2 in a mod log's room": "18 02 00",
  "an unknown credential": "0c 05 03 61 6e 6e 00 03 01",
  "an unknown revocation": "10 04",
  "an option byte of 2": "00 04 03 61 6e 6e 02",
  "an unknown backlog": "07 00 03",
  "a missing limit": "0b 00 00",
};

for (const [what, hex] of Object.entries(badServerBodies)) {
  test(`a server body with ${what} throws`, () => {
    assert.throws(() => decodeServerBody(fromHex(hex)), DecodeError);
  });
}

for (const [what, hex] of Object.entries(badClientBodies)) {
  test(`a client body with ${what} throws`, () => {
    assert.throws(() => decodeClientBody(fromHex(hex)), DecodeError);
  });
}

test("longer varint forms than needed are read, as bincode reads them", () => {
  // Welcome with version written fb 04 00 instead of 04.
  const frame = decodeServerBody(fromHex("00 fb 04 00 03 61 6e 6e 02 fb 00 04 32 fb f4 01"));
  assert.equal(frame.version, 4);
  assert.equal(frame.buffsize, 1024);
});

test("u64 and i64 decode to a Number while exact, else to a BigInt", () => {
  const msg = (at, seq) =>
    decodeServer(encodeServer({ type: "Msg", room: "r", from: "a", text: "t", at, seq }));
  const safe = msg(-Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
  assert.equal(typeof safe.seq, "number");
  assert.equal(typeof safe.at, "number");
  const big = msg(-(2n ** 53n), 2n ** 53n);
  assert.equal(big.seq, 2n ** 53n);
  assert.equal(big.at, -(2n ** 53n));
  // A small BigInt encodes as the Number does, and decodes to the Number.
  const wire = (at, seq) => toHex(encodeServer({ type: "Msg", room: "r", from: "a", text: "t", at, seq }));
  assert.equal(wire(5n, 7n), wire(5, 7));
  assert.deepStrictEqual(msg(-5n, 7n), msg(-5, 7));
  assert.equal(msg(-5n, 7n).seq, 7);
});

test("frames that cannot be written throw", () => {
  const join = (backlog) => encodeClient({ type: "Join", room: "lobby", backlog });
  assert.throws(() => encodeClient({ type: "Shout" }), TypeError);
  assert.throws(() => encodeClient({ type: "Msg", room: "lobby" }), TypeError);
  assert.throws(() => encodeClient({ type: "Msg", room: "lobby", text: 5 }), TypeError);
  assert.throws(() => encodeClient({ type: "Msg", room: "lobby", text: "\ud800" }), TypeError);
  assert.throws(() => join({ kind: "After", seq: -1 }), RangeError);
  assert.throws(() => join({ kind: "After", seq: 2n ** 64n }), RangeError);
  assert.throws(() => join({ kind: "After", seq: 2 ** 60 }), RangeError);
  assert.throws(() => join({ kind: "After", seq: 1.5 }), TypeError);
  assert.throws(() => join({ kind: "Latest", count: 2 ** 32 }), RangeError);
  assert.throws(() => join({ kind: "Soon" }), TypeError);
  assert.throws(() => encodeServer({ type: "Error", kind: "Oops", detail: "" }), TypeError);
});

test("a client body's length is what buffsize limits", () => {
  const frame = { type: "Msg", room: "lobby", text: "hi" };
  assert.equal(clientBodyLength(frame), encodeClient(frame).length - 4);
  assert.equal(clientBodyLength(frame), 1 + 6 + 3);
});
