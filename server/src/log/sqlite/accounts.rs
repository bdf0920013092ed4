//! Accounts and their device sessions in the SQLite file of a single server (a cluster keeps
//! them in JetStream key-value buckets instead).
//!
//! A connection of its own, beside the room log's writer and reader: accounts change
//! rarely, and WAL lets this connection commit between the writer's group commits without
//! holding up a read. Calls block for a short query; callers on the async runtime run them
//! with `spawn_blocking`. Names are unique by [`chat_proto::validate::name_key`], as online
//! names are; a session is found by the SHA-256 of its token, which is all that is kept.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use chat_proto::validate::name_key;
use futures::future::BoxFuture;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

use super::super::{schema, Millis, StoreError};
use super::{connect, BUSY_TIMEOUT};
use crate::accounts::store::{Account, AccountError, AccountStore, Listed, Session, MAX_SESSIONS};
use crate::accounts::token::TokenHash;

/// The accounts and sessions of one SQLite file.
pub struct SqliteAccounts {
    /// The connection, one query at a time.
    conn: Mutex<Connection>,
}

impl fmt::Debug for SqliteAccounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteAccounts").finish_non_exhaustive()
    }
}

impl SqliteAccounts {
    /// Opens the accounts of the message log at `path`, creating or upgrading the file as
    /// [`super::SqliteStore::open`] does.
    pub fn open(path: &Path) -> Result<SqliteAccounts, StoreError> {
        let mut conn = connect(path, BUSY_TIMEOUT)?;
        schema::prepare(&mut conn, path)?;
        conn.pragma_update(None, "foreign_keys", true)
            .map_err(|reason| StoreError::Open {
                path: path.to_owned(),
                reason,
            })?;
        Ok(SqliteAccounts {
            conn: Mutex::new(conn),
        })
    }

    /// The connection; it holds no state a panic could break.
    fn conn(&self) -> MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes an account for `name` with the password hash `password`, at `at`.
    pub fn create(&self, name: &str, password: &str, at: Millis) -> Result<Account, AccountError> {
        let conn = self.conn();
        let made = conn.execute(
            "INSERT INTO accounts (key, name, password, created) VALUES (?1, ?2, ?3, ?4)",
            params![name_key(name), name, password, at],
        );
        match made {
            Ok(_) => Ok(Account {
                id: conn.last_insert_rowid(),
                name: name.to_owned(),
                password: password.to_owned(),
                created: at,
            }),
            Err(rusqlite::Error::SqliteFailure(err, _))
                if err.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE =>
            {
                Err(AccountError::Taken(name.to_owned()))
            }
            Err(err) => Err(err.into()),
        }
    }

    /// The account of `name` (in any case), if there is one.
    pub fn find(&self, name: &str) -> Result<Option<Account>, AccountError> {
        let account = self
            .conn()
            .prepare_cached("SELECT id, name, password, created FROM accounts WHERE key = ?1")?
            .query_row(params![name_key(name)], account)
            .optional()?;
        Ok(account)
    }

