// The browser chat client: sign-in, rooms, members, messages, commands, history and
// reconnection, over a WebSocket at /ws that carries the same frames as TCP (codec.js).
//
// For automated tests the page exposes `window.chat`, a read-only view of its state:
//   window.chat.status   "connecting" | "connected" | "reconnecting" | "disconnected"
//   window.chat.name     the name signed in with, or null
//   window.chat.rooms    names (as the server shows them) of the rooms it is in, in join
//                        order; during a reconnect, the rooms it will join again
//   window.chat.current  the current room's name, or null
//   window.chat.lastSeq  { room name: the last seq seen in that room } (a Number, or a
//                        BigInt past 2^53), for rooms with at least one message
// Each read returns a fresh copy; writing to it changes nothing.
//
// DOM hooks: #status (with data-state), #rooms ([data-room], aria-current, .unread),
// #messages (.msg[data-seq], .whisper, .system, .presence, .error), #members ([data-user]),
// #compose. Message text is only ever set with textContent.
//
// The pure helpers (parseLine, backoffDelay, formatTime, roomKey, ...) are exported so that
// node can test them; the page starts only where there is a document.

import {
  FATAL_ERROR_KINDS,
  FrameReader,
  PROTOCOL_VERSION,
  clientBodyLength,
  decodeServer,
  encodeClient,
} from "./codec.js";

/** Messages asked for on a first join and per page of older history. */
const PAGE = 50;
/** `/history` without a count, as chat-client's REPL. */
const HISTORY_COUNT = 20;
/** The first reconnect delay, doubled after each failure up to RECONNECT_MAX. */
const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 20_000;
/** ±20%, so that clients dropped together do not all come back in the same instant. */
const RECONNECT_JITTER = 0.2;
/** Ping a server this quiet (as chat-client does), and give up on it this long after. */
const KEEPALIVE_IDLE_MS = 45_000;
const KEEPALIVE_TIMEOUT_MS = 10_000;
/** Joins sent at once after a reconnect; the rest are spaced out, since the server's rate
 *  limit (a burst of 10 frames, then 5 a second by default) counts Hello and Join. */
const REJOIN_BURST = 8;
const REJOIN_SPACING_MS = 250;
/** How close to the top of the messages pane counts as "at the top". */
const TOP_SLACK_PX = 48;

/** The commands of proto/src/input.rs, in /help order. */
export const COMMANDS = [
  { name: "whisper", aliases: ["w", "msg"], usage: "/whisper <user> <message>", summary: "send a private message to one user" },
  { name: "list_users", aliases: ["users", "who"], usage: "/list_users", summary: "list who is online, in every room" },
  { name: "join", aliases: ["j"], usage: "/join <room>", summary: "join a room (creating it) and make it the current room" },
  { name: "part", aliases: ["leave"], usage: "/part [room]", summary: "leave a room (the current one without a name)" },
  { name: "switch", aliases: ["go"], usage: "/switch <room>", summary: "make another joined room the current room" },
  { name: "rooms", aliases: ["list"], usage: "/rooms", summary: "list every room with its member count" },
  { name: "members", aliases: ["names"], usage: "/members [room]", summary: "list who is in a room (the current one without a name)" },
  { name: "history", aliases: [], usage: "/history [count]", summary: `show earlier messages of the current room (${HISTORY_COUNT} without a count)` },
  { name: "disconnect", aliases: ["kill"], usage: "/disconnect <user> [reason]", summary: "disconnect someone from the server (server operators only)" },
  { name: "claim", aliases: [], usage: "/claim [room]", summary: "become the owner of a room nobody owns (accounts only)" },
  { name: "info", aliases: ["roominfo"], usage: "/info [room]", summary: "show a room's owner, moderators and settings" },
  { name: "kick", aliases: [], usage: "/kick <user> [reason]", summary: "put someone out of the current room (its moderators)" },
  { name: "ban", aliases: [], usage: "/ban <name|account:name|address|cidr> [duration] [reason]", summary: "keep someone out of the current room, for a while (10m, 2h, 7d) or for good" },
  { name: "unban", aliases: [], usage: "/unban <target>", summary: "lift a ban of the current room" },
  { name: "mute", aliases: [], usage: "/mute <user> [duration] [reason]", summary: "let someone read the current room but not speak" },
  { name: "unmute", aliases: [], usage: "/unmute <user>", summary: "let someone speak again" },
  { name: "op", aliases: ["promote"], usage: "/op <account>", summary: "make an account a moderator of the current room (its owner)" },
  { name: "deop", aliases: ["demote"], usage: "/deop <account>", summary: "take the moderator role away (the room's owner)" },
  { name: "topic", aliases: [], usage: "/topic [text]", summary: "set the current room's topic (no text: clear it)" },
  { name: "set", aliases: ["mode"], usage: "/set registered-only on|off | /set slow <seconds>", summary: "the current room's settings: accounts only, slow mode" },
  { name: "remove", aliases: ["delete"], usage: "/remove <seq>", summary: "remove a message of the current room by its seq (yours, or anyone's as a moderator)" },
  { name: "modlog", aliases: [], usage: "/modlog [room]", summary: "show what the moderators of a room did" },
  { name: "sban", aliases: ["kline"], usage: "/sban <name|account:name|address|cidr> [duration] [reason]", summary: "refuse someone at the server's door (server operators)" },
  { name: "sunban", aliases: ["unkline"], usage: "/sunban <target>", summary: "lift a server ban (server operators)" },
  { name: "suspend", aliases: [], usage: "/suspend <account> [reason]", summary: "end an account's sessions and keep it out (server operators)" },
  { name: "unsuspend", aliases: [], usage: "/unsuspend <account>", summary: "let a suspended account in again (server operators)" },
  { name: "reply", aliases: ["re"], usage: "/reply <seq> <message>", summary: "answer message <seq> of the current room" },
  { name: "edit", aliases: [], usage: "/edit <seq> <message>", summary: "change the text of your message <seq> of the current room" },
  { name: "react", aliases: ["+"], usage: "/react <seq> <emoji>", summary: "react to message <seq> of the current room with an emoji" },
  { name: "unreact", aliases: ["-"], usage: "/unreact <seq> <emoji>", summary: "take back your reaction to message <seq>" },
  { name: "search", aliases: ["find"], usage: "/search <words>", summary: "find the messages of your rooms that hold every word (3+ characters each)" },
  { name: "help", aliases: ["?"], usage: "/help", summary: "show this list" },
  { name: "quit", aliases: ["exit"], usage: "/quit", summary: "leave the chat" },
];

export const HELP_FOOTER = [
  "Any other line is sent to the current room; start it with // to send a leading /.",
  "Rooms may be written with or without '#': /join #rust and /join rust are the same.",
  "Alt+↑ and Alt+↓ in the message box switch rooms; ↑ and ↓ recall what you sent.",
];

/** What each ErrorKind means, in words (the README's table); the detail follows it. */
export const ERROR_TEXT = {
  BadFrame: "the server could not read something this page sent",
  FrameTooLarge: "something this page sent was too large for the server, which closed the connection",
  VersionMismatch: "this page and the server speak different protocol versions",
  NotRegistered: "not signed in yet",
  AlreadyRegistered: "already signed in",
  InvalidName: "that name is not allowed: use 1 to 32 letters, digits, _, - or .",
  NameTaken: "someone online already has that name",
  NoSuchUser: "nobody of that name is online",
  InvalidMessage: "the server refused that message: it is blank, or holds control or hidden characters",
  RateLimited: "too much too fast: that was not sent; wait a moment",
  ServerFull: "the server is full",
  TooManyConnections: "too many connections from your address",
  AuthFailed: "wrong or missing server password",
  Timeout: "the server stopped waiting for this page",
  SlowConsumer: "this page fell too far behind the server",
  ShuttingDown: "the server is shutting down",
  Flooding: "disconnected for sending too much, too fast",
  NotInRoom: "you are not in that room",
  InvalidRoom: "that is not a room name: 1 to 32 letters, digits, _, - or ., after an optional #",
  TooManyRooms: "you are in as many rooms as the server allows: leave one first",
  RoomsFull: "the server holds as many rooms as it can: join an existing one",
  NoSuchRoom: "there is no such room: nobody is in it",
  HistoryOff: "this server keeps no history",
  StoreFailed: "the server could not store that message, so nobody got it: try again later",
  ClusterUnavailable: "the server cannot reach the rest of its cluster, so that message reached nobody (whispers still work)",
  NameRegistered: "that name belongs to an account: sign in with its password",
  WrongPassword: "wrong name or password",
  SessionEnded: "signed out",
  WeakPassword: "that password is too weak",
  RegistrationClosed: "this server makes no accounts for visitors: ask its operator",
  GuestsOff: "this server is for accounts only: sign in or register",
  NotSignedIn: "you are not signed in to an account",
  AccountsOff: "this server keeps no accounts: leave the password empty to chat as a guest",
  NotPermitted: "you are not allowed to do that",
  Removed: "an operator disconnected you",
  Banned: "you are banned from this server",
  BannedFromRoom: "you are banned from that room",
  Muted: "you are muted in this room: you may read, not speak",
  NoSuchMessage: "there is no such message to remove",
  RoomClaimed: "that room has an owner already",
  RegisteredOnly: "that room is for accounts only: sign in to join",
  SlowMode: "this room is in slow mode: wait a little before your next message",
  Suspended: "this account is suspended",
  InvalidAction: "that cannot be done as asked",
};

