//! Accounts across the cluster: one JetStream key-value bucket ([`BUCKET`]), one key per
//! account, its value the account and all its device sessions.
//!
//! ```text
//!  node A: Register ann  ──► create("ann", {id, hash, sessions:[s1]})       ──► revision 4
//!  node B: SignIn ann/pw ──► update("ann", {.., sessions:[s1, s2]}, rev 4)  ──► revision 9
//!  node A: Revoke s2     ──► update("ann", {.., sessions:[s1]}, rev 9)      ──► revision 12
//!  node B: watching      ◄── "ann" is at {sessions:[s1]}: s2 ended, its connection closed
//! ```
//!
//! **One key per account, changed by compare-and-set.** Every change reads the value, edits
//! it and writes it back only if nobody wrote in between (`update` at the revision read),
//! else reads again: a sign-in that checked a password can never add a session after a
//! password change ended the others, two revocations never undo each other, and exactly
//! one of two registrations of one name on two nodes creates it (`create` is atomic). The
//! key is the name as compared ([`name_key`]) with `.` written `=2e`, so that every valid
//! name is a valid key of one subject token; the value is JSON, readable with
//! `nats kv get chat_accounts ann`. At most [`MAX_SESSIONS`] sessions per account keep a
//! value small (a few kB).
//!
//! **Every node sees every change** ([`KvAccounts::changes`]): a watch of the bucket from
//! now on tells each node the sessions an account has after each write, and the node closes
//! its connections of the sessions that are gone, within one NATS round trip of the write.
//!
//! **A deleted account leaves nothing.** It is first written as a tombstone without sessions
//! (which every watching node sees, and closes its connections); a sweep a minute or more
//! later purges its subject up to that revision: no delete marker stays behind, and a
//! registration of the name since (written over the tombstone, a later revision) is never
//! touched.
//!
//! Only the SHA-256 of a token is kept, as in the SQLite store; ids are random below 2^53,
//! so that they stay exact as numbers in a browser.

use std::collections::HashSet;
use std::fmt;
use std::sync::Arc;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use chat_proto::validate::name_key;
use chat_proto::Millis;
use futures::future::BoxFuture;
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use super::settings::ClusterConfig;
use super::ClusterError;
use crate::accounts::store::{
    Account, AccountError, AccountStore, Change, ChangeStream, Listed, Session, MAX_SESSIONS,
};
use crate::accounts::token::TokenHash;

/// The key-value bucket of accounts.
pub const BUCKET: &str = "chat_accounts";

/// How many times a change is read and written again when others keep writing the same
/// account in between: far more than people signing in to one account at once.
const CAS_TRIES: usize = 64;

/// How long a deleted account's tombstone stays before a sweep purges it: long enough for
/// every node following the bucket to have been told, whatever its lag.
const TOMBSTONE_KEPT: std::time::Duration = std::time::Duration::from_secs(60);

/// How stale a live session's last use may be before a sweep writes it again (or a quarter
/// of `session_max_age`, when that is shorter): its account is written at most this often
/// for it, not every sweep, and never expires while it is signed in.
const TOUCH_AFTER: Millis = 3_600_000;

/// How many accounts a listing or a sweep reads from NATS at once.
const READS_AT_ONCE: usize = 16;

/// An account as the bucket keeps it.
#[derive(Clone, Serialize, Deserialize)]
struct Record {
    /// Its id.
    id: i64,
    /// Its name as registered.
    name: String,
    /// Its password's PHC string.
    password: String,
    /// When it was made.
    created: Millis,
    /// Deleted: a tombstone every node is told of, purged right after.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    deleted: bool,
    /// Its device sessions.
    sessions: Vec<StoredSession>,
}

/// A device session as the bucket keeps it.
#[derive(Clone, Serialize, Deserialize)]
struct StoredSession {
    /// Its id.
    id: i64,
    /// The SHA-256 of its token, in hex.
    token: String,
    /// What the device called itself.
    label: String,
    /// When it was made.
    created: Millis,
    /// When it was last used to sign in.
    last_used: Millis,
}

