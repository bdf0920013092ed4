//! The frames on the wire: one serde enum per direction.
//!
//! A client cannot even express a server-only field: `from` and `at` exist only on
//! [`ServerFrame`], so the server is the only party that can say who spoke and when.
//!
//! bincode writes a variant's index, not its name. **Add variants only at the end and
//! never reorder or rename them**; a change that breaks this bumps [`PROTOCOL_VERSION`].
//! Avoid serde attributes that need `deserialize_any` (`untagged`, `flatten`,
//! `skip_serializing_if`): bincode cannot read them back.
//!
//! ```text
//!  client                                   server
//!    │── Hello{version, username} ────────────►│
//!    │◄── Welcome{version, username, online, ..}│   (or Error{NameTaken, ..}: try another Hello)
//!    │── Join{room, backlog} ─────────────────►│
//!    │◄─────────────── Joined{room, members} ───│   (the others: UserJoined{room, user, at})
//!    │◄──── History{room, messages, backlog} ───│   (unless backlog is None)
//!    │── Msg{room, text} ─────────────────────►│
//!    │◄───── Msg{room, from, text, at, seq} ────│   (to every member, the sender included)
//!    │── History{room, from, limit} ──────────►│
//!    │◄── History{room, messages, more, next} ──│   (a page of the room's log)
//!    │── Whisper{to, text} ───────────────────►│
//!    │◄────── Whisper{from, to, text, at} ──────│   (to `to` and to the sender only)
//!    │── ListUsers / ListRooms / ListMembers ─►│
//!    │◄──────── UserList / RoomList / Members ──│
//!    │── Part{room} ──────────────────────────►│
//!    │◄──────────────────────── Parted{room} ───│   (the others: UserLeft{room, user, at, reason})
//!    │── Bye ─────────────────────────────────►│
//!    │◄────────────────────────────── close ────│   (each room hears UserLeft{reason: Quit})
//! ```

use serde::{Deserialize, Serialize};

use crate::moderation::{AuditEntry, RoomAction, RoomChange, RoomInfo, ServerAction};
use crate::secret::{Secret, SessionToken};

/// The version a client states in [`ClientFrame::Hello`]; the server refuses any other.
///
/// Bump it on any change that alters the bytes of an existing frame. Version 2 added rooms:
/// `Msg` names its room in both directions and `Welcome` states the server's limits.
/// Version 3 added history: `Msg` carries its `seq`, `Join` says what backlog it wants,
/// and `Welcome` states the most messages a history page holds. Version 4 added the
/// cluster: the error kind `ClusterUnavailable` and the leave reason `NodeLost`. Version 5
/// added accounts: `SignIn` and `Register` beside `Hello`, the account requests after them,
/// their answers, and the error kinds from `NameRegistered` on. Version 6 added moderation:
/// an operator's `Disconnect` and its answer `Disconnected`, the error kinds `NotPermitted`
/// and `Removed`, and the leave reason `Removed`.
/// Version 7 added room moderation: `Claim`, `Moderate`, `RemoveMessage`, `Operate`,
/// `RoomInfo` and `ModLog` with their answers, `RoomChanged` and `MessageRemoved`, the
/// `kind` of a [`Past`] message, the error kinds from `Banned` on and the leave reasons
/// `Kicked` and `Banned`. Version 8 added message events: `Reply`, `Edit`, `React` and
/// `Typing`, the server frames `Event` and `Typing`, a [`Past`] entry's `reply_to`,
/// `edited` and `reactions`, the [`PastKind`]s from `Edit` on and the error kinds from
/// `InvalidEmoji` on, and search: `Search`, `SearchResults` and `InvalidSearch`.
/// `Hello` and `Error` keep their place and layout across versions, so that a client of
/// any version can read why it was refused.
pub const PROTOCOL_VERSION: u32 = 8;

pub use crate::time::Millis;