/** How a leave reason is worded (the README's "shown as"). */
export const LEFT_TEXT = {
  Parted: "parted",
  Quit: "quit",
  Disconnected: "disconnected",
  TimedOut: "timed out",
  SlowConsumer: "too slow",
  Refused: "disconnected by the server",
  NodeLost: "node lost",
  Removed: "removed by an operator",
  Kicked: "kicked",
  Banned: "banned",
};

/** Refusals after which reconnecting cannot help: the same Hello would be refused again. */
const STOP_KINDS = new Set([
  "VersionMismatch", "AuthFailed", "NameRegistered", "GuestsOff", "SessionEnded", "WrongPassword",
  "Removed", "Banned", "Suspended",
]);

/** The readable cookie that says which account this browser is signed in to. The token
 *  itself is in the `chat_session` cookie, which no script can read (HttpOnly). */
const ACCOUNT_COOKIE = "chat_account";

/** The account this browser is signed in to, from its cookie; null when none. */
function accountCookie() {
  for (const pair of document.cookie.split(";")) {
    const [name, value] = pair.trim().split("=");
    if (name === ACCOUNT_COOKIE && value) return decodeURIComponent(value);
  }
  return null;
}

// ---------------------------------------------------------------------------------------
// Pure helpers.

/** A line the person typed that cannot be sent or done; its message says why. */
export class InputError extends Error {}

const NAME_RE = /^[A-Za-z0-9_.-]+$/;
const MAX_NAME_LEN = 32;

/** Why `name` is not a user name, or null when it is one (validate::username). */
export function nameProblem(name) {
  if (name.length === 0) return "a name cannot be empty";
  const bad = [...name].find((ch) => !NAME_RE.test(ch));
  if (bad !== undefined) return `a name may only use letters, digits, '_', '-' and '.', not ${JSON.stringify(bad)}`;
  if (name.length > MAX_NAME_LEN) return `a name has at most ${MAX_NAME_LEN} characters, this one has ${name.length}`;
  return null;
}

/** The room `typed` names, without its one optional '#' (validate::room); throws InputError. */
export function checkRoom(typed) {
  const name = typed.startsWith("#") ? typed.slice(1) : typed;
  const problem = nameProblem(name);
  if (problem) throw new InputError(`${JSON.stringify(typed)} is not a room name: ${problem.replace("a name", "a room name")}`);
  return name;
}

/** The key a room is known by: without '#', ASCII lowercase, as the server compares. */
export function roomKey(name) {
  return (name.startsWith("#") ? name.slice(1) : name).replace(/[A-Z]/g, (c) => c.toLowerCase());
}

function lookupCommand(name) {
  const lower = name.toLowerCase();
  return COMMANDS.find((c) => c.name === lower || c.aliases.includes(lower));
}

/**
 * One typed line as an action, as proto/src/input.rs parses it:
 *   {kind: "blank"} | {kind: "message", text} | {kind: "whisper", to, text}
 *   | {kind: "list_users"} | {kind: "join", room} | {kind: "part", room|null}
 *   | {kind: "switch", room} | {kind: "rooms"} | {kind: "members", room|null}
 *   | {kind: "history", count|null} | {kind: "disconnect", user, reason}
 *   | {kind: "claim" | "info" | "modlog", room|null} | {kind: "remove", seq}
 *   | {kind: "moderate", action: RoomAction} | {kind: "operate", action: ServerAction}
 *   | {kind: "help"} | {kind: "quit"}
 * Room names come back without '#'. Throws InputError for a line that is no command.
 */
export function parseLine(input) {
  const line = input.replace(/[\r\n]+$/, "");
  if (line.trim() === "") return { kind: "blank" };
  if (!line.startsWith("/")) return { kind: "message", text: line };
  const rest = line.slice(1);
  if (rest.startsWith("/")) return { kind: "message", text: rest };
  const split = /\s/.exec(rest);
  const name = split ? rest.slice(0, split.index) : rest;
  const args = split ? rest.slice(split.index).trimStart() : "";
  const command = lookupCommand(name);
  if (!command) {
    const known = COMMANDS.map((c) => `/${c.name}`).join(", ");
    throw new InputError(`unknown command /${name}; commands: ${known}`);
  }
  const usage = () => new InputError(`usage: ${command.usage}`);
  const words = args.split(/\s+/).filter(Boolean);
  const noArgs = (action) => {
    if (words.length) throw usage();
    return action;
  };
  const oneRoom = () => {
    if (words.length !== 1) throw usage();
    return checkRoom(words[0]);
  };
  const maybeRoom = () => (words.length === 0 ? null : oneRoom());
  switch (command.name) {
    case "list_users": return noArgs({ kind: "list_users" });
    case "rooms": return noArgs({ kind: "rooms" });
    case "help": return noArgs({ kind: "help" });
    case "quit": return noArgs({ kind: "quit" });
    case "join": return { kind: "join", room: oneRoom() };
    case "switch": return { kind: "switch", room: oneRoom() };
    case "part": return { kind: "part", room: maybeRoom() };
    case "members": return { kind: "members", room: maybeRoom() };
    case "history": {
      if (words.length === 0) return { kind: "history", count: null };
      if (words.length === 1 && /^\d+$/.test(words[0])) {
        const count = Number(words[0]);
        if (count > 0 && count <= 0xffff_ffff) return { kind: "history", count };
      }
      throw usage();
    }
    case "whisper": {
      const m = /^(\S+)\s+(.*)$/s.exec(args);
      if (!m || m[2].trim() === "") throw usage();
      const problem = nameProblem(m[1]);
      if (problem) throw new InputError(problem);
      return { kind: "whisper", to: m[1], text: m[2].trimStart() };
    }
    case "disconnect": {
      const m = /^(\S+)(?:\s+(.*))?$/s.exec(args);
      if (!m) throw usage();
      const problem = nameProblem(m[1]);
      if (problem) throw new InputError(problem);
      return { kind: "disconnect", user: m[1], reason: (m[2] ?? "").trim() };
    }
    default:
      return parseModeration(command, args, usage);
  }
}

/** How many seconds `text` (`90s`, `10m`, `2h`, `7d`, `1w`, a bare number: seconds) says;
 *  null when it is no duration (as moderation::parse_duration). */
export function parseDuration(text) {
  const m = /^(\d+)([smhdw]?)$/.exec(text);
  if (!m) return null;
  const scale = { "": 1, s: 1, m: 60, h: 3600, d: 86400, w: 604800 }[m[2]];
  const secs = Number(m[1]) * scale;
  return secs > 0 && Number.isSafeInteger(secs) ? secs : null;
}

/** A ban target as typed (as moderation::parse_target): `account:NAME`, `name:NAME`, an
 *  address or network, or a bare name. Throws InputError for what cannot be one. */
export function parseTarget(text) {
  let target;
  if (text.startsWith("account:")) target = { kind: "Account", name: text.slice(8) };
  else if (text.startsWith("name:")) target = { kind: "Name", name: text.slice(5) };
  else if (/^\d{1,3}(\.\d{1,3}){3}(\/\d+)?$/.test(text) || /^[0-9A-Fa-f:]*:[0-9A-Fa-f:.]*(\/\d+)?$/.test(text)) {
    target = { kind: "Address", address: text };
  } else target = { kind: "Name", name: text };
  if (target.kind !== "Address") {
    const problem = nameProblem(target.name);
    if (problem) throw new InputError(problem);
  }
  return target;
}

/** The moderation commands, as proto/src/input/moderation.rs reads them. */
function parseModeration(command, args, usage) {
  const m = /^(\S*)\s*(.*)$/s.exec(args.trim());
  const first = m[1];
  const rest = m[2].trim();
  const user = () => {
    if (!first) throw usage();
    const problem = nameProblem(first);
    if (problem) throw new InputError(problem);
    return first;
  };
  const onlyUser = () => {
    if (rest) throw usage();
    return user();
  };
  const target = () => {
    if (!first) throw usage();
    return parseTarget(first);
  };
  const lasting = () => {
    const w = /^(\S*)\s*(.*)$/s.exec(rest);
    if (w[1] === "forever") return { for_secs: null, reason: w[2].trim() };
    const secs = parseDuration(w[1]);
    return secs === null ? { for_secs: null, reason: rest } : { for_secs: secs, reason: w[2].trim() };
  };
  const room = () => {
    if (!first) return null;
    if (rest) throw usage();
    return checkRoom(first);
  };
  const moderate = (action) => ({ kind: "moderate", action });
  const operate = (action) => ({ kind: "operate", action });
  switch (command.name) {
    case "claim": return { kind: "claim", room: room() };
    case "info": return { kind: "info", room: room() };
    case "modlog": return { kind: "modlog", room: room() };
    case "kick": return moderate({ kind: "Kick", user: user(), reason: rest });
    case "ban": return moderate({ kind: "Ban", target: target(), ...lasting() });
    case "unban": if (rest) throw usage(); return moderate({ kind: "Unban", target: target() });
    case "mute": return moderate({ kind: "Mute", user: user(), ...lasting() });
    case "unmute": return moderate({ kind: "Unmute", user: onlyUser() });
    case "op": return moderate({ kind: "Promote", user: onlyUser() });
    case "deop": return moderate({ kind: "Demote", user: onlyUser() });
    case "topic": return moderate({ kind: "Topic", topic: args.trim() });
    case "set":
      if (first === "registered-only" && (rest === "on" || rest === "off")) {
        return moderate({ kind: "RegisteredOnly", on: rest === "on" });
      }
      if (first === "slow" && /^\d+$/.test(rest) && Number(rest) <= 0xffff_ffff) {
        return moderate({ kind: "Slow", secs: Number(rest) });
      }
      throw usage();
    case "remove":
      if (!/^\d+$/.test(first) || rest) throw usage();
      return { kind: "remove", seq: BigInt(first) };
    case "reply":
    case "edit":
      if (!/^\d+$/.test(first) || !rest) throw usage();
      return { kind: command.name, seq: BigInt(first), text: rest };
    case "react":
    case "unreact":
      if (!/^\d+$/.test(first) || !rest || /\s/.test(rest)) throw usage();
      return { kind: "react", seq: BigInt(first), emoji: rest, on: command.name === "react" };
    case "search":
      if (!args.trim()) throw usage();
      return { kind: "search", query: args.trim() };
    case "sban": return operate({ kind: "Ban", target: target(), ...lasting() });
    case "sunban": if (rest) throw usage(); return operate({ kind: "Unban", target: target() });
    case "suspend": return operate({ kind: "Suspend", account: user(), reason: rest });
    case "unsuspend": return operate({ kind: "Unsuspend", account: onlyUser() });
    default:
      throw new Error(`parseLine: ${command.name} has no case`);
  }
}

