//! The message log's file format: how a file is recognised as ours, created, and upgraded.
//!
//! SQLite's header has two numbers for this. `application_id` says whose file it is:
//! [`APPLICATION_ID`] for ours, so the server never writes into another program's database.
//! `user_version` counts the [`MIGRATIONS`] applied. A new file is version 0 and goes
//! through the same migrations as an old one, so there is one way to reach the current
//! layout; a file from a newer server is refused rather than guessed at.

use std::path::Path;

use rusqlite::{Connection, ErrorCode, TransactionBehavior};

use super::StoreError;

/// `PRAGMA application_id` of a chat message log: "CHAT" in ASCII. Fixed forever; `file(1)`
/// and other tools can tell our files by it.
pub(super) const APPLICATION_ID: i32 = 0x4348_4154;

/// The layouts, in order: entry `i` takes a file from version `i` to `i + 1`. Append only;
/// never edit an entry once released, since files in the field went through it.
pub(super) const MIGRATIONS: &[&str] = &[
    // 1: rooms by key with their last assigned seq (kept when every message is trimmed, so a
    // seq is never reused); messages clustered by (room, seq), so a page is one range scan;
    // `at` indexed for trimming by age.
    "CREATE TABLE rooms (
         id       INTEGER PRIMARY KEY,
         key      TEXT NOT NULL UNIQUE,
         last_seq INTEGER NOT NULL
     );
     CREATE TABLE messages (
         room   INTEGER NOT NULL,
         seq    INTEGER NOT NULL,
         sender TEXT NOT NULL,
         text   TEXT NOT NULL,
         at     INTEGER NOT NULL,
         PRIMARY KEY (room, seq)
     ) WITHOUT ROWID;
     CREATE INDEX messages_by_age ON messages (at);",
    // 2: accounts by the key of their name (`validate::name_key`), each with its password's
    // PHC string; device sessions by the SHA-256 of their token (never the token), going
    // with their account.
    "CREATE TABLE accounts (
         id       INTEGER PRIMARY KEY,
         key      TEXT NOT NULL UNIQUE,
         name     TEXT NOT NULL,
         password TEXT NOT NULL,
         created  INTEGER NOT NULL
     );
     CREATE TABLE sessions (
         id        INTEGER PRIMARY KEY,
         account   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
         token     BLOB NOT NULL UNIQUE,
         label     TEXT NOT NULL,
         created   INTEGER NOT NULL,
         last_used INTEGER NOT NULL
     );
     CREATE INDEX sessions_by_account ON sessions (account);",
    // 3: account and session ids are never given again (AUTOINCREMENT): a connection still
    // signed in under a deleted account or session must not find itself someone else's when
    // a new one takes the freed id. SQLite cannot add it to a table, so both are rebuilt.
    "CREATE TABLE accounts_v3 (
         id       INTEGER PRIMARY KEY AUTOINCREMENT,
         key      TEXT NOT NULL UNIQUE,
         name     TEXT NOT NULL,
         password TEXT NOT NULL,
         created  INTEGER NOT NULL
     );
     INSERT INTO accounts_v3 (id, key, name, password, created)
         SELECT id, key, name, password, created FROM accounts;
     CREATE TABLE sessions_v3 (
         id        INTEGER PRIMARY KEY AUTOINCREMENT,
         account   INTEGER NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
         token     BLOB NOT NULL UNIQUE,
         label     TEXT NOT NULL,
         created   INTEGER NOT NULL,
         last_used INTEGER NOT NULL
     );
     INSERT INTO sessions_v3 (id, account, token, label, created, last_used)
         SELECT id, account, token, label, created, last_used FROM sessions;
     DROP TABLE sessions;
     DROP TABLE accounts;
     ALTER TABLE accounts_v3 RENAME TO accounts;
     ALTER TABLE sessions_v3 RENAME TO sessions;
     CREATE INDEX sessions_by_account ON sessions (account);",
    // 4: moderation records (a room's owner, moderators, settings, bans and audit log; the
    // server's bans and suspensions), each a JSON value under its key; and message removal:
    // a removed message keeps its row and seq with its text emptied and its remover named
    // (`removed_by`), and the removal is a row of its own naming the message (`target`).
    "CREATE TABLE moderation (
         key   TEXT PRIMARY KEY,
         value BLOB NOT NULL
     );
     ALTER TABLE messages ADD COLUMN removed_by TEXT;
     ALTER TABLE messages ADD COLUMN target INTEGER;",
    // Message events: a reply names the message it answers; an edited message keeps when;
    // an event row (an edit, a reaction given or taken back: `event` 1, 2, 3) names its
    // message in `target`; the reactions as they stand are their own table, each with the
    // seq of the event that gave it, which orders them.
    "ALTER TABLE messages ADD COLUMN reply_to INTEGER;
     ALTER TABLE messages ADD COLUMN edited INTEGER;
     ALTER TABLE messages ADD COLUMN event INTEGER;
     ALTER TABLE messages ADD COLUMN emoji TEXT;
     CREATE TABLE reactions (
         room  INTEGER NOT NULL,
         seq   INTEGER NOT NULL,
         emoji TEXT NOT NULL,
         who   TEXT NOT NULL,
         given INTEGER NOT NULL,
         PRIMARY KEY (room, seq, emoji, who)
     ) WITHOUT ROWID;",
    // Full-text search: the trigrams of every message's text (not the text itself), each
    // message a document numbered room id × 2^36 + seq (`sqlite/search.rs`).
    "CREATE VIRTUAL TABLE messages_fts USING fts5(
         text, content = '', contentless_delete = 1, tokenize = 'trigram'
     );
     INSERT INTO messages_fts (rowid, text)
         SELECT room * 68719476736 + seq, text FROM messages
         WHERE target IS NULL AND removed_by IS NULL AND seq < 68719476736;",
];