    /// Replaces the password hash of account `id`, and ends every one of its sessions but
    /// `keep` (the device that changed it, if it was signed in). Returns the sessions ended.
    pub fn set_password(
        &self,
        id: i64,
        password: &str,
        keep: Option<i64>,
    ) -> Result<Vec<i64>, AccountError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        tx.execute(
            "UPDATE accounts SET password = ?2 WHERE id = ?1",
            params![id, password],
        )?;
        let ended = ids(
            &tx,
            "DELETE FROM sessions WHERE account = ?1 AND id IS NOT ?2 RETURNING id",
            params![id, keep],
        )?;
        tx.commit()?;
        Ok(ended)
    }

    /// Replaces the password hash `old` of account `id` by `new`, the same password hashed
    /// again under today's parameters at a login, and nothing else; whether it did. Left as
    /// it is when the password changed since `old` was read and verified.
    pub fn rehash(&self, id: i64, old: &str, new: &str) -> Result<bool, AccountError> {
        let changed = self.conn().execute(
            "UPDATE accounts SET password = ?3 WHERE id = ?1 AND password = ?2",
            params![id, old, new],
        )?;
        Ok(changed > 0)
    }

    /// Deletes account `id` and its sessions, which frees its name. Returns the sessions
    /// ended.
    pub fn delete(&self, id: i64) -> Result<Vec<i64>, AccountError> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let ended = ids(
            &tx,
            "DELETE FROM sessions WHERE account = ?1 RETURNING id",
            params![id],
        )?;
        tx.execute("DELETE FROM accounts WHERE id = ?1", params![id])?;
        tx.commit()?;
        Ok(ended)
    }

    /// Starts a session of account `id` for the device `label`, found later by `token`, if
    /// its password hash is still `checked` (the one the sign-in verified; `Changed`
    /// otherwise, so that a sign-in racing a password change cannot outlive it); past
    /// [`MAX_SESSIONS`], the account's least recently used sessions end (returned beside the
    /// new one).
    pub fn add_session(
        &self,
        id: i64,
        checked: &str,
        token: &TokenHash,
        label: &str,
        at: Millis,
    ) -> Result<(Session, Vec<i64>), AccountError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current: Option<String> = tx
            .query_row(
                "SELECT password FROM accounts WHERE id = ?1",
                params![id],
                |row| row.get(0),
            )
            .optional()?;
        if current.as_deref() != Some(checked) {
            return Err(AccountError::Changed);
        }
        tx.execute(
            "INSERT INTO sessions (account, token, label, created, last_used) \
             VALUES (?1, ?2, ?3, ?4, ?4)",
            params![id, token.0.as_slice(), label, at],
        )?;
        let session = Session {
            id: tx.last_insert_rowid(),
            account: id,
            label: label.to_owned(),
            created: at,
            last_used: at,
        };
        let ended = ids(
            &tx,
            "DELETE FROM sessions WHERE id IN (SELECT id FROM sessions WHERE account = ?1 \
             ORDER BY last_used DESC, id DESC LIMIT -1 OFFSET ?2) RETURNING id",
            params![id, MAX_SESSIONS as i64],
        )?;
        tx.commit()?;
        Ok((session, ended))
    }

    /// Marks the sessions `live` (signed in on a connection now) used at `at`, then ends
    /// every session, of any account, last used before `oldest`: expired ones never
    /// presented again. Returns the sessions ended, and the sessions of `live` that are no
    /// longer in the file (the operator's `account delete`, run beside the server, removed
    /// them), whose connections must close too.
    pub fn sweep(
        &self,
        live: &[i64],
        at: Millis,
        oldest: Millis,
    ) -> Result<Vec<i64>, AccountError> {
        let mut conn = self.conn();
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let mut gone = Vec::new();
        {
            let mut touch =
                tx.prepare_cached("UPDATE sessions SET last_used = ?2 WHERE id = ?1")?;
            for id in live {
                if touch.execute(params![id, at])? == 0 {
                    gone.push(*id);
                }
            }
        }
        let mut ended = ids(
            &tx,
            "DELETE FROM sessions WHERE last_used < ?1 RETURNING id",
            params![oldest],
        )?;
        tx.commit()?;
        ended.append(&mut gone);
        Ok(ended)
    }

    /// Whether session `session` of account `id` still exists: an account request must come
    /// from a session that was not ended meanwhile.
    pub fn has_session(&self, id: i64, session: i64) -> Result<bool, AccountError> {
        let found = self
            .conn()
            .prepare_cached("SELECT 1 FROM sessions WHERE id = ?1 AND account = ?2")?
            .query_row(params![session, id], |_| Ok(()))
            .optional()?;
        Ok(found.is_some())
    }

    /// The account and session `token` signs in at `at`, if it is a session last used no
    /// earlier than `oldest`; marks it used at `at`. A session unused since before `oldest`
    /// has expired: it is removed, and signs nobody in.
    pub fn resume(
        &self,
        token: &TokenHash,
        at: Millis,
        oldest: Millis,
    ) -> Result<Option<(Account, Session)>, AccountError> {
        let mut conn = self.conn();
        // A token that signs nobody in (a guess, a revoked one) costs a read, never the
        // file's write lock, which the room log's commits need.
        let known = conn
            .prepare_cached("SELECT 1 FROM sessions WHERE token = ?1")?
            .query_row(params![token.0.as_slice()], |_| Ok(()))
            .optional()?;
        if known.is_none() {
            return Ok(None);
        }
        // The write lock from the start: a read then a write in a deferred transaction fails
        // (busy, not waited for) when the log's writer commits in between.
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        let found = tx
            .prepare_cached(
                "SELECT s.id, s.account, s.label, s.created, s.last_used, \
                        a.id, a.name, a.password, a.created \
                 FROM sessions s JOIN accounts a ON a.id = s.account WHERE s.token = ?1",
            )?
            .query_row(params![token.0.as_slice()], |row| {
                Ok((session(row)?, account_at(row, 5)?))
            })
            .optional()?;
        let resumed = match found {
            Some((session, _)) if session.last_used < oldest => {
                tx.execute("DELETE FROM sessions WHERE id = ?1", params![session.id])?;
                None
            }
            Some((session, account)) => {
                tx.execute(
                    "UPDATE sessions SET last_used = ?2 WHERE id = ?1",
                    params![session.id, at],
                )?;
                Some((
                    account,
                    Session {
                        last_used: at,
                        ..session
                    },
                ))
            }
            None => None,
        };
        tx.commit()?;
        Ok(resumed)
    }

    /// Every account's name, creation time and number of sessions, sorted by name key.
    pub fn list(&self) -> Result<Vec<(String, Millis, i64)>, AccountError> {
        let conn = self.conn();
        let mut query = conn.prepare_cached(
            "SELECT a.name, a.created, \
                    (SELECT COUNT(*) FROM sessions s WHERE s.account = a.id) \
             FROM accounts a ORDER BY a.key",
        )?;
        let accounts = query
            .query_map([], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))?
            .collect::<Result<_, _>>()?;
        Ok(accounts)
    }

    /// The sessions of account `id`, oldest first.
    pub fn sessions(&self, id: i64) -> Result<Vec<Session>, AccountError> {
        let conn = self.conn();
        let mut query = conn.prepare_cached(
            "SELECT id, account, label, created, last_used FROM sessions \
             WHERE account = ?1 ORDER BY id",
        )?;
        let sessions = query
            .query_map(params![id], session)?
            .collect::<Result<_, _>>()?;
        Ok(sessions)
    }

    /// Ends session `session` of account `id` (a sign-out, or a revocation from another
    /// device); whether there was one.
    pub fn revoke(&self, id: i64, session: i64) -> Result<bool, AccountError> {
        let ended = self.conn().execute(
            "DELETE FROM sessions WHERE id = ?1 AND account = ?2",
            params![session, id],
        )?;
        Ok(ended > 0)
    }

    /// Ends every session of account `id` ("sign out everywhere") but `keep` (signing out
    /// every other device); returns them.
    pub fn revoke_all(&self, id: i64, keep: Option<i64>) -> Result<Vec<i64>, AccountError> {
        let conn = self.conn();
        ids(
            &conn,
            "DELETE FROM sessions WHERE account = ?1 AND id IS NOT ?2 RETURNING id",
            params![id, keep],
        )
    }
}