/// Everything a client can say to the server.
///
/// A `room` here is what the person typed: any case, with or without a leading `#`; the
/// server answers with the room's name as shown ([`crate::validate::room`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ClientFrame {
    /// The first frame of a guest's connection: which protocol the client speaks and the
    /// name it wants, which must not be an account's. May be repeated after a refusal the
    /// connection survives (`NameTaken`, `InvalidName`, `NameRegistered`, `GuestsOff`: try
    /// another name, or [`ClientFrame::SignIn`]), never after `Welcome`.
    Hello {
        /// Must equal [`PROTOCOL_VERSION`].
        version: u32,
        /// The display name asked for; see [`crate::validate::username`].
        username: String,
        /// The server's shared password, when it has one.
        password: Option<String>,
    },
    /// A message for everyone in one room the sender is in.
    Msg {
        /// The room, as typed.
        room: String,
        /// What the person typed; see [`crate::validate::message`].
        text: String,
    },
    /// A private message to one user.
    Whisper {
        /// The recipient's name, in any case.
        to: String,
        /// What the person typed.
        text: String,
    },
    /// Ask for [`ServerFrame::UserList`]: everyone online, whatever their rooms.
    ListUsers,
    /// Ask for [`ServerFrame::Pong`]: a liveness check of the server.
    Ping,
    /// Answer to [`ServerFrame::Ping`]: the server's liveness check of this client.
    Pong,
    /// A clean goodbye: the server frees the name and closes the connection.
    Bye,
    /// Enter a room, creating it if nobody is in it; answered by [`ServerFrame::Joined`],
    /// then (unless `backlog` is [`Backlog::None`]) by one [`ServerFrame::History`] with
    /// `backlog` set, before any live message of the room. Joining a room one is already in
    /// only repeats the answer.
    Join {
        /// The room, as typed.
        room: String,
        /// Which past messages to send before the live ones.
        backlog: Backlog,
    },
    /// Leave a room; answered by [`ServerFrame::Parted`]. The room ends with its last member.
    Part {
        /// The room, as typed.
        room: String,
    },
    /// Ask for [`ServerFrame::RoomList`]: every room on the server.
    ListRooms,
    /// Ask for [`ServerFrame::Members`]: who is in one room (one need not be in it).
    ListMembers {
        /// The room, as typed.
        room: String,
    },
    /// Ask for a page of a room's log (one need not be in the room): answered by one
    /// [`ServerFrame::History`], which says where to continue.
    History {
        /// The room, as typed.
        room: String,
        /// Where the page starts.
        from: Cursor,
        /// The most messages wanted; the server sends at most its own cap (`Welcome`'s
        /// `history`) and fewer when the page would not fit in one frame.
        limit: u32,
    },
    /// The first frame of an account's connection, in place of `Hello`: answered by
    /// [`ServerFrame::SignedIn`] then (when `online`) `Welcome`, or by an `Error`. A token
    /// costs the server one SHA-256; a password costs it an argon2id hash, so a client signs
    /// in with its password once per device and with the token it got back from then on.
    SignIn {
        /// Must equal [`PROTOCOL_VERSION`].
        version: u32,
        /// The account's name, in any case.
        username: String,
        /// The server's shared password, when it has one (as in `Hello`).
        server_password: Option<String>,
        /// What proves the account is the sender's.
        credential: Credential,
        /// `true`: go online under the account's name, as `Hello` does. `false`: only
        /// manage the account (list and end its sessions, change its password, delete it)
        /// while it may be online on another connection: this one takes no name, is in no
        /// list, and gets no `Welcome`.
        online: bool,
    },
    /// Makes an account for a free name and signs in with it, in place of `Hello`: answered
    /// like a password [`ClientFrame::SignIn`].
    Register {
        /// Must equal [`PROTOCOL_VERSION`].
        version: u32,
        /// The name to register, as it should be shown.
        username: String,
        /// The server's shared password, when it has one (as in `Hello`).
        server_password: Option<String>,
        /// The new account's password.
        password: Secret,
        /// What this device is called in the account's session list (`laptop`, `Firefox`).
        device: String,
    },
    /// Changes the signed-in account's password; every other session of the account ends.
    /// Answered by [`ServerFrame::PasswordChanged`].
    ChangePassword {
        /// The password now, so that a device left signed in cannot take the account.
        old: Secret,
        /// The new one.
        new: Secret,
    },
    /// Asks for [`ServerFrame::Sessions`]: the signed-in account's device sessions.
    ListSessions,
    /// Ends sessions of the signed-in account; answered by [`ServerFrame::Revoked`]. Every
    /// connection of an ended session is closed with `SessionEnded`, this one included when
    /// its own session is among them.
    Revoke {
        /// Which sessions.
        which: Revocation,
    },
    /// Deletes the signed-in account: its name is free again and every session of it ends.
    /// Answered by [`ServerFrame::AccountDeleted`]; an online connection goes on as a
    /// guest's, one that only managed the account is closed.
    DeleteAccount {
        /// The password, so that a device left signed in cannot delete the account.
        password: Secret,
    },
    /// A server operator (an account `[accounts] operators` names) disconnects `user` from
    /// the server; answered by [`ServerFrame::Disconnected`]. The person gets
    /// `Error{Removed}` with `reason` and is closed; their rooms hear
    /// `UserLeft{reason: Removed}`.
    Disconnect {
        /// The person's name (any case).
        user: String,
        /// Why, told to them and logged; may be empty.
        reason: String,
    },
    /// A signed-in person claims a room nobody owns: they become its owner, and the room
    /// keeps its roles, settings and bans while empty. Answered by
    /// [`ServerFrame::RoomInfo`]; the members hear `RoomChanged{Claimed}`.
    Claim {
        /// The room, as typed (one need not be in it).
        room: String,
    },
    /// A moderation action in one room, by its owner, a moderator or a server operator.
    /// Answered by [`ServerFrame::RoomInfo`] with the room as the action left it; the
    /// members hear [`ServerFrame::RoomChanged`].
    Moderate {
        /// The room, as typed.
        room: String,
        /// What to do.
        action: RoomAction,
    },
    /// Removes the message `seq` of `room`: one's own, or anyone's for the room's
    /// moderators. The removal is a message of the room's log itself, with its own `seq`:
    /// every member gets [`ServerFrame::MessageRemoved`] (the remover too, as the answer),
    /// and history shows the message as removed, without its text.
    RemoveMessage {
        /// The room, as typed.
        room: String,
        /// The message's place in the room's log.
        seq: u64,
    },
    /// A server-wide action of a server operator; answered by [`ServerFrame::Enforced`].
    Operate {
        /// What to do.
        action: ServerAction,
    },
    /// Asks for [`ServerFrame::RoomInfo`]: a room's owner, moderators and settings (and its
    /// bans and mutes, for those who may moderate it).
    RoomInfo {
        /// The room, as typed.
        room: String,
    },
    /// Asks for [`ServerFrame::ModLog`]: the newest moderation actions, of one room (its
    /// moderators may) or server-wide (operators only).
    ModLog {
        /// The room, as typed; `None`: the actions taken server-wide.
        room: Option<String>,
        /// The most entries wanted (the server caps it).
        limit: u32,
    },
    /// A message to `room` answering its message `to`: a message of the room's log that
    /// names what it answers. Members get it as [`ServerFrame::Event`] (the sender too,
    /// as the answer).
    Reply {
        /// The room, as typed.
        room: String,
        /// The `seq` of the message answered: a message the log holds, not removed.
        to: u64,
        /// What to say.
        text: String,
    },
    /// Changes the text of one's own message `seq`, within the server's edit window. The
    /// edit is an event of the room's log with its own `seq`: members get
    /// [`ServerFrame::Event`] (the editor too, as the answer), history shows the message
    /// with its new text and `edited`.
    Edit {
        /// The room, as typed.
        room: String,
        /// The edited message's place in the room's log.
        seq: u64,
        /// Its new text.
        text: String,
    },
    /// Adds (`on`) or takes back one's reaction `emoji` to the message `seq`: an event of
    /// the room's log with its own `seq`, delivered as [`ServerFrame::Event`] (the
    /// reactor too, as the answer).
    React {
        /// The room, as typed.
        room: String,
        /// The message's place in the room's log.
        seq: u64,
        /// One emoji (with its modifiers: skin tone, joiners).
        emoji: String,
        /// `true` adds the reaction, `false` takes it back.
        on: bool,
    },
    /// The sender is typing in `room`: the other members get [`ServerFrame::Typing`].
    /// Never stored and never answered; the server passes on at most one per person and
    /// room every [`TYPING_EVERY_SECS`] seconds, and a client shows it for
    /// [`TYPING_SHOWN_SECS`] seconds unless it comes again.
    Typing {
        /// The room, as typed.
        room: String,
    },
    /// Searches the messages of `room` (one need not be in it), or of every room the sender
    /// is in (`None`), for the terms of `query` (see the `search` module): answered by
    /// [`ServerFrame::SearchResults`], newest first, at most `limit` (and 100) hits after
    /// `before`.
    Search {
        /// What to find.
        query: String,
        /// The room, as typed; `None`: every room the sender is in.
        room: Option<String>,
        /// Where the page starts: after this hit (`next` of the page before); `None`: the
        /// newest.
        before: Option<SearchCursor>,
        /// The most hits wanted.
        limit: u32,
    },
}

