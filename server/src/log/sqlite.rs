//! The `sqlite` room log: [`SqliteLog`], the writer thread with group commit, over
//! [`SqliteStore`], the messages in one SQLite file.
//!
//! Two connections. The writer (append, trim) sits behind one mutex with an in-memory cache
//! of each room's last seq, so assigning seqs costs no query after a room's first message.
//! The reader sits behind another: in WAL mode a read runs beside a commit and sees every
//! transaction committed before it began, so a read started after `append` returned sees
//! that append. `synchronous = NORMAL` makes a commit survive the process being killed (not
//! a power cut), and costs far less than `FULL`; one transaction per batch (group commit) is
//! what makes appends fast.
//!
//! The file's format and its upgrades are `schema.rs`'s.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chat_proto::PastKind;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};

use super::settings::Synchronous;
use super::{schema, Bounds, Millis, NewMessage, Page, Read, Refused, Store, StoreError, Stored};

mod accounts;
mod rules;
mod writer;

pub use accounts::{SqliteAccountStore, SqliteAccounts};
pub use rules::SqliteRules;
pub use writer::SqliteLog;

/// How long a connection waits for a lock another process holds (a backup tool, an
/// administrator's `sqlite3` shell) before the operation fails: long enough for any short
/// transaction, short enough that a stuck lock shows up as an error rather than a hang.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// How long the checkpoint after a removal waits for a reader to let go of the log: a page
/// read takes milliseconds; longer, the old copy of the page waits for the next checkpoint.
const CHECKPOINT_WAIT: Duration = Duration::from_millis(100);

/// Rows one trimming transaction deletes: a few milliseconds of the write lock, so appends
/// wait at most that long while a big log is trimmed.
pub const TRIM_CHUNK: u64 = 1000;

/// Rooms the writer keeps in its cache of last seqs. Past this many it starts over, so rooms
/// written once and never again (one is made per new name anyone joins) cannot pile up in
/// memory; a forgotten room costs one lookup at its next message.
const ROOM_CACHE: usize = 65_536;

/// The writer's page cache, in KiB (SQLite's `cache_size`, negative for KiB; its default is
/// 2 MiB). Every room written to keeps the last leaf page of its messages hot, and a commit
/// that finds one evicted reads it back from the file: with a thousand rooms written in
/// turn, 2 MiB made the writer read a page back for most messages. Pages are taken as they
/// are used, so a small log never holds this much.
const WRITER_CACHE_KIB: i64 = 16 * 1024;

/// Statements each connection keeps prepared: more than it uses, so none is ever re-parsed.
const STATEMENT_CACHE: usize = 16;

/// A room log kept in one SQLite file (with its `-wal` and `-shm` files beside it while
/// open). See the module docs for how reads and writes share it.
pub struct SqliteStore {
    /// The file, for `Debug`.
    path: PathBuf,
    /// Appends and trims, one at a time.
    writer: Mutex<Writer>,
    /// Reads, beside the writer.
    reader: Mutex<Connection>,
}

/// The write connection and what it knows about the rooms.
struct Writer {
    /// Opened read-write, `synchronous = NORMAL` unless [`SqliteStore::set_synchronous`]
    /// says otherwise.
    conn: Connection,
    /// Room key → row id and last committed seq, filled on a room's first append, at most
    /// [`ROOM_CACHE`] of them. Only committed state goes in, and a failed append clears it,
    /// so it never runs ahead of the file.
    rooms: HashMap<Arc<str>, Room>,
}

/// A room's row, as the writer caches it.
#[derive(Debug, Clone, Copy)]
struct Room {
    /// `rooms.id`, the `messages.room` of its messages.
    id: i64,
    /// The last seq assigned (committed, or within the current batch).
    last: u64,
}

impl SqliteStore {
    /// Opens the log at `path`, creating the file when it does not exist.
    ///
    /// A file that is not SQLite, or is another program's database, is refused
    /// ([`StoreError::NotOurs`]) and left as it was; one written by a newer server is refused
    /// too ([`StoreError::NewerSchema`]); an older one is upgraded in place.
    pub fn open(path: &Path) -> Result<SqliteStore, StoreError> {
        SqliteStore::open_with(path, BUSY_TIMEOUT)
    }

    /// Makes every later commit durable as `synchronous` says (`[store] synchronous`).
    pub fn set_synchronous(&self, synchronous: Synchronous) -> Result<(), StoreError> {
        self.writer()
            .conn
            .pragma_update(None, "synchronous", synchronous.pragma())
            .map_err(|reason| StoreError::Open {
                path: self.path.clone(),
                reason,
            })
    }