impl Record {
    /// The account, for the service.
    fn account(&self) -> Account {
        Account {
            id: self.id,
            name: self.name.clone(),
            password: self.password.clone(),
            created: self.created,
        }
    }

    /// A session of this account, for the service.
    fn session(&self, stored: &StoredSession) -> Session {
        Session {
            id: stored.id,
            account: self.id,
            label: stored.label.clone(),
            created: stored.created,
            last_used: stored.last_used,
        }
    }

    /// The ids of its sessions.
    fn session_ids(&self) -> Vec<i64> {
        self.sessions.iter().map(|session| session.id).collect()
    }

    /// Ends the sessions `ends` picks; returns their ids.
    fn end_sessions(&mut self, ends: impl Fn(&StoredSession) -> bool) -> Vec<i64> {
        let ended = self
            .sessions
            .iter()
            .filter(|session| ends(session))
            .map(|session| session.id)
            .collect();
        self.sessions.retain(|session| !ends(session));
        ended
    }

    /// The value stored.
    fn encode(&self) -> Result<Bytes, AccountError> {
        serde_json::to_vec(self)
            .map(Bytes::from)
            .map_err(|err| AccountError::Record(format!("cannot encode an account: {err}")))
    }

    /// Reads a value of `key`.
    fn decode(key: &str, value: &[u8]) -> Result<Record, AccountError> {
        serde_json::from_slice(value).map_err(|err| {
            AccountError::Record(format!("the account under {key:?} is unreadable: {err}"))
        })
    }
}

/// What an edit of an account asks to be done with it.
enum Edit<T> {
    /// Write it back, and answer `T` once written.
    Write(T),
    /// Nothing changed: answer `T`.
    Keep(T),
}

impl<T> Edit<T> {
    /// Written back if `changed`, else kept.
    fn write_if(changed: bool, answer: T) -> Edit<T> {
        if changed {
            Edit::Write(answer)
        } else {
            Edit::Keep(answer)
        }
    }
}

/// The bucket key of the account `name` (any case).
fn key_of(name: &str) -> String {
    name_key(name).replace('.', "=2e")
}

/// The name as compared of the account under `key`.
fn name_key_of(key: &str) -> String {
    key.replace("=2e", ".")
}

/// The hex of a token's hash, as stored.
fn hex(token: &TokenHash) -> String {
    token.0.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// A new id: random, positive, below 2^53.
fn new_id() -> Result<i64, AccountError> {
    let mut bytes = [0; 8];
    getrandom::fill(&mut bytes)
        .map_err(|err| AccountError::Record(format!("no random numbers for an id: {err}")))?;
    let id = i64::from_le_bytes(bytes) & ((1 << 53) - 1);
    Ok(id.max(1))
}

/// The accounts bucket.
#[derive(Clone)]
pub struct KvAccounts {
    /// The bucket.
    kv: kv::Store,
}

impl fmt::Debug for KvAccounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KvAccounts")
            .field("bucket", &BUCKET)
            .finish_non_exhaustive()
    }
}

impl KvAccounts {
    /// Opens [`BUCKET`] ([`super::bucket::open`]).
    pub async fn open(
        js: &jetstream::Context,
        replicas: usize,
    ) -> Result<KvAccounts, ClusterError> {
        let kv = super::bucket::open(
            js,
            BUCKET,
            "chat-server: accounts and their device sessions",
            replicas,
        )
        .await?;
        Ok(KvAccounts { kv })
    }

    /// The bucket of the cluster `config` names, reached directly (within
    /// [`super::CONNECT_TIMEOUT`]) for the operator's `chat-server account`: no node is
    /// started, and the nodes running see what it changes.
    pub async fn connect(config: &ClusterConfig) -> Result<KvAccounts, ClusterError> {
        let client = async_nats::ConnectOptions::new()
            .name("chat-server account")
            .connection_timeout(super::CONNECT_TIMEOUT)
            .connect(config.urls())
            .await
            .map_err(ClusterError::Connect)?;
        let mut js = jetstream::new(client);
        js.set_timeout(super::REQUEST_TIMEOUT);
        KvAccounts::open(&js, config.replicas).await
    }

