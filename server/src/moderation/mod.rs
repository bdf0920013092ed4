//! Moderation: room roles (owner, moderators), room settings (topic, registered-only,
//! slow mode), bans and mutes in a room, server bans and suspended accounts, and the audit
//! log of every action.
//!
//! ```text
//!  commands ──act(room, action)──► Moderation ──edit(key)──► RulesStore (SQLite | KV)
//!           ◄─ check_join/speak ──┘    │  ▲                         │ (cluster: watch)
//!                                      │  └──── absorb(key, value) ◄┘
//!                                      ▼ apply what is new since the version seen
//!                                    Hub: tell the room, put out who a kick or ban names
//! ```
//!
//! Every record is kept whole in the store and in memory here. An action is an edit of
//! its record, checked against the record as it is read (so two moderators acting at
//! once never undo each other), which adds an audit entry and, when others must know, a
//! [`rules::Recent`] change. Whichever node reads a new version of a record, its own or
//! another's through the store's watch, applies the changes it has not applied yet to the
//! people it holds: one path, alone or in a cluster.
//!
//! The checks on the hot paths (a join, a message) read the records in memory only.

pub mod rules;
pub mod store;
pub mod target;

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard};
use std::time::Duration;

use chat_proto::moderation::{
    AuditEntry, Ban, BanTarget, Mute, RoomAction, RoomChange, RoomInfo, ServerAction,
};
use chat_proto::validate::name_key;
use chat_proto::{ErrorKind, LeftReason, Millis, ServerFrame};
use futures::StreamExt;

use crate::hub::Hub;
use rules::{told, Holder, Kept, RoomRules, ServerRules, Who, MAX_LISTED};
use store::{EditError, SharedRules, StoreFailed, SERVER_KEY};

/// The longest reason kept, in characters: a sentence, not a message.
pub const MAX_REASON_CHARS: usize = 200;

/// The longest topic, in characters.
pub const MAX_TOPIC_CHARS: usize = 300;

/// How old a change may be and still be applied where it was not yet, in milliseconds.
const STALE_AFTER: Millis = 60_000;

/// How long the watch of a shared store waits before it starts again.
const FOLLOW_RETRY: Duration = Duration::from_secs(1);

/// Why a moderation request or a check refused.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ModError {
    /// The sender's role does not allow it.
    #[error("not permitted: {0}")]
    NotPermitted(String),
    /// A guest asked for what needs an account.
    #[error("sign in first: only accounts may claim or moderate rooms")]
    NotSignedIn,
    /// `Claim` of an owned room.
    #[error("#{room} is claimed already (its owner is {owner})")]
    Claimed {
        /// The room.
        room: String,
        /// Its owner.
        owner: String,
    },
    /// A request that cannot mean anything.
    #[error("{0}")]
    Invalid(String),
    /// A kick of someone not in the room.
    #[error("nobody named {0:?} is in the room")]
    NoSuchUser(String),
    /// A server ban matches the connection.
    #[error("{0}")]
    Banned(String),
    /// A room ban keeps the sender out.
    #[error("{0}")]
    BannedFromRoom(String),
    /// The sender is muted in the room.
    #[error("{0}")]
    Muted(String),
    /// Guests may not join.
    #[error("#{0} is for accounts only: sign in to join")]
    RegisteredOnly(String),
    /// Slow mode: too soon after the sender's last message.
    #[error("#{room} is in slow mode: one message every {secs} s; try again in {wait} s")]
    Slow {
        /// The room.
        room: String,
        /// Its seconds between messages.
        secs: u32,
        /// How long until the sender may speak.
        wait: u64,
    },
    /// The account is suspended.
    #[error("{0}")]
    Suspended(String),
    /// The store failed; nothing changed.
    #[error(transparent)]
    Store(#[from] StoreFailed),
}

impl ModError {
    /// The kind on the wire.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ModError::NotPermitted(_) => ErrorKind::NotPermitted,
            ModError::NotSignedIn => ErrorKind::NotSignedIn,
            ModError::Claimed { .. } => ErrorKind::RoomClaimed,
            ModError::Invalid(_) => ErrorKind::InvalidAction,
            ModError::NoSuchUser(_) => ErrorKind::NoSuchUser,
            ModError::Banned(_) => ErrorKind::Banned,
            ModError::BannedFromRoom(_) => ErrorKind::BannedFromRoom,
            ModError::Muted(_) => ErrorKind::Muted,
            ModError::RegisteredOnly(_) => ErrorKind::RegisteredOnly,
            ModError::Slow { .. } => ErrorKind::SlowMode,
            ModError::Suspended(_) => ErrorKind::Suspended,
            ModError::Store(_) => ErrorKind::StoreFailed,
        }
    }
}

impl From<EditError> for ModError {
    fn from(err: EditError) -> Self {
        match err {
            EditError::Refused(err) => err,
            EditError::Store(err) => ModError::Store(err),
        }
    }
}

impl From<crate::accounts::AccountsError> for ModError {
    fn from(err: crate::accounts::AccountsError) -> Self {
        ModError::Store(StoreFailed(err.to_string()))
    }
}

impl From<target::TargetError> for ModError {
    fn from(err: target::TargetError) -> Self {
        ModError::Invalid(err.to_string())
    }
}