    /// [`SqliteStore::open`] waiting at most `busy_timeout` for a lock held elsewhere.
    fn open_with(path: &Path, busy_timeout: Duration) -> Result<SqliteStore, StoreError> {
        let mut conn = connect(path, busy_timeout)?;
        schema::prepare(&mut conn, path)?;
        let open_error = |reason| StoreError::Open {
            path: path.to_owned(),
            reason,
        };
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_error)?;
        conn.pragma_update(None, "cache_size", -WRITER_CACHE_KIB)
            .map_err(open_error)?;
        let reader = connect(path, busy_timeout)?;
        reader
            .pragma_update(None, "query_only", true)
            .map_err(open_error)?;
        Ok(SqliteStore {
            path: path.to_owned(),
            writer: Mutex::new(Writer {
                conn,
                rooms: HashMap::new(),
            }),
            reader: Mutex::new(reader),
        })
    }

    /// The file this log lives in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The writer, recovered if a panic left its lock poisoned: the cache is then dropped,
    /// since the panic may have come between a commit and the cache's update.
    fn writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock().unwrap_or_else(|poisoned| {
            self.writer.clear_poison();
            let mut writer = poisoned.into_inner();
            writer.rooms.clear();
            writer
        })
    }

    /// The reader; it holds no state a panic could break.
    fn reader(&self) -> MutexGuard<'_, Connection> {
        self.reader.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Runs `sql` on the write connection, for tests that need to break it.
    #[cfg(test)]
    fn with_writer<T>(&self, run: impl FnOnce(&Connection) -> T) -> T {
        run(&self.writer().conn)
    }
}

impl fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// Opens one connection to `path`, creating the file if needed.
fn connect(path: &Path, busy_timeout: Duration) -> Result<Connection, StoreError> {
    let open = || -> rusqlite::Result<Connection> {
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(busy_timeout)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    };
    open().map_err(|reason| StoreError::Open {
        path: path.to_owned(),
        reason,
    })
}

