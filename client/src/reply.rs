//! What the server sent back for something a session sent: the [`Reply`] types, and how a
//! frame is recognised as one among a room's traffic ([`reply_of`]). Sending, and waiting
//! for the reply, are [`crate::Session`]'s.

use chat_proto::moderation::{AuditEntry, RoomInfo};
use chat_proto::{Cursor, DeviceSession, ErrorKind, Past, RoomSummary, ServerFrame};

/// What the server sent back for something this session sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Our own message, broadcast back to us: it reached everyone in the room.
    Echo {
        /// The room's name as shown.
        room: String,
        /// The text as the server broadcast it.
        text: String,
    },
    /// Our copy of a whisper we sent: it reached its target.
    WhisperCopy {
        /// The recipient, as registered.
        to: String,
        /// The text.
        text: String,
    },
    /// The answer to `ListUsers`.
    Users(Vec<String>),
    /// The answer to `Join`: we are in the room.
    Joined(Room),
    /// The answer to `Part`: we are no longer in the room.
    Parted {
        /// The room's name as shown.
        room: String,
    },
    /// The answer to `ListRooms`, sorted by name.
    Rooms(Vec<RoomSummary>),
    /// The answer to `ListMembers`.
    Members(Room),
    /// The answer to a `History` request: one page of a room's log.
    Page(Page),
    /// The answer to `ListSessions`: the account's device sessions, oldest first.
    Sessions(Vec<DeviceSession>),
    /// The answer to `Revoke`: how many sessions ended.
    Revoked(u32),
    /// The answer to `ChangePassword`: how many other sessions ended.
    PasswordChanged(u32),
    /// The answer to `DeleteAccount`.
    AccountDeleted,
    /// The answer to `Disconnect`: who was disconnected.
    Disconnected(String),
    /// The answer to `Claim`, `RoomInfo` and `Moderate`: the room as it stands.
    RoomInfo(RoomInfo),
    /// The answer to `ModLog`: the newest entries first.
    ModLog(Vec<AuditEntry>),
    /// The answer to `Operate`: how many connections it closed.
    Enforced(u32),
    /// Our reply, edit or reaction, as the room's log keeps it: the answer to `Reply`,
    /// `Edit` and `React`.
    Changed(chat_proto::Past),
    /// The answer to `Search`: the hits, newest first, and where the next page starts.
    Found(
        Vec<chat_proto::search::Hit>,
        Option<chat_proto::search::SearchCursor>,
    ),
    /// A removal by us: the answer to `RemoveMessage`.
    Removed {
        /// The room's name as shown.
        room: String,
        /// The removal's own seq.
        seq: u64,
        /// The removed message's seq.
        target: u64,
    },
    /// A request refused with a non-fatal error; the session goes on.
    Refused {
        /// What went wrong.
        kind: ErrorKind,
        /// The server's words.
        detail: String,
    },
}

/// A room and who is in it, as a join or a member list answers: enough to show the room at
/// once, without asking again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Room {
    /// The room's name as shown (as its first member typed it, without `#`).
    pub name: String,
    /// Everyone in it, sorted case-insensitively.
    pub members: Vec<String>,
}

/// One page of a room's log, as a `History` request answers it: enough to show it and to
/// ask for the next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page {
    /// The room's name as shown (as asked, when nobody is in it).
    pub room: String,
    /// The messages, oldest first.
    pub messages: Vec<Past>,
    /// Whether there are more in the direction of `next`.
    pub more: bool,
    /// Where the next page in the same direction starts.
    pub next: Cursor,
}

/// Whether `frame` answers something the session registered as `me` sent, and how.
///
/// A `History` with `backlog` set is not a reply of its own: it completes the answer to a
/// `Join` that asked for a backlog, whose `Joined` came just before it.
pub fn reply_of(me: &str, frame: &ServerFrame) -> Option<Reply> {
    match frame {
        ServerFrame::Msg {
            room, from, text, ..
        } if *from == me => Some(Reply::Echo {
            room: room.clone(),
            text: text.clone(),
        }),
        ServerFrame::Event { entry, .. } if entry.from == me => Some(Reply::Changed(entry.clone())),
        ServerFrame::Whisper { from, to, text, .. } if *from == me => Some(Reply::WhisperCopy {
            to: to.clone(),
            text: text.clone(),
        }),
        ServerFrame::UserList { users } => Some(Reply::Users(users.clone())),
        ServerFrame::Joined { room, members } => Some(Reply::Joined(Room {
            name: room.clone(),
            members: members.clone(),
        })),
        ServerFrame::Parted { room } => Some(Reply::Parted { room: room.clone() }),
        ServerFrame::RoomList { rooms } => Some(Reply::Rooms(rooms.clone())),
        ServerFrame::Members { room, users } => Some(Reply::Members(Room {
            name: room.clone(),
            members: users.clone(),
        })),
        ServerFrame::History {
            room,
            messages,
            more,
            next,
            backlog: false,
            ..
        } => Some(Reply::Page(Page {
            room: room.clone(),
            messages: messages.clone(),
            more: *more,
            next: *next,
        })),
        ServerFrame::Sessions { sessions } => Some(Reply::Sessions(sessions.clone())),
        ServerFrame::Revoked { count } => Some(Reply::Revoked(*count)),
        ServerFrame::PasswordChanged { ended } => Some(Reply::PasswordChanged(*ended)),
        ServerFrame::AccountDeleted => Some(Reply::AccountDeleted),
        ServerFrame::Disconnected { user } => Some(Reply::Disconnected(user.clone())),
        ServerFrame::RoomInfo { info } => Some(Reply::RoomInfo(info.clone())),
        ServerFrame::ModLog { entries } => Some(Reply::ModLog(entries.clone())),
        ServerFrame::Enforced { closed } => Some(Reply::Enforced(*closed)),
        ServerFrame::SearchResults { hits, next, .. } => {
            Some(Reply::Found(hits.clone(), next.clone()))
        }
        ServerFrame::MessageRemoved {
            room,
            seq,
            target,
            by,
            ..
        } if *by == me => Some(Reply::Removed {
            room: room.clone(),
            seq: *seq,
            target: *target,
        }),
        ServerFrame::Error { kind, detail } => Some(Reply::Refused {
            kind: *kind,
            detail: detail.clone(),
        }),
        _ => None,
    }
}
