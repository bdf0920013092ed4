// The chat wire protocol in the browser: frames <-> bytes, written from the README's
// Protocol section alone (bincode 1, varint integers, little-endian, each frame behind a
// u32 big-endian length prefix). No dependencies and no build step: the page imports it
// as it is, and `node --test` runs its tests (test/codec.test.mjs) against vectors written
// by chat-proto's own encoder.
//
// A frame is a plain object: `{ type: "Msg", room: "lobby", text: "hi" }`, its fields
// named as in Rust. Inner enums:
//   Backlog   { kind: "None" } | { kind: "Latest", count } | { kind: "After", seq }
//   Cursor    { kind: "Latest" } | { kind: "Before", seq } | { kind: "After", seq }
//   Credential { kind: "Password", password, device } | { kind: "Token", token }
//              | { kind: "Cookie" }
//   Revocation { kind: "This" | "Others" | "All" } | { kind: "One", id }
//   PastKind  { kind: "Message" } | { kind: "Removed", by } | { kind: "Removal", target }
//             | { kind: "Edit", target } | { kind: "React", target, emoji }
//             | { kind: "Unreact", target, emoji }
//             (a Past is { seq, from, text, at, kind: PastKind, reply_to, edited,
//             reactions: [{ emoji, by: [name] }] })
//   BanTarget { kind: "Account", name } | { kind: "Name", name } | { kind: "Address", address }
//   RoomAction { kind: "Kick", user, reason } | { kind: "Ban", target, for_secs, reason }
//              | { kind: "Unban", target } | { kind: "Mute", user, for_secs, reason }
//              | { kind: "Unmute" | "Promote" | "Demote", user } | { kind: "Topic", topic }
//              | { kind: "RegisteredOnly", on } | { kind: "Slow", secs }
//   ServerAction { kind: "Ban", target, for_secs, reason } | { kind: "Unban", target }
//                | { kind: "Suspend", account, reason } | { kind: "Unsuspend", account }
//   RoomChange { kind: "Claimed" } | { kind: "Kicked", user, reason }
//              | { kind: "Banned", target, reason, until } | { kind: "Unbanned", target }
//              | { kind: "Muted", user, reason, until }
//              | { kind: "Unmuted" | "Promoted" | "Demoted", user } | { kind: "Topic", topic }
//              | { kind: "RegisteredOnly", on } | { kind: "Slow", secs }
//   ErrorKind, LeftReason: the variant's name as a string ("NotInRoom", "TimedOut")
//   Option<T>: null or the T (for_secs, until: null or an integer)
//   a session token: 64 lowercase hex digits (32 raw bytes on the wire)
// u32 fields are Numbers. u64 and i64 fields decode to a Number when it is a safe integer
// (|v| <= 2^53 - 1) and to a BigInt otherwise; encoding takes either.
//
// Decoding throws a DecodeError on anything that is not exactly one valid frame: an
// unknown variant, a length or varint running past the end, bytes left over, bad UTF-8, a
// bool or option byte other than 00/01, a u32 over 32 bits. Encoding throws a TypeError or
// RangeError on a frame that cannot be written (a missing field, a negative seq, ...).

/** The version this codec speaks, sent in Hello. */
export const PROTOCOL_VERSION = 8;

/** Bytes in the length prefix before each body. */
export const PREFIX_LEN = 4;

/** The limit a client applies to what the server sends (chat-proto's CLIENT_MAX_FRAME). */
export const CLIENT_MAX_FRAME = 1024 * 1024;

