//! Where accounts and their device sessions are kept: one seam, two implementations.
//!
//! - alone, the server's SQLite file ([`crate::log::sqlite::SqliteAccountStore`]): the
//!   accounts and sessions tables, a short query on a blocking thread per call;
//! - in a cluster, a JetStream key-value bucket ([`crate::cluster::accounts`]): one key per
//!   account holding its sessions, changed only by compare-and-set, so that any node signs
//!   anyone in, a name registered on one node is registered on all, and every node sees a
//!   session end as it is written.
//!
//! [`super::Accounts`] calls only this trait and never knows which store is behind it. An
//! account is named to the store by its name (any case: the key of a key-value store) and
//! its id (the row of a table, and what tells a new account of the same name from a deleted
//! one). A call that ends sessions returns their ids, so that the caller closes their
//! connections here; other nodes learn of it from the store ([`AccountStore::changes`]).

use std::fmt;
use std::sync::Arc;

use chat_proto::Millis;
use futures::future::BoxFuture;

use super::token::TokenHash;

/// The most sessions one account keeps: signing in on one more device ends the one used
/// least recently, so that signing in over and over cannot grow the store without bound.
pub const MAX_SESSIONS: usize = 100;

/// An account as stored. Its `Debug` leaves the password hash out.
#[derive(Clone, PartialEq, Eq)]
pub struct Account {
    /// Its number in the store.
    pub id: i64,
    /// Its name as registered (its case kept).
    pub name: String,
    /// Its password's PHC string (`accounts::password`).
    pub password: String,
    /// When it was made.
    pub created: Millis,
}

impl fmt::Debug for Account {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Account")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("created", &self.created)
            .finish_non_exhaustive()
    }
}

/// A device session of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Its number in the store, by which its account revokes it.
    pub id: i64,
    /// The account it signs in.
    pub account: i64,
    /// What the device called itself when it signed in.
    pub label: String,
    /// When it was made.
    pub created: Millis,
    /// When it was last used to sign in.
    pub last_used: Millis,
}

/// An account as the operator's `account list` shows it: its name, when it was made, and
/// how many sessions it has.
pub type Listed = (String, Millis, i64);

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    /// Another account has that name (in any case).
    #[error("the name {0:?} is registered already")]
    Taken(String),
    /// The account's password changed (or the account went) since it was checked: a
    /// sign-in with the old one starts no session.
    #[error("the account's password changed meanwhile")]
    Changed,
    /// SQLite failed (a full disk, a lock held too long).
    #[error("the accounts store failed: {0}")]
    Sqlite(#[from] rusqlite::Error),
    /// The key-value bucket did not answer (NATS out of reach, a request timed out).
    #[error("the accounts bucket failed: {0}")]
    Bucket(String),
    /// An account in the bucket could not be read or written as it should: an unreadable
    /// value, no random numbers for an id, or too many changes of it at once. Not NATS
    /// being away.
    #[error("an account could not be kept: {0}")]
    Record(String),
    /// The blocking task running a query failed.
    #[error("the accounts query did not finish: {0}")]
    Task(String),
}

/// What a store tells about accounts changed by anyone (another node, the operator): the
/// sessions each account has now, so that connections of the ones that ended are closed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Account `id` has exactly `sessions` now.
    Sessions {
        /// The account.
        id: i64,
        /// Its sessions' ids.
        sessions: Vec<i64>,
    },
    /// The account of this name (as compared) is gone, with all its sessions.
    Gone {
        /// [`chat_proto::validate::name_key`] of its name.
        key: String,
    },
}

/// Accounts and device sessions, wherever they are kept. Every call is a future that owns
/// what it needs, so that callers may spawn it.
pub trait AccountStore: Send + Sync + fmt::Debug {
    /// Makes an account for `name` with the password hash `password`, at `at`; `Taken` when
    /// the name (in any case) is an account's.
    fn create(
        &self,
        name: &str,
        password: &str,
        at: Millis,
    ) -> BoxFuture<'static, Result<Account, AccountError>>;

    /// The account of `name` (in any case), if there is one.
    fn find(&self, name: &str) -> BoxFuture<'static, Result<Option<Account>, AccountError>>;