/** The delay before reconnect attempt `attempt` (0 first): 0.5 s doubling to 20 s, ±20%. */
export function backoffDelay(attempt, random = Math.random) {
  const base = Math.min(RECONNECT_MAX_MS, RECONNECT_FIRST_MS * 2 ** Math.min(attempt, 30));
  return Math.round(base * (1 - RECONNECT_JITTER + 2 * RECONNECT_JITTER * random()));
}

const pad2 = (n) => String(n).padStart(2, "0");

/** Milliseconds since the epoch (a Number or BigInt) as a local Date, or null if out of range. */
export function toDate(at) {
  const d = new Date(Number(at));
  return Number.isNaN(d.getTime()) ? null : d;
}

/** Local HH:MM of a timestamp, "--:--" when it is no real date. */
export function formatTime(at) {
  const d = toDate(at);
  return d ? `${pad2(d.getHours())}:${pad2(d.getMinutes())}` : "--:--";
}

/** Whether two seqs (Number or BigInt) compare a < b. */
function seqLess(a, b) {
  return BigInt(a) < BigInt(b);
}

// ---------------------------------------------------------------------------------------
// The page. Everything below needs a document.

/** One room the client is in (or will join again after a reconnect). */
class Room {
  constructor(name) {
    this.name = name;
    this.key = roomKey(name);
    this.members = [];
    this.joined = false;
    /** The seqs shown, as strings: a message is never shown twice. */
    this.seen = new Set();
    this.minSeq = null;
    this.maxSeq = null;
    /** The seq to catch up from after a reconnect: nothing before it is missing. */
    this.lastSeq = null;
    /** Paging forwards after a reconnect: live messages may run ahead of lastSeq. */
    this.catchingUp = false;
    this.hasOlder = false;
    this.loadingOlder = false;
    /** Whether the backlog that follows Joined is this room's first (say "you joined"). */
    this.firstJoin = true;
    this.unread = 0;
    /** The room's roles and settings (RoomInfo), once the server said them. */
    this.info = null;
    /** Where the pane was scrolled when the person left this room; null: at the bottom. */
    this.scrollFromBottom = null;
    this.list = document.createElement("ol");
    this.list.className = "log";
    this.olderItem = document.createElement("li");
    this.olderItem.className = "older";
    this.olderItem.hidden = true;
    this.olderButton = document.createElement("button");
    this.olderButton.type = "button";
    this.olderButton.textContent = "Load earlier messages";
    this.olderButton.addEventListener("click", () => requestOlder(this, PAGE));
    this.olderItem.append(this.olderButton);
    this.list.append(this.olderItem);
  }
}

const state = {
  status: "disconnected",
  name: null,
  password: null,
  /** Signed in to an account: connections sign in with the session cookie. */
  account: false,
  /** The room to join on the first Welcome. */
  firstRoom: "lobby",
  /** Welcome's limits once signed in. */
  welcome: null,
  ws: null,
  welcomed: false,
  /** A Welcome came once: a lost connection is reconnected, not signed in again. */
  everWelcomed: false,
  /** No reconnecting: a refusal that would repeat, /quit, or a failed first sign-in. */
  stopped: false,
  /** Why the session stopped, shown on the sign-in form. */
  stopReason: null,
  /** The connection dropped and the "reconnecting" line has been shown. */
  outage: false,
  attempt: 0,
  reconnectAt: 0,
  reconnectTimer: null,
  countdownTimer: null,
  keepaliveTimer: null,
  rejoinTimer: null,
  lastHeard: 0,
  pingSentAt: 0,
  reader: new FrameReader(),
  /** Joined rooms by key, in join order. */
  rooms: new Map(),
  current: null,
  /** The room a /join is waiting for, to make current when Joined comes. */
  pendingSwitch: null,
  /** The welcome line, until the first room is joined and can show it. */
  greeting: null,
  /** The button that opened the menu shown, to give the focus back to. */
  menuAnchor: null,
  /** Rooms (by key) whose next RoomInfo answers /claim or /info, and is shown. */
  showInfo: new Set(),
  /** Lines sent from the message box, for ↑/↓. */
  sent: [],
  sentIndex: 0,
};

let ui = null;

function byId(id) {
  return document.getElementById(id);
}

function setStatus(status, text = status) {
  state.status = status;
  ui.status.textContent = text;
  ui.status.dataset.state = status;
  ui.retry.hidden = status !== "reconnecting" || state.reconnectTimer === null;
}

// --- Entries in the messages pane -----------------------------------------------------

/** The view lines go to when they belong to no room: the current room's, or the no-room one. */
function currentList() {
  return state.current ? state.current.list : ui.noRoom;
}

function timeElement(at) {
  const t = document.createElement("time");
  const d = toDate(at);
  t.textContent = formatTime(at);
  if (d) {
    t.dateTime = d.toISOString();
    t.title = d.toLocaleString();
  }
  return t;
}

/** A date before the time, for a message from another day. */
function dateElement(at) {
  const d = toDate(at);
  const now = new Date();
  if (!d || d.toDateString() === now.toDateString()) return null;
  const span = document.createElement("span");
  span.className = "date";
  const options = { month: "short", day: "numeric" };
  if (d.getFullYear() !== now.getFullYear()) options.year = "numeric";
  span.textContent = d.toLocaleDateString(undefined, options);
  return span;
}

function span(className, text) {
  const s = document.createElement("span");
  s.className = className;
  s.textContent = text;
  return s;
}

/** A line of class `cls` stamped `at` (now when not given). */
function entry(cls, at = Date.now()) {
  const li = document.createElement("li");
  li.className = cls;
  const date = dateElement(at);
  if (date) li.append(date);
  li.append(timeElement(at), " ");
  return li;
}

function atBottom() {
  const m = ui.messages;
  return m.scrollHeight - m.scrollTop - m.clientHeight < 8;
}

/**
 * Changes `list` with `change`, keeping the view steady: after a prepend the same lines
 * stay in view; after anything else a pane that was at the bottom stays there.
 */
function mutate(list, change, prepend = false) {
  const visible = list.isConnected;
  const wasAtBottom = visible && atBottom();
  const fromBottom = ui.messages.scrollHeight - ui.messages.scrollTop;
  change();
  if (!visible) return;
  if (prepend && !wasAtBottom) {
    ui.messages.scrollTop = ui.messages.scrollHeight - fromBottom;
  } else if (wasAtBottom) {
    ui.messages.scrollTop = ui.messages.scrollHeight;
  }
}

function append(list, li) {
  mutate(list, () => list.append(li));
}

/** A notice line: `cls` is "system", "presence" or "error". */
function note(cls, text, list = currentList(), at = Date.now()) {
  const li = entry(cls, at);
  li.append(span("text", text));
  append(list, li);
  return li;
}

const system = (text, list) => note("system", text, list);
const error = (text, list) => note("error", text, list);

function mentions(text, name) {
  if (!name) return false;
  const escaped = name.replace(/[.\-]/g, "\\$&");
  return new RegExp(`(^|[^A-Za-z0-9_.-])${escaped}($|[^A-Za-z0-9_.-])`, "i").test(text);
}

/**
 * Shows one room message unless its seq is already shown, in seq order among the others.
 * `past`: from a History frame (dimmed, never unread). Returns whether it was new.
 */
function addMessage(room, m, past) {
  const key = String(m.seq);
  if (room.seen.has(key)) return false;
  room.seen.add(key);
  const li = entry("msg", m.at);
  li.dataset.seq = key;
  if (past) li.classList.add("past");
  if (m.from === state.name) li.classList.add("mine");
  else if (mentions(m.text, state.name)) li.classList.add("mention");
  if (m.kind?.kind === "Removed") {
    li.classList.add("removed");
    li.append(span("from", m.from), ": ", span("text", `message removed by ${m.kind.by}`));
  } else {
    li.append(span("from", m.from), ": ");
    if (m.reply_to != null) li.append(replyQuote(room, m.reply_to), " ");
    li.append(span("text", m.text));
    if (m.edited != null) li.append(" ", span("edited", "(edited)"));
    li.reactions = new Map((m.reactions ?? []).map((r) => [r.emoji, new Set(r.by)]));
    li.append(" ", reactionChips(room, li), " ", messageMenuButton(room, li));
  }
  place(room, li, m.seq, past);
  if (!past && room !== state.current && m.from !== state.name) {
    room.unread += 1;
    renderRooms();
  }
  return true;
}