/// How often the server passes on one person's [`ClientFrame::Typing`] in one room, at
/// most; more often ones are dropped.
pub const TYPING_EVERY_SECS: u64 = 3;

/// How long a client shows "NAME is typing" after a [`ServerFrame::Typing`].
pub const TYPING_SHOWN_SECS: u64 = 6;

/// How a [`ClientFrame::SignIn`] proves the account is the sender's.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Credential {
    /// The account's password: a new device session starts, and its token comes back in
    /// [`ServerFrame::SignedIn`].
    Password {
        /// The password.
        password: Secret,
        /// What this device is called in the account's session list.
        device: String,
    },
    /// A device session's token, from an earlier [`ServerFrame::SignedIn`].
    Token(SessionToken),
    /// The token in the `chat_session` cookie the browser sent with the WebSocket's
    /// handshake, which the page itself cannot read (it is `HttpOnly`): over the web
    /// listener only, after the page signed in with `POST /session`.
    Cookie,
}

/// Which sessions a [`ClientFrame::Revoke`] ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Revocation {
    /// This connection's own session: signing out.
    This,
    /// Every session of the account but this one.
    Others,
    /// Every session of the account, this one included: "sign out everywhere".
    All,
    /// The session with this id ([`DeviceSession::id`]).
    One(u64),
}