    /// The value under `key` (a live account or a tombstone), if there is one.
    async fn value(&self, key: &str) -> Result<Option<kv::Entry>, AccountError> {
        let entry = self
            .kv
            .entry(key)
            .await
            .map_err(|err| AccountError::Bucket(err.to_string()))?;
        Ok(entry.filter(|entry| entry.operation == kv::Operation::Put))
    }

    /// The live account under `key` and the revision it is at; `None` when there is none
    /// (or only a tombstone).
    async fn read(&self, key: &str) -> Result<Option<(Record, u64)>, AccountError> {
        let Some(entry) = self.value(key).await? else {
            return Ok(None);
        };
        let record = Record::decode(key, &entry.value)?;
        Ok((!record.deleted).then_some((record, entry.revision)))
    }

    /// Edits the account under `key` (only the one with id `id`, if given) by `edit`, read
    /// and written again until nobody wrote in between; `None` when there is no such
    /// account.
    async fn change<T>(
        &self,
        key: &str,
        id: Option<i64>,
        mut edit: impl FnMut(&mut Record) -> Result<Edit<T>, AccountError>,
    ) -> Result<Option<T>, AccountError> {
        for _ in 0..CAS_TRIES {
            let Some((mut record, revision)) = self.read(key).await? else {
                return Ok(None);
            };
            if id.is_some_and(|id| id != record.id) {
                return Ok(None);
            }
            let answer = match edit(&mut record)? {
                Edit::Keep(answer) => return Ok(Some(answer)),
                Edit::Write(answer) => answer,
            };
            match self.kv.update(key, record.encode()?, revision).await {
                Ok(_) => return Ok(Some(answer)),
                Err(err) if err.kind() == kv::UpdateErrorKind::WrongLastRevision => continue,
                Err(err) => return Err(AccountError::Bucket(err.to_string())),
            }
        }
        Err(AccountError::Record(format!(
            "the account under {key:?} kept changing: gave up after {CAS_TRIES} tries"
        )))
    }