/// Who acts, as the commands know them.
#[derive(Debug, Clone)]
pub struct Actor {
    /// Their name as registered.
    pub name: String,
    /// The id of the account of that name they signed in to; `None`: a guest.
    pub account: Option<i64>,
    /// Where they connect from.
    pub ip: IpAddr,
    /// A server operator (`[accounts] operators`).
    pub operator: bool,
}

impl Actor {
    /// The actor as a check sees them.
    pub fn who(&self) -> Who<'_> {
        Who {
            name: &self.name,
            account: self.account,
            ip: self.ip,
        }
    }
}

/// A person an action is aimed at, as the hub found them: whether they are an operator.
#[derive(Debug, Clone, Copy, Default)]
pub struct Aimed {
    /// The person is a server operator.
    pub operator: bool,
    /// The id of the account of that name, if there is one: what a role is held by, and
    /// what a promotion gives it to.
    pub account: Option<i64>,
}

/// Control characters would forge lines in terminals and in the log.
pub fn clean(text: &str, max: usize) -> String {
    text.chars().filter(|c| !c.is_control()).take(max).collect()
}

/// A record as read from the store.
enum Record {
    /// A room's.
    Room(RoomRules),
    /// The server's.
    Server(ServerRules),
}

impl Record {
    /// Its version and history.
    fn kept(&self) -> &Kept {
        match self {
            Record::Room(rules) => &rules.kept,
            Record::Server(rules) => &rules.kept,
        }
    }
}

/// The records in memory.
#[derive(Debug, Default)]
struct Records {
    /// Room key → its record.
    rooms: HashMap<String, Arc<RoomRules>>,
    /// The server's record.
    server: Arc<ServerRules>,
}

/// Whether the account of a name is a server operator (`[accounts] operators`, reloadable).
pub type IsOperator = Box<dyn Fn(&str) -> bool + Send + Sync>;

/// The moderation of one server (or node).
pub struct Moderation {
    /// Where records are kept.
    store: SharedRules,
    /// What they say now.
    records: RwLock<Records>,
    /// Whether any room has a record: a message to a room costs no lookup until one has.
    any_room: AtomicBool,
    /// (room key, name key) → when that person last spoke there, in rooms in slow mode.
    spoke: Mutex<HashMap<(String, String), Millis>>,
    /// The hub, which applies what changed to the people here.
    hub: Arc<Hub>,
    /// Who the operators are: beyond every room's bans and the server's.
    operator: IsOperator,
}

impl std::fmt::Debug for Moderation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Moderation")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

/// How many (room, person) pairs of slow mode are remembered before the old ones go.
const SPOKE_KEPT: usize = 10_000;

impl Moderation {
    /// The moderation kept in `store`, its records read, applying changes through `hub`;
    /// `operator` says who the server's operators are.
    pub async fn start(
        store: SharedRules,
        hub: Arc<Hub>,
        operator: IsOperator,
    ) -> Result<Arc<Moderation>, StoreFailed> {
        let moderation = Arc::new(Moderation {
            store,
            records: RwLock::default(),
            any_room: AtomicBool::new(false),
            spoke: Mutex::default(),
            hub,
            operator,
        });
        for (key, value) in moderation.store.load().await? {
            moderation.absorb(&key, &value, false);
        }
        Ok(moderation)
    }

    /// Follows the changes other nodes make to a shared store for as long as the server
    /// runs; returns at once alone. A watch started again (after NATS was away) reads every
    /// record's last value first, so nothing missed meanwhile stays missed.
    pub async fn follow(self: Arc<Self>) {
        loop {
            let Some(changes) = self.store.changes() else {
                return;
            };
            match changes.await {
                Ok(mut changes) => {
                    while let Some((key, value)) = changes.next().await {
                        self.absorb(&key, &value, true);
                    }
                }
                Err(err) => tracing::warn!("Cannot follow the moderation changes: {err}"),
            }
            tokio::time::sleep(FOLLOW_RETRY).await;
        }
    }

    fn records(&self) -> RwLockReadGuard<'_, Records> {
        self.records.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn spoke(&self) -> MutexGuard<'_, HashMap<(String, String), Millis>> {
        self.spoke.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether `who` is a server operator.
    fn is_operator(&self, who: &Who<'_>) -> bool {
        who.account.is_some() && (self.operator)(who.name)
    }