/// One device session of an account, in [`ServerFrame::Sessions`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct DeviceSession {
    /// Its id, by which [`Revocation::One`] ends it.
    pub id: u64,
    /// What the device called itself when it signed in with the password.
    pub device: String,
    /// When it signed in with the password.
    pub created: Millis,
    /// When it last signed in (with the password or its token).
    pub last_used: Millis,
    /// It is the session of the connection asking.
    pub current: bool,
}

/// What a [`ClientFrame::Join`] wants of the room's past.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Backlog {
    /// Nothing: live messages only.
    None,
    /// The latest this many (at most the server's cap).
    Latest(u32),
    /// Every message after this `seq`, which the client already has: the catch-up after a
    /// reconnect. When the server no longer keeps all of them, or never assigned that `seq`,
    /// the answer says `missed` and holds the latest messages instead.
    After(u64),
}

/// Where a page of history starts, in [`ClientFrame::History`] and, to continue from, in
/// [`ServerFrame::History`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum Cursor {
    /// The newest messages.
    Latest,
    /// The newest messages older than this `seq` (paging backwards).
    Before(u64),
    /// The oldest messages newer than this `seq` (paging forwards).
    After(u64),
}

/// One message of a room's past, in [`ServerFrame::History`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Past {
    /// Its place in the room's log.
    pub seq: u64,
    /// The registered name of the sender.
    pub from: String,
    /// The message text; empty once removed.
    pub text: String,
    /// When the server received it.
    pub at: Millis,
    /// A message, a message since removed, or an event changing an earlier one.
    pub kind: PastKind,
    /// The `seq` of the message this one answers ([`ClientFrame::Reply`]).
    pub reply_to: Option<u64>,
    /// When its text was last changed ([`ClientFrame::Edit`]); `None`: as sent.
    pub edited: Option<Millis>,
    /// Its reactions, one entry per emoji in the order first given; empty for what is not
    /// a message.
    pub reactions: Vec<Reaction>,
}

impl Past {
    /// An entry as it was written: no reply mark, never edited, no reactions (what
    /// history adds to a message since).
    pub fn new(seq: u64, from: String, text: String, at: Millis, kind: PastKind) -> Past {
        Past {
            seq,
            from,
            text,
            at,
            kind,
            reply_to: None,
            edited: None,
            reactions: Vec::new(),
        }
    }
}

/// What a [`Past`] entry of a room's log is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum PastKind {
    /// A message (its current text, `edited` when changed, its reactions).
    Message,
    /// A message removed since: its text is gone (empty), `by` removed it.
    Removed {
        /// Who removed it: its sender or a moderator.
        by: String,
    },
    /// Not a message: `from` removed the message `target` at `at` (what was
    /// [`ServerFrame::MessageRemoved`] live). A client catching up removes `target` from
    /// what it shows.
    Removal {
        /// The removed message's `seq`.
        target: u64,
    },
    /// Not a message: `from` changed the text of their message `target` to `text` at `at`.
    /// History gives `target` with its text as it now stands; a client catching up shows
    /// `text` for it.
    Edit {
        /// The edited message's `seq`.
        target: u64,
    },
    /// Not a message: `from` reacted to the message `target` with `emoji`.
    React {
        /// The message's `seq`.
        target: u64,
        /// The emoji.
        emoji: String,
    },
    /// Not a message: `from` took back their reaction `emoji` to the message `target`.
    Unreact {
        /// The message's `seq`.
        target: u64,
        /// The emoji.
        emoji: String,
    },
}

/// Where a page of search results starts: strictly after this hit in the order results come
/// in (newest first: by time, then room key, then `seq`, each descending).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct SearchCursor {
    /// The hit's time.
    pub at: Millis,
    /// Its room's key (lowercase, no `#`).
    pub room: String,
    /// Its `seq`.
    pub seq: u64,
}

/// One message a search found.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Hit {
    /// Its room, as shown.
    pub room: String,
    /// The message as it stands now.
    pub entry: Past,
    /// Where its text matches the query's terms, in order, not overlapping.
    pub marks: Vec<Mark>,
}

/// A part of a hit's text that matches a term: bytes `start..end` of the text (UTF-8, on
/// character boundaries).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Mark {
    /// The first byte.
    pub start: u32,
    /// One past the last byte.
    pub end: u32,
}

/// The reactions with one emoji to a message, as history gives them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct Reaction {
    /// The emoji.
    pub emoji: String,
    /// Who reacted with it (as registered), in the order they did: its count is their number.
    pub by: Vec<String>,
}

/// One line of [`ServerFrame::RoomList`].
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub struct RoomSummary {
    /// The room's name as shown.
    pub name: String,
    /// How many people are in it (at least one: a room ends with its last member).
    pub members: u32,
}

