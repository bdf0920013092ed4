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
//!  client                               server
//!    │── Hello{version, username} ────────►│
//!    │◄──────── Welcome{version, username} ─│   (or Error{NameTaken, ..}: try another Hello)
//!    │── Msg{text} ────────────────────────►│
//!    │◄──────────── Msg{from, text, at} ────│   (to everyone, the sender included)
//!    │── Whisper{to, text} ────────────────►│
//!    │◄──── Whisper{from, to, text, at} ────│   (to `to` and to the sender only)
//!    │── ListUsers ────────────────────────►│
//!    │◄─────────────── UserList{users} ─────│
//!    │── Bye ──────────────────────────────►│
//!    │◄──────────────────────────── close ──│
//! ```

use serde::{Deserialize, Serialize};

/// The version a client states in [`ClientFrame::Hello`]; the server refuses any other.
///
/// Bump it on any change that alters the bytes of an existing frame.
pub const PROTOCOL_VERSION: u32 = 1;

/// Milliseconds since the Unix epoch, as the server's clock saw them.
///
/// An integer rather than a formatted string so that every client can render it in its own
/// local time and the frame stays small.
pub type Millis = i64;

/// Everything a client can say to the server.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ClientFrame {
    /// The first frame of every connection: which protocol the client speaks and the name it
    /// wants. May be repeated after a `NameTaken`/`InvalidName` error, never after `Welcome`.
    Hello {
        /// Must equal [`PROTOCOL_VERSION`].
        version: u32,
        /// The display name asked for; see [`crate::validate::username`].
        username: String,
        /// The server's shared password, when it has one.
        password: Option<String>,
    },
    /// A message for everyone in the room.
    Msg {
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
    /// Ask for [`ServerFrame::UserList`].
    ListUsers,
    /// Ask for [`ServerFrame::Pong`]: a liveness check of the server.
    Ping,
    /// Answer to [`ServerFrame::Ping`]: the server's liveness check of this client.
    Pong,
    /// A clean goodbye: the server frees the name and closes the connection.
    Bye,
}

/// Everything the server can say to a client.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "arbitrary", derive(arbitrary::Arbitrary))]
pub enum ServerFrame {
    /// The handshake succeeded: the client is registered under `username`.
    Welcome {
        /// The server's [`PROTOCOL_VERSION`].
        version: u32,
        /// The name as registered (as the client typed it).
        username: String,
        /// How many users are online, this one included.
        online: u32,
    },
    /// A room message.
    Msg {
        /// The registered name of the sender, set by the server.
        from: String,
        /// The message text.
        text: String,
        /// When the server received it.
        at: Millis,
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
    /// A notice from the server: joins, leaves, shutdown.
    System {
        /// Human-readable text, e.g. `bob joined`.
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
            | ErrorKind::RateLimited => false,
            ErrorKind::FrameTooLarge
            | ErrorKind::VersionMismatch
            | ErrorKind::ServerFull
            | ErrorKind::TooManyConnections
            | ErrorKind::AuthFailed
            | ErrorKind::Timeout
            | ErrorKind::SlowConsumer
            | ErrorKind::ShuttingDown
            | ErrorKind::Flooding => true,
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
        }
    }
}

impl std::fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