    /// Takes in the value of `key` read from the store, newer than what is held, and (when
    /// `apply`; at start, nothing is) applies it to the people here: its members are told
    /// of the changes not told yet and whom a kick names is put out; whoever a ban in force
    /// matches is put out of the room or, server-wide, closed. Returns how many connections
    /// it closed.
    fn absorb(&self, key: &str, value: &[u8], apply: bool) -> usize {
        let room = store::room_of(key);
        if room.is_none() && key != SERVER_KEY {
            return 0;
        }
        let (changes, rules, bans_changed) = {
            let mut records = self.records.write().unwrap_or_else(PoisonError::into_inner);
            // The version held is the one whose changes were applied here.
            let seen = match &room {
                Some(room) => records
                    .rooms
                    .get(room)
                    .map_or(0, |rules| rules.kept.version),
                None => records.server.kept.version,
            };
            let kept = match &room {
                Some(_) => serde_json::from_slice::<RoomRules>(value).map(Record::Room),
                None => serde_json::from_slice::<ServerRules>(value).map(Record::Server),
            };
            let Ok(record) = kept else {
                tracing::warn!("The moderation record {key} is unreadable; ignored");
                return 0;
            };
            let kept = record.kept();
            if kept.version <= seen && seen > 0 {
                return 0;
            }
            let changes: Vec<_> = kept.since(seen).cloned().collect();
            match (&room, record) {
                (Some(room), Record::Room(rules)) => {
                    let rules = Arc::new(rules);
                    let before = records.rooms.insert(room.clone(), rules.clone());
                    self.any_room.store(true, Ordering::Release);
                    let changed = before.is_none_or(|before| before.bans != rules.bans);
                    (changes, Some(rules), changed)
                }
                (_, Record::Server(rules)) => {
                    let changed = records.server.bans != rules.bans
                        || records.server.suspended != rules.suspended;
                    records.server = Arc::new(rules);
                    (changes, None, changed)
                }
                (None, Record::Room(_)) => return 0,
            }
        };
        if !apply {
            return 0;
        }
        let now = crate::clock::now_millis();
        match (room, rules) {
            (Some(room), Some(rules)) => {
                // A change older than that is history, not news: one a node read late (its
                // watch started again after NATS was away) must not kick anyone who came
                // back. Bans are state: enforced from the record whatever its age.
                for recent in changes
                    .into_iter()
                    .filter(|recent| now.saturating_sub(recent.at) < STALE_AFTER)
                {
                    self.tell(&room, &recent.by, recent.at.min(now), recent.change);
                }
                // Only when the bans changed: a room's record changes with every audit
                // entry (a removal, say), and the pass holds the hub's lock.
                if bans_changed {
                    self.enforce_bans(&room, &rules, now);
                }
                0
            }
            _ if bans_changed => self.enforce_server(now),
            _ => 0,
        }
    }

    /// Tells the room's members here of `change`, and puts out whom a kick names.
    fn tell(&self, room: &str, by: &str, at: Millis, change: RoomChange) {
        let Some(shown) = self.hub.room_name(room) else {
            return;
        };
        self.hub.tell_room(
            room,
            &ServerFrame::RoomChanged {
                room: shown.to_string(),
                by: by.to_owned(),
                change: told(&change),
                at,
            },
        );
        if let RoomChange::Kicked { user, .. } = change {
            let user = name_key(&user);
            self.hub.put_out(
                room,
                |name: &str, _, _| name_key(name) == user,
                LeftReason::Kicked,
                at,
            );
        }
    }

    /// Puts out of the room `room` everyone here a ban in force matches: never its owner,
    /// its moderators or an operator.
    fn enforce_bans(&self, room: &str, rules: &RoomRules, now: Millis) {
        if rules.bans.is_empty() {
            return;
        }
        self.hub.put_out(
            room,
            |name: &str, account, ip| {
                let who = Who { name, account, ip };
                rules.ban_of(&who, now).is_some() && !self.exempt(rules, &who)
            },
            LeftReason::Banned,
            now,
        );
    }

    /// Whether `who` is beyond the room's bans, mutes and slow mode.
    fn exempt(&self, rules: &RoomRules, who: &Who<'_>) -> bool {
        rules.is_owner(who) || rules.is_moderator(who) || self.is_operator(who)
    }

    /// Closes every connection here a server ban in force matches, or of a suspended
    /// account (never an operator's); returns how many.
    fn enforce_server(&self, now: Millis) -> usize {
        let server = self.records().server.clone();
        let mut closed = 0;
        for ban in server
            .bans
            .iter()
            .filter(|ban| rules::holds(ban.until, now))
        {
            let detail = banned_detail("from this server", &ban.by, &ban.reason, ban.until);
            closed += self.hub.evict_matching(
                |name: &str, account, ip| {
                    let who = Who { name, account, ip };
                    who.is(&ban.target) && !self.is_operator(&who)
                },
                ErrorKind::Banned,
                &detail,
            );
        }
        for suspension in &server.suspended {
            let detail = suspended_detail(&suspension.by, &suspension.reason);
            let target = BanTarget::Account(suspension.account.clone());
            closed += self
                .hub
                .evict_matching(matching(&target), ErrorKind::Suspended, &detail);
        }
        if closed > 0 {
            tracing::info!("Server bans and suspensions closed {closed} connections here");
        }
        closed
    }

    /// The record of the room `key`, if it has one.
    pub fn room(&self, key: &str) -> Option<Arc<RoomRules>> {
        if !self.any_room.load(Ordering::Acquire) {
            return None;
        }
        self.records().rooms.get(key).cloned()
    }

    /// Refuses a handshake a server ban matches, or an account suspended.
    pub fn check_handshake(&self, who: &Who<'_>) -> Result<(), ModError> {
        let server = self.records().server.clone();
        let now = crate::clock::now_millis();
        // A suspension holds for operators too (only an operator suspends); bans do not,
        // so that no ban can lock every operator out.
        if who.account.is_some() {
            if let Some(suspension) = server.suspension_of(who.name) {
                return Err(ModError::Suspended(suspended_detail(
                    &suspension.by,
                    &suspension.reason,
                )));
            }
        }
        if self.is_operator(who) {
            return Ok(());
        }
        if let Some(ban) = server.ban_of(who, now) {
            return Err(ModError::Banned(banned_detail(
                "from this server",
                &ban.by,
                &ban.reason,
                ban.until,
            )));
        }
        Ok(())
    }