/// Why someone left a room, in [`ServerFrame::UserLeft`]: typed, so a client can render
/// "alice left (timed out)" without parsing text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum LeftReason {
    /// They left this room (`Part`) and may still be online.
    Parted,
    /// They said goodbye (`Bye`): they are offline.
    Quit,
    /// Their connection closed or broke.
    Disconnected,
    /// They did not answer the server's keepalive in time.
    TimedOut,
    /// They stopped reading and their queue filled up.
    SlowConsumer,
    /// The server disconnected them for breaking a rule (flooding, an oversize frame, ...).
    Refused,
    /// They were on another node of the cluster, which stopped or stopped answering.
    NodeLost,
    /// An operator removed them.
    Removed,
    /// A moderator put them out of this room.
    Kicked,
    /// A ban put them out of this room.
    Banned,
}

impl LeftReason {
    /// A short stable name (`timed_out`), for `--json` output.
    pub fn as_str(self) -> &'static str {
        match self {
            LeftReason::Parted => "parted",
            LeftReason::Quit => "quit",
            LeftReason::Disconnected => "disconnected",
            LeftReason::TimedOut => "timed_out",
            LeftReason::SlowConsumer => "slow_consumer",
            LeftReason::Refused => "refused",
            LeftReason::NodeLost => "node_lost",
            LeftReason::Removed => "removed",
            LeftReason::Kicked => "kicked",
            LeftReason::Banned => "banned",
        }
    }
}

impl std::fmt::Display for LeftReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LeftReason::Parted => "parted",
            LeftReason::Quit => "quit",
            LeftReason::Disconnected => "disconnected",
            LeftReason::TimedOut => "timed out",
            LeftReason::SlowConsumer => "too slow",
            LeftReason::Refused => "disconnected by the server",
            LeftReason::NodeLost => "node lost",
            LeftReason::Removed => "removed by an operator",
            LeftReason::Kicked => "kicked",
            LeftReason::Banned => "banned",
        })
    }
}