/// [`SqliteAccounts`] as the server's [`AccountStore`]: each call a short query on a
/// blocking thread, never on the async runtime.
#[derive(Debug, Clone)]
pub struct SqliteAccountStore(Arc<SqliteAccounts>);

impl SqliteAccountStore {
    /// The store over `accounts`.
    pub fn new(accounts: SqliteAccounts) -> SqliteAccountStore {
        SqliteAccountStore(Arc::new(accounts))
    }

    /// Runs `query` on a blocking thread.
    fn blocking<T: Send + 'static>(
        &self,
        query: impl FnOnce(&SqliteAccounts) -> Result<T, AccountError> + Send + 'static,
    ) -> BoxFuture<'static, Result<T, AccountError>> {
        let store = Arc::clone(&self.0);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || query(&store))
                .await
                .map_err(|err| AccountError::Task(err.to_string()))?
        })
    }
}

impl AccountStore for SqliteAccountStore {
    fn create(
        &self,
        name: &str,
        password: &str,
        at: Millis,
    ) -> BoxFuture<'static, Result<Account, AccountError>> {
        let (name, password) = (name.to_owned(), password.to_owned());
        self.blocking(move |store| store.create(&name, &password, at))
    }

    fn find(&self, name: &str) -> BoxFuture<'static, Result<Option<Account>, AccountError>> {
        let name = name.to_owned();
        self.blocking(move |store| store.find(&name))
    }

    fn set_password(
        &self,
        account: &Account,
        password: &str,
        keep: Option<i64>,
    ) -> BoxFuture<'static, Result<Vec<i64>, AccountError>> {
        let (id, password) = (account.id, password.to_owned());
        self.blocking(move |store| store.set_password(id, &password, keep))
    }

    fn rehash(
        &self,
        account: &Account,
        new: &str,
    ) -> BoxFuture<'static, Result<bool, AccountError>> {
        let (id, old, new) = (account.id, account.password.clone(), new.to_owned());
        self.blocking(move |store| store.rehash(id, &old, &new))
    }

    fn delete(&self, account: &Account) -> BoxFuture<'static, Result<Vec<i64>, AccountError>> {
        let id = account.id;
        self.blocking(move |store| store.delete(id))
    }

    fn add_session(
        &self,
        account: &Account,
        token: &TokenHash,
        label: &str,
        at: Millis,
    ) -> BoxFuture<'static, Result<(Session, Vec<i64>), AccountError>> {
        let (id, checked, token, label) = (
            account.id,
            account.password.clone(),
            *token,
            label.to_owned(),
        );
        self.blocking(move |store| store.add_session(id, &checked, &token, &label, at))
    }

    fn sweep(
        &self,
        live: Vec<(Arc<str>, i64)>,
        at: Millis,
        oldest: Millis,
    ) -> BoxFuture<'static, Result<Vec<i64>, AccountError>> {
        let live: Vec<i64> = live.into_iter().map(|(_, session)| session).collect();
        self.blocking(move |store| store.sweep(&live, at, oldest))
    }

    fn has_session(
        &self,
        _name: &str,
        id: i64,
        session: i64,
    ) -> BoxFuture<'static, Result<bool, AccountError>> {
        self.blocking(move |store| store.has_session(id, session))
    }

    fn resume(
        &self,
        name: Option<&str>,
        token: &TokenHash,
        at: Millis,
        oldest: Millis,
    ) -> BoxFuture<'static, Result<Option<(Account, Session)>, AccountError>> {
        let (key, token) = (name.map(name_key), *token);
        self.blocking(move |store| {
            let resumed = store.resume(&token, at, oldest)?;
            // Another account's token signs nobody in as this one.
            Ok(resumed.filter(|(account, _)| {
                key.as_ref()
                    .is_none_or(|key| name_key(&account.name) == *key)
            }))
        })
    }

    fn list(&self) -> BoxFuture<'static, Result<Vec<Listed>, AccountError>> {
        self.blocking(|store| store.list())
    }

    fn sessions(
        &self,
        _name: &str,
        id: i64,
    ) -> BoxFuture<'static, Result<Vec<Session>, AccountError>> {
        self.blocking(move |store| store.sessions(id))
    }

    fn revoke(
        &self,
        _name: &str,
        id: i64,
        session: i64,
    ) -> BoxFuture<'static, Result<bool, AccountError>> {
        self.blocking(move |store| store.revoke(id, session))
    }

    fn revoke_all(
        &self,
        _name: &str,
        id: i64,
        keep: Option<i64>,
    ) -> BoxFuture<'static, Result<Vec<i64>, AccountError>> {
        self.blocking(move |store| store.revoke_all(id, keep))
    }
}