    /// Refuses a registration (or an account's sign-in that has no id yet) of `name` from
    /// `ip` that a server ban or a suspension would refuse once the account exists.
    pub fn check_registration(&self, name: &str, ip: IpAddr) -> Result<(), ModError> {
        // The account about to be made (or found): no id yet, but an account's.
        self.check_handshake(&Who {
            name,
            account: Some(0),
            ip,
        })
    }

    /// Refuses a join of the room `key` (shown as `shown`) a ban or registered-only keeps
    /// `who` out of. Owners, moderators and operators are never kept out.
    pub fn check_join(&self, key: &str, shown: &str, who: &Who<'_>) -> Result<(), ModError> {
        let Some(rules) = self.room(key) else {
            return Ok(());
        };
        if self.exempt(&rules, who) {
            return Ok(());
        }
        if let Some(ban) = rules.ban_of(who, crate::clock::now_millis()) {
            return Err(ModError::BannedFromRoom(banned_detail(
                &format!("from #{shown}"),
                &ban.by,
                &ban.reason,
                ban.until,
            )));
        }
        if rules.registered_only && who.account.is_none() {
            return Err(ModError::RegisteredOnly(shown.to_owned()));
        }
        Ok(())
    }

    /// Refuses a message to the room `key` from `who` when banned from it (whom a ban put
    /// out cannot speak there, whatever path kept them in), muted there, or in slow mode too
    /// soon after their last one; moderators are none of these.
    pub fn check_speak(
        &self,
        key: &str,
        shown: &str,
        who: &Who<'_>,
        now: Millis,
    ) -> Result<(), ModError> {
        self.check_said(key, shown, who, now, true)
    }

    /// Refuses an edit of or a reaction to a message of the room `key` from `who` when
    /// banned from it or muted there, as [`Moderation::check_speak`]; slow mode counts
    /// messages only.
    pub fn check_change(
        &self,
        key: &str,
        shown: &str,
        who: &Who<'_>,
        now: Millis,
    ) -> Result<(), ModError> {
        self.check_said(key, shown, who, now, false)
    }

    /// [`Moderation::check_speak`], slow mode included when `slow`.
    fn check_said(
        &self,
        key: &str,
        shown: &str,
        who: &Who<'_>,
        now: Millis,
        slow: bool,
    ) -> Result<(), ModError> {
        let Some(rules) = self.room(key) else {
            return Ok(());
        };
        if self.exempt(&rules, who) {
            return Ok(());
        }
        if let Some(ban) = rules.ban_of(who, now) {
            return Err(ModError::BannedFromRoom(banned_detail(
                &format!("from #{shown}"),
                &ban.by,
                &ban.reason,
                ban.until,
            )));
        }
        if let Some(mute) = rules.mute_of(who.name, now) {
            let until = match mute.until {
                Some(until) => format!(" for {} more s", (until - now + 999) / 1000),
                None => String::new(),
            };
            let why = if mute.reason.is_empty() {
                String::new()
            } else {
                format!(": {}", mute.reason)
            };
            return Err(ModError::Muted(format!(
                "you are muted in #{shown}{until} (by {}){why}",
                mute.by
            )));
        }
        if slow && rules.slow_secs > 0 {
            let gap = Millis::from(rules.slow_secs) * 1000;
            let mut spoke = self.spoke();
            if spoke.len() >= SPOKE_KEPT {
                // Whoever spoke over an hour ago is past any slow mode but the longest; if
                // that frees too little, everyone is forgotten (each may speak once more),
                // so that this pass comes once per SPOKE_KEPT messages at most.
                spoke.retain(|_, last| now.saturating_sub(*last) < 3_600_000);
                if spoke.len() >= SPOKE_KEPT / 2 {
                    spoke.clear();
                }
            }
            let last = spoke
                .entry((key.to_owned(), name_key(who.name)))
                .or_insert(Millis::MIN);
            if now.saturating_sub(*last) < gap {
                return Err(ModError::Slow {
                    room: shown.to_owned(),
                    secs: rules.slow_secs,
                    wait: ((*last + gap - now + 999) / 1000) as u64,
                });
            }
            *last = now;
        }
        Ok(())
    }

    /// Whether `who` may moderate the room `key`: its owner, a moderator, or an operator.
    pub fn may_moderate(&self, key: &str, who: &Who<'_>, operator: bool) -> bool {
        operator
            || self
                .room(key)
                .is_some_and(|rules| rules.is_owner(who) || rules.is_moderator(who))
    }

    /// Whether any moderation record exists: until one does, nothing is checked.
    pub fn is_idle(&self) -> bool {
        !self.any_room.load(Ordering::Acquire)
    }

    /// The room `key` as [`ServerFrame::RoomInfo`] shows it to `who`.
    pub fn info(&self, key: &str, shown: &str, who: &Who<'_>, operator: bool) -> RoomInfo {
        let full = self.may_moderate(key, who, operator);
        let now = crate::clock::now_millis();
        match self.room(key) {
            Some(rules) => rules.info(shown, full, now),
            None => RoomRules::default().info(shown, full, now),
        }
    }

