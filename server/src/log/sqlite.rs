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
use super::{
    schema, Bounds, ChangeKind, Millis, NewMessage, Page, Read, Refused, Store, StoreError, Stored,
};

mod accounts;
mod rules;
mod search;
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
                search::index(&tx, room.id, room.last, &message.text)?;
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

    /// [`Store::change`] in one transaction; the room's cached seq is dropped, to be read
    /// again.
    fn change(
        &mut self,
        key: &str,
        by: &str,
        at: Millis,
        change: &ChangeKind,
    ) -> rusqlite::Result<Result<Stored, Refused>> {
        let Writer { conn, rooms } = self;
        rooms.remove(key);
        let removing = matches!(change, ChangeKind::Remove { .. });
        if !removing {
            return Writer::change_in(conn, key, by, at, change);
        }
        // The text must leave the file, not only the table: freed bytes are zeroed
        // (`secure_delete`) and, once committed, the write-ahead log is folded into the
        // file and emptied, so no older copy of the page is left in either.
        conn.pragma_update(None, "secure_delete", true)?;
        let removed = Writer::change_in(conn, key, by, at, change);
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

    /// The transaction of [`Writer::change`]: checks the message it names, makes the
    /// change, and appends it as the room's next seq.
    fn change_in(
        conn: &mut Connection,
        key: &str,
        by: &str,
        at: Millis,
        change: &ChangeKind,
    ) -> rusqlite::Result<Result<Stored, Refused>> {
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let Some(room) = find(&tx, key)? else {
            return Ok(Err(Refused::NoSuchMessage));
        };
        let target = change.target();
        let found: Option<(String, Option<String>, Option<i64>, Millis)> = tx
            .prepare_cached(
                "SELECT sender, removed_by, target, at FROM messages WHERE room = ?1 AND seq = ?2",
            )?
            .query_row(params![room.id, sql_seq(target)], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(3)?))
            })
            .optional()?;
        let (sender, sent) = match found {
            Some((sender, None, None, sent)) => (sender, sent),
            _ => return Ok(Err(Refused::NoSuchMessage)),
        };
        let seq = room.last + 1;
        let made = match change {
            ChangeKind::Remove { any, .. } => {
                if !any && !sender.eq_ignore_ascii_case(by) {
                    return Ok(Err(Refused::NotYours));
                }
                tx.prepare_cached(
                    "UPDATE messages SET text = '', removed_by = ?3 WHERE room = ?1 AND seq = ?2",
                )?
                .execute(params![room.id, sql_seq(target), by])?;
                // Its edits held its text too; its reactions go with it.
                tx.prepare_cached(
                    "UPDATE messages SET text = '' WHERE room = ?1 AND target = ?2 AND event = ?3",
                )?
                .execute(params![room.id, sql_seq(target), EDIT])?;
                tx.prepare_cached("DELETE FROM reactions WHERE room = ?1 AND seq = ?2")?
                    .execute(params![room.id, sql_seq(target)])?;
                search::unindex(&tx, room.id, target)?;
                insert_event(&tx, room.id, seq, by, "", at, target, None, None)?;
                Stored::new(
                    seq,
                    by.to_owned(),
                    String::new(),
                    at,
                    PastKind::Removal { target },
                )
            }
            ChangeKind::Reply { text, .. } => {
                tx.prepare_cached(
                    "INSERT INTO messages (room, seq, sender, text, at, reply_to)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                )?
                .execute(params![
                    room.id,
                    sql_seq(seq),
                    by,
                    text,
                    at,
                    sql_seq(target)
                ])?;
                search::index(&tx, room.id, seq, text)?;
                let mut reply =
                    Stored::new(seq, by.to_owned(), text.clone(), at, PastKind::Message);
                reply.reply_to = Some(target);
                reply
            }
            ChangeKind::Edit { text, window, .. } => {
                if !sender.eq_ignore_ascii_case(by) {
                    return Ok(Err(Refused::NotYours));
                }
                // Within the window means sent less than `window` ago: a window of 0 allows
                // no edit at all.
                if window.is_some_and(|window| at.saturating_sub(sent) >= window) {
                    return Ok(Err(Refused::EditWindowPassed));
                }
                tx.prepare_cached(
                    "UPDATE messages SET text = ?3, edited = ?4 WHERE room = ?1 AND seq = ?2",
                )?
                .execute(params![room.id, sql_seq(target), text, at])?;
                search::unindex(&tx, room.id, target)?;
                search::index(&tx, room.id, target, text)?;
                insert_event(&tx, room.id, seq, by, text, at, target, Some(EDIT), None)?;
                Stored::new(
                    seq,
                    by.to_owned(),
                    text.clone(),
                    at,
                    PastKind::Edit { target },
                )
            }
            ChangeKind::React {
                emoji, on, limits, ..
            } => {
                if let Err(refused) = react_in(&tx, room.id, target, by, emoji, *on, *limits, seq)?
                {
                    return Ok(Err(refused));
                }
                let event = if *on { REACT } else { UNREACT };
                insert_event(
                    &tx,
                    room.id,
                    seq,
                    by,
                    "",
                    at,
                    target,
                    Some(event),
                    Some(emoji),
                )?;
                let emoji = emoji.clone();
                let kind = if *on {
                    PastKind::React { target, emoji }
                } else {
                    PastKind::Unreact { target, emoji }
                };
                Stored::new(seq, by.to_owned(), String::new(), at, kind)
            }
        };
        tx.prepare_cached("UPDATE rooms SET last_seq = ?2 WHERE id = ?1")?
            .execute(params![room.id, sql_seq(seq)])?;
        tx.commit()?;
        Ok(Ok(made))
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

    /// Deletes up to [`TRIM_CHUNK`] of the oldest messages of room `id` below seq `below`,
    /// and takes them out of the search index, in one transaction.
    fn trim_room_chunk(&self, id: i64, below: u64) -> rusqlite::Result<u64> {
        let chunk: Vec<(i64, u64)> = self
            .conn
            .prepare_cached(
                "SELECT room, seq FROM messages WHERE room = ?1 AND seq < ?2 ORDER BY seq LIMIT ?3",
            )?
            .query_map(params![id, sql_seq(below), sql_seq(TRIM_CHUNK)], |row| {
                Ok((row.get(0)?, seq_of(row.get(1)?)))
            })?
            .collect::<rusqlite::Result<_>>()?;
        self.delete_chunk(&chunk)
    }

    /// Deletes up to [`TRIM_CHUNK`] messages, of any room, with `at` before `cutoff`, and
    /// takes them out of the search index, in one transaction.
    fn trim_age_chunk(&self, cutoff: Millis) -> rusqlite::Result<u64> {
        let chunk: Vec<(i64, u64)> = self
            .conn
            .prepare_cached("SELECT room, seq FROM messages WHERE at < ?1 LIMIT ?2")?
            .query_map(params![cutoff, sql_seq(TRIM_CHUNK)], |row| {
                Ok((row.get(0)?, seq_of(row.get(1)?)))
            })?
            .collect::<rusqlite::Result<_>>()?;
        self.delete_chunk(&chunk)
    }

    /// Deletes the messages `chunk` (room id, seq) and their search documents together.
    fn delete_chunk(&self, chunk: &[(i64, u64)]) -> rusqlite::Result<u64> {
        let tx = self.conn.unchecked_transaction()?;
        {
            let mut delete =
                tx.prepare_cached("DELETE FROM messages WHERE room = ?1 AND seq = ?2")?;
            for &(room, seq) in chunk {
                delete.execute(params![room, sql_seq(seq)])?;
                search::unindex(&tx, room, seq)?;
            }
        }
        tx.commit()?;
        Ok(chunk.len() as u64)
    }
}