/// A seq as SQLite stores it. Seqs start at 1 and grow by one per message, so they never
/// reach `i64::MAX`; a bound given by a reader may, and saturating keeps its meaning.
fn sql_seq(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

/// A seq read back from SQLite, where only values from [`sql_seq`] are written.
fn seq_of(value: i64) -> u64 {
    u64::try_from(value).unwrap_or(0)
}

impl Writer {
    /// One transaction for the whole batch; the cache is updated only after the commit.
    fn append(&mut self, batch: &[NewMessage]) -> rusqlite::Result<Vec<u64>> {
        let Writer { conn, rooms } = self;
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        // The rooms this batch touches, with their seqs as the batch advances them. A map:
        // a batch from senders writing to many rooms in turn touches a thousand rooms, and
        // a list searched per message cost more than storing it.
        let mut touched: HashMap<&Arc<str>, Room> = HashMap::new();
        let mut seqs = Vec::with_capacity(batch.len());
        {
            let mut insert = tx.prepare_cached(
                "INSERT INTO messages (room, seq, sender, text, at) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for message in batch {
                let room = match touched.entry(&message.room) {
                    Entry::Occupied(entry) => entry.into_mut(),
                    Entry::Vacant(entry) => entry.insert(match rooms.get(&message.room) {
                        Some(room) => *room,
                        None => find_or_create(&tx, &message.room)?,
                    }),
                };
                room.last += 1;
                insert.execute(params![
                    room.id,
                    sql_seq(room.last),
                    &*message.from,
                    &message.text,
                    message.at
                ])?;
                seqs.push(room.last);
            }
            let mut update = tx.prepare_cached("UPDATE rooms SET last_seq = ?2 WHERE id = ?1")?;
            for room in touched.values() {
                update.execute(params![room.id, sql_seq(room.last)])?;
            }
        }
        tx.commit()?;
        if rooms.len() + touched.len() > ROOM_CACHE {
            rooms.clear();
        }
        for (key, room) in touched {
            rooms.insert(Arc::clone(key), room);
        }
        Ok(seqs)
    }

    /// [`Store::remove`] in one transaction; the room's cached seq is dropped, to be read
    /// again.
    fn remove(
        &mut self,
        key: &str,
        target: u64,
        by: &str,
        any: bool,
        at: Millis,
    ) -> rusqlite::Result<Result<u64, Refused>> {
        let Writer { conn, rooms } = self;
        rooms.remove(key);
        // The text must leave the file, not only the table: freed bytes are zeroed
        // (`secure_delete`) and, once committed, the write-ahead log is folded into the
        // file and emptied, so no older copy of the page is left in either.
        conn.pragma_update(None, "secure_delete", true)?;
        let removed = Writer::remove_in(conn, key, target, by, any, at);
        if let Err(err) = conn.pragma_update(None, "secure_delete", false) {
            tracing::warn!("Cannot turn secure_delete off again: {err}");
        }
        if let Ok(Ok(_)) = removed {
            // Waits for readers only briefly: every room's messages wait behind this thread.
            let _ = conn.busy_timeout(CHECKPOINT_WAIT);
            let blocked = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
                row.get::<_, i64>(0)
            });
            let _ = conn.busy_timeout(BUSY_TIMEOUT);
            if !matches!(blocked, Ok(0)) {
                tracing::warn!(
                    "A removed message may stay in the write-ahead log until its next checkpoint ({blocked:?})"
                );
            }
        }
        removed
    }

    /// The transaction of [`Writer::remove`].
    fn remove_in(
        conn: &mut Connection,
        key: &str,
        target: u64,
        by: &str,
        any: bool,
        at: Millis,
    ) -> rusqlite::Result<Result<u64, Refused>> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(room) = find(&tx, key)? else {
            return Ok(Err(Refused::NoSuchMessage));
        };
        let found: Option<(String, Option<String>, Option<i64>)> = tx
            .prepare_cached(
                "SELECT sender, removed_by, target FROM messages WHERE room = ?1 AND seq = ?2",
            )?
            .query_row(params![room.id, sql_seq(target)], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .optional()?;
        let sender = match found {
            Some((sender, None, None)) => sender,
            _ => return Ok(Err(Refused::NoSuchMessage)),
        };
        if !any && !sender.eq_ignore_ascii_case(by) {
            return Ok(Err(Refused::NotYours));
        }
        let seq = room.last + 1;
        tx.prepare_cached(
            "UPDATE messages SET text = '', removed_by = ?3 WHERE room = ?1 AND seq = ?2",
        )?
        .execute(params![room.id, sql_seq(target), by])?;
        tx.prepare_cached(
            "INSERT INTO messages (room, seq, sender, text, at, target) VALUES (?1, ?2, ?3, '', ?4, ?5)",
        )?
        .execute(params![room.id, sql_seq(seq), by, at, sql_seq(target)])?;
        tx.prepare_cached("UPDATE rooms SET last_seq = ?2 WHERE id = ?1")?
            .execute(params![room.id, sql_seq(seq)])?;
        tx.commit()?;
        Ok(Ok(seq))
    }

    /// Rooms whose messages older than the newest `keep` are not all gone yet, with their
    /// last seq.
    fn over_count(&self, keep: u64) -> rusqlite::Result<Vec<(i64, u64)>> {
        let mut select = self.conn.prepare_cached(
            "SELECT r.id, r.last_seq FROM rooms r WHERE EXISTS
                 (SELECT 1 FROM messages m WHERE m.room = r.id AND m.seq <= r.last_seq - ?1)",
        )?;
        let rows = select.query_map([sql_seq(keep)], |row| {
            Ok((row.get(0)?, seq_of(row.get(1)?)))
        })?;
        rows.collect()
    }

    /// Deletes up to [`TRIM_CHUNK`] of the oldest messages of room `id` below seq `below`.
    fn trim_room_chunk(&self, id: i64, below: u64) -> rusqlite::Result<u64> {
        let mut delete = self.conn.prepare_cached(
            "DELETE FROM messages WHERE room = ?1 AND seq IN
                 (SELECT seq FROM messages WHERE room = ?1 AND seq < ?2 ORDER BY seq LIMIT ?3)",
        )?;
        let removed = delete.execute(params![id, sql_seq(below), sql_seq(TRIM_CHUNK)])?;
        Ok(removed as u64)
    }

    /// Deletes up to [`TRIM_CHUNK`] messages, of any room, with `at` before `cutoff`.
    fn trim_age_chunk(&self, cutoff: Millis) -> rusqlite::Result<u64> {
        let mut delete = self.conn.prepare_cached(
            "DELETE FROM messages WHERE (room, seq) IN
                 (SELECT room, seq FROM messages WHERE at < ?1 LIMIT ?2)",
        )?;
        let removed = delete.execute(params![cutoff, sql_seq(TRIM_CHUNK)])?;
        Ok(removed as u64)
    }
}

/// Room `key`'s row, if it has one.
fn find(tx: &Connection, key: &str) -> rusqlite::Result<Option<Room>> {
    tx.prepare_cached("SELECT id, last_seq FROM rooms WHERE key = ?1")?
        .query_row([key], |row| {
            Ok(Room {
                id: row.get(0)?,
                last: seq_of(row.get(1)?),
            })
        })
        .optional()
}

/// Room `key`'s row, inserted (with last seq 0) if it has none yet. The insert belongs to
/// the batch's transaction, so a failed batch leaves no empty room behind.
fn find_or_create(tx: &Connection, key: &str) -> rusqlite::Result<Room> {
    if let Some(room) = find(tx, key)? {
        return Ok(room);
    }
    tx.prepare_cached("INSERT INTO rooms (key, last_seq) VALUES (?1, 0)")?
        .execute([key])?;
    Ok(Room {
        id: tx.last_insert_rowid(),
        last: 0,
    })
}

