//! The room log: every message of every room, in the room's one order, kept across restarts.
//!
//! A message is appended first and gets its `seq` (dense per room: 1, 2, 3, ...); only then is
//! it fanned out, so whatever anyone received survives a crash. Backlog on join, paging
//! before or after a `seq`, and catch-up after a reconnect all read the same log.
//!
//! This module is the seam: the [`Store`] trait and its batch and page types. [`sqlite`]
//! keeps the log in one SQLite file ([`SqliteStore`]); a cluster's log (a JetStream stream)
//! will be a second implementation of the same trait. Who calls `append` (the hub's writer
//! thread, which batches a burst into one call: group commit) and when `trim` runs are the
//! server's business, not this module's.

use std::path::PathBuf;
use std::sync::Arc;

mod schema;
pub mod sqlite;

pub use sqlite::SqliteStore;

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
    /// What they said.
    pub text: String,
    /// When the server received it.
    pub at: Millis,
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

/// A room log.
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
}
