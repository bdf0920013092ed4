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

use chat_proto::{Backlog, Cursor, PastKind, ServerFrame};
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

    /// Removes a message in the room's order: its text leaves the store, and the removal,
    /// a message of the log with its own `seq`, is delivered to the room's members as
    /// `MessageRemoved`. Answers the removal's `seq`.
    fn remove(&self, removal: Removal) -> Removing;
}

/// A message removal for the room log to perform.
#[derive(Debug, Clone)]
pub struct Removal {
    /// The room, by key and as shown.
    pub room: JoinedRoom,
    /// The removed message's `seq`.
    pub target: u64,
    /// Who removes it, as registered.
    pub by: Arc<str>,
    /// `by` may remove anyone's message (a moderator's), not only their own.
    pub any: bool,
    /// The server's clock at the request.
    pub at: Millis,
}

/// Why a removal was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RemoveRefusal {
    /// No such message: never sent, trimmed, already removed, or itself a removal.
    #[error("#{room} has no message {seq} to remove (never sent, trimmed, or removed already)")]
    NoSuchMessage {
        /// The room as shown.
        room: String,
        /// The seq asked for.
        seq: u64,
    },
    /// Someone else's message, and the remover does not moderate the room.
    #[error("message {0} is not yours: only the room's moderators remove others' messages")]
    NotYours(u64),
    /// The server keeps no history: there is nothing to remove a message from.
    #[error("this server keeps no history, so no message can be removed")]
    HistoryOff,
    /// The store or the cluster failed; nothing changed.
    #[error("the removal could not be stored: {0}")]
    Failed(String),
}

/// The answer to a [`RoomLog::remove`]: the removal's own `seq`.
pub type Removing = oneshot::Receiver<Result<u64, RemoveRefusal>>;

/// The `MessageRemoved` frame of a removal given `seq`.
pub fn removed_frame(removal: &Removal, seq: u64) -> ServerFrame {
    ServerFrame::MessageRemoved {
        room: removal.room.name.to_string(),
        seq,
        target: removal.target,
        by: removal.by.to_string(),
        at: removal.at,
    }
}

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

/// One stored message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stored {
    /// Its place in its room's order: dense, increasing, never reused.
    pub seq: u64,
    /// Who said it.
    pub from: String,
    /// What they said; empty once removed.
    pub text: String,
    /// When the server received it.
    pub at: Millis,
    /// A message, one removed since, or a removal.
    pub kind: PastKind,
}

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

    /// Drops, in every room, all but the newest `keep_per_room` messages and (if given)
    /// those with `at` older than `older_than` (`at < older_than`: a time, not an age);
    /// returns how many were removed. `u64::MAX` keeps any number.
    ///
    /// Deletes in short transactions, so appends go on between them on a big log. A room's
    /// last seq is kept even when all its messages go, so no seq is ever reused.
    fn trim(&self, keep_per_room: u64, older_than: Option<Millis>) -> Result<u64, StoreError>;

    /// Removes message `target` of room key `room` for `by` (anyone's when `any`, else
    /// only `by`'s own) in one transaction: its text is emptied and `by` kept as its
    /// remover, and the removal is appended as the room's next seq, which is returned.
    fn remove(
        &self,
        room: &str,
        target: u64,
        by: &str,
        any: bool,
        at: Millis,
    ) -> Result<Result<u64, Refused>, StoreError>;
}

/// Why [`Store::remove`] removed nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// No such message (or already removed, or a removal).
    NoSuchMessage,
    /// Not the remover's, who may remove only their own.
    NotYours,
}