/** ErrorKind variants, by wire index. */
export const ERROR_KINDS = Object.freeze([
  "BadFrame", "FrameTooLarge", "VersionMismatch", "NotRegistered", "AlreadyRegistered",
  "InvalidName", "NameTaken", "NoSuchUser", "InvalidMessage", "RateLimited", "ServerFull",
  "TooManyConnections", "AuthFailed", "Timeout", "SlowConsumer", "ShuttingDown", "Flooding",
  "NotInRoom", "InvalidRoom", "TooManyRooms", "RoomsFull", "NoSuchRoom", "HistoryOff",
  "StoreFailed", "ClusterUnavailable", "NameRegistered", "WrongPassword", "SessionEnded",
  "WeakPassword", "RegistrationClosed", "GuestsOff", "NotSignedIn", "AccountsOff",
  "NotPermitted", "Removed", "Banned", "BannedFromRoom", "Muted", "NoSuchMessage",
  "RoomClaimed", "RegisteredOnly", "SlowMode", "Suspended", "InvalidAction", "InvalidEmoji",
  "TooManyReactions", "EditWindowPassed", "InvalidSearch",
]);

/** The kinds after which the server closes the connection (README: "fatal"). */
export const FATAL_ERROR_KINDS = Object.freeze(new Set([
  "FrameTooLarge", "VersionMismatch", "ServerFull", "TooManyConnections", "AuthFailed",
  "Timeout", "SlowConsumer", "ShuttingDown", "Flooding", "WrongPassword", "SessionEnded",
  "Removed", "Banned", "Suspended",
]));

/** LeftReason variants, by wire index. */
export const LEFT_REASONS = Object.freeze([
  "Parted", "Quit", "Disconnected", "TimedOut", "SlowConsumer", "Refused", "NodeLost",
  "Removed", "Kicked", "Banned",
]);

/** A body (or payload) that is not a valid frame. */
export class DecodeError extends Error {
  constructor(message) {
    super(message);
    this.name = "DecodeError";
  }
}

// ---------------------------------------------------------------------------------------
// The schema: every frame's fields in wire order, as the README's tables list them. The
// encoder and decoder below are driven by it, so a frame is described once.

const BACKLOG = [["None", []], ["Latest", [["count", "u32"]]], ["After", [["seq", "u64"]]]];
const CURSOR = [["Latest", []], ["Before", [["seq", "u64"]]], ["After", [["seq", "u64"]]]];
const CREDENTIAL = [["Password", [["password", "string"], ["device", "string"]]],
  ["Token", [["token", "token"]]], ["Cookie", []]];
const REVOCATION = [["This", []], ["Others", []], ["All", []], ["One", [["id", "u64"]]]];
const PAST_KIND = [["Message", []], ["Removed", [["by", "string"]]],
  ["Removal", [["target", "u64"]]], ["Edit", [["target", "u64"]]],
  ["React", [["target", "u64"], ["emoji", "string"]]],
  ["Unreact", [["target", "u64"], ["emoji", "string"]]]];
const BAN_TARGET = [["Account", [["name", "string"]]], ["Name", [["name", "string"]]],
  ["Address", [["address", "string"]]]];
const ROOM_ACTION = [
  ["Kick", [["user", "string"], ["reason", "string"]]],
  ["Ban", [["target", "BanTarget"], ["for_secs", "option<u64>"], ["reason", "string"]]],
  ["Unban", [["target", "BanTarget"]]],
  ["Mute", [["user", "string"], ["for_secs", "option<u64>"], ["reason", "string"]]],
  ["Unmute", [["user", "string"]]],
  ["Promote", [["user", "string"]]],
  ["Demote", [["user", "string"]]],
  ["Topic", [["topic", "string"]]],
  ["RegisteredOnly", [["on", "bool"]]],
  ["Slow", [["secs", "u32"]]],
];
const SERVER_ACTION = [
  ["Ban", [["target", "BanTarget"], ["for_secs", "option<u64>"], ["reason", "string"]]],
  ["Unban", [["target", "BanTarget"]]],
  ["Suspend", [["account", "string"], ["reason", "string"]]],
  ["Unsuspend", [["account", "string"]]],
];
const ROOM_CHANGE = [
  ["Claimed", []],
  ["Kicked", [["user", "string"], ["reason", "string"]]],
  ["Banned", [["target", "BanTarget"], ["reason", "string"], ["until", "option<i64>"]]],
  ["Unbanned", [["target", "BanTarget"]]],
  ["Muted", [["user", "string"], ["reason", "string"], ["until", "option<i64>"]]],
  ["Unmuted", [["user", "string"]]],
  ["Promoted", [["user", "string"]]],
  ["Demoted", [["user", "string"]]],
  ["Topic", [["topic", "string"]]],
  ["RegisteredOnly", [["on", "bool"]]],
  ["Slow", [["secs", "u32"]]],
];