/// Everything the server can say to a client.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ServerFrame {
    /// The handshake succeeded: the client is registered under `username`, in no room yet.
    Welcome {
        /// The server's [`PROTOCOL_VERSION`].
        version: u32,
        /// The name as registered (as the client typed it).
        username: String,
        /// How many users are online, this one included.
        online: u32,
        /// The server's `buffsize`: the largest frame body it accepts, so a client can
        /// refuse an oversize message itself instead of being disconnected for it.
        buffsize: u32,
        /// How many rooms one person may be in at once (`0`: no limit).
        rooms_per_user: u32,
        /// The most messages one [`ServerFrame::History`] holds; `0`: this server keeps no
        /// history (a backlog is always empty, a history request is refused).
        history: u32,
    },
    /// A message in a room; sent to every member, its sender included, in one order.
    Msg {
        /// The room's name as shown.
        room: String,
        /// The registered name of the sender, set by the server.
        from: String,
        /// The message text.
        text: String,
        /// When the server received it.
        at: Millis,
        /// Its place in the room's log: 1, 2, 3, ... with no gaps, never reused (with
        /// history on, across restarts too). A client that remembers the last one it showed
        /// catches up with `Join{backlog: After(seq)}`.
        seq: u64,
    },
    /// A private message; sent to its target and, as confirmation, to its sender.
    Whisper {
        /// The registered name of the sender, set by the server.
        from: String,
        /// The registered name of the recipient.
        to: String,
        /// The message text.
        text: String,
        /// When the server received it.
        at: Millis,
    },
    /// The names of everyone online, sorted case-insensitively.
    UserList {
        /// Registered names, as their owners typed them.
        users: Vec<String>,
    },
    /// A notice from the server to everyone: today only that it is shutting down.
    System {
        /// Human-readable text, e.g. `server shutting down`.
        text: String,
        /// When it happened.
        at: Millis,
    },
    /// A request was refused. Unless `kind` says the connection is over
    /// ([`ErrorKind::is_fatal`]), the client may go on.
    Error {
        /// What went wrong, for programs.
        kind: ErrorKind,
        /// What went wrong, for people.
        detail: String,
    },
    /// Answer to [`ClientFrame::Ping`].
    Pong,
    /// The server's liveness check: answer with [`ClientFrame::Pong`] or be disconnected.
    Ping,
    /// Answer to [`ClientFrame::Join`]: the client is in `room` and hears everything said
    /// there from now on; `members` is who is in it (the client included), so a client can
    /// show the room at once and keep it current from [`ServerFrame::UserJoined`] and
    /// [`ServerFrame::UserLeft`].
    Joined {
        /// The room's name as shown: as its first member typed it.
        room: String,
        /// Everyone in the room, sorted case-insensitively.
        members: Vec<String>,
    },
    /// Answer to [`ClientFrame::Part`]: the client is no longer in `room` and hears nothing
    /// more from it.
    Parted {
        /// The room's name as shown.
        room: String,
    },
    /// Answer to [`ClientFrame::ListRooms`]: every room, sorted case-insensitively.
    RoomList {
        /// Each room with its member count.
        rooms: Vec<RoomSummary>,
    },
    /// Answer to [`ClientFrame::ListMembers`].
    Members {
        /// The room's name as shown.
        room: String,
        /// Everyone in it, sorted case-insensitively.
        users: Vec<String>,
    },
    /// Someone else entered a room the client is in.
    UserJoined {
        /// The room's name as shown.
        room: String,
        /// Their registered name.
        user: String,
        /// When it happened.
        at: Millis,
    },
    /// Someone else left a room the client is in.
    UserLeft {
        /// The room's name as shown.
        room: String,
        /// Their registered name.
        user: String,
        /// When it happened.
        at: Millis,
        /// Why: a `Part`, a goodbye, a lost connection, ...
        reason: LeftReason,
    },
    /// Past messages of a room, oldest first: the backlog a `Join` asked for, or a page a
    /// `History` request asked for.
    History {
        /// The room's name as shown (as asked, when nobody is in it).
        room: String,
        /// The messages, oldest first.
        messages: Vec<Past>,
        /// Whether there are more in the direction of `next` (older for a page back, newer
        /// for a page forward).
        more: bool,
        /// Where the next page in the same direction starts, even when this one is empty, so
        /// paging can never stall.
        next: Cursor,
        /// This is the backlog of a `Join` (sent once, before the room's live messages),
        /// not the answer to a `History` request.
        backlog: bool,
        /// A catch-up (`Backlog::After`) reached past what the server still keeps, or named
        /// a `seq` it never assigned: some messages are no longer available, and these are
        /// the latest instead.
        missed: bool,
    },
    /// A `SignIn` or `Register` succeeded; `Welcome` follows at once.
    SignedIn {
        /// The id of the device session this connection is signed in with.
        session: u64,
        /// The new session's token, after a password: the client keeps it (only it) to
        /// sign in again. `None` after a sign-in with a token, which stays the same.
        token: Option<SessionToken>,
    },
    /// Answer to [`ClientFrame::ListSessions`]: the account's sessions, oldest first.
    Sessions {
        /// Each device session.
        sessions: Vec<DeviceSession>,
    },
    /// Answer to [`ClientFrame::Revoke`].
    Revoked {
        /// How many sessions ended.
        count: u32,
    },
    /// Answer to [`ClientFrame::ChangePassword`]: the new password holds.
    PasswordChanged {
        /// How many other sessions of the account ended with the old password.
        ended: u32,
    },
    /// Answer to [`ClientFrame::DeleteAccount`]: the account is gone, its name free; an
    /// online connection stays online under the name as a guest, one that only managed the
    /// account is closed.
    AccountDeleted,
    /// Answer to [`ClientFrame::Disconnect`]: the person was online and is disconnected.
    Disconnected {
        /// Their name as they registered it.
        user: String,
    },
    /// A room's roles and settings: the answer to `Claim`, `RoomInfo` and `Moderate`.
    RoomInfo {
        /// The room as it stands.
        info: RoomInfo,
    },
    /// A moderator changed something in a room the client is in.
    RoomChanged {
        /// The room's name as shown.
        room: String,
        /// Who did it, as registered.
        by: String,
        /// What changed.
        change: RoomChange,
        /// When.
        at: Millis,
    },
    /// A message of a room the client is in was removed: `seq` is the removal's own place
    /// in the room's log, `target` the removed message's. Also the answer to
    /// `RemoveMessage`.
    MessageRemoved {
        /// The room's name as shown.
        room: String,
        /// The removal's place in the room's log (the next after the last message).
        seq: u64,
        /// The removed message's `seq`.
        target: u64,
        /// Who removed it: its sender or a moderator.
        by: String,
        /// When.
        at: Millis,
    },
    /// Answer to `ModLog`: the newest actions, newest first.
    ModLog {
        /// The actions.
        entries: Vec<AuditEntry>,
    },
    /// Answer to `Operate`: the action holds on every node.
    Enforced {
        /// How many connections it closed here and now (a ban or suspension of someone
        /// online).
        closed: u32,
    },
    /// An entry of a room's log other than a plain message (which is `Msg`) or a removal
    /// (`MessageRemoved`), live: a reply, an edit, a reaction given or taken back, exactly
    /// as history and catch-ups give it. Also the answer to `Reply`, `Edit` and `React`.
    Event {
        /// The room's name as shown.
        room: String,
        /// The entry.
        entry: Past,
    },
    /// `user` is typing in `room` (see [`ClientFrame::Typing`]).
    Typing {
        /// The room's name as shown.
        room: String,
        /// Who, as registered.
        user: String,
    },
    /// The answer to `Search`: the hits, newest first, each the message as it stands with
    /// where it matches.
    SearchResults {
        /// The query, as asked.
        query: String,
        /// The hits.
        hits: Vec<Hit>,
        /// Where the next page starts, when there are more hits.
        next: Option<SearchCursor>,
    },
}