/// The schema version this server reads and writes (what `prepare` leaves in `user_version`).
#[cfg(test)]
pub(super) const VERSION: u32 = MIGRATIONS.len() as u32;

/// What a file's header says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// A new or empty SQLite file: no tables, no marks. Version 0 of ours.
    Empty,
    /// Ours, at this version (at most the newest known).
    Ours(u32),
}

/// Makes the file behind `conn` a current message log: refuses a foreign or newer file
/// before writing anything to it, switches it to WAL, and applies the missing migrations in
/// one transaction.
pub(super) fn prepare(conn: &mut Connection, path: &Path) -> Result<(), StoreError> {
    prepare_with(conn, path, MIGRATIONS)
}

/// [`prepare`] with an explicit list of migrations, so a test can play a newer server.
pub(super) fn prepare_with(
    conn: &mut Connection,
    path: &Path,
    migrations: &[&str],
) -> Result<(), StoreError> {
    let supported = migrations.len() as u32;
    // Read-only until the file is known to be ours: a foreign file is left as it was.
    kind(conn, path, supported)?;
    let mode: String = conn
        .pragma_update_and_check(None, "journal_mode", "wal", |row| row.get(0))
        .map_err(|e| not_ours_or(e, path))?;
    if !mode.eq_ignore_ascii_case("wal") {
        return Err(StoreError::NoWal {
            path: path.to_owned(),
            mode,
        });
    }
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(|e| not_ours_or(e, path))?;
    // Again under the write lock: another process may have set the file up meanwhile.
    let from = match kind(&tx, path, supported)? {
        Kind::Empty => 0,
        Kind::Ours(version) => version,
    };
    if from == supported {
        return Ok(());
    }
    let migrate = |reason| StoreError::Migrate {
        path: path.to_owned(),
        from,
        reason,
    };
    for step in &migrations[from as usize..] {
        tx.execute_batch(step).map_err(migrate)?;
    }
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(migrate)?;
    tx.pragma_update(None, "user_version", supported)
        .map_err(migrate)?;
    tx.commit().map_err(migrate)
}

/// Reads the header and the table count, and refuses what is not ours to write.
fn kind(conn: &Connection, path: &Path, supported: u32) -> Result<Kind, StoreError> {
    let not_ours = || StoreError::NotOurs {
        path: path.to_owned(),
    };
    let read = || -> rusqlite::Result<(i32, i32, i64)> {
        let app = conn.pragma_query_value(None, "application_id", |row| row.get(0))?;
        let version = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
        let objects = conn.query_row("SELECT count(*) FROM sqlite_schema", [], |row| row.get(0))?;
        Ok((app, version, objects))
    };
    let (app, version, objects) = read().map_err(|e| not_ours_or(e, path))?;
    match (app, u32::try_from(version)) {
        (0, Ok(0)) if objects == 0 => Ok(Kind::Empty),
        (APPLICATION_ID, Ok(found)) if found > supported => Err(StoreError::NewerSchema {
            path: path.to_owned(),
            found,
            supported,
        }),
        (APPLICATION_ID, Ok(found)) => Ok(Kind::Ours(found)),
        _ => Err(not_ours()),
    }
}

/// "file is not a database" means the file is not ours; anything else is a failure to use it.
fn not_ours_or(err: rusqlite::Error, path: &Path) -> StoreError {
    if err.sqlite_error_code() == Some(ErrorCode::NotADatabase) {
        StoreError::NotOurs {
            path: path.to_owned(),
        }
    } else {
        StoreError::Open {
            path: path.to_owned(),
            reason: err,
        }
    }
}