    /// The newest `limit` audit entries of the room `key` (`None`: server-wide), newest
    /// first.
    pub fn audit(&self, key: Option<&str>, limit: usize) -> Vec<AuditEntry> {
        let records = self.records();
        let kept = match key {
            Some(key) => match records.rooms.get(key) {
                Some(rules) => &rules.kept,
                None => return Vec::new(),
            },
            None => &records.server.kept,
        };
        kept.audit.iter().rev().take(limit).cloned().collect()
    }

    /// Writes `edit` of the record `key` and takes in what was written (applying it here).
    /// Returns the record written and how many connections here its changes closed.
    async fn write<T: serde::Serialize + serde::de::DeserializeOwned + Default + Send + 'static>(
        &self,
        key: String,
        mut edit: impl FnMut(&mut T) -> Result<(), ModError> + Send + 'static,
    ) -> Result<(T, usize), ModError> {
        let value = self
            .store
            .edit(
                key.clone(),
                Box::new(move |now: Option<&[u8]>| {
                    let mut record: T = match now {
                        Some(value) => serde_json::from_slice(value).map_err(|err| {
                            StoreFailed(format!("a moderation record is unreadable: {err}"))
                        })?,
                        None => T::default(),
                    };
                    edit(&mut record)?;
                    serde_json::to_vec(&record)
                        .map_err(|err| StoreFailed(format!("cannot encode a record: {err}")).into())
                }),
            )
            .await?;
        let closed = self.absorb(&key, &value, true);
        let record = serde_json::from_slice(&value)
            .map_err(|err| StoreFailed(format!("a moderation record is unreadable: {err}")))?;
        Ok((record, closed))
    }

    /// `Claim`: `actor` (signed in) becomes the owner of the room `key` nobody owns, or
    /// whose owner's account `gone` (its id) was deleted since.
    pub async fn claim(
        &self,
        key: &str,
        shown: &str,
        actor: Actor,
        gone: Option<i64>,
    ) -> Result<RoomInfo, ModError> {
        let Some(id) = actor.account else {
            return Err(ModError::NotSignedIn);
        };
        let shown = shown.to_owned();
        let at = crate::clock::now_millis();
        let who = actor.clone();
        let room = shown.clone();
        let (rules, _): (RoomRules, _) = self
            .write(store::room_key(key), move |rules: &mut RoomRules| {
                if let Some(owner) = rules.owner.as_ref().filter(|owner| Some(owner.id) != gone) {
                    return Err(ModError::Claimed {
                        room: room.clone(),
                        owner: owner.name.clone(),
                    });
                }
                if rules.shown.is_empty() {
                    rules.shown = room.clone();
                }
                rules.owner = Some(Holder {
                    name: who.name.clone(),
                    id,
                });
                rules.expire(at);
                let entry = audit(&who.name, Some(&room), "claim", &room, "", None, at);
                rules
                    .kept
                    .record(&who.name, at, Some(RoomChange::Claimed), entry);
                Ok(())
            })
            .await?;
        tracing::info!(actor = %actor.name, room = %shown, "{} claimed #{shown}", actor.name);
        Ok(rules.info(&shown, true, at))
    }

    /// `Moderate`: `action` in the room `key` by `actor`; `aimed` is what the hub knows of
    /// the person the action names.
    pub async fn act(
        &self,
        key: &str,
        shown: &str,
        actor: Actor,
        aimed: Aimed,
        action: RoomAction,
    ) -> Result<RoomInfo, ModError> {
        if actor.account.is_none() {
            return Err(ModError::NotSignedIn);
        }
        let at = crate::clock::now_millis();
        let action = checked(action, &actor, aimed, at)?;
        let (shown, who) = (shown.to_owned(), actor.clone());
        let room = shown.clone();
        let logged = action.clone();
        let (rules, _): (RoomRules, _) = self
            .write(store::room_key(key), move |rules: &mut RoomRules| {
                apply(rules, &room, &who, aimed, logged.clone(), at)
            })
            .await?;
        let entry = rules.kept.audit.back();
        tracing::info!(
            actor = %actor.name,
            room = %shown,
            action = entry.map(|e| e.action.as_str()).unwrap_or(""),
            target = entry.map(|e| e.target.as_str()).unwrap_or(""),
            reason = entry.map(|e| e.reason.as_str()).unwrap_or(""),
            until = ?entry.and_then(|e| e.until),
            "Moderation in #{shown} by {}",
            actor.name
        );
        Ok(rules.info(&shown, true, at))
    }

    /// Keeps an audit entry of a message removal in the room `key` by `actor`.
    pub async fn removed(&self, key: &str, shown: &str, actor: &str, seq: u64) {
        let at = crate::clock::now_millis();
        let (room, by) = (shown.to_owned(), actor.to_owned());
        let written = self
            .write::<RoomRules>(store::room_key(key), move |rules: &mut RoomRules| {
                if rules.shown.is_empty() {
                    rules.shown = room.clone();
                }
                let entry = audit(
                    &by,
                    Some(&room),
                    "remove",
                    &format!("message {seq}"),
                    "",
                    None,
                    at,
                );
                rules.kept.record(&by, at, None, entry);
                Ok(())
            })
            .await;
        tracing::info!(actor = %actor, room = %shown, target = seq, "{actor} removed message {seq} of #{shown}");
        if let Err(err) = written {
            tracing::error!(
                "Cannot keep the removal of message {seq} of #{shown} in the audit log: {err}"
            );
        }
    }

    /// Keeps an audit entry of an operator's `Disconnect`.
    pub async fn disconnected(&self, actor: &str, user: &str, reason: &str) {
        let at = crate::clock::now_millis();
        let entry = audit(actor, None, "disconnect", user, reason, None, at);
        let by = actor.to_owned();
        let written = self
            .write::<ServerRules>(SERVER_KEY.to_owned(), move |rules: &mut ServerRules| {
                rules.kept.record(&by, at, None, entry.clone());
                Ok(())
            })
            .await;
        if let Err(err) = written {
            tracing::error!("Cannot keep the disconnection of {user} in the audit log: {err}");
        }
    }

    /// `Operate`: a server-wide `action` by `actor`, an operator; returns how many
    /// connections here it closed.
    pub async fn operate(&self, actor: Actor, action: ServerAction) -> Result<usize, ModError> {
        if !actor.operator {
            return Err(ModError::NotPermitted(
                "only a server operator may act server-wide".into(),
            ));
        }
        let at = crate::clock::now_millis();
        let who = actor.clone();
        let action = match action {
            ServerAction::Ban {
                target,
                for_secs,
                reason,
            } => {
                let target = checked_ban(target, for_secs, &who.who(), at)?;
                ServerAction::Ban {
                    target,
                    for_secs,
                    reason,
                }
            }
            ServerAction::Unban { target } => ServerAction::Unban {
                target: target::checked(target)?,
            },
            other => other,
        };
        let (rules, closed): (ServerRules, _) = self
            .write(SERVER_KEY.to_owned(), move |rules: &mut ServerRules| {
                operate(rules, &who, action.clone(), at)
            })
            .await?;
        if let Some(entry) = rules.kept.audit.back() {
            tracing::info!(
                actor = %actor.name,
                action = %entry.action,
                target = %entry.target,
                reason = %entry.reason,
                until = ?entry.until,
                "Server-wide {} by {}",
                entry.action,
                actor.name
            );
        }
        Ok(closed)
    }
}