/// Appends an event row (a removal, an edit, a reaction) naming message `target`.
#[allow(clippy::too_many_arguments)]
fn insert_event(
    tx: &Connection,
    room: i64,
    seq: u64,
    by: &str,
    text: &str,
    at: Millis,
    target: u64,
    event: Option<i64>,
    emoji: Option<&str>,
) -> rusqlite::Result<()> {
    tx.prepare_cached(
        "INSERT INTO messages (room, seq, sender, text, at, target, event, emoji)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        room,
        sql_seq(seq),
        by,
        text,
        at,
        sql_seq(target),
        event,
        emoji
    ])?;
    Ok(())
}

/// Gives (`on`) or takes back `by`'s reaction `emoji` to message `target` of room `room`,
/// within `limits`; `given` is the seq of the event that gives it.
#[allow(clippy::too_many_arguments)]
fn react_in(
    tx: &Connection,
    room: i64,
    target: u64,
    by: &str,
    emoji: &str,
    on: bool,
    limits: super::ReactionLimits,
    given: u64,
) -> rusqlite::Result<Result<(), Refused>> {
    let had = tx
        .prepare_cached(
            "SELECT 1 FROM reactions WHERE room = ?1 AND seq = ?2 AND emoji = ?3 AND who = ?4",
        )?
        .query_row(params![room, sql_seq(target), emoji, by], |_| Ok(()))
        .optional()?
        .is_some();
    if had == on {
        return Ok(Err(Refused::Reacted(had)));
    }
    if !on {
        tx.prepare_cached(
            "DELETE FROM reactions WHERE room = ?1 AND seq = ?2 AND emoji = ?3 AND who = ?4",
        )?
        .execute(params![room, sql_seq(target), emoji, by])?;
        return Ok(Ok(()));
    }
    let (kinds, all, this): (i64, i64, i64) = tx
        .prepare_cached(
            "SELECT count(DISTINCT emoji), count(*), count(*) FILTER (WHERE emoji = ?3)
             FROM reactions WHERE room = ?1 AND seq = ?2",
        )?
        .query_row(params![room, sql_seq(target), emoji], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })?;
    if this == 0 && kinds >= i64::from(limits.emoji) {
        return Ok(Err(Refused::TooManyReactions("different emoji")));
    }
    if all >= i64::from(limits.reactions) {
        return Ok(Err(Refused::TooManyReactions("reactions")));
    }
    tx.prepare_cached(
        "INSERT INTO reactions (room, seq, emoji, who, given) VALUES (?1, ?2, ?3, ?4, ?5)",
    )?
    .execute(params![room, sql_seq(target), emoji, by, sql_seq(given)])?;
    Ok(Ok(()))
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
    fn change(
        &self,
        room: &str,
        by: &str,
        at: Millis,
        change: &ChangeKind,
    ) -> Result<Result<Stored, Refused>, StoreError> {
        let mut writer = self.writer();
        writer.change(room, by, at, change).map_err(|err| {
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
        let rows = select.query_map(params![room, bound, fetch], entry_of)?;
        let mut messages = rows.collect::<rusqlite::Result<Vec<_>>>()?;
        let more = messages.len() > limit;
        messages.truncate(limit);
        if newest_first {
            messages.reverse();
        }
        add_reactions(&reader, room, &mut messages)?;
        Ok(Page { messages, more })
    }

    fn search(
        &self,
        rooms: &[String],
        terms: &[String],
        before: Option<&chat_proto::search::SearchCursor>,
        limit: usize,
    ) -> Result<(Vec<(String, Stored)>, bool), StoreError> {
        Ok(search::search(&self.reader(), rooms, terms, before, limit)?)
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
        if removed > 0 {
            // The reactions of messages trimmed go with them.
            self.writer().conn.execute(
                "DELETE FROM reactions WHERE NOT EXISTS
                     (SELECT 1 FROM messages m WHERE m.room = reactions.room AND m.seq = reactions.seq)",
                [],
            )?;
        }
        Ok(removed)
    }
}

/// The columns of an entry, as [`entry_of`] reads them, from `messages m`.
macro_rules! select_entry {
    () => {
        "SELECT m.seq, m.sender, m.text, m.at, m.removed_by, m.target, m.reply_to, m.edited,
             m.event, m.emoji FROM messages m"
    };
}

/// [`select_entry`], for queries built at run time.
const SELECT_ENTRY: &str = select_entry!();

/// A room's messages below a seq, newest first: [`Read::Latest`] and [`Read::Before`].
const BEFORE: &str = concat!(
    select_entry!(),
    " JOIN rooms r ON m.room = r.id
     WHERE r.key = ?1 AND m.seq < ?2 ORDER BY m.seq DESC LIMIT ?3"
);

/// A room's messages above a seq, oldest first: [`Read::After`].
const AFTER: &str = concat!(
    select_entry!(),
    " JOIN rooms r ON m.room = r.id
     WHERE r.key = ?1 AND m.seq > ?2 ORDER BY m.seq ASC LIMIT ?3"
);

/// The `event` of an edit's row.
const EDIT: i64 = 1;
/// The `event` of a reaction's row.
const REACT: i64 = 2;
/// The `event` of the row of a reaction taken back.
const UNREACT: i64 = 3;

/// An entry of the log from a row of [`BEFORE`] or [`AFTER`] (its reactions added after).
fn entry_of(row: &rusqlite::Row<'_>) -> rusqlite::Result<Stored> {
    let removed_by: Option<String> = row.get(4)?;
    let target: Option<i64> = row.get(5)?;
    let event: Option<i64> = row.get(8)?;
    let emoji =
        || -> rusqlite::Result<String> { Ok(row.get::<_, Option<String>>(9)?.unwrap_or_default()) };
    let kind = match (target.map(seq_of), event, removed_by) {
        (Some(target), Some(EDIT), _) => PastKind::Edit { target },
        (Some(target), Some(REACT), _) => PastKind::React {
            target,
            emoji: emoji()?,
        },
        (Some(target), Some(UNREACT), _) => PastKind::Unreact {
            target,
            emoji: emoji()?,
        },
        (Some(target), _, _) => PastKind::Removal { target },
        (None, _, Some(by)) => PastKind::Removed { by },
        (None, _, None) => PastKind::Message,
    };
    let mut entry = Stored::new(
        seq_of(row.get(0)?),
        row.get(1)?,
        row.get(2)?,
        row.get(3)?,
        kind,
    );
    entry.reply_to = row.get::<_, Option<i64>>(6)?.map(seq_of);
    entry.edited = row.get(7)?;
    Ok(entry)
}

/// Gives each message of `entries` (a page of room `room`, in seq order) its reactions as
/// they stand: each emoji in the order first given, each with who gave it, in order.
fn add_reactions(conn: &Connection, room: &str, entries: &mut [Stored]) -> rusqlite::Result<()> {
    let (Some(first), Some(last)) = (entries.first(), entries.last()) else {
        return Ok(());
    };
    let (first, last) = (first.seq, last.seq);
    let mut select = conn.prepare_cached(
        "SELECT x.seq, x.emoji, x.who FROM reactions x JOIN rooms r ON x.room = r.id
         WHERE r.key = ?1 AND x.seq BETWEEN ?2 AND ?3 ORDER BY x.seq, x.given",
    )?;
    let rows = select.query_map(params![room, sql_seq(first), sql_seq(last)], |row| {
        Ok((
            seq_of(row.get(0)?),
            row.get::<_, String>(1)?,
            row.get::<_, String>(2)?,
        ))
    })?;
    for row in rows {
        let (seq, emoji, who) = row?;
        let Ok(at) = entries.binary_search_by_key(&seq, |entry| entry.seq) else {
            continue;
        };
        let reactions = &mut entries[at].reactions;
        match reactions
            .iter_mut()
            .find(|reaction| reaction.emoji == emoji)
        {
            Some(reaction) => reaction.by.push(who),
            None => reactions.push(chat_proto::Reaction {
                emoji,
                by: vec![who],
            }),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