/// Why the server refused something. Programs match on this; people read the `detail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ErrorKind {
    /// A frame whose body is not a valid client frame (garbage, unknown tag, bad UTF-8).
    BadFrame,
    /// A length prefix over the server's frame limit; the connection is closed.
    FrameTooLarge,
    /// `Hello` named another protocol version; the connection is closed.
    VersionMismatch,
    /// A frame other than `Hello` before registration.
    NotRegistered,
    /// A second `Hello` after `Welcome`.
    AlreadyRegistered,
    /// The name breaks the rules of [`crate::validate::username`].
    InvalidName,
    /// Someone online already has this name (compared case-insensitively).
    NameTaken,
    /// A whisper to a name that is not online.
    NoSuchUser,
    /// An empty message, or one with control characters.
    InvalidMessage,
    /// Too many messages too fast; slow down.
    RateLimited,
    /// The server is at `max_clients`; the connection is closed.
    ServerFull,
    /// Too many connections from this address; the connection is closed.
    TooManyConnections,
    /// Wrong or missing server password; the connection is closed.
    AuthFailed,
    /// No `Hello` in time, or no answer to a `Ping`; the connection is closed.
    Timeout,
    /// The client did not read fast enough and its queue filled; the connection is closed.
    SlowConsumer,
    /// The server is stopping; the connection is closed.
    ShuttingDown,
    /// Rate-limited again and again (`flood_disconnect_after` refusals within
    /// `flood_window`); the connection is closed.
    Flooding,
    /// A message to, or a `Part` of, a room the client is not in.
    NotInRoom,
    /// The room name breaks the rules of [`crate::validate::room`].
    InvalidRoom,
    /// The client is already in `rooms_per_user` rooms; part one first.
    TooManyRooms,
    /// The server already holds `max_rooms` rooms; join an existing one.
    RoomsFull,
    /// A member list asked for a room that does not exist (nobody is in it).
    NoSuchRoom,
    /// A history request to a server that keeps no history.
    HistoryOff,
    /// The server could not store the message (its disk is full or failing), so it was not
    /// sent to anyone; sending it again later may work.
    StoreFailed,
    /// The server is one node of a cluster and cannot reach the others (its NATS link is
    /// down), so a room message would reach only this node and could not be kept: it was
    /// sent to nobody; or a name or an account could not be checked. Whispers and lists of
    /// people on this node still work.
    ClusterUnavailable,
    /// A guest's `Hello`, or a `Register`, named a name that is an account's: sign in.
    NameRegistered,
    /// `SignIn` with a password that is not the account's, or a name that has no account
    /// (the two are not told apart); or a wrong current password in `ChangePassword` or
    /// `DeleteAccount`. The connection is closed.
    WrongPassword,
    /// `SignIn` with a token that signs nobody in (revoked, expired, or never given), or a
    /// live session that was just ended (signed out elsewhere, the password changed, the
    /// account deleted). The connection is closed; sign in with the password.
    SessionEnded,
    /// `Register` or `ChangePassword` with a password too short or too common.
    WeakPassword,
    /// `Register` on a server whose operator makes every account.
    RegistrationClosed,
    /// A guest's `Hello` on a server that lets only accounts in.
    GuestsOff,
    /// An account request (`ListSessions`, `Revoke`, ...) from a guest.
    NotSignedIn,
    /// `SignIn` or `Register` on a server that keeps no accounts (it keeps no store).
    AccountsOff,
    /// A request that needs a role the sender does not have (`Disconnect` from anyone but
    /// an operator), or that the role does not allow (an operator disconnecting itself).
    NotPermitted,
    /// An operator removed this connection; the detail gives the reason. The connection is
    /// closed.
    Removed,
    /// A server ban matches this connection (its address, name or account); the detail
    /// gives the reason and until when. The connection is closed.
    Banned,
    /// A room ban keeps the client out of the room.
    BannedFromRoom,
    /// The client is muted in the room: it may read, not speak.
    Muted,
    /// `RemoveMessage` named a message the room's log does not hold (never sent, trimmed,
    /// or already removed), or not a message.
    NoSuchMessage,
    /// `Claim` of a room someone owns already.
    RoomClaimed,
    /// The room is for accounts only: sign in to join.
    RegisteredOnly,
    /// The room is in slow mode and the client spoke less than its seconds ago.
    SlowMode,
    /// The account is suspended by an operator; the connection is closed.
    Suspended,
    /// A moderation request that cannot mean anything: a malformed address or network, a
    /// duration of zero or over ten years, an owner's action on an unclaimed room, a topic
    /// with control characters.
    InvalidAction,
    /// `React` with something that is not one emoji.
    InvalidEmoji,
    /// `React` beyond the server's limits: too many different emoji on the message, or too
    /// many reactions.
    TooManyReactions,
    /// `Edit` of a message older than the server's edit window.
    EditWindowPassed,
    /// A `Search` that cannot be searched for: empty, too long, a term too short.
    InvalidSearch,
}

