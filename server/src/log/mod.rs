//! The room log: every message of every room, in the room's one order, and the seam the
//! hub and the commands reach it through without knowing which log is behind it.
//!
//! ```text
//!  commands ──append(burst)───►┌ RoomLog ┐ off:       numbered in memory, delivered at once
//!           ──join(backlog)───►│  trait  │ sqlite:    writer thread, group commit, then deliver
//!           ──page(cursor)────►└─────────┘ jetstream: a subject per room in NATS, read back
//!                                   │
//!                                   ▼ Deliveries (the hub): deliver these, in this order
//! ```
//!
//! A message is appended first and gets its `seq` (dense per room: 1, 2, 3, ...); only then
//! is it fanned out, so whatever anyone received survives a crash. Backlog on join, paging
//! before or after a `seq`, and catch-up after a reconnect all read the same log, shaped by
//! one [`page`] module whatever the log. Results go back through the narrow [`Deliveries`]
//! handler the hub implements; no log calls anything else of the hub.
//!
//! [`Store`] is the contract of the SQLite file under the `sqlite` log ([`SqliteStore`]).
//! `server/tests/room_log_contract.rs` holds the tests every [`RoomLog`] passes.

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;

use chat_proto::{Backlog, Cursor, ServerFrame};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::metrics::Metrics;
use crate::outbox::{Outbox, Wire};
use crate::room::{JoinedRoom, RoomError};

pub mod burst;
pub mod failures;
pub mod in_flight;
#[cfg(feature = "cluster")]
pub mod jetstream;
pub mod off;
pub mod page;
mod schema;
pub mod search;
pub mod settings;
pub mod sqlite;
pub mod wire;

pub use burst::{Burst, Said, Spoken};
pub use in_flight::InFlight;
pub use off::NoHistory;
pub use sqlite::{SqliteLog, SqliteStore};

/// The room log as every connection holds it.
pub type SharedLog = Arc<dyn RoomLog>;

/// A room log: where a room's messages get their `seq` and, when history is on, are kept.
///
/// Modelled on a pub/sub broker's interface: [`RoomLog::append`] gives a burst its place
/// and hands it to [`Deliveries`] once it is durable; [`RoomLog::join`] cuts a room's order
/// so a backlog and the live messages after it meet exactly; [`RoomLog::page`] reads beside
/// the writer. The commands call only this; whether history is off, on disk or in a
/// cluster is the implementation's business.
pub trait RoomLog: Send + Sync + fmt::Debug {
    /// Submits a burst, delivered to the room's members once it has its seqs (and is
    /// stored, where anything is). Returns what completes once it was delivered or refused,
    /// if that is later than now: what the sender does next waits for it, so that its own
    /// messages come first. A refusal (the store or the cluster failing) goes to `sender`.
    fn append(&self, spoken: Spoken, sender: &Outbox) -> Option<oneshot::Receiver<()>>;

    /// Joins `join.name` to `join.room`, with the backlog it asked for queued right after
    /// `Joined` and before any later message of the room.
    fn join(&self, join: Join) -> Joining;

    /// One page of the room with key `key`, named `shown` in the answer: at most `limit`
    /// messages (and [`page::PAGE_MAX`]). `None` when no history is kept.
    fn page(&self, key: String, shown: String, from: Cursor, limit: u32) -> Option<PageRead>;

    /// Messages submitted and not yet stored: connections stop reading while it is
    /// backlogged.
    fn in_flight(&self) -> &InFlight;

    /// Runs `search`: its `SearchResults` frame, read off the async runtime's worker
    /// threads. `None` when no history is kept.
    fn search(&self, search: search::SearchRequest) -> Option<PageRead>;

    /// Makes `change` in the room's order: an entry of its own, with its own `seq`, that
    /// names an earlier message (a removal, whose text leaves the store; a reply; an edit; a
    /// reaction), delivered to the room's members as it stands in the log. Answers that
    /// entry.
    fn change(&self, change: Change) -> Changing;
}

/// A change for the room log to make in a room's order.
#[derive(Debug, Clone)]
pub struct Change {
    /// The room, by key and as shown.
    pub room: JoinedRoom,
    /// Who makes it, as registered.
    pub by: Arc<str>,
    /// The server's clock at the request.
    pub at: Millis,
    /// What it is.
    pub kind: ChangeKind,
}