// The enums with fields, by the type name the schema uses; each is tagged `kind`.
const ENUMS = {
  Backlog: BACKLOG,
  Cursor: CURSOR,
  Credential: CREDENTIAL,
  Revocation: REVOCATION,
  PastKind: PAST_KIND,
  BanTarget: BAN_TARGET,
  RoomAction: ROOM_ACTION,
  ServerAction: SERVER_ACTION,
  RoomChange: ROOM_CHANGE,
};

// The field-less enums: one varint, the variant's name as a string.
const UNITS = { ErrorKind: ERROR_KINDS, LeftReason: LEFT_REASONS };

const STRUCTS = {
  RoomSummary: [["name", "string"], ["members", "u32"]],
  Past: [["seq", "u64"], ["from", "string"], ["text", "string"], ["at", "i64"],
    ["kind", "PastKind"], ["reply_to", "option<u64>"], ["edited", "option<i64>"],
    ["reactions", "vec<Reaction>"]],
  Reaction: [["emoji", "string"], ["by", "vec<string>"]],
  SearchCursor: [["at", "i64"], ["room", "string"], ["seq", "u64"]],
  Hit: [["room", "string"], ["entry", "Past"], ["marks", "vec<Mark>"]],
  Mark: [["start", "u32"], ["end", "u32"]],
  DeviceSession: [["id", "u64"], ["device", "string"], ["created", "i64"],
    ["last_used", "i64"], ["current", "bool"]],
  Ban: [["target", "BanTarget"], ["by", "string"], ["reason", "string"],
    ["until", "option<i64>"]],
  Mute: [["user", "string"], ["by", "string"], ["reason", "string"], ["until", "option<i64>"]],
  RoomInfo: [["room", "string"], ["owner", "option<string>"], ["moderators", "vec<string>"],
    ["topic", "string"], ["registered_only", "bool"], ["slow_secs", "u32"],
    ["bans", "vec<Ban>"], ["mutes", "vec<Mute>"], ["moderator", "bool"]],
  AuditEntry: [["at", "i64"], ["actor", "string"], ["room", "option<string>"],
    ["action", "string"], ["target", "string"], ["reason", "string"],
    ["until", "option<i64>"]],
};

const CLIENT_FRAMES = [
  ["Hello", [["version", "u32"], ["username", "string"], ["password", "option<string>"]]],
  ["Msg", [["room", "string"], ["text", "string"]]],
  ["Whisper", [["to", "string"], ["text", "string"]]],
  ["ListUsers", []],
  ["Ping", []],
  ["Pong", []],
  ["Bye", []],
  ["Join", [["room", "string"], ["backlog", "Backlog"]]],
  ["Part", [["room", "string"]]],
  ["ListRooms", []],
  ["ListMembers", [["room", "string"]]],
  ["History", [["room", "string"], ["from", "Cursor"], ["limit", "u32"]]],
  ["SignIn", [["version", "u32"], ["username", "string"], ["server_password", "option<string>"],
    ["credential", "Credential"], ["online", "bool"]]],
  ["Register", [["version", "u32"], ["username", "string"],
    ["server_password", "option<string>"], ["password", "string"], ["device", "string"]]],
  ["ChangePassword", [["old", "string"], ["new", "string"]]],
  ["ListSessions", []],
  ["Revoke", [["which", "Revocation"]]],
  ["DeleteAccount", [["password", "string"]]],
  ["Disconnect", [["user", "string"], ["reason", "string"]]],
  ["Claim", [["room", "string"]]],
  ["Moderate", [["room", "string"], ["action", "RoomAction"]]],
  ["RemoveMessage", [["room", "string"], ["seq", "u64"]]],
  ["Operate", [["action", "ServerAction"]]],
  ["RoomInfo", [["room", "string"]]],
  ["ModLog", [["room", "option<string>"], ["limit", "u32"]]],
  ["Reply", [["room", "string"], ["to", "u64"], ["text", "string"]]],
  ["Edit", [["room", "string"], ["seq", "u64"], ["text", "string"]]],
  ["React", [["room", "string"], ["seq", "u64"], ["emoji", "string"], ["on", "bool"]]],
  ["Typing", [["room", "string"]]],
  ["Search", [["query", "string"], ["room", "option<string>"], ["before", "option<SearchCursor>"],
    ["limit", "u32"]]],
];