impl ErrorKind {
    /// Whether the server closes the connection after sending this error.
    ///
    /// A client uses it to tell a refusal it can recover from (pick another name) from the
    /// end of the session.
    pub fn is_fatal(self) -> bool {
        match self {
            ErrorKind::BadFrame
            | ErrorKind::NotRegistered
            | ErrorKind::AlreadyRegistered
            | ErrorKind::InvalidName
            | ErrorKind::NameTaken
            | ErrorKind::NoSuchUser
            | ErrorKind::InvalidMessage
            | ErrorKind::RateLimited
            | ErrorKind::NotInRoom
            | ErrorKind::InvalidRoom
            | ErrorKind::TooManyRooms
            | ErrorKind::RoomsFull
            | ErrorKind::NoSuchRoom
            | ErrorKind::HistoryOff
            | ErrorKind::StoreFailed
            | ErrorKind::ClusterUnavailable
            | ErrorKind::NameRegistered
            | ErrorKind::WeakPassword
            | ErrorKind::RegistrationClosed
            | ErrorKind::GuestsOff
            | ErrorKind::NotSignedIn
            | ErrorKind::AccountsOff
            | ErrorKind::NotPermitted
            | ErrorKind::BannedFromRoom
            | ErrorKind::Muted
            | ErrorKind::NoSuchMessage
            | ErrorKind::RoomClaimed
            | ErrorKind::RegisteredOnly
            | ErrorKind::SlowMode
            | ErrorKind::InvalidAction
            | ErrorKind::InvalidEmoji
            | ErrorKind::TooManyReactions
            | ErrorKind::EditWindowPassed
            | ErrorKind::InvalidSearch => false,
            ErrorKind::FrameTooLarge
            | ErrorKind::VersionMismatch
            | ErrorKind::ServerFull
            | ErrorKind::TooManyConnections
            | ErrorKind::AuthFailed
            | ErrorKind::Timeout
            | ErrorKind::SlowConsumer
            | ErrorKind::ShuttingDown
            | ErrorKind::Flooding
            | ErrorKind::WrongPassword
            | ErrorKind::SessionEnded
            | ErrorKind::Removed
            | ErrorKind::Banned
            | ErrorKind::Suspended => true,
        }
    }

    /// A short stable name (`name_taken`), for logs and `--json` output.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::BadFrame => "bad_frame",
            ErrorKind::FrameTooLarge => "frame_too_large",
            ErrorKind::VersionMismatch => "version_mismatch",
            ErrorKind::NotRegistered => "not_registered",
            ErrorKind::AlreadyRegistered => "already_registered",
            ErrorKind::InvalidName => "invalid_name",
            ErrorKind::NameTaken => "name_taken",
            ErrorKind::NoSuchUser => "no_such_user",
            ErrorKind::InvalidMessage => "invalid_message",
            ErrorKind::RateLimited => "rate_limited",
            ErrorKind::ServerFull => "server_full",
            ErrorKind::TooManyConnections => "too_many_connections",
            ErrorKind::AuthFailed => "auth_failed",
            ErrorKind::Timeout => "timeout",
            ErrorKind::SlowConsumer => "slow_consumer",
            ErrorKind::ShuttingDown => "shutting_down",
            ErrorKind::Flooding => "flooding",
            ErrorKind::NotInRoom => "not_in_room",
            ErrorKind::InvalidRoom => "invalid_room",
            ErrorKind::TooManyRooms => "too_many_rooms",
            ErrorKind::RoomsFull => "rooms_full",
            ErrorKind::NoSuchRoom => "no_such_room",
            ErrorKind::HistoryOff => "history_off",
            ErrorKind::StoreFailed => "store_failed",
            ErrorKind::ClusterUnavailable => "cluster_unavailable",
            ErrorKind::NameRegistered => "name_registered",
            ErrorKind::WrongPassword => "wrong_password",
            ErrorKind::SessionEnded => "session_ended",
            ErrorKind::WeakPassword => "weak_password",
            ErrorKind::RegistrationClosed => "registration_closed",
            ErrorKind::GuestsOff => "guests_off",
            ErrorKind::NotSignedIn => "not_signed_in",
            ErrorKind::AccountsOff => "accounts_off",
            ErrorKind::NotPermitted => "not_permitted",
            ErrorKind::Removed => "removed",
            ErrorKind::Banned => "banned",
            ErrorKind::BannedFromRoom => "banned_from_room",
            ErrorKind::Muted => "muted",
            ErrorKind::NoSuchMessage => "no_such_message",
            ErrorKind::RoomClaimed => "room_claimed",
            ErrorKind::RegisteredOnly => "registered_only",
            ErrorKind::SlowMode => "slow_mode",
            ErrorKind::Suspended => "suspended",
            ErrorKind::InvalidAction => "invalid_action",
            ErrorKind::InvalidEmoji => "invalid_emoji",
            ErrorKind::TooManyReactions => "too_many_reactions",
            ErrorKind::EditWindowPassed => "edit_window_passed",
            ErrorKind::InvalidSearch => "invalid_search",
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
