//! What the commands ask of accounts: register, sign in with a password or a token, change
//! the password, list and end device sessions, delete; and ending the live connections of a
//! session that ends.
//!
//! The store is whichever [`AccountStore`](super::store::AccountStore) the server runs on (its SQLite file, or the
//! cluster's key-value bucket); every password is hashed by the bounded [`Hasher`]. The
//! connections signed in on this server are kept by session id, so that a session ended by
//! another device, a new password or a deleted account is closed at once with
//! `SessionEnded`: by the call that ended it when it was ended here, by [`Accounts::follow`]
//! when another node (or the operator) ended it in a shared store.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock};
use std::time::{Duration, Instant};

use chat_proto::codec::encode;
use chat_proto::validate::name_key;
use chat_proto::{DeviceSession, ErrorKind, Millis, Revocation, ServerFrame, SessionToken};
use futures::StreamExt;

use super::password::{HashError, Hasher, Secret, Verdict};
use super::policy::{self, Weak};
use super::settings::{AccountsConfig, Operators, Registration};
use super::store::{Account, AccountError, Change, Listed, Session, SharedStore};
use super::token::{self, NoRandomness};
use crate::outbox::{Eviction, Outbox};

/// How many password hashes run at once: one per core of a small machine, so that a storm of
/// sign-ins takes at most this many cores (and 19 MiB each) from chat, and queues for the
/// rest.
pub const HASHES_AT_ONCE: usize = 2;

/// The longest device label kept, in characters: enough for "Firefox on a laptop", too short
/// to fill the store with one sign-in.
pub const MAX_DEVICE_CHARS: usize = 64;

/// Why an account request was refused.
#[derive(Debug, thiserror::Error)]
pub enum AccountsError {
    /// The name is an account's.
    #[error("the name {0:?} is registered: sign in to use it")]
    NameRegistered(String),
    /// Wrong password, or no such account (not told apart).
    #[error("wrong name or password")]
    WrongPassword,
    /// The token signs nobody in, or the session ended.
    #[error("the session ended ({0}): sign in with the password")]
    SessionEnded(&'static str),
    /// The new password breaks a rule.
    #[error("weak password: {0}")]
    Weak(#[from] Weak),
    /// Only the operator makes accounts here.
    #[error("registration is closed on this server: ask its operator for an account")]
    RegistrationClosed,
    /// The store failed.
    #[error(transparent)]
    Store(#[from] AccountError),
    /// Hashing failed (not a wrong password).
    #[error(transparent)]
    Hash(#[from] HashError),
    /// No random numbers for a token.
    #[error(transparent)]
    Random(#[from] NoRandomness),
}

impl AccountsError {
    /// The kind on the wire; a failure of the server itself is `StoreFailed`, or
    /// `ClusterUnavailable` when it is NATS that did not answer.
    pub fn kind(&self) -> ErrorKind {
        match self {
            AccountsError::NameRegistered(_) => ErrorKind::NameRegistered,
            AccountsError::WrongPassword => ErrorKind::WrongPassword,
            AccountsError::SessionEnded(_) => ErrorKind::SessionEnded,
            AccountsError::Weak(_) => ErrorKind::WeakPassword,
            AccountsError::RegistrationClosed => ErrorKind::RegistrationClosed,
            AccountsError::Hash(HashError::Busy) => ErrorKind::RateLimited,
            // A cluster's bucket out of reach: NATS is, as for a room message.
            AccountsError::Store(AccountError::Bucket(_)) => ErrorKind::ClusterUnavailable,
            AccountsError::Store(_) | AccountsError::Hash(_) | AccountsError::Random(_) => {
                ErrorKind::StoreFailed
            }
        }
    }
}

/// A connection signed in to an account: what its session keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedIn {
    /// The account's id.
    pub account: i64,
    /// The device session's id.
    pub session: i64,
}

/// A sign-in that succeeded: the account's name as registered, its ids, and the new token
/// after a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Welcome {
    /// The account's name as registered.
    pub name: String,
    /// Which account and session.
    pub signed_in: SignedIn,
    /// The new session's token (after a password; `None` after a token).
    pub token: Option<SessionToken>,
}

impl Welcome {
    /// The `SignedIn` frame that goes before `Welcome`.
    pub fn frame(&self) -> ServerFrame {
        ServerFrame::SignedIn {
            session: id_on_wire(self.signed_in.session),
            token: self.token.clone(),
        }
    }
}

/// Accounts, their sessions, and the connections signed in here.
pub struct Accounts {
    /// Where accounts and sessions are kept.
    store: SharedStore,
    /// Hashes and verifies passwords.
    hasher: Hasher,
    /// `[accounts]`; a reload may change it ([`Accounts::set_config`]).
    config: RwLock<AccountsConfig>,
    /// `[accounts] operators`; a reload may change them.
    operators: RwLock<Operators>,
    /// The connections signed in on this server, and the sessions ended lately.
    live: Mutex<Live>,
    /// Whether other servers write to the store too (a cluster's bucket).
    shared: bool,
}

impl fmt::Debug for Accounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accounts")
            .field("config", &self.config)
            .field("hasher", &self.hasher)
            .finish_non_exhaustive()
    }
}

impl Accounts {
    /// Accounts kept in `store`, hashed by `hasher`, under `config`.
    pub fn new(store: SharedStore, hasher: Hasher, config: AccountsConfig) -> Accounts {
        Accounts {
            shared: store.is_shared(),
            store,
            hasher,
            config: RwLock::new(config),
            operators: RwLock::default(),
            live: Mutex::default(),
        }
    }