const SERVER_FRAMES = [
  ["Welcome", [["version", "u32"], ["username", "string"], ["online", "u32"],
    ["buffsize", "u32"], ["rooms_per_user", "u32"], ["history", "u32"]]],
  ["Msg", [["room", "string"], ["from", "string"], ["text", "string"], ["at", "i64"],
    ["seq", "u64"]]],
  ["Whisper", [["from", "string"], ["to", "string"], ["text", "string"], ["at", "i64"]]],
  ["UserList", [["users", "vec<string>"]]],
  ["System", [["text", "string"], ["at", "i64"]]],
  ["Error", [["kind", "ErrorKind"], ["detail", "string"]]],
  ["Pong", []],
  ["Ping", []],
  ["Joined", [["room", "string"], ["members", "vec<string>"]]],
  ["Parted", [["room", "string"]]],
  ["RoomList", [["rooms", "vec<RoomSummary>"]]],
  ["Members", [["room", "string"], ["users", "vec<string>"]]],
  ["UserJoined", [["room", "string"], ["user", "string"], ["at", "i64"]]],
  ["UserLeft", [["room", "string"], ["user", "string"], ["at", "i64"],
    ["reason", "LeftReason"]]],
  ["History", [["room", "string"], ["messages", "vec<Past>"], ["more", "bool"],
    ["next", "Cursor"], ["backlog", "bool"], ["missed", "bool"]]],
  ["SignedIn", [["session", "u64"], ["token", "option<token>"]]],
  ["Sessions", [["sessions", "vec<DeviceSession>"]]],
  ["Revoked", [["count", "u32"]]],
  ["PasswordChanged", [["ended", "u32"]]],
  ["AccountDeleted", []],
  ["Disconnected", [["user", "string"]]],
  ["RoomInfo", [["info", "RoomInfo"]]],
  ["RoomChanged", [["room", "string"], ["by", "string"], ["change", "RoomChange"],
    ["at", "i64"]]],
  ["MessageRemoved", [["room", "string"], ["seq", "u64"], ["target", "u64"], ["by", "string"],
    ["at", "i64"]]],
  ["ModLog", [["entries", "vec<AuditEntry>"]]],
  ["Enforced", [["closed", "u32"]]],
  ["Event", [["room", "string"], ["entry", "Past"]]],
  ["Typing", [["room", "string"], ["user", "string"]]],
  ["SearchResults", [["query", "string"], ["hits", "vec<Hit>"],
    ["next", "option<SearchCursor>"]]],
];

/** Bytes in a session token; it is written raw, and shown here as 64 lowercase hex digits. */
export const TOKEN_LEN = 32;

// The fewest bytes one element of a vec can take: a length claiming more elements than
// the body could hold is refused at once, as chat-proto refuses it.
const MIN_ELEMENT_BYTES = {
  string: 1, RoomSummary: 2, Past: 8, Reaction: 2, DeviceSession: 5, Ban: 5, Mute: 4,
  AuditEntry: 7, Hit: 10, Mark: 2,
};