/// What a [`Change`] does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChangeKind {
    /// Removes the message `target`: `by`'s own, or anyone's when `any` (a moderator).
    Remove {
        /// The removed message's `seq`.
        target: u64,
        /// `by` may remove anyone's message.
        any: bool,
    },
    /// A message answering the message `to`.
    Reply {
        /// The answered message's `seq`.
        to: u64,
        /// What `by` says, already validated.
        text: String,
    },
    /// Changes the text of `by`'s message `target`, sent at most `window` ago.
    Edit {
        /// The edited message's `seq`.
        target: u64,
        /// Its new text, already validated.
        text: String,
        /// How long after sending a message may be edited, in milliseconds; `None`: ever.
        window: Option<Millis>,
    },
    /// Gives (`on`) or takes back `by`'s reaction `emoji` to the message `target`.
    React {
        /// The message's `seq`.
        target: u64,
        /// One emoji, already validated.
        emoji: String,
        /// Give it, or take it back.
        on: bool,
        /// The most different emoji, and reactions in all, one message takes.
        limits: ReactionLimits,
    },
}

impl ChangeKind {
    /// The `seq` of the message the change names.
    pub fn target(&self) -> u64 {
        match self {
            ChangeKind::Remove { target, .. }
            | ChangeKind::Edit { target, .. }
            | ChangeKind::React { target, .. } => *target,
            ChangeKind::Reply { to, .. } => *to,
        }
    }
}

/// How many reactions one message takes (`[messages]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReactionLimits {
    /// Different emoji on one message.
    pub emoji: u32,
    /// Reactions on one message, all emoji together.
    pub reactions: u32,
}

/// Why a change was refused; nothing changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChangeRefusal {
    /// No such message: never sent, trimmed, removed, or not a message (an event).
    #[error("#{room} has no message {seq} (never sent, trimmed, removed, or not a message)")]
    NoSuchMessage {
        /// The room as shown.
        room: String,
        /// The seq asked for.
        seq: u64,
    },
    /// Someone else's message: only the room's moderators remove others' messages, and
    /// nobody edits them.
    #[error("message {0} is not yours")]
    NotYours(u64),
    /// An edit past the edit window.
    #[error("message {seq} is too old to edit (messages may be edited for {window_secs} s)")]
    EditWindowPassed {
        /// The message's seq.
        seq: u64,
        /// The window, in seconds.
        window_secs: i64,
    },
    /// A reaction past the message's limits.
    #[error("message {seq} has as many reactions as it may ({why})")]
    TooManyReactions {
        /// The message's seq.
        seq: u64,
        /// Which limit.
        why: String,
    },
    /// A reaction given twice, or taken back without having been given.
    #[error("{0}")]
    Reaction(String),
    /// The server keeps no history: there is no message to change.
    #[error("this server keeps no history, so no message can be changed or answered")]
    HistoryOff,
    /// The cluster's log does not make this change yet.
    #[error("{0}")]
    NotInCluster(&'static str),
    /// The store or the cluster failed; nothing changed.
    #[error("the change could not be stored: {0}")]
    Failed(String),
}

/// The answer to a [`RoomLog::change`]: the entry it made, as the log keeps it.
pub type Changing = oneshot::Receiver<Result<Stored, ChangeRefusal>>;

/// A page being read, off the async runtime's worker threads.
pub type PageRead = JoinHandle<Result<ServerFrame, StoreError>>;

/// A join for the room log to perform in the room's order.
#[derive(Debug)]
pub struct Join {
    /// The joiner's registered name.
    pub name: Arc<str>,
    /// The room, a valid name without `#`.
    pub room: String,
    /// The server's clock at the request.
    pub at: Millis,
    /// What the joiner wants of the past.
    pub backlog: Backlog,
}

/// The answer to a [`RoomLog::join`].
#[derive(Debug)]
pub enum Joining {
    /// Done at once: the join needed nothing from the log's order.
    Done(Result<JoinedRoom, RoomError>),
    /// Waiting for its turn in the room's order.
    Waiting(oneshot::Receiver<Result<JoinedRoom, RoomError>>),
}

/// What a log hands its results to: the hub, reached through this and nothing else.
pub trait Deliveries: Send + Sync + fmt::Debug {
    /// Queues `wire` (`messages` whole `Msg` frames, already numbered) to every member here
    /// of the room with key `room`.
    fn deliver(&self, room: &str, wire: Wire, messages: usize);