/** "↪ N: the first words of N", for a reply to message `seq` of `room`. */
function replyQuote(room, seq) {
  const target = room.list.querySelector(`:scope > .msg[data-seq="${seq}"] .text`);
  const quoted = target ? `: ${target.textContent.slice(0, 40)}` : "";
  const q = span("reply", `↪ ${seq}${quoted}`);
  q.dataset.to = String(seq);
  return q;
}

/** A message's reactions as chips, `👍 2`; a click gives or takes back one's own. */
function reactionChips(room, li) {
  const chips = span("reactions", "");
  for (const [emoji, by] of li.reactions ?? []) {
    if (!by.size) continue;
    const b = document.createElement("button");
    b.type = "button";
    b.className = "chip";
    b.dataset.emoji = emoji;
    b.textContent = `${emoji} ${by.size}`;
    b.title = [...by].join(", ");
    const mine = state.name && [...by].some((n) => n.toLowerCase() === state.name.toLowerCase());
    if (mine) b.classList.add("mine");
    b.addEventListener("click", () => sendOrSay({
      type: "React", room: room.name, seq: BigInt(li.dataset.seq), emoji, on: !mine,
    }));
    chips.append(b);
  }
  return chips;
}

/**
 * An edit or a reaction (live, or from a History page): the message's line, when shown,
 * takes the new text or reaction; the event keeps its seq's place, unseen.
 */
function addChange(room, e, past) {
  const target = room.list.querySelector(`:scope > .msg[data-seq="${e.kind.target}"]`);
  if (target && !target.classList.contains("removed") && !past) {
    if (e.kind.kind === "Edit") {
      target.querySelector(".text").textContent = e.text;
      if (!target.querySelector(".edited")) {
        target.querySelector(".text").after(" ", span("edited", "(edited)"));
      }
    } else {
      const by = target.reactions?.get(e.kind.emoji) ?? new Set();
      if (e.kind.kind === "React") by.add(e.from);
      else by.delete(e.from);
      target.reactions ??= new Map();
      target.reactions.set(e.kind.emoji, by);
      target.querySelector(".reactions")?.replaceWith(reactionChips(room, target));
    }
  }
  const key = String(e.seq);
  if (room.seen.has(key)) return false;
  room.seen.add(key);
  const li = entry("presence change", e.at);
  li.dataset.seq = key;
  li.hidden = true;
  place(room, li, e.seq, past);
  return true;
}

/** Shows "NAME is typing" in `room` for a few seconds. */
function showTyping(room, user) {
  room.typing ??= new Map();
  clearTimeout(room.typing.get(user));
  room.typing.set(user, setTimeout(() => {
    room.typing.delete(user);
    renderTyping();
  }, 6000));
  renderTyping();
}

function renderTyping() {
  const el = document.getElementById("typing");
  if (!el) return;
  const names = [...(state.current?.typing?.keys() ?? [])];
  el.textContent = names.length ? `${names.join(", ")} ${names.length === 1 ? "is" : "are"} typing…` : "";
}

/** Any entry of a room's log: a message, a removal, an edit, a reaction. */
function addEntry(room, m, past) {
  switch (m.kind?.kind) {
    case "Removal":
      return addRemoval(room, { seq: m.seq, target: m.kind.target, by: m.from, at: m.at }, past);
    case "Edit":
    case "React":
    case "Unreact":
      return addChange(room, m, past);
    default:
      return addMessage(room, m, past);
  }
}

/**
 * A removal (live, or from a History page): the removed message's line, when shown, says
 * who removed it and loses its text; the removal itself takes its seq's place quietly.
 */
function addRemoval(room, r, past) {
  const key = String(r.seq);
  const target = room.list.querySelector(`:scope > .msg[data-seq="${r.target}"]`);
  if (target && !target.classList.contains("removed")) {
    target.classList.add("removed");
    target.querySelector(".text").textContent = `message removed by ${r.by}`;
    target.querySelector(".more")?.remove();
  }
  if (room.seen.has(key)) return false;
  room.seen.add(key);
  const li = entry("presence removal", r.at);
  li.dataset.seq = key;
  li.append(span("text", `${r.by} removed a message`));
  place(room, li, r.seq, past);
  return true;
}

/** Puts a line with seq `seq` in its place among the room's lines, keeping the seqs known. */
function place(room, li, seq, past) {
  const newest = room.maxSeq === null || seqLess(room.maxSeq, seq);
  const oldest = room.minSeq !== null && seqLess(seq, room.minSeq);
  mutate(room.list, () => {
    if (newest) {
      room.list.append(li);
    } else {
      // Before the first shown message with a greater seq: an older page lands above
      // what is shown, a catch-up page between it and the live messages that ran ahead.
      const after = [...room.list.querySelectorAll(":scope > [data-seq]")].find((el) =>
        seqLess(seq, el.dataset.seq));
      room.list.insertBefore(li, after ?? null);
    }
  }, oldest);
  if (newest) room.maxSeq = seq;
  if (room.minSeq === null || oldest) room.minSeq = seq;
  if (!past && !room.catchingUp) room.lastSeq = room.maxSeq;
}

// --- Moderation ---------------------------------------------------------------------------

/** The ⋯ button of a message line: its menu offers what the person may do with it. */
function messageMenuButton(room, li) {
  const b = document.createElement("button");
  b.type = "button";
  b.className = "more";
  b.textContent = "⋯";
  b.setAttribute("aria-label", "Message actions");
  b.setAttribute("aria-haspopup", "menu");
  b.addEventListener("click", () => {
    const seq = BigInt(li.dataset.seq);
    const box = document.getElementById("compose");
    const prefill = (text) => () => {
      if (!box) return;
      box.value = text;
      box.focus();
    };
    const items = [
      { action: "reply", label: "Reply", run: prefill(`/reply ${seq} `) },
      { action: "react", label: "React 👍", run: () => sendOrSay({ type: "React", room: room.name, seq, emoji: "👍", on: true }) },
    ];
    if (li.classList.contains("mine")) {
      const text = li.querySelector(".text")?.textContent ?? "";
      items.push({ action: "edit", label: "Edit", run: prefill(`/edit ${seq} ${text}`) });
    }
    if (li.classList.contains("mine") || room.info?.moderator) {
      items.push({ action: "remove", label: "Remove message", run: () =>
        sendOrSay({ type: "RemoveMessage", room: room.name, seq }) });
    }
    openMenu(b, items);
  });
  return b;
}

/** Whether this person may moderate `user` in `room`: a moderator of it, and `user` not
 *  its owner nor, unless this person owns the room, one of its moderators. */
function mayModerate(room, user) {
  const info = room?.info;
  if (!info?.moderator || user === state.name) return false;
  const same = (a, b) => a.toLowerCase() === b.toLowerCase();
  if (info.owner && same(info.owner, user)) return false;
  const ownsIt = info.owner && state.name && same(info.owner, state.name);
  return ownsIt || !info.moderators.some((m) => same(m, user));
}

/** What a moderator may do to `user` in `room`, as menu items. */
function personActions(room, user) {
  const act = (action) => () => moderate(room, action);
  const items = [
    { action: "kick", label: "Kick", run: act({ kind: "Kick", user, reason: "" }) },
    { action: "mute", label: "Mute for 10 minutes", run: act({ kind: "Mute", user, for_secs: 600, reason: "" }) },
    { action: "ban", label: "Ban for a day", run: act({ kind: "Ban", target: { kind: "Name", name: user }, for_secs: 86400, reason: "" }) },
  ];
  const info = room.info;
  if (info && info.owner && info.owner.toLowerCase() === (state.name ?? "").toLowerCase()) {
    const isModerator = info.moderators.some((m) => m.toLowerCase() === user.toLowerCase());
    items.push(isModerator
      ? { action: "demote", label: "Take the moderator role", run: act({ kind: "Demote", user }) }
      : { action: "promote", label: "Make moderator", run: act({ kind: "Promote", user }) });
  }
  return items;
}

/** Sends a moderation action in `room`. */
function moderate(room, action) {
  return sendOrSay({ type: "Moderate", room: room.name, action });
}

/** Shows the one menu at `anchor` with `items` ({action, label, run}); a click runs one. */
function openMenu(anchor, items) {
  const menu = ui.menu;
  const buttons = items.map((item) => {
    const b = document.createElement("button");
    b.type = "button";
    b.setAttribute("role", "menuitem");
    b.dataset.action = item.action;
    b.textContent = item.label;
    b.addEventListener("click", () => {
      closeMenu();
      item.run();
    });
    return b;
  });
  menu.replaceChildren(...buttons);
  const box = anchor.getBoundingClientRect();
  menu.style.left = `${Math.max(4, Math.min(box.left, window.innerWidth - 220))}px`;
  menu.style.top = `${box.bottom + 2}px`;
  menu.hidden = false;
  state.menuAnchor = anchor;
  buttons[0]?.focus();
}

function closeMenu() {
  if (!ui.menu.hidden) {
    ui.menu.hidden = true;
    state.menuAnchor?.focus();
    state.menuAnchor = null;
  }
}

/** A ban's target as people read it. */
function targetText(t) {
  if (t.kind === "Account") return `the account ${t.name}`;
  if (t.kind === "Name") return t.name;
  return t.address || "an address";
}

function untilText(until) {
  return until === null || until === undefined ? "" : ` until ${toDate(until)?.toLocaleString() ?? until}`;
}