const U32_MAX = 0xffff_ffff;
const U64_MAX = (1n << 64n) - 1n;
const I64_MIN = -(1n << 63n);
const I64_MAX = (1n << 63n) - 1n;

// fatal: bad UTF-8 throws instead of becoming U+FFFD. ignoreBOM: a leading U+FEFF is text
// like any other; by default TextDecoder would silently drop it.
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const utf8Encoder = new TextEncoder();

// ---------------------------------------------------------------------------------------
// Writing.

class Writer {
  constructor() {
    this.buf = new Uint8Array(64);
    this.len = 0;
  }

  reserve(n) {
    if (this.len + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.len + n) size *= 2;
    const bigger = new Uint8Array(size);
    bigger.set(this.buf.subarray(0, this.len));
    this.buf = bigger;
  }

  byte(b) {
    this.reserve(1);
    this.buf[this.len++] = b;
  }

  bytes(bs) {
    this.reserve(bs.length);
    this.buf.set(bs, this.len);
    this.len += bs.length;
  }

  /** An unsigned varint, in its shortest form (v: a BigInt in 0 ..= 2^64 - 1). */
  varint(v) {
    if (v <= 250n) {
      this.byte(Number(v));
    } else if (v <= 0xffffn) {
      this.byte(0xfb);
      this.le(v, 2);
    } else if (v <= 0xffff_ffffn) {
      this.byte(0xfc);
      this.le(v, 4);
    } else {
      this.byte(0xfd);
      this.le(v, 8);
    }
  }

  le(v, n) {
    for (let i = 0; i < n; i++) {
      this.byte(Number(v & 0xffn));
      v >>= 8n;
    }
  }

  done() {
    return this.buf.slice(0, this.len);
  }
}

/** An integer field as a BigInt, checked against its range. */
function integer(value, min, max, what) {
  let v;
  if (typeof value === "bigint") {
    v = value;
  } else if (typeof value === "number" && Number.isSafeInteger(value)) {
    v = BigInt(value);
  } else if (typeof value === "number" && Number.isInteger(value)) {
    // Above 2^53 a Number may already have been rounded; make the caller say exactly.
    throw new RangeError(`${what}: ${value} is not a safe integer; pass a BigInt`);
  } else {
    throw new TypeError(`${what}: expected an integer, got ${describe(value)}`);
  }
  if (v < min || v > max) throw new RangeError(`${what}: ${v} is out of range`);
  return v;
}

function describe(value) {
  return value === null ? "null" : typeof value;
}

function writeValue(w, type, value, what) {
  switch (type) {
    case "u32":
      return w.varint(integer(value, 0n, BigInt(U32_MAX), what));
    case "u64":
      return w.varint(integer(value, 0n, U64_MAX, what));
    case "i64": {
      const v = integer(value, I64_MIN, I64_MAX, what);
      // Zig-zag: 0, -1, 1, -2 ... become 0, 1, 2, 3 ...
      return w.varint(v >= 0n ? v << 1n : (-v << 1n) - 1n);
    }
    case "bool":
      if (typeof value !== "boolean") {
        throw new TypeError(`${what}: expected a boolean, got ${describe(value)}`);
      }
      return w.byte(value ? 1 : 0);
    case "string": {
      if (typeof value !== "string") {
        throw new TypeError(`${what}: expected a string, got ${describe(value)}`);
      }
      // A lone surrogate has no UTF-8 form (TextEncoder would write U+FFFD instead).
      if (typeof value.isWellFormed === "function" && !value.isWellFormed()) {
        throw new TypeError(`${what}: the string holds a lone surrogate`);
      }
      const bytes = utf8Encoder.encode(value);
      w.varint(BigInt(bytes.length));
      return w.bytes(bytes);
    }
    case "token": {
      if (typeof value !== "string" || !/^[0-9a-fA-F]{64}$/.test(value)) {
        throw new TypeError(`${what}: expected ${TOKEN_LEN * 2} hex digits`);
      }
      return w.bytes(fromHex(value));
    }
    default: {
      const option = /^option<(.+)>$/.exec(type);
      if (option) {
        if (value === null || value === undefined) return w.byte(0);
        w.byte(1);
        return writeValue(w, option[1], value, what);
      }
      const inner = /^vec<(.+)>$/.exec(type);
      if (inner) {
        if (!Array.isArray(value)) {
          throw new TypeError(`${what}: expected an array, got ${describe(value)}`);
        }
        w.varint(BigInt(value.length));
        value.forEach((item, i) => writeValue(w, inner[1], item, `${what}[${i}]`));
        return;
      }
      if (Object.hasOwn(ENUMS, type)) return writeEnum(w, ENUMS[type], value, what);
      if (Object.hasOwn(UNITS, type)) return writeUnit(w, UNITS[type], value, what);
      if (Object.hasOwn(STRUCTS, type)) return writeFields(w, STRUCTS[type], value, what);
      throw new Error(`codec schema: unknown type ${type}`);
    }
  }
}