    /// Replaces the password hash of `account`, and ends every one of its sessions but
    /// `keep` (the device that changed it). Returns the sessions ended.
    fn set_password(
        &self,
        account: &Account,
        password: &str,
        keep: Option<i64>,
    ) -> BoxFuture<'static, Result<Vec<i64>, AccountError>>;

    /// Replaces the hash `account.password` by `new`, the same password hashed again under
    /// today's parameters at a login; whether it did (not if the password changed since).
    fn rehash(
        &self,
        account: &Account,
        new: &str,
    ) -> BoxFuture<'static, Result<bool, AccountError>>;

    /// Deletes `account` and its sessions, which frees its name. Returns the sessions ended.
    fn delete(&self, account: &Account) -> BoxFuture<'static, Result<Vec<i64>, AccountError>>;

    /// Starts a session of `account` for the device `label`, found later by `token`, if the
    /// account's password hash is still `account.password` (`Changed` otherwise, so that a
    /// sign-in racing a password change cannot outlive it); past [`MAX_SESSIONS`], the
    /// account's least recently used sessions end (returned beside the new one).
    fn add_session(
        &self,
        account: &Account,
        token: &TokenHash,
        label: &str,
        at: Millis,
    ) -> BoxFuture<'static, Result<(Session, Vec<i64>), AccountError>>;

    /// Marks the sessions `live` (account name and session id, signed in on a connection
    /// here) used at `at`, then ends every session last used before `oldest`. Returns the
    /// sessions ended, and, for a store only this server writes, those of `live` found gone
    /// (ended by the operator beside it, whom the server was not told of); a shared store
    /// tells of those through [`AccountStore::changes`] instead.
    fn sweep(
        &self,
        live: Vec<(Arc<str>, i64)>,
        at: Millis,
        oldest: Millis,
    ) -> BoxFuture<'static, Result<Vec<i64>, AccountError>>;

    /// Whether session `session` of the account `name` with id `id` still exists.
    fn has_session(
        &self,
        name: &str,
        id: i64,
        session: i64,
    ) -> BoxFuture<'static, Result<bool, AccountError>>;

    /// The account and session `token` signs in at `at`, if it is a session of the account
    /// `name` last used no earlier than `oldest`; marks it used at `at`. A session unused
    /// since before `oldest` has expired: it is removed, and signs nobody in. A token that
    /// signs nobody in costs a read, never a write. Without a `name` (a page's sign-out
    /// whose name cookie is gone), a store that finds sessions by account finds none.
    fn resume(
        &self,
        name: Option<&str>,
        token: &TokenHash,
        at: Millis,
        oldest: Millis,
    ) -> BoxFuture<'static, Result<Option<(Account, Session)>, AccountError>>;

    /// Every account's name, creation time and number of sessions, sorted by name as
    /// compared.
    fn list(&self) -> BoxFuture<'static, Result<Vec<Listed>, AccountError>>;

    /// The sessions of the account `name` with id `id`, oldest first.
    fn sessions(
        &self,
        name: &str,
        id: i64,
    ) -> BoxFuture<'static, Result<Vec<Session>, AccountError>>;

    /// Ends session `session` of the account `name` with id `id`; whether there was one.
    fn revoke(
        &self,
        name: &str,
        id: i64,
        session: i64,
    ) -> BoxFuture<'static, Result<bool, AccountError>>;

    /// Ends every session of the account `name` with id `id` but `keep`; returns them.
    fn revoke_all(
        &self,
        name: &str,
        id: i64,
        keep: Option<i64>,
    ) -> BoxFuture<'static, Result<Vec<i64>, AccountError>>;

    /// Whether other servers write to this store too, so that a session this server is
    /// signing in may be ended elsewhere at any moment.
    fn is_shared(&self) -> bool {
        false
    }

    /// Changes made by anyone, for a store others write to as well (`None`: only this
    /// server writes it, and it closes what it ends itself). The stream ends when the store
    /// stops telling; [`super::Accounts::follow`] then checks every signed-in session.
    fn changes(&self) -> Option<BoxFuture<'static, Result<ChangeStream, AccountError>>> {
        None
    }
}

/// Changes as a store reports them.
pub type ChangeStream = futures::stream::BoxStream<'static, Change>;

/// A store shared by the service and the tasks it starts.
pub type SharedStore = Arc<dyn AccountStore>;