    /// Numbers `spoken` by the room's own count in memory and queues it to every member:
    /// history off, where no log gives seqs.
    fn deliver_unstored(&self, spoken: Spoken);

    /// Joins `name` to `room`, queueing `backlog` right after `Joined` under the same lock
    /// (no backlog frame when `None`).
    fn join(
        &self,
        name: &str,
        room: &str,
        at: Millis,
        backlog: Option<ServerFrame>,
    ) -> Result<JoinedRoom, RoomError>;

    /// The room with key `key` as it is shown, while it has members here.
    fn room_name(&self, key: &str) -> Option<Arc<str>>;

    /// How many members here the room with key `key` has.
    fn local_members(&self, key: &str) -> usize;

    /// The counters a log adds to (commit times, refusals).
    fn metrics(&self) -> &Metrics;
}

/// Milliseconds since the Unix epoch, as in frames: the `at` of a stored message.
pub type Millis = chat_proto::Millis;

/// A message to append; its `seq` is not known yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMessage {
    /// The room's key ([`chat_proto::validate::room_key`]: lowercase), so that `#Rust` and
    /// `rust` share one log.
    pub room: Arc<str>,
    /// Who said it, as the registry knows them (shared with the fan-out, hence the `Arc`).
    pub from: Arc<str>,
    /// What they said, already validated.
    pub text: String,
    /// When the server received it.
    pub at: Millis,
}

/// One entry of a room's log as stored: a message (with its reply mark, edit time and
/// reactions as they stand) or an event that changed one. The very entry clients get.
pub type Stored = chat_proto::Past;

/// Where a read starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    /// The newest messages: a backlog on join.
    Latest,
    /// The newest of those with a smaller `seq`: paging back through history.
    Before(u64),
    /// The oldest of those with a greater `seq`: catching up after a reconnect, or paging
    /// forward. `After(0)` starts at the oldest message kept.
    After(u64),
}

/// A page of a room's log, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// The messages, in `seq` order.
    pub messages: Vec<Stored>,
    /// [`Read::Latest`] and [`Read::Before`]: whether older messages than the first returned
    /// are still kept. [`Read::After`]: whether newer ones than the last returned exist. So a
    /// reader pages until `more` is false, without a final empty request.
    pub more: bool,
}

/// The seqs a room's log holds.
///
/// `first = last + 1` when none are kept (all trimmed); both 0 for a room never written. A
/// client told `first` knows that anything older is gone, not merely unsent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bounds {
    /// The oldest seq still kept.
    pub first: u64,
    /// The last seq assigned: the next message gets `last + 1`.
    pub last: u64,
}

/// Why the log could not be opened or used.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// In a cluster, the room's stream in NATS could not be read.
    #[error("{0}")]
    Cluster(String),
    /// The file could not be opened or created: its directory is missing, or permissions.
    #[error("{}: cannot open the message log: {reason}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        reason: rusqlite::Error,
    },
    /// The file is not a message log: not SQLite at all, or another program's database.
    /// It is left untouched.
    #[error(
        "{}: not a chat message log (not SQLite, or another program's database); left untouched",
        path.display()
    )]
    NotOurs {
        /// The file.
        path: PathBuf,
    },
    /// The file was written by a newer server, whose layout this one does not know.
    #[error(
        "{}: message log schema version {found} is newer than this server's {supported}; \
         run a newer chat-server",
        path.display()
    )]
    NewerSchema {
        /// The file.
        path: PathBuf,
        /// Its schema version (`PRAGMA user_version`).
        found: u32,
        /// The newest version this server reads and writes.
        supported: u32,
    },
    /// The file system would not take SQLite's write-ahead log (some network file systems),
    /// without which a read would wait for every commit.
    #[error(
        "{}: the message log needs WAL mode, but SQLite kept journal mode {mode:?} (a network file system?)",
        path.display()
    )]
    NoWal {
        /// The file.
        path: PathBuf,
        /// The journal mode SQLite reported instead of `wal`.
        mode: String,
    },
    /// Bringing an older file up to date failed; the file keeps its old version.
    #[error(
        "{}: cannot upgrade the message log from schema version {from}: {reason}",
        path.display()
    )]
    Migrate {
        /// The file.
        path: PathBuf,
        /// The version it had.
        from: u32,
        /// What SQLite said.
        #[source]
        reason: rusqlite::Error,
    },
    /// A failure at run time: disk full, the file removed or unwritable, a lock held too long
    /// by another process. The operation stored nothing; the store itself stays usable.
    #[error("message log: {0}")]
    Sqlite(#[from] rusqlite::Error),
}