function writeFields(w, fields, obj, what) {
  if (obj === null || typeof obj !== "object") {
    throw new TypeError(`${what}: expected an object, got ${describe(obj)}`);
  }
  for (const [name, type] of fields) {
    if (!(name in obj)) throw new TypeError(`${what}: missing field ${name}`);
    writeValue(w, type, obj[name], `${what}.${name}`);
  }
}

function writeUnit(w, names, value, what) {
  const index = names.indexOf(value);
  if (index < 0) throw new TypeError(`${what}: unknown variant ${String(value)}`);
  w.varint(BigInt(index));
}

/** An enum with fields: `variants` is [name, fields][], `tagKey` names the variant. */
function writeEnum(w, variants, obj, what, tagKey = "kind") {
  if (obj === null || typeof obj !== "object") {
    throw new TypeError(`${what}: expected an object, got ${describe(obj)}`);
  }
  const index = variants.findIndex(([name]) => name === obj[tagKey]);
  if (index < 0) throw new TypeError(`${what}: unknown variant ${String(obj[tagKey])}`);
  w.varint(BigInt(index));
  writeFields(w, variants[index][1], obj, `${what}.${obj[tagKey]}`);
}

function encodeFrame(variants, frame, direction) {
  const w = new Writer();
  // Room for the prefix, filled in once the body's length is known.
  w.bytes([0, 0, 0, 0]);
  writeEnum(w, variants, frame, direction, "type");
  const out = w.done();
  const bodyLen = out.length - PREFIX_LEN;
  if (bodyLen > U32_MAX) throw new RangeError(`${direction}: a body of ${bodyLen} bytes`);
  new DataView(out.buffer).setUint32(0, bodyLen, false);
  return out;
}

/** A client frame as wire bytes, length prefix included: one WebSocket message. */
export function encodeClient(frame) {
  return encodeFrame(CLIENT_FRAMES, frame, "ClientFrame");
}

/** A server frame as wire bytes, length prefix included (for tests and tools). */
export function encodeServer(frame) {
  return encodeFrame(SERVER_FRAMES, frame, "ServerFrame");
}

/** The body length of a client frame, prefix excluded: what the server's buffsize limits. */
export function clientBodyLength(frame) {
  return encodeClient(frame).length - PREFIX_LEN;
}

// ---------------------------------------------------------------------------------------
// Reading.