/// The ids a `RETURNING id` statement gave back.
fn ids(
    conn: &Connection,
    sql: &str,
    params: impl rusqlite::Params,
) -> Result<Vec<i64>, AccountError> {
    let mut statement = conn.prepare_cached(sql)?;
    let ids = statement
        .query_map(params, |row| row.get(0))?
        .collect::<Result<_, _>>()?;
    Ok(ids)
}

/// An account from a row of `id, name, password, created`.
fn account(row: &Row<'_>) -> rusqlite::Result<Account> {
    account_at(row, 0)
}

/// An account from the row's columns from `first` on.
fn account_at(row: &Row<'_>, first: usize) -> rusqlite::Result<Account> {
    Ok(Account {
        id: row.get(first)?,
        name: row.get(first + 1)?,
        password: row.get(first + 2)?,
        created: row.get(first + 3)?,
    })
}

/// A session from a row of `id, account, label, created, last_used`.
fn session(row: &Row<'_>) -> rusqlite::Result<Session> {
    Ok(Session {
        id: row.get(0)?,
        account: row.get(1)?,
        label: row.get(2)?,
        created: row.get(3)?,
        last_used: row.get(4)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::token::{generate, hash};
    use chat_proto::SessionToken as Token;

    /// Accounts in a fresh file; keep the directory alive as long as the store.
    fn store() -> (tempfile::TempDir, SqliteAccounts) {
        let dir = tempfile::tempdir().unwrap();
        let accounts = SqliteAccounts::open(&dir.path().join("chat.db")).unwrap();
        (dir, accounts)
    }

    #[test]
    fn a_name_is_registered_once_in_any_case() {
        let (_dir, accounts) = store();
        let ann = accounts.create("Ann", "$argon2id$one", 10).unwrap();
        assert_eq!(accounts.find("ann").unwrap(), Some(ann.clone()));
        assert_eq!(accounts.find("ANN").unwrap().unwrap().name, "Ann");
        assert!(matches!(
            accounts.create("aNN", "$argon2id$two", 11),
            Err(AccountError::Taken(name)) if name == "aNN"
        ));
        assert_eq!(accounts.find("bob").unwrap(), None);
    }

    #[test]
    fn a_session_resumes_by_its_token_and_expires_unused() {
        let (_dir, accounts) = store();
        let ann = accounts.create("ann", "$argon2id$x", 0).unwrap();
        let token = generate().unwrap();
        let phone = accounts
            .add_session(ann.id, &ann.password, &hash(&token), "phone", 100)
            .unwrap()
            .0;
        let (account, session) = accounts.resume(&hash(&token), 200, 50).unwrap().unwrap();
        assert_eq!(
            (account, session.id, session.last_used),
            (ann.clone(), phone.id, 200)
        );
        // Another token signs nobody in.
        let other = generate().unwrap();
        assert_eq!(accounts.resume(&hash(&other), 200, 50).unwrap(), None);
        // Unused since before the oldest allowed: gone for good.
        assert_eq!(accounts.resume(&hash(&token), 900, 201).unwrap(), None);
        assert_eq!(accounts.resume(&hash(&token), 900, 0).unwrap(), None);
        assert!(accounts.sessions(ann.id).unwrap().is_empty());
    }

    #[test]
    fn revoking_ends_one_session_or_all_and_a_new_password_all_but_the_changer() {
        let (_dir, accounts) = store();
        let ann = accounts.create("ann", "$argon2id$old", 0).unwrap();
        let tokens: Vec<Token> = (0..3).map(|_| generate().unwrap()).collect();
        let sessions: Vec<Session> = ["phone", "laptop", "browser"]
            .iter()
            .zip(&tokens)
            .map(|(label, token)| {
                accounts
                    .add_session(ann.id, &ann.password, &hash(token), label, 1)
                    .unwrap()
                    .0
            })
            .collect();
        assert_eq!(accounts.sessions(ann.id).unwrap(), sessions);
        assert!(accounts.revoke(ann.id, sessions[0].id).unwrap());
        assert!(!accounts.revoke(ann.id, sessions[0].id).unwrap(), "once");
        assert_eq!(accounts.resume(&hash(&tokens[0]), 2, 0).unwrap(), None);
        let ended = accounts
            .set_password(ann.id, "$argon2id$new", Some(sessions[2].id))
            .unwrap();
        assert_eq!(ended, vec![sessions[1].id]);
        assert_eq!(
            accounts.find("ann").unwrap().unwrap().password,
            "$argon2id$new"
        );
        assert!(accounts.resume(&hash(&tokens[2]), 3, 0).unwrap().is_some());
        assert_eq!(
            accounts.revoke_all(ann.id, None).unwrap(),
            vec![sessions[2].id]
        );
        assert!(accounts.sessions(ann.id).unwrap().is_empty());
    }

    #[test]
    fn a_rehash_never_undoes_a_password_change_and_no_hash_prints() {
        let (_dir, accounts) = store();
        let ann = accounts.create("ann", "$argon2id$m=64$old", 0).unwrap();
        assert!(accounts
            .rehash(ann.id, "$argon2id$m=64$old", "$argon2id$m=19456$old")
            .unwrap());
        accounts
            .set_password(ann.id, "$argon2id$new", None)
            .unwrap();
        // A login that verified the old password before the change came back late.
        assert!(!accounts
            .rehash(ann.id, "$argon2id$m=19456$old", "$argon2id$stale")
            .unwrap());
        let now = accounts.find("ann").unwrap().unwrap();
        assert_eq!(now.password, "$argon2id$new");
        assert!(!format!("{now:?}").contains("argon2id"), "{now:?}");
    }

    #[test]
    fn an_account_keeps_its_most_recent_sessions_and_a_sweep_ends_the_expired() {
        let (_dir, accounts) = store();
        let ann = accounts.create("ann", "$argon2id$a", 0).unwrap();
        let bob = accounts.create("bob", "$argon2id$b", 0).unwrap();
        let bobs = generate().unwrap();
        accounts
            .add_session(bob.id, &bob.password, &hash(&bobs), "phone", 1)
            .unwrap();
        let mut tokens = Vec::new();
        for at in 0..MAX_SESSIONS {
            let token = generate().unwrap();
            let (_, ended) = accounts
                .add_session(
                    ann.id,
                    &ann.password,
                    &hash(&token),
                    "device",
                    10 + at as i64,
                )
                .unwrap();
            assert!(ended.is_empty());
            tokens.push(token);
        }
        // The first device signs in again, so the second is now the least recently used.
        accounts
            .resume(&hash(&tokens[0]), 1_000, 0)
            .unwrap()
            .unwrap();
        let one_more = generate().unwrap();
        let (_, ended) = accounts
            .add_session(ann.id, &ann.password, &hash(&one_more), "new", 1_001)
            .unwrap();
        assert_eq!(ended.len(), 1);
        assert_eq!(accounts.resume(&hash(&tokens[1]), 1_002, 0).unwrap(), None);
        assert!(accounts
            .resume(&hash(&tokens[0]), 1_002, 0)
            .unwrap()
            .is_some());
        assert_eq!(accounts.sessions(ann.id).unwrap().len(), MAX_SESSIONS);
        // Every session not used since 1,000 has expired, bob's too.
        let swept = accounts.sweep(&[], 1_003, 1_000).unwrap();
        assert_eq!(swept.len(), MAX_SESSIONS - 2 + 1);
        assert_eq!(accounts.sessions(ann.id).unwrap().len(), 2);
        assert!(accounts.sessions(bob.id).unwrap().is_empty());
    }

    /// A sign-in that verified the password before it changed starts no session after.
    #[test]
    fn a_session_needs_the_password_that_was_checked() {
        let (_dir, accounts) = store();
        let ann = accounts.create("ann", "$argon2id$old", 0).unwrap();
        let token = generate().unwrap();
        accounts
            .set_password(ann.id, "$argon2id$new", None)
            .unwrap();
        assert!(matches!(
            accounts.add_session(ann.id, "$argon2id$old", &hash(&token), "x", 1),
            Err(AccountError::Changed)
        ));
        assert!(accounts.sessions(ann.id).unwrap().is_empty());
        let (session, _) = accounts
            .add_session(ann.id, "$argon2id$new", &hash(&token), "x", 1)
            .unwrap();
        assert!(accounts.has_session(ann.id, session.id).unwrap());
        // Ids are never given again: a deleted account's and session's go unused.
        accounts.delete(ann.id).unwrap();
        assert!(!accounts.has_session(ann.id, session.id).unwrap());
        let bob = accounts.create("bob", "$argon2id$b", 2).unwrap();
        assert!(bob.id > ann.id);
        let (bobs, _) = accounts
            .add_session(bob.id, "$argon2id$b", &hash(&generate().unwrap()), "x", 3)
            .unwrap();
        assert!(bobs.id > session.id);
    }

    /// The sweep keeps a session that is signed in on a connection, however long ago it
    /// signed in, and says which it ended.
    #[test]
    fn the_sweep_keeps_live_sessions_and_names_the_ones_it_ends() {
        let (_dir, accounts) = store();
        let ann = accounts.create("ann", "$argon2id$a", 0).unwrap();
        let (old, _) = accounts
            .add_session(ann.id, &ann.password, &hash(&generate().unwrap()), "old", 1)
            .unwrap();
        let (live, _) = accounts
            .add_session(
                ann.id,
                &ann.password,
                &hash(&generate().unwrap()),
                "live",
                1,
            )
            .unwrap();
        assert_eq!(accounts.sweep(&[live.id], 500, 100).unwrap(), vec![old.id]);
        assert!(accounts.has_session(ann.id, live.id).unwrap());
    }

    #[test]
    fn another_accounts_session_cannot_be_revoked() {
        let (_dir, accounts) = store();
        let ann = accounts.create("ann", "$argon2id$a", 0).unwrap();
        let bob = accounts.create("bob", "$argon2id$b", 0).unwrap();
        let token = generate().unwrap();
        let anns = accounts
            .add_session(ann.id, &ann.password, &hash(&token), "phone", 1)
            .unwrap()
            .0;
        assert!(!accounts.revoke(bob.id, anns.id).unwrap());
        assert!(accounts.resume(&hash(&token), 2, 0).unwrap().is_some());
    }

    #[test]
    fn deleting_an_account_frees_its_name_and_ends_its_sessions() {
        let (_dir, accounts) = store();
        let ann = accounts.create("ann", "$argon2id$a", 0).unwrap();
        let token = generate().unwrap();
        let phone = accounts
            .add_session(ann.id, &ann.password, &hash(&token), "phone", 1)
            .unwrap()
            .0;
        assert_eq!(accounts.delete(ann.id).unwrap(), vec![phone.id]);
        assert_eq!(accounts.find("ann").unwrap(), None);
        assert_eq!(accounts.resume(&hash(&token), 2, 0).unwrap(), None);
        let again = accounts.create("ANN", "$argon2id$b", 3).unwrap();
        assert_ne!(again.id, 0);
    }

    #[test]
    fn a_message_log_from_before_accounts_is_upgraded_with_its_messages_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chat.db");
        {
            let mut old = connect(&path, BUSY_TIMEOUT).unwrap();
            schema::prepare_with(&mut old, &path, &schema::MIGRATIONS[..1]).unwrap();
            old.execute_batch(
                "INSERT INTO rooms (id, key, last_seq) VALUES (1, 'lobby', 1);
                 INSERT INTO messages VALUES (1, 1, 'ann', 'before accounts', 5);",
            )
            .unwrap();
        }
        let accounts = SqliteAccounts::open(&path).unwrap();
        accounts.create("ann", "$argon2id$a", 6).unwrap();
        let conn = accounts.conn();
        let version: u32 = conn
            .pragma_query_value(None, "user_version", |row| row.get(0))
            .unwrap();
        assert_eq!(version as usize, schema::MIGRATIONS.len());
        let text: String = conn
            .query_row("SELECT text FROM messages WHERE seq = 1", [], |row| {
                row.get(0)
            })
            .unwrap();
        assert_eq!(text, "before accounts");
    }

    #[test]
    fn accounts_survive_reopening_the_file_and_only_the_token_hash_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("chat.db");
        let token = generate().unwrap();
        {
            let accounts = SqliteAccounts::open(&path).unwrap();
            let ann = accounts.create("ann", "$argon2id$a", 0).unwrap();
            accounts
                .add_session(ann.id, &ann.password, &hash(&token), "phone", 1)
                .unwrap();
        }
        let accounts = SqliteAccounts::open(&path).unwrap();
        assert!(accounts.resume(&hash(&token), 2, 0).unwrap().is_some());
        drop(accounts);
        // The last connection closed folded the write-ahead log into the file.
        let file = std::fs::read(&path).unwrap();
        let holds = |bytes: &[u8]| file.windows(bytes.len()).any(|w| w == bytes);
        let text = token.to_hex();
        let raw: Vec<u8> = (0..32)
            .map(|i| u8::from_str_radix(&text[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        assert!(holds(&hash(&token).0), "the hash is what is kept");
        assert!(!holds(&raw), "the token's bytes are not");
        assert!(!holds(text.as_bytes()), "nor its text");
    }
}