impl Store for SqliteStore {
    fn remove(
        &self,
        room: &str,
        target: u64,
        by: &str,
        any: bool,
        at: Millis,
    ) -> Result<Result<u64, Refused>, StoreError> {
        let mut writer = self.writer();
        writer.remove(room, target, by, any, at).map_err(|err| {
            writer.rooms.clear();
            StoreError::from(err)
        })
    }

    fn append(&self, batch: &[NewMessage]) -> Result<Vec<u64>, StoreError> {
        if batch.is_empty() {
            return Ok(Vec::new());
        }
        let mut writer = self.writer();
        writer.append(batch).map_err(|err| {
            // Rolled back: forget what the cache believed, it is read again on next use.
            writer.rooms.clear();
            StoreError::from(err)
        })
    }

    fn read(&self, room: &str, from: Read, limit: usize) -> Result<Page, StoreError> {
        // One more than asked tells whether there is more, without a second query.
        let fetch = i64::try_from(limit.saturating_add(1)).unwrap_or(i64::MAX);
        let (sql, bound, newest_first) = match from {
            Read::Latest => (BEFORE, i64::MAX, true),
            Read::Before(seq) => (BEFORE, sql_seq(seq), true),
            Read::After(seq) => (AFTER, sql_seq(seq), false),
        };
        let reader = self.reader();
        let mut select = reader.prepare_cached(sql)?;
        let rows = select.query_map(params![room, bound, fetch], |row| {
            let removed_by: Option<String> = row.get(4)?;
            let target: Option<i64> = row.get(5)?;
            Ok(Stored {
                seq: seq_of(row.get(0)?),
                from: row.get(1)?,
                text: row.get(2)?,
                at: row.get(3)?,
                kind: match (target, removed_by) {
                    (Some(target), _) => PastKind::Removal {
                        target: seq_of(target),
                    },
                    (None, Some(by)) => PastKind::Removed { by },
                    (None, None) => PastKind::Message,
                },
            })
        })?;
        let mut messages = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        let more = messages.len() > limit;
        messages.truncate(limit);
        if newest_first {
            messages.reverse();
        }
        Ok(Page { messages, more })
    }

    fn bounds(&self, room: &str) -> Result<Bounds, StoreError> {
        let reader = self.reader();
        let found = reader
            .prepare_cached(
                "SELECT r.last_seq, (SELECT min(m.seq) FROM messages m WHERE m.room = r.id)
                 FROM rooms r WHERE r.key = ?1",
            )?
            .query_row([room], |row| {
                Ok((seq_of(row.get(0)?), row.get::<_, Option<i64>>(1)?))
            })
            .optional()?;
        Ok(match found {
            None => Bounds::default(),
            Some((last, None)) => Bounds {
                first: last + 1,
                last,
            },
            Some((last, Some(first))) => Bounds {
                first: seq_of(first),
                last,
            },
        })
    }

    fn trim(&self, keep_per_room: u64, older_than: Option<Millis>) -> Result<u64, StoreError> {
        // Each chunk takes the writer lock on its own, so appends slip in between.
        let mut removed = 0;
        let rooms = self.writer().over_count(keep_per_room)?;
        for (id, last) in rooms {
            let below = last.saturating_sub(keep_per_room) + 1;
            loop {
                let chunk = self.writer().trim_room_chunk(id, below)?;
                removed += chunk;
                if chunk < TRIM_CHUNK {
                    break;
                }
            }
        }
        if let Some(cutoff) = older_than {
            loop {
                let chunk = self.writer().trim_age_chunk(cutoff)?;
                removed += chunk;
                if chunk < TRIM_CHUNK {
                    break;
                }
            }
        }
        Ok(removed)
    }
}

/// A room's messages below a seq, newest first: [`Read::Latest`] and [`Read::Before`].
const BEFORE: &str = "SELECT m.seq, m.sender, m.text, m.at, m.removed_by, m.target FROM messages m
     JOIN rooms r ON m.room = r.id
     WHERE r.key = ?1 AND m.seq < ?2 ORDER BY m.seq DESC LIMIT ?3";

/// A room's messages above a seq, oldest first: [`Read::After`].
const AFTER: &str = "SELECT m.seq, m.sender, m.text, m.at, m.removed_by, m.target FROM messages m
     JOIN rooms r ON m.room = r.id
     WHERE r.key = ?1 AND m.seq > ?2 ORDER BY m.seq ASC LIMIT ?3";

#[cfg(test)]
mod tests;