class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.pos = 0;
  }

  left() {
    return this.bytes.length - this.pos;
  }

  take(n, what) {
    if (n > this.left()) {
      throw new DecodeError(`${what}: needs ${n} bytes, ${this.left()} left in the body`);
    }
    const out = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    return out;
  }

  byte(what) {
    return this.take(1, what)[0];
  }

  /** An unsigned varint as a BigInt. Longer forms than needed are read, as bincode does. */
  varint(what) {
    const first = this.byte(what);
    if (first <= 250) return BigInt(first);
    const width = { 0xfb: 2, 0xfc: 4, 0xfd: 8 }[first];
    if (width === undefined) {
      throw new DecodeError(`${what}: 0x${first.toString(16)} does not start a varint`);
    }
    const bytes = this.take(width, what);
    let v = 0n;
    for (let i = width - 1; i >= 0; i--) v = (v << 8n) | BigInt(bytes[i]);
    return v;
  }

  /** A length or count: refused when it claims more than the body has left. */
  length(what, minBytesEach) {
    const n = this.varint(what);
    if (n * BigInt(minBytesEach) > BigInt(this.left())) {
      throw new DecodeError(`${what}: a length of ${n} runs past the end of the body`);
    }
    return Number(n);
  }
}

/** A BigInt as a Number when that is exact, else as it is. */
function number(v) {
  return v >= -BigInt(Number.MAX_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(v)
    : v;
}

function readValue(r, type, what) {
  switch (type) {
    case "u32": {
      const v = r.varint(what);
      if (v > BigInt(U32_MAX)) throw new DecodeError(`${what}: ${v} does not fit a u32`);
      return Number(v);
    }
    case "u64":
      return number(r.varint(what));
    case "i64": {
      const z = r.varint(what);
      return number(z & 1n ? -(z >> 1n) - 1n : z >> 1n);
    }
    case "bool": {
      const b = r.byte(what);
      if (b > 1) throw new DecodeError(`${what}: 0x${b.toString(16)} is not a bool`);
      return b === 1;
    }
    case "string": {
      const bytes = r.take(r.length(what, 1), what);
      try {
        return utf8Decoder.decode(bytes);
      } catch {
        throw new DecodeError(`${what}: not valid UTF-8`);
      }
    }
    case "token":
      return toHex(r.take(TOKEN_LEN, what));
    default: {
      const option = /^option<(.+)>$/.exec(type);
      if (option) {
        const b = r.byte(what);
        if (b > 1) throw new DecodeError(`${what}: 0x${b.toString(16)} is not an option tag`);
        return b === 0 ? null : readValue(r, option[1], what);
      }
      const inner = /^vec<(.+)>$/.exec(type);
      if (inner) {
        const n = r.length(what, MIN_ELEMENT_BYTES[inner[1]] ?? 1);
        const out = new Array(n);
        for (let i = 0; i < n; i++) out[i] = readValue(r, inner[1], `${what}[${i}]`);
        return out;
      }
      if (Object.hasOwn(ENUMS, type)) return readEnum(r, ENUMS[type], what);
      if (Object.hasOwn(UNITS, type)) return readUnit(r, UNITS[type], what);
      if (Object.hasOwn(STRUCTS, type)) return readFields(r, STRUCTS[type], {}, what);
      throw new Error(`codec schema: unknown type ${type}`);
    }
  }
}

function readFields(r, fields, into, what) {
  for (const [name, type] of fields) into[name] = readValue(r, type, `${what}.${name}`);
  return into;
}

function readIndex(r, count, what) {
  const index = r.varint(what);
  if (index >= BigInt(count)) {
    throw new DecodeError(`${what}: unknown variant index ${index} (there are ${count})`);
  }
  return Number(index);
}

function readUnit(r, names, what) {
  return names[readIndex(r, names.length, what)];
}

function readEnum(r, variants, what, tagKey = "kind") {
  const [name, fields] = variants[readIndex(r, variants.length, what)];
  return readFields(r, fields, { [tagKey]: name }, `${what}.${name}`);
}

function asBytes(data) {
  if (data instanceof Uint8Array) return data;
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  throw new TypeError(`expected bytes, got ${describe(data)}`);
}

function decodeBodyWith(variants, body, direction) {
  const r = new Reader(asBytes(body));
  const frame = readEnum(r, variants, direction, "type");
  if (r.left() > 0) {
    throw new DecodeError(`${direction}: ${r.left()} bytes left over after the frame`);
  }
  return frame;
}

/** One server frame from its body (prefix already removed, as splitFrames yields it). */
export function decodeServerBody(body) {
  return decodeBodyWith(SERVER_FRAMES, body, "ServerFrame");
}

/** One client frame from its body (prefix already removed). */
export function decodeClientBody(body) {
  return decodeBodyWith(CLIENT_FRAMES, body, "ClientFrame");
}

/** One whole frame, prefix included, whose prefix must match the rest exactly. */
function decodeWhole(bytes, decodeBody) {
  const all = asBytes(bytes);
  const bodies = splitFrames(all, Infinity);
  if (bodies.length !== 1) throw new DecodeError(`expected one frame, got ${bodies.length}`);
  return decodeBody(bodies[0]);
}

/** One server frame from its wire bytes, length prefix included. */
export function decodeServer(bytes) {
  return decodeWhole(bytes, decodeServerBody);
}

/** One client frame from its wire bytes, length prefix included. */
export function decodeClient(bytes) {
  return decodeWhole(bytes, decodeClientBody);
}

// ---------------------------------------------------------------------------------------
// Framing.

/**
 * Cuts one WebSocket message payload into the bodies of its frames (prefixes removed).
 *
 * The server never splits a frame across messages, so a payload that ends inside a frame
 * is an error, as is a prefix over `maxBody` (checked before the body is looked at). The
 * bodies are views into the payload, not copies.
 */
export function splitFrames(payload, maxBody = CLIENT_MAX_FRAME) {
  const bytes = asBytes(payload);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const bodies = [];
  let pos = 0;
  while (pos < bytes.length) {
    if (bytes.length - pos < PREFIX_LEN) {
      throw new DecodeError(`the message ends inside a length prefix (${bytes.length - pos} bytes)`);
    }
    const len = view.getUint32(pos, false);
    if (len > maxBody) {
      throw new DecodeError(`a frame of ${len} bytes is over the limit of ${maxBody}`);
    }
    pos += PREFIX_LEN;
    if (bytes.length - pos < len) {
      throw new DecodeError(`the message ends inside a frame (${bytes.length - pos} of ${len} bytes)`);
    }
    bodies.push(bytes.subarray(pos, pos + len));
    pos += len;
  }
  return bodies;
}

/**
 * Reads server frames out of WebSocket message payloads, one payload at a time.
 *
 * `read(payload)` returns `{ frames, errors }`: every frame that decoded, in order, and a
 * DecodeError for each body that did not. A bad body does not stop the ones after it (the
 * prefixes keep the reader in step, as over TCP); a broken framing throws, since nothing
 * after it can be trusted.
 */
export class FrameReader {
  constructor(maxBody = CLIENT_MAX_FRAME) {
    this.maxBody = maxBody;
  }

  read(payload) {
    const frames = [];
    const errors = [];
    for (const body of splitFrames(payload, this.maxBody)) {
      try {
        frames.push(decodeServerBody(body));
      } catch (err) {
        if (!(err instanceof DecodeError)) throw err;
        errors.push(err);
      }
    }
    return { frames, errors };
  }
}

// ---------------------------------------------------------------------------------------
// Helpers for tests and tools.

/** Bytes as lowercase hex, no separators. */
export function toHex(bytes) {
  return Array.from(asBytes(bytes), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** Hex (spaces allowed) as bytes. */
export function fromHex(hex) {
  const clean = hex.replace(/\s+/g, "");
  if (clean.length % 2 !== 0 || /[^0-9a-fA-F]/.test(clean)) {
    throw new TypeError(`not hex: ${hex}`);
  }
  const out = new Uint8Array(clean.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(clean.slice(2 * i, 2 * i + 2), 16);
  return out;
}