/// The SQLite file under the `sqlite` room log.
///
/// Methods block (call them from a dedicated thread or `spawn_blocking`); `Send + Sync`, so
/// reads run beside the writer.
pub trait Store: Send + Sync + std::fmt::Debug {
    /// Appends `batch` (messages of possibly several rooms, in order) in one transaction,
    /// and returns each message's seq in the same order.
    ///
    /// Per room the seqs are `last + 1`, `+ 2`, ...: dense, never reused, also across
    /// restarts and after trimming. On error nothing of the batch is stored and no seq is
    /// consumed: a later append continues from the last committed seq.
    fn append(&self, batch: &[NewMessage]) -> Result<Vec<u64>, StoreError>;

    /// Up to `limit` messages of room key `room`: the latest ones, those just before `seq`
    /// (`seq < s`, the newest of them), or those just after (`seq > s`, the oldest of them);
    /// oldest first in the page either way. A room never written reads as an empty page.
    fn read(&self, room: &str, from: Read, limit: usize) -> Result<Page, StoreError>;

    /// The seqs room key `room` holds.
    fn bounds(&self, room: &str) -> Result<Bounds, StoreError>;

    /// Up to `limit` messages of the rooms with keys `rooms` that hold every one of
    /// `terms` (`chat_proto::search::terms`), newest first (by time, room key, seq), after
    /// `before`, each with its room's key; and whether there are more.
    fn search(
        &self,
        rooms: &[String],
        terms: &[String],
        before: Option<&chat_proto::search::SearchCursor>,
        limit: usize,
    ) -> Result<(Vec<(String, Stored)>, bool), StoreError>;

    /// Drops, in every room, all but the newest `keep_per_room` messages and (if given)
    /// those with `at` older than `older_than` (`at < older_than`: a time, not an age);
    /// returns how many were removed. `u64::MAX` keeps any number.
    ///
    /// Deletes in short transactions, so appends go on between them on a big log. A room's
    /// last seq is kept even when all its messages go, so no seq is ever reused.
    fn trim(&self, keep_per_room: u64, older_than: Option<Millis>) -> Result<u64, StoreError>;

    /// Makes `change` (of room key `room`, by `by` at `at`) in one transaction: a removal
    /// empties the message's text (and its edits') and keeps `by` as its remover; an edit
    /// changes its text; a reaction is kept or taken back. The change itself is appended
    /// as the room's next seq and returned as stored.
    fn change(
        &self,
        room: &str,
        by: &str,
        at: Millis,
        change: &ChangeKind,
    ) -> Result<Result<Stored, Refused>, StoreError>;
}

/// Why [`Store::change`] changed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No such message (or removed, or an event).
    NoSuchMessage,
    /// Not the changer's, who may change only their own.
    NotYours,
    /// Sent longer ago than the edit window.
    EditWindowPassed,
    /// The message has as many reactions as it may: which limit.
    TooManyReactions(&'static str),
    /// The reaction was given already (`true`), or was not given to take back (`false`).
    Reacted(bool),
}

impl Refused {
    /// What a refusal of `change` in the room shown as `room` tells its sender.
    pub fn for_change(self, room: &str, change: &ChangeKind) -> ChangeRefusal {
        let seq = change.target();
        match self {
            Refused::NoSuchMessage => ChangeRefusal::NoSuchMessage {
                room: room.to_owned(),
                seq,
            },
            Refused::NotYours => ChangeRefusal::NotYours(seq),
            Refused::EditWindowPassed => ChangeRefusal::EditWindowPassed {
                seq,
                window_secs: match change {
                    ChangeKind::Edit {
                        window: Some(window),
                        ..
                    } => window / 1000,
                    _ => 0,
                },
            },
            Refused::TooManyReactions(why) => ChangeRefusal::TooManyReactions {
                seq,
                why: why.to_owned(),
            },
            Refused::Reacted(given) => {
                let emoji = match change {
                    ChangeKind::React { emoji, .. } => emoji.as_str(),
                    _ => "",
                };
                ChangeRefusal::Reaction(if given {
                    format!("you reacted {emoji} to message {seq} already")
                } else {
                    format!("you have no {emoji} on message {seq} to take back")
                })
            }
        }
    }
}