/// Whether a person the hub holds is `target`.
fn matching(target: &BanTarget) -> impl Fn(&str, Option<i64>, IpAddr) -> bool + '_ {
    move |name, account, ip| Who { name, account, ip }.is(target)
}

/// A ban's target checked and written one way, and its duration checked; refused when the
/// ban would match `me`, who asks for it.
fn checked_ban(
    target: BanTarget,
    for_secs: Option<u64>,
    me: &Who<'_>,
    at: Millis,
) -> Result<BanTarget, ModError> {
    let target = target::checked(target)?;
    target::until(at, for_secs)?;
    if me.is(&target) {
        return Err(ModError::NotPermitted("that ban would match you".into()));
    }
    Ok(target)
}

/// Takes the ban of `target` out of `bans`; whether there was one.
fn lift_ban(bans: &mut Vec<Ban>, target: &BanTarget) -> bool {
    let before = bans.len();
    bans.retain(|ban| !target::same(&ban.target, target));
    bans.len() != before
}

/// Puts `ban` in `bans`, in place of one of the same target.
fn put_ban(bans: &mut Vec<Ban>, ban: Ban) -> Result<(), ModError> {
    lift_ban(bans, &ban.target);
    if bans.len() >= MAX_LISTED {
        return Err(ModError::Invalid(format!(
            "{MAX_LISTED} bans are the most one list holds: lift some first"
        )));
    }
    bans.push(ban);
    Ok(())
}

/// An audit entry.
fn audit(
    actor: &str,
    room: Option<&str>,
    action: &str,
    target: &str,
    reason: &str,
    until: Option<Millis>,
    at: Millis,
) -> AuditEntry {
    AuditEntry {
        at,
        actor: actor.to_owned(),
        room: room.map(str::to_owned),
        action: action.to_owned(),
        target: target.to_owned(),
        reason: reason.to_owned(),
        until,
    }
}

/// What a banned person is told.
fn banned_detail(from: &str, by: &str, reason: &str, until: Option<Millis>) -> String {
    let until = match until {
        Some(until) => format!(" until {}", crate::clock::utc_time(until)),
        None => String::new(),
    };
    let why = if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    };
    format!("you are banned {from}{until} (by {by}){why}")
}

/// What a suspended account is told.
fn suspended_detail(by: &str, reason: &str) -> String {
    let why = if reason.is_empty() {
        String::new()
    } else {
        format!(": {reason}")
    };
    format!("this account is suspended (by {by}){why}")
}