/** What `by` changed (a RoomChange), in words, as the terminal client says it. */
export function changeText(by, c) {
  const why = (reason) => (reason ? `: ${reason}` : "");
  switch (c.kind) {
    case "Claimed": return `${by} claimed the room`;
    case "Kicked": return `${by} kicked ${c.user}${why(c.reason)}`;
    case "Banned": return `${by} banned ${targetText(c.target)}${untilText(c.until)}${why(c.reason)}`;
    case "Unbanned": return `${by} lifted the ban of ${targetText(c.target)}`;
    case "Muted": return `${by} muted ${c.user}${untilText(c.until)}${why(c.reason)}`;
    case "Unmuted": return `${by} unmuted ${c.user}`;
    case "Promoted": return `${by} made ${c.user} a moderator`;
    case "Demoted": return `${by} took the moderator role from ${c.user}`;
    case "Topic": return c.topic ? `${by} set the topic: ${c.topic}` : `${by} cleared the topic`;
    case "RegisteredOnly": return c.on ? `${by} made the room accounts-only` : `${by} let guests in again`;
    case "Slow": return c.secs ? `${by} set slow mode: one message per ${c.secs} s` : `${by} turned slow mode off`;
    default: return `${by} changed the room`;
  }
}

/** A room's roles and settings, one line. */
function infoText(info) {
  const parts = [`#${info.room}`, info.owner ? `owner ${info.owner}` : "unclaimed"];
  if (info.moderators.length) parts.push(`moderators ${info.moderators.join(", ")}`);
  if (info.topic) parts.push(`topic: ${info.topic}`);
  if (info.registered_only) parts.push("accounts only");
  if (info.slow_secs) parts.push(`slow mode ${info.slow_secs} s`);
  for (const b of info.bans) parts.push(`ban of ${targetText(b.target)}${untilText(b.until)} by ${b.by}`);
  for (const m of info.mutes) parts.push(`${m.user} muted${untilText(m.until)} by ${m.by}`);
  return parts.join("; ");
}

function onRoomInfo(f) {
  const info = f.info;
  const key = roomKey(info.room);
  const room = state.rooms.get(key);
  if (room) {
    room.info = info;
    if (room === state.current) renderCurrent();
  }
  if (state.showInfo.delete(key)) system(infoText(info), room?.list);
}

function showOlderButton(room) {
  room.olderItem.hidden = !room.hasOlder;
  room.olderButton.disabled = room.loadingOlder;
  room.olderButton.textContent = room.loadingOlder ? "Loading…" : "Load earlier messages";
}

// --- Rooms, members and the current room ----------------------------------------------

function renderRooms() {
  const focused = document.activeElement?.dataset?.room;
  const items = [...state.rooms.values()].map((room) => {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.room = room.name;
    b.append(span("name", `#${room.name}`));
    if (room === state.current) b.setAttribute("aria-current", "true");
    if (!room.joined) {
      b.classList.add("away");
      b.title = "not joined again yet";
    }
    if (room.unread > 0) {
      const badge = span("unread", String(room.unread));
      badge.setAttribute("aria-label", `${room.unread} unread`);
      b.append(badge);
    }
    b.addEventListener("click", () => {
      switchTo(room);
      closeSidebar();
      ui.compose.focus();
    });
    const part = document.createElement("button");
    part.type = "button";
    part.className = "part";
    part.textContent = "×";
    part.title = `Leave #${room.name}`;
    part.setAttribute("aria-label", `Leave #${room.name}`);
    part.addEventListener("click", () => run({ kind: "part", room: room.name }));
    li.append(b, part);
    return li;
  });
  ui.rooms.replaceChildren(...items);
  if (focused) {
    [...ui.rooms.querySelectorAll("[data-room]")].find((b) => b.dataset.room === focused)?.focus();
  }
  const unread = [...state.rooms.values()].reduce((n, r) => n + r.unread, 0);
  const where = state.current ? `#${state.current.name} · ` : "";
  document.title = `${unread ? `(${unread}) ` : ""}${where}chat`;
}

function renderMembers() {
  const room = state.current;
  const focused = document.activeElement?.dataset?.user;
  const items = (room ? room.members : []).map((user) => {
    const li = document.createElement("li");
    const b = document.createElement("button");
    b.type = "button";
    b.dataset.user = user;
    b.textContent = user;
    if (user === state.name) b.append(" ", span("you", "(you)"));
    b.title = `Whisper to ${user}`;
    // A button: Enter and Space work as a click, so the keyboard alone can whisper.
    b.addEventListener("click", () => {
      ui.compose.value = `/whisper ${user} `;
      closeSidebar();
      ui.compose.focus();
      ui.compose.setSelectionRange(ui.compose.value.length, ui.compose.value.length);
    });
    li.append(b);
    if (mayModerate(room, user)) {
      const more = document.createElement("button");
      more.type = "button";
      more.className = "more";
      more.dataset.menuUser = user;
      more.textContent = "⋯";
      more.setAttribute("aria-label", `Moderate ${user}`);
      more.setAttribute("aria-haspopup", "menu");
      more.addEventListener("click", () => openMenu(more, personActions(room, user)));
      li.append(more);
    }
    return li;
  });
  ui.members.replaceChildren(...items);
  if (focused) {
    [...ui.members.querySelectorAll("[data-user]")].find((b) => b.dataset.user === focused)?.focus();
  }
  ui.membersHeading.textContent = room ? `People in #${room.name} (${room.members.length})` : "People here";
}

function renderCurrent() {
  const room = state.current;
  ui.roomTitle.textContent = room ? `#${room.name}` : "No room: /join one";
  const topic = room?.info?.topic ?? "";
  ui.roomTopic.textContent = topic;
  ui.roomTopic.hidden = topic === "";
  if (room) room.list.classList.toggle("moderating", Boolean(room.info?.moderator));
  ui.composeLabel.textContent = room ? `Message #${room.name}` : "Message";
  ui.compose.placeholder = room ? `Message #${room.name}, or /help for commands` : "/join a room, or /help for commands";
  renderRooms();
  renderMembers();
}

/** Makes `room` (or no room) the one shown, keeping each room's scroll position. */
function switchTo(room) {
  const old = state.current;
  if (old && old.list.isConnected) {
    old.scrollFromBottom = atBottom() ? null : ui.messages.scrollHeight - ui.messages.scrollTop;
  }
  state.current = room;
  if (room) room.unread = 0;
  renderTyping();
  ui.messages.replaceChildren(room ? room.list : ui.noRoom);
  if (room && room.scrollFromBottom !== null) {
    ui.messages.scrollTop = ui.messages.scrollHeight - room.scrollFromBottom;
  } else {
    ui.messages.scrollTop = ui.messages.scrollHeight;
  }
  renderCurrent();
  if (room) maybeLoadOlder();
}