    /// [`KvAccounts::change`] of the account `name` (only the one with id `id`, if given),
    /// as a future that owns what it needs; `T::default()` when there is no such account.
    fn edit<T: Default + Send + 'static>(
        &self,
        name: &str,
        id: Option<i64>,
        edit: impl FnMut(&mut Record) -> Result<Edit<T>, AccountError> + Send + 'static,
    ) -> BoxFuture<'static, Result<T, AccountError>> {
        let (this, key) = (self.clone(), key_of(name));
        Box::pin(async move {
            let changed = this.change(&key, id, edit).await?;
            Ok(changed.unwrap_or_default())
        })
    }

    /// Every key of the bucket.
    async fn keys(&self) -> Result<Vec<String>, AccountError> {
        self.kv
            .keys()
            .await
            .map_err(|err| AccountError::Bucket(err.to_string()))?
            .try_collect()
            .await
            .map_err(|err| AccountError::Bucket(err.to_string()))
    }

    /// Makes the account `record` under `key`: created, or written over a tombstone not yet
    /// purged.
    async fn create_record(&self, key: &str, record: &Record) -> Result<(), AccountError> {
        let value = record.encode()?;
        for _ in 0..CAS_TRIES {
            match self.kv.create(key, value.clone()).await {
                Ok(_) => return Ok(()),
                Err(err) if err.kind() == kv::CreateErrorKind::AlreadyExists => {}
                Err(err) => return Err(AccountError::Bucket(err.to_string())),
            }
            let Some(entry) = self.value(key).await? else {
                continue;
            };
            let there = Record::decode(key, &entry.value)?;
            if !there.deleted {
                return Err(AccountError::Taken(there.name));
            }
            match self.kv.update(key, value.clone(), entry.revision).await {
                Ok(_) => return Ok(()),
                Err(err) if err.kind() == kv::UpdateErrorKind::WrongLastRevision => {}
                Err(err) => return Err(AccountError::Bucket(err.to_string())),
            }
        }
        Err(AccountError::Record(format!(
            "the name under {key:?} kept changing: gave up after {CAS_TRIES} tries"
        )))
    }

    /// The sweep of one account: its sessions in `live` marked used at `at`, those unused
    /// since before `oldest` ended.
    async fn sweep_one(
        &self,
        key: &str,
        live: &HashSet<i64>,
        at: Millis,
        oldest: Millis,
    ) -> Result<Vec<i64>, AccountError> {
        self.purge_tombstone(key).await?;
        // Written again well before it could expire, however short `session_max_age`.
        let touch_after = TOUCH_AFTER.min(at.saturating_sub(oldest) / 4);
        let swept = self
            .change(key, None, |record| {
                let mut touched = false;
                for session in &mut record.sessions {
                    if live.contains(&session.id)
                        && session.last_used < at.saturating_sub(touch_after)
                    {
                        session.last_used = at;
                        touched = true;
                    }
                }
                let ended = record.end_sessions(|session| session.last_used < oldest);
                Ok(Edit::write_if(touched || !ended.is_empty(), ended))
            })
            .await?;
        Ok(swept.unwrap_or_default())
    }

    /// Purges the tombstone under `key`, if there is one older than [`TOMBSTONE_KEPT`]: by
    /// then every node following the bucket has been told of it.
    async fn purge_tombstone(&self, key: &str) -> Result<(), AccountError> {
        let Some(entry) = self.value(key).await? else {
            return Ok(());
        };
        let created: std::time::SystemTime = entry.created.into();
        let age = created.elapsed().unwrap_or_default();
        if age >= TOMBSTONE_KEPT && Record::decode(key, &entry.value)?.deleted {
            super::bucket::remove(&self.kv, key, entry.revision)
                .await
                .map_err(|err| AccountError::Bucket(err.to_string()))?;
        }
        Ok(())
    }

    /// The changes from now on, as the service follows them.
    async fn watch(&self) -> Result<ChangeStream, AccountError> {
        let watch = self
            .kv
            .watch_all()
            .await
            .map_err(|err| AccountError::Bucket(err.to_string()))?;
        let changes = watch
            .take_while(|entry| {
                if let Err(err) = entry {
                    tracing::warn!("The watch of the accounts bucket failed: {err}");
                }
                futures::future::ready(entry.is_ok())
            })
            .filter_map(|entry| futures::future::ready(entry.ok().and_then(change_of)));
        Ok(changes.boxed())
    }
}

/// What a watched entry says: the sessions its account has now, or that it is gone.
fn change_of(entry: kv::Entry) -> Option<Change> {
    if entry.operation != kv::Operation::Put {
        return Some(Change::Gone {
            key: name_key_of(&entry.key),
        });
    }
    match Record::decode(&entry.key, &entry.value) {
        Ok(record) if record.deleted => Some(Change::Sessions {
            id: record.id,
            sessions: Vec::new(),
        }),
        Ok(record) => Some(Change::Sessions {
            id: record.id,
            sessions: record.session_ids(),
        }),
        Err(err) => {
            tracing::warn!("{err}");
            None
        }
    }
}