    /// `[accounts]` in force.
    pub fn config(&self) -> AccountsConfig {
        *self.config.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the account `name` is a server operator.
    pub fn is_operator(&self, name: &str) -> bool {
        self.operators
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(name)
    }

    /// Puts `operators` in force (at start, and at a reload): the next request of each
    /// account goes by them.
    pub fn set_operators(&self, operators: Operators) {
        *self
            .operators
            .write()
            .unwrap_or_else(PoisonError::into_inner) = operators;
    }

    /// Puts `config` in force (a reload): registration, guests and the longest life of a
    /// session apply from the next request on.
    pub fn set_config(&self, config: AccountsConfig) {
        *self.config.write().unwrap_or_else(PoisonError::into_inner) = config;
    }

    /// The account of `name`, if there is one.
    pub async fn find(&self, name: &str) -> Result<Option<Account>, AccountsError> {
        Ok(self.store.find(name).await?)
    }

    /// Refuses a guest's `name` that is an account's.
    pub async fn check_guest(&self, name: &str) -> Result<(), AccountsError> {
        match self.find(name).await? {
            Some(account) => Err(AccountsError::NameRegistered(account.name)),
            None => Ok(()),
        }
    }

    /// Makes an account for `name` with `password` (which must pass the rules), without a
    /// session: the operator's `account add`, and the first half of a registration.
    pub async fn create(
        &self,
        name: &str,
        password: &Secret,
        at: Millis,
    ) -> Result<Account, AccountsError> {
        policy::check(name, password)?;
        // Before the hash: a taken name costs no argon2.
        if let Some(account) = self.find(name).await? {
            return Err(AccountsError::NameRegistered(account.name));
        }
        let hash = self.hasher.hash(password).await?;
        match self.store.create(name, &hash, at).await {
            Err(AccountError::Taken(name)) => Err(AccountsError::NameRegistered(name)),
            made => Ok(made?),
        }
    }

    /// `Register`: a new account for `name`, signed in on `device`.
    pub async fn register(
        &self,
        name: &str,
        password: &Secret,
        device: &str,
        at: Millis,
    ) -> Result<Welcome, AccountsError> {
        if self.config().registration == Registration::Closed {
            return Err(AccountsError::RegistrationClosed);
        }
        // An operator's name is made by the operator (chat-server account add), never by
        // whoever registers it first.
        if self.is_operator(name) && self.find(name).await?.is_none() {
            return Err(AccountsError::RegistrationClosed);
        }
        let account = self.create(name, password, at).await?;
        self.start_session(account, device, at).await
    }

    /// `SignIn` with a password: a new session on `device`. A hash made under other
    /// parameters than today's is replaced, now that the password is at hand.
    pub async fn sign_in(
        &self,
        name: &str,
        password: &Secret,
        device: &str,
        at: Millis,
    ) -> Result<Welcome, AccountsError> {
        let account = self.find(name).await?;
        let verdict = self
            .hasher
            .verify(account.as_ref().map(|a| a.password.as_str()), password)
            .await?;
        let (Some(mut account), Verdict::Valid { rehash }) = (account, verdict) else {
            return Err(AccountsError::WrongPassword);
        };
        if rehash {
            self.rehash(&mut account, password).await;
        }
        self.start_session(account, device, at).await
    }

    /// Stores a new hash of the right `password` of `account` (and keeps it in `account`);
    /// a failure is logged only, since the old hash still verifies.
    async fn rehash(&self, account: &mut Account, password: &Secret) {
        let stored = match self.hasher.hash(password).await {
            Ok(new) => self
                .store
                .rehash(account, &new)
                .await
                .map(|done| done.then_some(new))
                .map_err(AccountsError::from),
            Err(err) => Err(err.into()),
        };
        match stored {
            Ok(new) => {
                if let Some(new) = new {
                    account.password = new;
                }
                tracing::info!(account = %account.name, "Password hashed again under today's parameters")
            }
            Err(err) => {
                tracing::warn!(account = %account.name, "Cannot hash a password again: {err}")
            }
        }
    }

    /// A new session of `account` on `device`, with its token.
    async fn start_session(
        &self,
        account: Account,
        device: &str,
        at: Millis,
    ) -> Result<Welcome, AccountsError> {
        let token = token::generate()?;
        let hash = token::hash(&token);
        let label: String = device.chars().take(MAX_DEVICE_CHARS).collect();
        let (session, ended) = match self.store.add_session(&account, &hash, &label, at).await {
            // The password changed after it was checked: the old one signs nobody in.
            Err(AccountError::Changed) => return Err(AccountsError::WrongPassword),
            started => started?,
        };
        self.end_live(&ended, None);
        Ok(Welcome {
            name: account.name,
            signed_in: SignedIn {
                account: account.id,
                session: session.id,
            },
            token: Some(token),
        })
    }

    /// The account `name` and its live session `token` signs in at `at`, marked used then;
    /// `None` for a token that signs nobody in as `name` (an expired session is removed on
    /// the way).
    async fn session_of(
        &self,
        name: Option<&str>,
        token: &SessionToken,
        at: Millis,
    ) -> Result<Option<(Account, Session)>, AccountsError> {
        let hash = token::hash(token);
        Ok(self
            .store
            .resume(name, &hash, at, self.oldest_at(at))
            .await?)
    }

    /// `SignIn` with a token, for the account `name` (in any case).
    pub async fn resume(
        &self,
        name: &str,
        token: &SessionToken,
        at: Millis,
    ) -> Result<Welcome, AccountsError> {
        let Some((account, session)) = self.session_of(Some(name), token, at).await? else {
            return Err(AccountsError::SessionEnded(
                "the token is revoked, expired, unknown, or another account's",
            ));
        };
        Ok(Welcome {
            name: account.name,
            signed_in: SignedIn {
                account: account.id,
                session: session.id,
            },
            token: None,
        })
    }

    /// Checks `password` against the account `name` signed in as `me`.
    async fn verify(
        &self,
        name: &str,
        me: SignedIn,
        password: &Secret,
    ) -> Result<Account, AccountsError> {
        let account = self.find(name).await?.filter(|a| a.id == me.account);
        let verdict = self
            .hasher
            .verify(account.as_ref().map(|a| a.password.as_str()), password)
            .await?;
        match (account, verdict) {
            (Some(account), Verdict::Valid { .. }) => Ok(account),
            (None, _) => Err(AccountsError::SessionEnded("the account was deleted")),
            (Some(_), Verdict::Invalid) => Err(AccountsError::WrongPassword),
        }
    }

    /// `ChangePassword`: every session of the account but `me`'s ends; returns how many.
    pub async fn change_password(
        &self,
        name: &str,
        me: SignedIn,
        old: &Secret,
        new: &Secret,
    ) -> Result<usize, AccountsError> {
        let account = self.verify(name, me, old).await?;
        policy::check(&account.name, new)?;
        let hash = self.hasher.hash(new).await?;
        let ended = self
            .store
            .set_password(&account, &hash, Some(me.session))
            .await?;
        self.end_live(&ended, None);
        Ok(ended.len())
    }

    /// Refuses a request from `me`, signed in as `name`, when its own session ended
    /// meanwhile.
    async fn still(&self, name: &str, me: SignedIn) -> Result<(), AccountsError> {
        if self.store.has_session(name, me.account, me.session).await? {
            Ok(())
        } else {
            Err(AccountsError::SessionEnded("this device's session ended"))
        }
    }

    /// `ListSessions`: the sessions of the account `name`, `me`'s marked current.
    pub async fn sessions(
        &self,
        name: &str,
        me: SignedIn,
    ) -> Result<Vec<DeviceSession>, AccountsError> {
        self.still(name, me).await?;
        let sessions = self.store.sessions(name, me.account).await?;
        Ok(sessions
            .into_iter()
            .map(|session: Session| DeviceSession {
                id: id_on_wire(session.id),
                current: session.id == me.session,
                device: session.label,
                created: session.created,
                last_used: session.last_used,
            })
            .collect())
    }

    /// `Revoke`: ends the sessions `which` names and closes their connections but `me`'s
    /// own; returns how many ended, and whether `me`'s own is among them (its connection
    /// then says so and closes).
    pub async fn revoke(
        self: &Arc<Self>,
        name: &str,
        me: SignedIn,
        mine: &Outbox,
        which: Revocation,
    ) -> Result<(usize, bool), AccountsError> {
        self.still(name, me).await?;
        // Out of the live table first: a shared store tells every node, this one too, and
        // this connection answers for its own session itself.
        let shielded = self.shield(me, mine);
        let ended = match which {
            Revocation::This => self.revoke_one(name, me, me.session).await,
            Revocation::One(id) => match i64::try_from(id) {
                Ok(id) => self.revoke_one(name, me, id).await,
                Err(_) => Ok(Vec::new()),
            },
            Revocation::All => self.store.revoke_all(name, me.account, None).await,
            Revocation::Others => {
                self.store
                    .revoke_all(name, me.account, Some(me.session))
                    .await
            }
        };
        let ended = ended.inspect_err(|_| self.unshield(name, me, mine, shielded))?;
        let own = ended.contains(&me.session);
        self.end_live(&ended, Some(mine));
        if !own {
            self.unshield(name, me, mine, shielded);
        }
        Ok((ended.len(), own))
    }

    /// Takes `mine` out of the live table for a request that may end its own session;
    /// whether it was in it.
    fn shield(&self, me: SignedIn, mine: &Outbox) -> bool {
        self.live().remove(me.session, mine)
    }

    /// Puts `mine` back after a request that did not end its own session; should the
    /// session have ended meanwhile (from another device), closes it as
    /// [`Accounts::end_live`] would have.
    fn unshield(self: &Arc<Self>, name: &str, me: SignedIn, mine: &Outbox, shielded: bool) {
        if shielded && !self.track(name, me, mine.clone()) {
            close(mine);
        }
    }

    /// Ends `me`'s session of the account `name`, which no connection received (its
    /// sign-in could not finish).
    pub async fn end(&self, name: &str, me: SignedIn) -> Result<(), AccountsError> {
        let ended = self.revoke_one(name, me, me.session).await?;
        self.end_live(&ended, None);
        Ok(())
    }

    /// Ends the session just started for `welcome` when its connection could not be let in
    /// after all (its name online elsewhere, the server stopping): a token nobody received
    /// must not stay valid. Runs in a task of its own.
    pub fn undo(self: &Arc<Self>, welcome: &Welcome) {
        if welcome.token.is_none() {
            return;
        }
        let (accounts, me, name) = (Arc::clone(self), welcome.signed_in, welcome.name.clone());
        tokio::spawn(async move {
            if let Err(err) = accounts.end(&name, me).await {
                tracing::warn!(session = me.session, "Cannot end an unused session: {err}");
            }
        });
    }

    /// Ends the session `token` signs in to the account `name`, if any (the page's
    /// sign-out; `None` when the page's name cookie is gone, which the SQLite store does
    /// without), or with `everywhere` every session of the account: closes their
    /// connections; whether there was one.
    pub async fn end_by_token(
        &self,
        name: Option<&str>,
        token: &SessionToken,
        at: Millis,
        everywhere: bool,
    ) -> Result<bool, AccountsError> {
        let Some((account, session)) = self.session_of(name, token, at).await? else {
            return Ok(false);
        };
        let name = account.name.as_str();
        if everywhere {
            let ended = self.store.revoke_all(name, account.id, None).await?;
            self.end_live(&ended, None);
        } else {
            let me = SignedIn {
                account: account.id,
                session: session.id,
            };
            self.end(name, me).await?;
        }
        Ok(true)
    }

    /// Ends session `id` of `me`'s account `name`, if it is one of its sessions.
    async fn revoke_one(
        &self,
        name: &str,
        me: SignedIn,
        id: i64,
    ) -> Result<Vec<i64>, AccountError> {
        let ended = self.store.revoke(name, me.account, id).await?;
        Ok(if ended { vec![id] } else { Vec::new() })
    }

    /// `DeleteAccount`: the account and all its sessions go, its name is free; every other
    /// connection of it is closed, `me`'s goes on as a guest's.
    pub async fn delete(
        self: &Arc<Self>,
        name: &str,
        me: SignedIn,
        mine: &Outbox,
        password: &Secret,
    ) -> Result<(), AccountsError> {
        let account = self.verify(name, me, password).await?;
        let shielded = self.shield(me, mine);
        let ended = self
            .store
            .delete(&account)
            .await
            .inspect_err(|_| self.unshield(name, me, mine, shielded))?;
        self.end_live(&ended, Some(mine));
        Ok(())
    }

    /// The operator's `account list`: every account's name, creation time and number of
    /// sessions, sorted by name.
    pub async fn list(&self) -> Result<Vec<Listed>, AccountsError> {
        Ok(self.store.list().await?)
    }

    /// Ends every session of the account `name` (a suspension): its devices sign in with
    /// the password once it is let back.
    pub async fn end_all(&self, name: &str) -> Result<(), AccountsError> {
        let Some(account) = self.find(name).await? else {
            return Ok(());
        };
        let ended = self
            .store
            .revoke_all(&account.name, account.id, None)
            .await?;
        self.end_live(&ended, None);
        Ok(())
    }

    /// The operator's `account delete NAME`: whether there was one.
    pub async fn delete_by_name(&self, name: &str) -> Result<bool, AccountsError> {
        let Some(account) = self.find(name).await? else {
            return Ok(false);
        };
        let ended = self.store.delete(&account).await?;
        self.end_live(&ended, None);
        Ok(true)
    }

    /// Ends every session unused since before `session_max_age` ago, at `now`; returns how
    /// many.
    pub async fn sweep(&self, now: Millis) -> Result<usize, AccountsError> {
        let oldest = self.oldest_at(now);
        // A session signed in on a connection here is in use, however long ago it signed in.
        let live: Vec<(Arc<str>, i64)> = self
            .live()
            .by_session
            .iter()
            .map(|(session, tracked)| (tracked.name.clone(), *session))
            .collect();
        let ended = self.store.sweep(live, now, oldest).await?;
        self.end_live(&ended, None);
        Ok(ended.len())
    }

    /// The oldest last use at `now` that keeps a session alive.
    fn oldest_at(&self, now: Millis) -> Millis {
        let max_age =
            Millis::try_from(self.config().session_max_age.as_millis()).unwrap_or(Millis::MAX);
        now.saturating_sub(max_age)
    }

    /// Keeps `outbox` as one of the connections of `me`, signed in to the account `name`,
    /// to close when the session ends; `false` (not kept) when the session ended between its
    /// sign-in and now, so that a sign-in racing a revocation cannot slip past it.
    ///
    /// In a store other nodes write to, a revocation written there after this sign-in read
    /// the session may have been told to this node before the connection was kept here:
    /// the session is read once more after it is kept, and closed if it is gone.
    pub fn track(self: &Arc<Self>, name: &str, me: SignedIn, outbox: Outbox) -> bool {
        if !self.live().add(name, me, outbox) {
            return false;
        }
        if self.shared {
            let (accounts, name) = (Arc::clone(self), name.to_owned());
            tokio::spawn(async move { accounts.confirm(&name, me).await });
        }
        true
    }

    /// Closes the connections of `me` if its session is gone from the store.
    async fn confirm(&self, name: &str, me: SignedIn) {
        match self.store.has_session(name, me.account, me.session).await {
            Ok(true) => {}
            Ok(false) => self.end_live(&[me.session], None),
            Err(err) => tracing::warn!(session = me.session, "Cannot check a session: {err}"),
        }
    }

    /// Forgets `outbox` as a connection of session `session`: it closed.
    pub fn forget(&self, session: i64, outbox: &Outbox) {
        self.live().remove(session, outbox);
    }

    /// How many connections are signed in here.
    pub fn signed_in(&self) -> usize {
        self.live()
            .by_session
            .values()
            .map(|tracked| tracked.connections.len())
            .sum()
    }

    /// Follows the changes a shared store reports (other nodes' and the operator's), for as
    /// long as the server runs: the connections of every session that ended are closed.
    /// Each time the store's report starts again (after NATS was away), every session signed
    /// in here is checked, since what ended meanwhile was not told.
    pub async fn follow(self: Arc<Self>) {
        let mut wait = FOLLOW_RETRY;
        loop {
            let Some(changes) = self.store.changes() else {
                return;
            };
            match changes.await {
                Ok(mut changes) => {
                    wait = FOLLOW_RETRY;
                    self.check_all().await;
                    while let Some(change) = changes.next().await {
                        self.apply(change).await;
                    }
                    tracing::debug!("The accounts' changes stopped; following them again");
                    tokio::time::sleep(FOLLOW_RETRY).await;
                }
                Err(err) => {
                    tracing::warn!("Cannot follow the accounts' changes: {err}");
                    tokio::time::sleep(wait).await;
                    wait = (wait * 2).min(FOLLOW_RETRY_MAX);
                }
            }
        }
    }

    /// Closes the connections of the sessions `change` says are gone. Each is read once
    /// more first: a change written before a session began (and told after it was tracked
    /// here) leaves it out without ending it.
    async fn apply(&self, change: Change) {
        let gone: Vec<(Arc<str>, SignedIn)> = {
            let live = self.live();
            live.ended_by(&change)
                .into_iter()
                .filter_map(|session| {
                    let tracked = live.by_session.get(&session)?;
                    let me = SignedIn {
                        account: tracked.account,
                        session,
                    };
                    Some((tracked.name.clone(), me))
                })
                .collect()
        };
        for (name, me) in gone {
            self.confirm(&name, me).await;
        }
    }

    /// Checks every session signed in here against the store, closing those gone.
    async fn check_all(&self) {
        let tracked: Vec<(Arc<str>, SignedIn)> = self
            .live()
            .by_session
            .iter()
            .map(|(session, tracked)| {
                let me = SignedIn {
                    account: tracked.account,
                    session: *session,
                };
                (tracked.name.clone(), me)
            })
            .collect();
        for (name, me) in tracked {
            self.confirm(&name, me).await;
        }
    }

    /// Closes every connection of the ended sessions `ended` with `SessionEnded`, but
    /// `except` (the connection that ended them, which says so itself).
    fn end_live(&self, ended: &[i64], except: Option<&Outbox>) {
        if ended.is_empty() {
            return;
        }
        let mut live = self.live();
        for id in ended {
            live.ended(*id);
            let Some(tracked) = live.take(*id) else {
                continue;
            };
            for outbox in tracked.connections {
                if except.is_some_and(|except| except.is(&outbox)) {
                    continue;
                }
                close(&outbox);
            }
        }
    }

    /// The live table; it holds no state a panic could break.
    fn live(&self) -> MutexGuard<'_, Live> {
        self.live.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Tells the connection of `outbox` that its session ended, and closes it.
fn close(outbox: &Outbox) {
    if let Ok(frame) = encode(&ServerFrame::Error {
        kind: ErrorKind::SessionEnded,
        detail: "signed out: this device's session ended".to_owned(),
    }) {
        outbox.offer(frame);
    }
    outbox.evict(Eviction::SessionEnded);
}

/// How long [`Accounts::follow`] waits before asking the store again, at first.
const FOLLOW_RETRY: Duration = Duration::from_millis(250);

/// The longest it waits.
const FOLLOW_RETRY_MAX: Duration = Duration::from_secs(5);

/// How long an ended session is remembered, so that a sign-in that resumed it just before
/// it ended is refused when it comes to be tracked: far longer than any sign-in takes.
pub const ENDED_MEMORY: Duration = Duration::from_secs(600);

/// The most ended sessions remembered at once (a mass revocation beyond it forgets the
/// oldest first; ids are never reused, so forgetting only reopens that short window).
const ENDED_CAP: usize = 100_000;

/// A session signed in on this server.
#[derive(Debug)]
struct Tracked {
    /// Its account's name as registered.
    name: Arc<str>,
    /// Its account's id.
    account: i64,
    /// Its connections here (one token may sign in more than one).
    connections: Vec<Outbox>,
}

/// The sessions signed in on this server, by session id, with the index a store's changes
/// are looked up by; and the sessions ended within [`ENDED_MEMORY`].
#[derive(Debug, Default)]
struct Live {
    /// Sessions signed in here.
    by_session: HashMap<i64, Tracked>,
    /// The same, by account id.
    by_account: HashMap<i64, HashSet<i64>>,
    /// Account ids by name as compared ([`name_key`]).
    by_key: HashMap<String, i64>,
    /// Sessions ended lately.
    ended: HashSet<i64>,
    /// The same, oldest first, with when each ended.
    ended_order: VecDeque<(Instant, i64)>,
}

impl Live {
    /// Keeps `outbox` as a connection of `me`, of the account `name`, unless the session
    /// ended lately.
    fn add(&mut self, name: &str, me: SignedIn, outbox: Outbox) -> bool {
        if self.ended.contains(&me.session) {
            return false;
        }
        let tracked = self
            .by_session
            .entry(me.session)
            .or_insert_with(|| Tracked {
                name: name.into(),
                account: me.account,
                connections: Vec::new(),
            });
        tracked.connections.push(outbox);
        self.by_account
            .entry(me.account)
            .or_default()
            .insert(me.session);
        self.by_key.insert(name_key(name), me.account);
        true
    }

    /// Removes `outbox` from session `session`'s connections; whether it was one.
    fn remove(&mut self, session: i64, outbox: &Outbox) -> bool {
        let Some(tracked) = self.by_session.get_mut(&session) else {
            return false;
        };
        let before = tracked.connections.len();
        tracked.connections.retain(|held| !held.is(outbox));
        let removed = tracked.connections.len() < before;
        if tracked.connections.is_empty() {
            self.take(session);
        }
        removed
    }

    /// Takes session `session` out of the table with all its connections.
    fn take(&mut self, session: i64) -> Option<Tracked> {
        let tracked = self.by_session.remove(&session)?;
        if let Some(sessions) = self.by_account.get_mut(&tracked.account) {
            sessions.remove(&session);
            if sessions.is_empty() {
                self.by_account.remove(&tracked.account);
                let key = name_key(&tracked.name);
                if self.by_key.get(&key) == Some(&tracked.account) {
                    self.by_key.remove(&key);
                }
            }
        }
        Some(tracked)
    }

    /// The sessions signed in here that `change` says are gone.
    fn ended_by(&self, change: &Change) -> Vec<i64> {
        let (account, still): (i64, &[i64]) = match change {
            Change::Sessions { id, sessions } => (*id, sessions),
            Change::Gone { key } => match self.by_key.get(key) {
                Some(account) => (*account, &[]),
                None => return Vec::new(),
            },
        };
        self.by_account
            .get(&account)
            .map(|live| {
                live.iter()
                    .filter(|session| !still.contains(session))
                    .copied()
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Remembers that `session` ended now, forgetting what ended too long ago.
    fn ended(&mut self, session: i64) {
        let now = Instant::now();
        while let Some(&(at, old)) = self.ended_order.front() {
            if now.duration_since(at) < ENDED_MEMORY && self.ended_order.len() < ENDED_CAP {
                break;
            }
            self.ended_order.pop_front();
            self.ended.remove(&old);
        }
        if self.ended.insert(session) {
            self.ended_order.push_back((now, session));
        }
    }
}

/// A session id as the protocol carries it (ids are positive).
fn id_on_wire(id: i64) -> u64 {
    u64::try_from(id).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use argon2::Params;

    use super::*;
    use crate::log::sqlite::{SqliteAccountStore, SqliteAccounts};
    use crate::outbox;

    /// Accounts in a fresh file with a cheap hasher; keep the directory alive as long.
    fn accounts() -> (tempfile::TempDir, Arc<Accounts>) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteAccounts::open(&dir.path().join("chat.db")).unwrap();
        let store = Arc::new(SqliteAccountStore::new(store));
        let hasher = Hasher::with_params(Params::new(64, 1, 1, None).unwrap(), 2).unwrap();
        let accounts = Accounts::new(store, hasher, AccountsConfig::default());
        (dir, Arc::new(accounts))
    }

    /// A sign-in that resumed a session just before it was revoked is refused when its
    /// connection comes to be tracked, so it cannot stay online past the revocation.
    #[tokio::test]
    async fn a_session_ended_while_signing_in_is_not_tracked() {
        let (_dir, accounts) = accounts();
        let welcome = accounts
            .register("ann", &Secret::new("violet tractor"), "laptop", 1)
            .await
            .unwrap();
        let token = welcome.token.clone().unwrap();
        let resumed = accounts.resume("ann", &token, 2).await.unwrap();
        // Revoked from elsewhere before this connection is tracked.
        accounts.end("ann", welcome.signed_in).await.unwrap();
        let (outbox, _queue) = outbox::channel(8);
        assert!(!accounts.track("ann", resumed.signed_in, outbox.clone()));
        assert_eq!(accounts.signed_in(), 0);
        // Its requests are refused too, whatever got through.
        assert!(matches!(
            accounts.sessions("ann", resumed.signed_in).await,
            Err(AccountsError::SessionEnded(_))
        ));
        assert!(matches!(
            accounts
                .revoke("ann", resumed.signed_in, &outbox, Revocation::All)
                .await,
            Err(AccountsError::SessionEnded(_))
        ));
    }

    /// NATS out of reach is the cluster's trouble; an unreadable account is the store's.
    #[test]
    fn bucket_failures_name_the_right_kind() {
        let away = AccountsError::Store(AccountError::Bucket("timed out".into()));
        assert_eq!(away.kind(), ErrorKind::ClusterUnavailable);
        let bad = AccountsError::Store(AccountError::Record("unreadable".into()));
        assert_eq!(bad.kind(), ErrorKind::StoreFailed);
    }

    /// A session the operator's `account delete` removed from the file beside the running
    /// server is closed by the next sweep.
    #[tokio::test]
    async fn the_sweep_closes_sessions_removed_beside_the_server() {
        let (dir, accounts) = accounts();
        let welcome = accounts
            .register("ann", &Secret::new("violet tractor"), "laptop", 1)
            .await
            .unwrap();
        let (outbox, _queue) = outbox::channel(8);
        assert!(accounts.track("ann", welcome.signed_in, outbox.clone()));
        let operator = SqliteAccounts::open(&dir.path().join("chat.db")).unwrap();
        operator.delete(welcome.signed_in.account).unwrap();
        assert_eq!(accounts.sweep(2).await.unwrap(), 1);
        assert_eq!(outbox.eviction(), Some(Eviction::SessionEnded));
        assert_eq!(accounts.signed_in(), 0);
    }

    /// A session signed in on a connection survives the sweep however old its sign-in;
    /// one that is not, and is too old, is ended.
    #[tokio::test]
    async fn the_sweep_ends_only_sessions_nobody_uses() {
        let (_dir, accounts) = accounts();
        let laptop = accounts
            .register("ann", &Secret::new("violet tractor"), "laptop", 1)
            .await
            .unwrap();
        let phone = accounts
            .sign_in("ann", &Secret::new("violet tractor"), "phone", 1)
            .await
            .unwrap();
        let (outbox, _queue) = outbox::channel(8);
        assert!(accounts.track("ann", laptop.signed_in, outbox));
        let year = 365 * 86_400_000;
        assert_eq!(accounts.sweep(year).await.unwrap(), 1);
        let token = phone.token.unwrap();
        assert!(accounts.resume("ann", &token, year).await.is_err());
        let laptop_token = laptop.token.unwrap();
        assert!(accounts.resume("ann", &laptop_token, year).await.is_ok());
    }
}