function sortedInsert(list, name) {
  if (list.some((n) => n.toLowerCase() === name.toLowerCase())) return list;
  return [...list, name].sort((a, b) => {
    const x = a.toLowerCase();
    const y = b.toLowerCase();
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

// --- Sending ----------------------------------------------------------------------------

/** Sends one frame as one binary message; false when there is no open connection. */
function send(frame) {
  const ws = state.ws;
  if (!ws || ws.readyState !== WebSocket.OPEN) return false;
  ws.send(encodeClient(frame));
  return true;
}

/** Sends a frame that needs a signed-in connection, or says why it could not. */
function sendOrSay(frame) {
  if (!state.welcomed || !send(frame)) {
    error("not connected: that was not sent");
    return false;
  }
  return true;
}

/** A message or whisper, refused here when the server would refuse its size anyway. */
function sendText(frame) {
  const limit = state.welcome?.buffsize;
  if (limit !== undefined) {
    const len = clientBodyLength(frame);
    if (len > limit) {
      error(`that message is too long: it takes ${len} bytes and the server accepts at most ${limit}; it was not sent`);
      return false;
    }
  }
  return sendOrSay(frame);
}

function requestOlder(room, limit) {
  if (!state.welcomed || room.loadingOlder) return;
  if (state.welcome.history === 0) {
    error(ERROR_TEXT.HistoryOff);
    return;
  }
  const from = room.minSeq === null ? { kind: "Latest" } : { kind: "Before", seq: room.minSeq };
  if (send({ type: "History", room: room.name, from, limit })) {
    room.loadingOlder = true;
    showOlderButton(room);
  }
}

/** Loads older messages while the current room is scrolled to the top and has some. */
function maybeLoadOlder() {
  const room = state.current;
  if (room && room.hasOlder && !room.loadingOlder && ui.messages.scrollTop < TOP_SLACK_PX) {
    requestOlder(room, PAGE);
  }
}

// --- Typed lines ------------------------------------------------------------------------

function showHelp() {
  const li = entry("system help");
  const dl = document.createElement("dl");
  dl.className = "help-list";
  for (const c of COMMANDS) {
    const dt = document.createElement("dt");
    dt.textContent = c.usage;
    const dd = document.createElement("dd");
    dd.textContent = c.summary;
    dl.append(dt, dd);
  }
  li.append(dl);
  for (const line of HELP_FOOTER) {
    const p = document.createElement("div");
    p.textContent = line;
    li.append(p);
  }
  append(currentList(), li);
}

/** Does what a parsed line says. Returns whether the message box may be cleared. */
function run(action) {
  const room = state.current;
  switch (action.kind) {
    case "blank":
      return false;
    case "message":
      if (!room) {
        error("you are in no room: /join one first");
        return false;
      }
      return sendText({ type: "Msg", room: room.name, text: action.text });
    case "whisper":
      return sendText({ type: "Whisper", to: action.to, text: action.text });
    case "disconnect":
      return sendOrSay({ type: "Disconnect", user: action.user, reason: action.reason });
    case "claim":
    case "info":
    case "modlog": {
      const name = action.room ?? room?.name;
      if (!name) {
        error("you are in no room: name one");
        return false;
      }
      if (action.kind !== "modlog") state.showInfo.add(roomKey(name));
      if (action.kind === "claim") return sendOrSay({ type: "Claim", room: name });
      if (action.kind === "info") return sendOrSay({ type: "RoomInfo", room: name });
      return sendOrSay({ type: "ModLog", room: name, limit: 20 });
    }
    case "moderate":
      if (!room) {
        error("you are in no room");
        return false;
      }
      return moderate(room, action.action);
    case "remove":
      if (!room) {
        error("you are in no room");
        return false;
      }
      return sendOrSay({ type: "RemoveMessage", room: room.name, seq: action.seq });
    case "reply":
    case "edit":
    case "react":
      if (!room) {
        error("you are in no room");
        return false;
      }
      if (action.kind === "reply") return sendOrSay({ type: "Reply", room: room.name, to: action.seq, text: action.text });
      if (action.kind === "edit") return sendOrSay({ type: "Edit", room: room.name, seq: action.seq, text: action.text });
      return sendOrSay({ type: "React", room: room.name, seq: action.seq, emoji: action.emoji, on: action.on });
    case "search":
      return sendOrSay({ type: "Search", query: action.query, room: null, before: null, limit: 20 });
    case "operate":
      return sendOrSay({ type: "Operate", action: action.action });
    case "list_users":
      return sendOrSay({ type: "ListUsers" });
    case "rooms":
      return sendOrSay({ type: "ListRooms" });
    case "members":
      if (!action.room && !room) {
        error("you are in no room: name one, /members <room>");
        return false;
      }
      return sendOrSay({ type: "ListMembers", room: action.room ?? room.name });
    case "join": {
      const known = state.rooms.get(roomKey(action.room));
      if (known && known.joined) {
        switchTo(known);
        return true;
      }
      state.pendingSwitch = roomKey(action.room);
      return sendOrSay({ type: "Join", room: action.room, backlog: { kind: "Latest", count: PAGE } });
    }
    case "part": {
      if (!action.room && !room) {
        error("you are in no room");
        return false;
      }
      return sendOrSay({ type: "Part", room: action.room ?? room.name });
    }
    case "switch": {
      const target = state.rooms.get(roomKey(action.room));
      if (!target) {
        const others = [...state.rooms.values()].map((r) => `#${r.name}`).join(", ");
        error(`not in #${action.room}; /join ${action.room} first${others ? `, or switch to one of ${others}` : ""}`);
        return false;
      }
      switchTo(target);
      return true;
    }
    case "history":
      if (!room) {
        error("you are in no room");
        return false;
      }
      if (!state.welcomed) {
        error("not connected: that was not sent");
        return false;
      }
      requestOlder(room, action.count ?? HISTORY_COUNT);
      return true;
    case "help":
      showHelp();
      return true;
    case "quit":
      quit();
      return true;
    default:
      throw new Error(`run: unknown action ${action.kind}`);
  }
}

function onCompose(event) {
  event.preventDefault();
  const line = ui.compose.value;
  let action;
  try {
    action = parseLine(line);
  } catch (err) {
    if (!(err instanceof InputError)) throw err;
    error(err.message);
    return;
  }
  if (run(action)) {
    if (action.kind !== "blank") state.sent.push(line);
    state.sentIndex = state.sent.length;
    ui.compose.value = "";
  }
}

/** ↑/↓ recall sent lines; Alt+↑/↓ move between rooms. */
function onComposeKey(event) {
  if (event.key !== "ArrowUp" && event.key !== "ArrowDown") return;
  const step = event.key === "ArrowUp" ? -1 : 1;
  if (event.altKey) {
    const rooms = [...state.rooms.values()];
    if (rooms.length < 2) return;
    event.preventDefault();
    const i = rooms.indexOf(state.current);
    switchTo(rooms[(i + step + rooms.length) % rooms.length]);
    return;
  }
  if (event.shiftKey || event.ctrlKey || event.metaKey || state.sent.length === 0) return;
  event.preventDefault();
  state.sentIndex = Math.max(0, Math.min(state.sent.length, state.sentIndex + step));
  ui.compose.value = state.sent[state.sentIndex] ?? "";
}

// --- Frames from the server -----------------------------------------------------------

function roomOf(name) {
  return state.rooms.get(roomKey(name));
}

function onWelcome(f) {
  state.welcome = f;
  state.welcomed = true;
  state.attempt = 0;
  setStatus("connected");
  if (!state.everWelcomed) {
    state.everWelcomed = true;
    showChat();
    ui.whoami.textContent = state.account ? `signed in to ${f.username}'s account` : `signed in as ${f.username}`;
    ui.signout.hidden = !state.account;
    ui.signoutAll.hidden = !state.account;
    const greeting = `connected as ${f.username}; ${f.online} online. /help lists the commands`;
    let first = null;
    try {
      first = checkRoom(state.firstRoom);
    } catch (err) {
      system(greeting);
      error(err.message);
    }
    if (first !== null) {
      // Shown in the first room once it is joined: written now, it would go to the list of
      // no room, which the first room replaces on screen.
      state.greeting = greeting;
      state.pendingSwitch = roomKey(first);
      send({ type: "Join", room: first, backlog: { kind: "Latest", count: PAGE } });
    }
    return;
  }
  if (state.outage) system("reconnected");
  state.outage = false;
  // Join every room again, asking only for what came after the last message shown.
  const joins = [...state.rooms.values()].map((room) => ({
    type: "Join",
    room: room.name,
    backlog: room.lastSeq === null ? { kind: "Latest", count: PAGE } : { kind: "After", seq: room.lastSeq },
  }));
  const ws = state.ws;
  const next = () => {
    state.rejoinTimer = null;
    if (state.ws !== ws || joins.length === 0) return;
    send(joins.shift());
    if (joins.length) state.rejoinTimer = setTimeout(next, REJOIN_SPACING_MS);
  };
  for (let i = 0; i < REJOIN_BURST && joins.length; i++) send(joins.shift());
  if (joins.length) state.rejoinTimer = setTimeout(next, REJOIN_SPACING_MS);
}

function onJoined(f) {
  const key = roomKey(f.room);
  let room = state.rooms.get(key);
  if (!room) {
    room = new Room(f.room);
    state.rooms.set(key, room);
  }
  room.name = f.room;
  room.members = f.members;
  room.joined = true;
  // Its topic, and whether this person may moderate it (the menus).
  send({ type: "RoomInfo", room: f.room });
  if (state.greeting) {
    system(state.greeting, room.list);
    state.greeting = null;
  }
  if (state.pendingSwitch === key || !state.current) {
    state.pendingSwitch = null;
    switchTo(room);
  } else {
    renderCurrent();
  }
}

function onHistory(f) {
  const room = roomOf(f.room);
  if (!room) return;
  const hadNone = room.minSeq === null;
  let firstNew = null;
  for (const m of f.messages) {
    const added = addEntry(room, m, true);
    if (added && firstNew === null) firstNew = m.seq;
  }
  if (f.missed) {
    const li = entry("system");
    li.append(span("text", `some messages of #${room.name} are no longer available`));
    const at = firstNew === null ? null : room.list.querySelector(`:scope > [data-seq="${firstNew}"]`);
    mutate(room.list, () => room.list.insertBefore(li, at));
  }
  switch (f.next.kind) {
    case "Before":
      // A page back, or a first backlog: it says whether there is more further back.
      if (hadNone || !f.backlog) room.hasOlder = f.more;
      room.loadingOlder = false;
      room.catchingUp = false;
      break;
    case "After":
      // A catch-up: page on until the server says there is no more. Everything up to
      // `next` is here now, so a drop in the middle resumes from there.
      room.catchingUp = f.more;
      if (f.more) room.lastSeq = f.next.seq;
      if (f.more) send({ type: "History", room: room.name, from: f.next, limit: state.welcome?.history || PAGE });
      break;
    case "Latest":
      room.loadingOlder = false;
      room.catchingUp = false;
      if (hadNone) room.hasOlder = false;
      break;
    default:
      break;
  }
  if (!room.catchingUp) room.lastSeq = room.maxSeq;
  if (f.backlog && room.firstJoin) {
    room.firstJoin = false;
    const who = room.members.join(", ");
    note("presence", `you joined #${room.name}; here (${room.members.length}): ${who}`, room.list);
  }
  showOlderButton(room);
  // A short first page leaves nothing to scroll: go on loading until the pane fills.
  if (room === state.current) requestAnimationFrame(maybeLoadOlder);
}

function onParted(f) {
  const key = roomKey(f.room);
  const room = state.rooms.get(key);
  state.rooms.delete(key);
  if (state.current === room) {
    const rest = [...state.rooms.values()];
    switchTo(rest.length ? rest[rest.length - 1] : null);
  } else {
    renderCurrent();
  }
  note("presence", `you left #${f.room}`);
}

function onError(f) {
  if (f.kind === "SessionEnded") {
    // Revoked here or elsewhere: stop signing in with it after a reload. (The session
    // cookie itself is left alone: another tab may have signed in anew since.)
    state.account = false;
    document.cookie = `${ACCOUNT_COOKIE}=; Max-Age=0; Path=/; SameSite=Strict`;
  }
  const words = ERROR_TEXT[f.kind] ?? f.kind;
  const text = f.detail ? `${words} (${f.detail})` : words;
  const refusedHello = !state.welcomed && (f.kind === "NameTaken" || f.kind === "InvalidName");
  if (STOP_KINDS.has(f.kind) || (refusedHello && !state.everWelcomed)) {
    // The same Hello would be refused again: stop, and let the person change it.
    stop(text);
    return;
  }
  if (f.kind === "HistoryOff" || f.kind === "InvalidRoom") {
    // Perhaps the answer to a History request: no page is coming.
    for (const room of state.rooms.values()) {
      room.loadingOlder = false;
      if (f.kind === "HistoryOff") room.hasOlder = false;
      showOlderButton(room);
    }
  }
  if (refusedHello) {
    // After a drop the server may not have noticed yet that the old connection is gone,
    // and still holds the name: try again, later.
    error(`${text}: trying again`);
    abandon();
    return;
  }
  error(FATAL_ERROR_KINDS.has(f.kind) ? `${text}; the server closes the connection` : text);
}

function onFrame(f) {
  switch (f.type) {
    case "Welcome": return onWelcome(f);
    case "Msg": {
      const room = roomOf(f.room);
      if (room) addMessage(room, f, false);
      return;
    }
    case "Whisper": {
      const li = entry("whisper", f.at);
      li.append(span("label", "whisper"), " ", span("from", `${f.from} → ${f.to}`), ": ", span("text", f.text));
      append(currentList(), li);
      return;
    }
    case "UserList":
      system(`online (${f.users.length}): ${f.users.join(", ")}`);
      return;
    case "System":
      note("system", `server: ${f.text}`, currentList(), f.at);
      return;
    case "Error": return onError(f);
    case "Pong": return; // keepalive: hearing it was the point
    case "Ping":
      send({ type: "Pong" });
      return;
    case "Joined": return onJoined(f);
    case "Parted": return onParted(f);
    case "RoomList": {
      const rooms = f.rooms.map((r) => `#${r.name} (${r.members})`).join(", ");
      system(`rooms (${f.rooms.length}): ${rooms}`);
      return;
    }
    case "Members": {
      system(`members of #${f.room} (${f.users.length}): ${f.users.join(", ")}`);
      const room = roomOf(f.room);
      if (room) {
        room.members = f.users;
        if (room === state.current) renderMembers();
      }
      return;
    }
    case "UserJoined": {
      const room = roomOf(f.room);
      if (!room) return;
      room.members = sortedInsert(room.members, f.user);
      note("presence", `${f.user} joined #${room.name}`, room.list, f.at);
      if (room === state.current) renderMembers();
      return;
    }
    case "UserLeft": {
      const room = roomOf(f.room);
      if (!room) return;
      room.members = room.members.filter((n) => n.toLowerCase() !== f.user.toLowerCase());
      const how = f.reason === "Parted" ? "left" : `left (${LEFT_TEXT[f.reason] ?? f.reason})`;
      note("presence", `${f.user} ${how}`, room.list, f.at);
      if (room === state.current) renderMembers();
      return;
    }
    case "History": return onHistory(f);
    case "SignedIn": return; // Welcome follows
    case "Revoked":
      system(`${f.count} session${f.count === 1 ? "" : "s"} ended`);
      return;
    case "Disconnected":
      system(`${f.user} was disconnected`);
      return;
    case "RoomInfo": return onRoomInfo(f);
    case "RoomChanged": {
      const room = roomOf(f.room);
      if (!room) return;
      note("system", changeText(f.by, f.change), room.list, f.at);
      // Roles and settings changed: learn them as they are now (the moderator's menus).
      send({ type: "RoomInfo", room: room.name });
      return;
    }
    case "MessageRemoved": {
      const room = roomOf(f.room);
      if (room) addRemoval(room, f, false);
      return;
    }
    case "ModLog":
      if (!f.entries.length) system("the log is empty");
      for (const e of f.entries) {
        const why = e.reason ? `: ${e.reason}` : "";
        const where = e.room ? `#${e.room} ` : "";
        system(`${toDate(e.at)?.toLocaleString() ?? e.at} ${where}${e.actor} ${e.action} ${e.target}${untilText(e.until)}${why}`);
      }
      return;
    case "Enforced":
      system(`done; ${f.closed} connection${f.closed === 1 ? "" : "s"} closed`);
      return;
    case "Event": {
      const room = roomOf(f.room);
      if (room) addEntry(room, f.entry, false);
      return;
    }
    case "Typing": {
      const room = roomOf(f.room);
      if (room) showTyping(room, f.user);
      return;
    }
    case "SearchResults":
      if (!f.hits.length) system(`nothing found for "${f.query}"`);
      for (const hit of f.hits) system(`#${hit.room} [${hit.entry.seq}] ${hit.entry.from}: ${hit.entry.text}`);
      return;
    default:
      error(`the server sent a frame this page does not know: ${f.type}`);
  }
}

// --- The connection -------------------------------------------------------------------

function wsUrl() {
  return `${location.protocol === "https:" ? "wss" : "ws"}://${location.host}/ws`;
}

function connect() {
  clearReconnect();
  let ws;
  try {
    ws = new WebSocket(wsUrl());
  } catch (err) {
    state.ws = null;
    onClosed(`cannot open a WebSocket: ${err.message}`);
    return;
  }
  ws.binaryType = "arraybuffer";
  state.ws = ws;
  state.welcomed = false;
  setStatus(state.everWelcomed ? "reconnecting" : "connecting", state.everWelcomed ? "reconnecting…" : "connecting…");
  ws.addEventListener("open", () => {
    if (state.ws !== ws) return;
    state.lastHeard = Date.now();
    state.pingSentAt = 0;
    if (state.account) {
      send({
        type: "SignIn", version: PROTOCOL_VERSION, username: state.name,
        server_password: state.password, credential: { kind: "Cookie" }, online: true,
      });
    } else {
      send({ type: "Hello", version: PROTOCOL_VERSION, username: state.name, password: state.password });
    }
    startKeepalive();
  });
  ws.addEventListener("message", (event) => {
    if (state.ws !== ws) return;
    state.lastHeard = Date.now();
    state.pingSentAt = 0;
    if (!(event.data instanceof ArrayBuffer)) return; // the server sends only binary messages
    let read;
    try {
      read = state.reader.read(event.data);
    } catch (err) {
      // Broken framing: nothing after it can be trusted, so start over.
      error(`the server's data could not be read (${err.message}); reconnecting`);
      abandon();
      return;
    }
    for (const err of read.errors) error(`a frame from the server could not be read: ${err.message}`);
    for (const frame of read.frames) {
      if (state.ws !== ws) return; // a frame closed this connection (a refusal)
      onFrame(frame);
    }
  });
  ws.addEventListener("close", (event) => {
    if (state.ws !== ws) return;
    state.ws = null;
    onClosed(event.reason || (event.wasClean ? "" : "the connection broke"));
  });
}

/** Drops the current connection at once, without waiting for a close handshake that a dead
 *  network may never finish, and carries on as if it had closed. */
function abandon() {
  const ws = state.ws;
  if (!ws) return;
  state.ws = null;
  try {
    ws.close();
  } catch {
    // already closing
  }
  onClosed("");
}

/** After a connection ended: reconnect, unless the session was stopped. */
function onClosed(why) {
  state.welcomed = false;
  stopKeepalive();
  clearTimeout(state.rejoinTimer);
  state.rejoinTimer = null;
  for (const room of state.rooms.values()) {
    room.joined = false;
    room.loadingOlder = false;
    showOlderButton(room);
  }
  if (state.stopped) {
    setStatus("disconnected");
    showSignin(state.stopReason);
    return;
  }
  if (!state.everWelcomed) {
    // The first sign-in did not get through: say so on the form rather than retry blind.
    stop(`could not reach the server${why ? ` (${why})` : ""}; try again`);
    return;
  }
  if (!state.outage) {
    state.outage = true;
    error(`the connection was lost${why ? ` (${why})` : ""}; reconnecting`);
  }
  renderRooms();
  scheduleReconnect();
}

function scheduleReconnect() {
  const delay = backoffDelay(state.attempt);
  state.attempt += 1;
  state.reconnectAt = Date.now() + delay;
  state.reconnectTimer = setTimeout(connect, delay);
  const tick = () => {
    const left = Math.max(0, Math.ceil((state.reconnectAt - Date.now()) / 1000));
    setStatus("reconnecting", `reconnecting… in ${left} s`);
  };
  tick();
  state.countdownTimer = setInterval(tick, 250);
}

function clearReconnect() {
  clearTimeout(state.reconnectTimer);
  clearInterval(state.countdownTimer);
  state.reconnectTimer = null;
  state.countdownTimer = null;
}

/** Pings a server that has been quiet, and gives up on one that does not answer. */
function startKeepalive() {
  stopKeepalive();
  state.keepaliveTimer = setInterval(() => {
    const now = Date.now();
    if (state.pingSentAt && now - state.pingSentAt > KEEPALIVE_TIMEOUT_MS) {
      error(`no answer from the server within ${KEEPALIVE_TIMEOUT_MS / 1000} s`);
      abandon();
    } else if (!state.pingSentAt && state.welcomed && now - state.lastHeard > KEEPALIVE_IDLE_MS) {
      state.pingSentAt = now;
      send({ type: "Ping" });
    }
  }, 1000);
}

function stopKeepalive() {
  clearInterval(state.keepaliveTimer);
  state.keepaliveTimer = null;
}

/** Ends the session for good: no reconnecting; the sign-in form says why. */
function stop(reason) {
  state.stopped = true;
  state.stopReason = reason;
  clearReconnect();
  if (state.ws) {
    const ws = state.ws;
    state.ws = null;
    try {
      ws.close();
    } catch {
      // already closing
    }
  }
  onClosed("");
}

function quit() {
  state.stopReason = "you left the chat";
  state.stopped = true;
  clearReconnect();
  // Bye: the server frees the name and closes; the close brings back the sign-in form.
  const ws = state.ws;
  if (!send({ type: "Bye" })) {
    stop(state.stopReason);
    return;
  }
  // A server that does not close is not waited for.
  setTimeout(() => {
    if (state.ws === ws) stop(state.stopReason);
  }, 2000);
}

// --- Screens ----------------------------------------------------------------------------

function closeSidebar() {
  ui.sidebar.classList.remove("open");
  ui.sidebarToggle.setAttribute("aria-expanded", "false");
}

function showChat() {
  ui.signinScreen.hidden = true;
  ui.chatScreen.hidden = false;
  ui.compose.focus();
}

/** Back to the sign-in form, with `message` (why), after a refusal or /quit. */
function showSignin(message) {
  state.rooms.clear();
  state.current = null;
  state.everWelcomed = false;
  state.welcome = null;
  state.outage = false;
  ui.noRoom.replaceChildren();
  ui.messages.replaceChildren(ui.noRoom);
  ui.whoami.textContent = "";
  ui.signout.hidden = true;
  ui.signoutAll.hidden = true;
  renderCurrent();
  ui.chatScreen.hidden = true;
  ui.signinScreen.hidden = false;
  ui.signinSubmit.disabled = false;
  ui.signinSubmit.textContent = "Sign in";
  ui.signinError.textContent = message ?? "";
  const wrongPassword = message && message.startsWith(ERROR_TEXT.AuthFailed);
  (wrongPassword ? ui.signinPassword : ui.signinName).focus();
}

/** Ends this browser's session on the server (its connections close) and clears its
 *  cookies; shows the sign-in form. */
async function signOut(everywhere) {
  state.account = false;
  try {
    // The server ends the session (or, everywhere, every session of the account), closes
    // their connections, this one included, and clears both cookies.
    await fetch(everywhere ? "/session?everywhere" : "/session", {
      method: "DELETE", credentials: "same-origin",
    });
  } catch (err) {
    error(`could not sign out: ${err.message}`);
    return;
  }
  stop(everywhere ? "signed out everywhere" : "signed out");
}

/** Signs in to (or, with `register`, makes) the account `name` over HTTP: the server answers
 *  with the session cookie, which this page cannot read, and the WebSocket signs in with it. */
async function signInToAccount(name, password, serverPassword, register) {
  const device = `web (${navigator.userAgent.match(/(Firefox|Chrome|Safari|Edg)\/[\d]+/)?.[0] ?? "browser"})`;
  const frame = register
    ? { type: "Register", version: PROTOCOL_VERSION, username: name, server_password: serverPassword, password, device }
    : {
      type: "SignIn", version: PROTOCOL_VERSION, username: name, server_password: serverPassword,
      credential: { kind: "Password", password, device }, online: true,
    };
  let answer;
  try {
    const response = await fetch("/session", {
      method: "POST", credentials: "same-origin", body: encodeClient(frame),
      headers: { "Content-Type": "application/octet-stream" },
    });
    answer = decodeServer(new Uint8Array(await response.arrayBuffer()));
  } catch (err) {
    return `could not sign in: ${err.message}`;
  }
  if (answer.type === "SignedIn") return null;
  if (answer.type === "Error") {
    const words = ERROR_TEXT[answer.kind] ?? answer.kind;
    return answer.detail ? `${words} (${answer.detail})` : words;
  }
  return `the server answered ${answer.type}`;
}

async function signIn(name, password, room, options = {}) {
  const problem = nameProblem(name);
  if (problem) {
    ui.signinError.textContent = problem;
    ui.signinName.focus();
    return;
  }
  try {
    checkRoom(room);
  } catch (err) {
    ui.signinError.textContent = err.message;
    ui.signinRoom.focus();
    return;
  }
  const account = options.accountPassword ?? "";
  state.name = name;
  state.password = password === "" ? null : password;
  state.firstRoom = room;
  if (account !== "" || options.register) {
    ui.signinSubmit.disabled = true;
    const problem = await signInToAccount(name, account, state.password, options.register === true);
    ui.signinSubmit.disabled = false;
    if (problem) {
      ui.signinError.textContent = problem;
      ui.signinAccountPassword.focus();
      return;
    }
    ui.signinAccountPassword.value = "";
    state.account = true;
  } else {
    state.account = options.resume === true;
  }
  state.stopped = false;
  state.stopReason = null;
  state.attempt = 0;
  ui.signinError.textContent = "";
  ui.signinSubmit.disabled = true;
  ui.signinSubmit.textContent = "Signing in…";
  connect();
}

function main() {
  ui = {
    status: byId("status"),
    retry: byId("retry"),
    whoami: byId("whoami"),
    signinScreen: byId("signin-screen"),
    signin: byId("signin"),
    signinName: byId("signin-name"),
    signinPassword: byId("signin-password"),
    signinAccountPassword: byId("signin-account-password"),
    signinRegister: byId("signin-register"),
    signout: byId("signout"),
    signoutAll: byId("signout-all"),
    signinRoom: byId("signin-room"),
    signinError: byId("signin-error"),
    signinSubmit: byId("signin-submit"),
    chatScreen: byId("chat-screen"),
    sidebar: byId("sidebar"),
    sidebarToggle: byId("sidebar-toggle"),
    rooms: byId("rooms"),
    joinForm: byId("join-form"),
    joinRoom: byId("join-room"),
    members: byId("members"),
    membersHeading: byId("members-heading"),
    roomTitle: byId("room-title"),
    roomTopic: byId("room-topic"),
    menu: byId("menu"),
    messages: byId("messages"),
    composeForm: byId("compose-form"),
    compose: byId("compose"),
    composeLabel: byId("compose-label"),
    noRoom: document.createElement("ol"),
  };
  ui.noRoom.className = "log";
  ui.messages.replaceChildren(ui.noRoom);

  window.chat = Object.freeze({
    get status() { return state.status; },
    get name() { return state.everWelcomed ? state.name : null; },
    get rooms() { return [...state.rooms.values()].map((r) => r.name); },
    get current() { return state.current ? state.current.name : null; },
    get lastSeq() {
      const out = {};
      for (const r of state.rooms.values()) if (r.lastSeq !== null) out[r.name] = r.lastSeq;
      return out;
    },
  });

  const submit = (register) => signIn(
    ui.signinName.value.trim(), ui.signinPassword.value, ui.signinRoom.value.trim() || "lobby",
    { accountPassword: ui.signinAccountPassword.value, register },
  );
  ui.signin.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(false);
  });
  ui.signinRegister.addEventListener("click", () => submit(true));
  ui.signout.addEventListener("click", () => signOut(false));
  ui.signoutAll.addEventListener("click", () => signOut(true));
  ui.composeForm.addEventListener("submit", onCompose);
  ui.compose.addEventListener("keydown", onComposeKey);
  // Typing in a room, told at most every 3 s (the server passes on no more anyway).
  ui.compose.addEventListener("input", () => {
    const room = state.current;
    if (!room || !ui.compose.value || ui.compose.value.startsWith("/")) return;
    const now = Date.now();
    if (room.typedAt && now - room.typedAt < 3000) return;
    room.typedAt = now;
    if (state.status === "connected") send({ type: "Typing", room: room.name });
  });
  ui.joinForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const typed = ui.joinRoom.value.trim();
    if (!typed) return;
    try {
      if (run({ kind: "join", room: checkRoom(typed) })) ui.joinRoom.value = "";
    } catch (err) {
      if (!(err instanceof InputError)) throw err;
      error(err.message);
    }
  });
  ui.messages.addEventListener("scroll", maybeLoadOlder, { passive: true });
  // The menu closes with Escape, and with a click anywhere but on it or its button.
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") closeMenu();
  });
  document.addEventListener("click", (event) => {
    if (ui.menu.hidden) return;
    if (ui.menu.contains(event.target) || state.menuAnchor?.contains(event.target)) return;
    closeMenu();
  }, true);
  ui.retry.addEventListener("click", () => connect());
  ui.sidebarToggle.addEventListener("click", () => {
    const open = ui.sidebar.classList.toggle("open");
    ui.sidebarToggle.setAttribute("aria-expanded", String(open));
  });
  ui.sidebar.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && ui.sidebar.classList.contains("open")) {
      closeSidebar();
      ui.sidebarToggle.focus();
    }
  });
  renderCurrent();

  // ?name=alice signs in at once; &room=rust joins that room instead of lobby.
  const params = new URLSearchParams(location.search);
  const room = params.get("room")?.trim() || "lobby";
  ui.signinRoom.value = room;
  const name = params.get("name")?.trim();
  const account = accountCookie();
  if (account) {
    // Signed in before, on this browser: the session cookie signs in again.
    ui.signinName.value = account;
    signIn(account, "", room, { resume: true });
  } else if (name) {
    ui.signinName.value = name;
    signIn(name, "", room);
  } else {
    ui.signinName.focus();
  }
}

if (typeof document !== "undefined" && typeof WebSocket !== "undefined") {
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", main);
  else main();
}