/// `action` with its texts cleaned, refused when it cannot mean anything or aims at the
/// actor or, unless the actor is one, at an operator.
fn checked(
    action: RoomAction,
    actor: &Actor,
    aimed: Aimed,
    at: Millis,
) -> Result<RoomAction, ModError> {
    let me = actor.who();
    let not_me = |user: &str| {
        if name_key(user) == name_key(&actor.name) {
            Err(ModError::NotPermitted(
                "you cannot do that to yourself".into(),
            ))
        } else if aimed.operator && !actor.operator {
            Err(ModError::NotPermitted(
                "a server operator is beyond a room's moderators".into(),
            ))
        } else {
            Ok(())
        }
    };
    let valid_name = |user: &str| {
        chat_proto::validate::username(user)
            .map(|_| ())
            .map_err(|_| ModError::Invalid(format!("{user:?} is not a valid name")))
    };
    Ok(match action {
        RoomAction::Kick { user, reason } => {
            valid_name(&user)?;
            not_me(&user)?;
            RoomAction::Kick {
                user,
                reason: clean(&reason, MAX_REASON_CHARS),
            }
        }
        RoomAction::Ban {
            target,
            for_secs,
            reason,
        } => {
            let target = checked_ban(target, for_secs, &me, at)?;
            if let BanTarget::Account(user) | BanTarget::Name(user) = &target {
                not_me(user)?;
            }
            RoomAction::Ban {
                target,
                for_secs,
                reason: clean(&reason, MAX_REASON_CHARS),
            }
        }
        RoomAction::Unban { target } => RoomAction::Unban {
            target: target::checked(target)?,
        },
        RoomAction::Mute {
            user,
            for_secs,
            reason,
        } => {
            valid_name(&user)?;
            not_me(&user)?;
            target::until(at, for_secs)?;
            RoomAction::Mute {
                user,
                for_secs,
                reason: clean(&reason, MAX_REASON_CHARS),
            }
        }
        RoomAction::Unmute { user } => {
            valid_name(&user)?;
            RoomAction::Unmute { user }
        }
        RoomAction::Promote { user } => {
            valid_name(&user)?;
            RoomAction::Promote { user }
        }
        RoomAction::Demote { user } => {
            valid_name(&user)?;
            RoomAction::Demote { user }
        }
        RoomAction::Topic { topic } => {
            if topic.chars().any(char::is_control) {
                return Err(ModError::Invalid(
                    "a topic is one line without control characters".into(),
                ));
            }
            if topic.chars().count() > MAX_TOPIC_CHARS {
                return Err(ModError::Invalid(format!(
                    "a topic is at most {MAX_TOPIC_CHARS} characters"
                )));
            }
            RoomAction::Topic { topic }
        }
        other @ (RoomAction::RegisteredOnly { .. } | RoomAction::Slow { .. }) => other,
    })
}

/// Applies a checked `action` by `actor` to the room's record, as it is in the store.
fn apply(
    rules: &mut RoomRules,
    room: &str,
    actor: &Actor,
    aimed: Aimed,
    action: RoomAction,
    at: Millis,
) -> Result<(), ModError> {
    let me = actor.who();
    let owner = rules.is_owner(&me) || actor.operator;
    let moderator = owner || rules.is_moderator(&me);
    if !moderator {
        return Err(ModError::NotPermitted(format!(
            "only #{room}'s owner, its moderators and server operators may moderate it"
        )));
    }
    if rules.shown.is_empty() {
        rules.shown = room.to_owned();
    }
    rules.expire(at);
    // The owner is beyond the moderators, and the moderators beyond each other.
    // By the account the person's name is (roles are held by account ids): a guest or a new
    // account under a deleted holder's name is beyond nobody.
    let holds_role = |rules: &RoomRules| {
        aimed.account.is_some_and(|id| {
            rules.owner.as_ref().is_some_and(|owner| owner.id == id)
                || rules.moderators.iter().any(|moderator| moderator.id == id)
        })
    };
    // (An operator is beyond the moderators too: `checked` refused that before the write.)
    let beyond = |rules: &RoomRules| {
        if !owner && holds_role(rules) {
            Err(ModError::NotPermitted(
                "a room's owner and moderators are beyond its moderators".into(),
            ))
        } else {
            Ok(())
        }
    };
    let by = actor.name.clone();
    let (change, entry) = match action {
        RoomAction::Kick { user, reason } => {
            beyond(rules)?;
            let entry = audit(&by, Some(room), "kick", &user, &reason, None, at);
            (RoomChange::Kicked { user, reason }, entry)
        }
        RoomAction::Ban {
            target,
            for_secs,
            reason,
        } => {
            if let BanTarget::Account(_) | BanTarget::Name(_) = &target {
                beyond(rules)?;
            }
            let until = target::until(at, for_secs)?;
            put_ban(
                &mut rules.bans,
                Ban {
                    target: target.clone(),
                    by: by.clone(),
                    reason: reason.clone(),
                    until,
                },
            )?;
            let entry = audit(
                &by,
                Some(room),
                "ban",
                &target.to_string(),
                &reason,
                until,
                at,
            );
            (
                RoomChange::Banned {
                    target,
                    reason,
                    until,
                },
                entry,
            )
        }
        RoomAction::Unban { target } => {
            if !lift_ban(&mut rules.bans, &target) {
                return Err(ModError::Invalid(format!(
                    "{target} is not banned from #{room}"
                )));
            }
            let entry = audit(&by, Some(room), "unban", &target.to_string(), "", None, at);
            (RoomChange::Unbanned { target }, entry)
        }
        RoomAction::Mute {
            user,
            for_secs,
            reason,
        } => {
            beyond(rules)?;
            let until = target::until(at, for_secs)?;
            rules
                .mutes
                .retain(|mute| name_key(&mute.user) != name_key(&user));
            if rules.mutes.len() >= MAX_LISTED {
                return Err(ModError::Invalid(format!(
                    "{MAX_LISTED} mutes are the most a room holds: lift some first"
                )));
            }
            rules.mutes.push(Mute {
                user: user.clone(),
                by: by.clone(),
                reason: reason.clone(),
                until,
            });
            let entry = audit(&by, Some(room), "mute", &user, &reason, until, at);
            (
                RoomChange::Muted {
                    user,
                    reason,
                    until,
                },
                entry,
            )
        }
        RoomAction::Unmute { user } => {
            let before = rules.mutes.len();
            rules
                .mutes
                .retain(|mute| name_key(&mute.user) != name_key(&user));
            if rules.mutes.len() == before {
                return Err(ModError::Invalid(format!("{user} is not muted in #{room}")));
            }
            let entry = audit(&by, Some(room), "unmute", &user, "", None, at);
            (RoomChange::Unmuted { user }, entry)
        }
        RoomAction::Promote { user } | RoomAction::Demote { user } if !owner => {
            let _ = user;
            return Err(ModError::NotPermitted(format!(
                "only #{room}'s owner may give or take the moderator role"
            )));
        }
        RoomAction::Promote { user } => {
            if rules.owner.is_none() {
                return Err(ModError::Invalid(format!(
                    "#{room} has no owner: claim it first"
                )));
            }
            if holds_role(rules) {
                return Err(ModError::Invalid(format!(
                    "{user} moderates #{room} already"
                )));
            }
            if rules.moderators.len() >= MAX_LISTED {
                return Err(ModError::Invalid(format!(
                    "{MAX_LISTED} moderators are the most a room has"
                )));
            }
            let Some(id) = aimed.account else {
                return Err(ModError::Invalid(format!(
                    "{user} is no account: only accounts moderate"
                )));
            };
            rules.moderators.push(Holder {
                name: user.clone(),
                id,
            });
            let entry = audit(&by, Some(room), "promote", &user, "", None, at);
            (RoomChange::Promoted { user }, entry)
        }
        RoomAction::Demote { user } => {
            let before = rules.moderators.len();
            rules
                .moderators
                .retain(|moderator| name_key(&moderator.name) != name_key(&user));
            if rules.moderators.len() == before {
                return Err(ModError::Invalid(format!(
                    "{user} is no moderator of #{room}"
                )));
            }
            let entry = audit(&by, Some(room), "demote", &user, "", None, at);
            (RoomChange::Demoted { user }, entry)
        }
        RoomAction::Topic { topic } => {
            rules.topic = topic.clone();
            let entry = audit(&by, Some(room), "topic", &topic, "", None, at);
            (RoomChange::Topic { topic }, entry)
        }
        RoomAction::RegisteredOnly { on } => {
            rules.registered_only = on;
            let entry = audit(
                &by,
                Some(room),
                "registered_only",
                if on { "on" } else { "off" },
                "",
                None,
                at,
            );
            (RoomChange::RegisteredOnly { on }, entry)
        }
        RoomAction::Slow { secs } => {
            if u64::from(secs) > target::LONGEST_SECS {
                return Err(ModError::Invalid("slow mode of more than 10 years".into()));
            }
            rules.slow_secs = secs;
            let entry = audit(&by, Some(room), "slow", &secs.to_string(), "", None, at);
            (RoomChange::Slow { secs }, entry)
        }
    };
    rules.kept.record(&by, at, Some(change), entry);
    Ok(())
}