impl AccountStore for KvAccounts {
    fn create(
        &self,
        name: &str,
        password: &str,
        at: Millis,
    ) -> BoxFuture<'static, Result<Account, AccountError>> {
        let (this, name, password) = (self.clone(), name.to_owned(), password.to_owned());
        Box::pin(async move {
            let record = Record {
                id: new_id()?,
                name,
                password,
                created: at,
                deleted: false,
                sessions: Vec::new(),
            };
            this.create_record(&key_of(&record.name), &record).await?;
            Ok(record.account())
        })
    }

    fn find(&self, name: &str) -> BoxFuture<'static, Result<Option<Account>, AccountError>> {
        let (this, key) = (self.clone(), key_of(name));
        Box::pin(async move {
            let found = this.read(&key).await?;
            Ok(found.map(|(record, _)| record.account()))
        })
    }

    fn set_password(
        &self,
        account: &Account,
        password: &str,
        keep: Option<i64>,
    ) -> BoxFuture<'static, Result<Vec<i64>, AccountError>> {
        let password = password.to_owned();
        self.edit(&account.name, Some(account.id), move |record| {
            record.password = password.clone();
            Ok(Edit::Write(record.end_sessions(|s| Some(s.id) != keep)))
        })
    }

    fn rehash(
        &self,
        account: &Account,
        new: &str,
    ) -> BoxFuture<'static, Result<bool, AccountError>> {
        let (old, new) = (account.password.clone(), new.to_owned());
        self.edit(&account.name, Some(account.id), move |record| {
            if record.password != old {
                return Ok(Edit::Keep(false));
            }
            record.password = new.clone();
            Ok(Edit::Write(true))
        })
    }

    fn delete(&self, account: &Account) -> BoxFuture<'static, Result<Vec<i64>, AccountError>> {
        // The tombstone stays until a sweep after TOMBSTONE_KEPT: purged at once, a node
        // whose watch had not read it yet would never hear of it.
        self.edit(&account.name, Some(account.id), |record| {
            record.deleted = true;
            Ok(Edit::Write(record.end_sessions(|_| true)))
        })
    }

    fn add_session(
        &self,
        account: &Account,
        token: &TokenHash,
        label: &str,
        at: Millis,
    ) -> BoxFuture<'static, Result<(Session, Vec<i64>), AccountError>> {
        let (checked, token, label) = (account.password.clone(), hex(token), label.to_owned());
        let started = self.edit(&account.name, Some(account.id), move |record| {
            if record.password != checked {
                return Err(AccountError::Changed);
            }
            let stored = StoredSession {
                id: new_id()?,
                token: token.clone(),
                label: label.clone(),
                created: at,
                last_used: at,
            };
            let session = record.session(&stored);
            record.sessions.push(stored);
            // Past the cap, the least recently used go.
            let mut ended = Vec::new();
            while record.sessions.len() > MAX_SESSIONS {
                let oldest = record
                    .sessions
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, session)| (session.last_used, session.created))
                    .map(|(at, _)| at)
                    .unwrap_or(0);
                ended.push(record.sessions.remove(oldest).id);
            }
            Ok(Edit::Write(Some((session, ended))))
        });
        // No such account any more: the password checked signs nobody in.
        Box::pin(async move { started.await?.ok_or(AccountError::Changed) })
    }

    fn sweep(
        &self,
        live: Vec<(Arc<str>, i64)>,
        at: Millis,
        oldest: Millis,
    ) -> BoxFuture<'static, Result<Vec<i64>, AccountError>> {
        let this = self.clone();
        Box::pin(async move {
            let live: HashSet<i64> = live.into_iter().map(|(_, session)| session).collect();
            let keys = this.keys().await?;
            // One unreadable account must not stop the sweep of all the others.
            let swept: Vec<Vec<i64>> = futures::stream::iter(keys)
                .map(|key| {
                    let (this, live) = (&this, &live);
                    async move {
                        this.sweep_one(&key, live, at, oldest)
                            .await
                            .unwrap_or_else(|err| {
                                tracing::warn!("Cannot sweep the account under {key:?}: {err}");
                                Vec::new()
                            })
                    }
                })
                .buffer_unordered(READS_AT_ONCE)
                .collect()
                .await;
            Ok(swept.into_iter().flatten().collect())
        })
    }

    fn has_session(
        &self,
        name: &str,
        id: i64,
        session: i64,
    ) -> BoxFuture<'static, Result<bool, AccountError>> {
        let (this, key) = (self.clone(), key_of(name));
        Box::pin(async move {
            let found = this.read(&key).await?;
            Ok(found.is_some_and(|(record, _)| {
                record.id == id && record.sessions.iter().any(|s| s.id == session)
            }))
        })
    }

    fn resume(
        &self,
        name: Option<&str>,
        token: &TokenHash,
        at: Millis,
        oldest: Millis,
    ) -> BoxFuture<'static, Result<Option<(Account, Session)>, AccountError>> {
        // Sessions are found by account: without its name there is none to find.
        let Some(name) = name else {
            return Box::pin(async { Ok(None) });
        };
        let token = hex(token);
        self.edit(name, None, move |record| {
            let Some(stored) = record.sessions.iter_mut().find(|s| s.token == token) else {
                return Ok(Edit::Keep(None));
            };
            if stored.last_used < oldest {
                record.end_sessions(|s| s.token == token);
                return Ok(Edit::Write(None));
            }
            stored.last_used = at;
            let stored = stored.clone();
            let session = record.session(&stored);
            Ok(Edit::Write(Some((record.account(), session))))
        })
    }

    fn list(&self) -> BoxFuture<'static, Result<Vec<Listed>, AccountError>> {
        let this = self.clone();
        Box::pin(async move {
            let keys = this.keys().await?;
            let mut found: Vec<(String, Record)> = futures::stream::iter(keys)
                .map(|key| {
                    let this = &this;
                    async move {
                        match this.read(&key).await {
                            Ok(read) => read.map(|(record, _)| (key, record)),
                            Err(err) => {
                                tracing::warn!("Cannot list the account under {key:?}: {err}");
                                None
                            }
                        }
                    }
                })
                .buffer_unordered(READS_AT_ONCE)
                .filter_map(|read| async move { read })
                .collect()
                .await;
            found.sort_by_key(|(key, _)| name_key_of(key));
            Ok(found
                .into_iter()
                .map(|(_, record)| {
                    let sessions = i64::try_from(record.sessions.len()).unwrap_or(i64::MAX);
                    (record.name, record.created, sessions)
                })
                .collect())
        })
    }

    fn sessions(
        &self,
        name: &str,
        id: i64,
    ) -> BoxFuture<'static, Result<Vec<Session>, AccountError>> {
        let (this, key) = (self.clone(), key_of(name));
        Box::pin(async move {
            let Some((record, _)) = this.read(&key).await?.filter(|(r, _)| r.id == id) else {
                return Ok(Vec::new());
            };
            let mut sessions: Vec<Session> = record
                .sessions
                .iter()
                .map(|stored| record.session(stored))
                .collect();
            sessions.sort_by_key(|session| (session.created, session.id));
            Ok(sessions)
        })
    }

    fn revoke(
        &self,
        name: &str,
        id: i64,
        session: i64,
    ) -> BoxFuture<'static, Result<bool, AccountError>> {
        self.edit(name, Some(id), move |record| {
            let ended = record.end_sessions(|s| s.id == session);
            Ok(Edit::write_if(!ended.is_empty(), !ended.is_empty()))
        })
    }

    fn revoke_all(
        &self,
        name: &str,
        id: i64,
        keep: Option<i64>,
    ) -> BoxFuture<'static, Result<Vec<i64>, AccountError>> {
        self.edit(name, Some(id), move |record| {
            let ended = record.end_sessions(|s| Some(s.id) != keep);
            Ok(Edit::write_if(!ended.is_empty(), ended))
        })
    }

    fn is_shared(&self) -> bool {
        true
    }

    fn changes(&self) -> Option<BoxFuture<'static, Result<ChangeStream, AccountError>>> {
        let this = self.clone();
        Some(Box::pin(async move { this.watch().await }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every valid name is one subject token of a key, and two names that differ as
    /// compared never share a key.
    #[test]
    fn a_key_is_the_name_as_compared_with_its_dots_escaped() {
        assert_eq!(key_of("Ann.B"), "ann=2eb");
        assert_eq!(name_key_of(&key_of("Ann.B")), "ann.b");
        assert_ne!(key_of("a.b"), key_of("a-b"));
        assert!(!key_of("...").contains('.'));
    }

    /// An id is positive and exact as a JavaScript number.
    #[test]
    fn ids_are_positive_and_below_two_to_the_53() {
        for _ in 0..1000 {
            let id = new_id().unwrap();
            assert!((1..1 << 53).contains(&id), "{id}");
        }
    }
}