/// Applies a server-wide `action` by `actor` to the server's record.
fn operate(
    rules: &mut ServerRules,
    actor: &Actor,
    action: ServerAction,
    at: Millis,
) -> Result<(), ModError> {
    let by = actor.name.clone();
    rules.bans.retain(|ban| rules::holds(ban.until, at));
    let (change, entry) = match action {
        ServerAction::Ban {
            target,
            for_secs,
            reason,
        } => {
            let reason = clean(&reason, MAX_REASON_CHARS);
            let until = target::until(at, for_secs)?;
            put_ban(
                &mut rules.bans,
                Ban {
                    target: target.clone(),
                    by: by.clone(),
                    reason: reason.clone(),
                    until,
                },
            )?;
            let entry = audit(&by, None, "ban", &target.to_string(), &reason, until, at);
            (None, entry)
        }
        ServerAction::Unban { target } => {
            if !lift_ban(&mut rules.bans, &target) {
                return Err(ModError::Invalid(format!("{target} is not banned")));
            }
            (
                None,
                audit(&by, None, "unban", &target.to_string(), "", None, at),
            )
        }
        ServerAction::Suspend { account, reason } => {
            if name_key(&account) == name_key(&actor.name) {
                return Err(ModError::NotPermitted("you cannot suspend yourself".into()));
            }
            let reason = clean(&reason, MAX_REASON_CHARS);
            rules
                .suspended
                .retain(|s| name_key(&s.account) != name_key(&account));
            rules.suspended.push(rules::Suspension {
                account: account.clone(),
                by: by.clone(),
                reason: reason.clone(),
            });
            let entry = audit(&by, None, "suspend", &account, &reason, None, at);
            (None, entry)
        }
        ServerAction::Unsuspend { account } => {
            let before = rules.suspended.len();
            rules
                .suspended
                .retain(|s| name_key(&s.account) != name_key(&account));
            if rules.suspended.len() == before {
                return Err(ModError::Invalid(format!("{account} is not suspended")));
            }
            (None, audit(&by, None, "unsuspend", &account, "", None, at))
        }
    };
    rules.kept.record(&by, at, change, entry);
    Ok(())
}
