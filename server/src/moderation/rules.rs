//! What moderation keeps: one record per room that has any (its owner, moderators,
//! settings, bans, mutes, recent changes and audit log), and one for the server (its bans,
//! suspended accounts and audit log). Plain data with the logic on it, stored as JSON by
//! any [`super::store::RulesStore`].

use std::collections::VecDeque;
use std::net::IpAddr;

use chat_proto::moderation::{AuditEntry, Ban, BanTarget, Mute, Network, RoomChange, RoomInfo};
use chat_proto::validate::name_key;
use chat_proto::Millis;
use serde::{Deserialize, Serialize};

/// How many audit entries a record keeps, newest last: a long log of what its moderators
/// did, bounded so that a record stays one small value in any store.
pub const AUDIT_KEPT: usize = 500;

/// How many bans, and how many mutes, one record holds at most: a record stays one small
/// value in any store (a NATS message is at most 1 MiB), and a `RoomInfo` one frame.
pub const MAX_LISTED: usize = 1000;

/// How many recent changes a record keeps for nodes that apply them after the fact: far
/// more than a node can fall behind within its watch.
const RECENT_KEPT: usize = 64;

/// Who is asking or is aimed at, as a check sees them.
#[derive(Debug, Clone, Copy)]
pub struct Who<'a> {
    /// The name as registered (any case).
    pub name: &'a str,
    /// The id of the account of that name they signed in to; `None`: a guest.
    pub account: Option<i64>,
    /// Where they connect from.
    pub ip: IpAddr,
}

impl Who<'_> {
    /// Whether `target` names this person.
    pub fn is(&self, target: &BanTarget) -> bool {
        match target {
            BanTarget::Account(name) => {
                self.account.is_some() && name_key(name) == name_key(self.name)
            }
            BanTarget::Name(name) => name_key(name) == name_key(self.name),
            BanTarget::Address(address) => Network::parse(address)
                .map(|network| network.contains(self.ip))
                .unwrap_or(false),
        }
    }
}

/// Whether something that holds `until` still holds at `now`.
pub fn holds(until: Option<Millis>, now: Millis) -> bool {
    until.is_none_or(|until| until > now)
}

/// One change of a room, kept for the nodes that tell their members of it after the fact
/// (and put out whom a kick names). Bans, mutes and settings are state, enforced from the
/// record as it is, not from this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recent {
    /// The record's version the change made.
    pub version: u64,
    /// Who made it.
    pub by: String,
    /// When.
    pub at: Millis,
    /// What it is.
    pub change: RoomChange,
}

/// The history a record keeps of itself: its version, its recent changes, its audit log.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kept {
    /// Bumped by every change.
    pub version: u64,
    /// The latest changes, oldest first.
    pub recent: VecDeque<Recent>,
    /// The audit log, oldest first.
    pub audit: VecDeque<AuditEntry>,
}

impl Kept {
    /// Records `change` by `by` at `at` (if members must be told of it) and `entry` in the
    /// audit.
    pub fn record(&mut self, by: &str, at: Millis, change: Option<RoomChange>, entry: AuditEntry) {
        self.version += 1;
        if let Some(change) = change {
            self.recent.push_back(Recent {
                version: self.version,
                by: by.to_owned(),
                at,
                change,
            });
            while self.recent.len() > RECENT_KEPT {
                self.recent.pop_front();
            }
        }
        self.audit.push_back(entry);
        while self.audit.len() > AUDIT_KEPT {
            self.audit.pop_front();
        }
    }

    /// The changes after version `seen`, oldest first.
    pub fn since(&self, seen: u64) -> impl Iterator<Item = &Recent> {
        self.recent
            .iter()
            .filter(move |recent| recent.version > seen)
    }
}

/// An account holding a role: its name as registered, for people, and its id, which is
/// what the role belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    /// The account's name as registered.
    pub name: String,
    /// The account's id.
    pub id: i64,
}

/// One room's record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RoomRules {
    /// The room's name as shown when the record was made.
    pub shown: String,
    /// The account that claimed it.
    pub owner: Option<Holder>,
    /// The accounts the owner made moderators.
    pub moderators: Vec<Holder>,
    /// The topic; empty: none.
    pub topic: String,
    /// Guests may not join.
    pub registered_only: bool,
    /// Seconds between one person's messages; 0: off.
    pub slow_secs: u32,
    /// Bans, expired ones dropped at the next change.
    pub bans: Vec<Ban>,
    /// Mutes, expired ones dropped at the next change.
    pub mutes: Vec<Mute>,
    /// Its version and history.
    pub kept: Kept,
}

impl RoomRules {
    /// Whether `who` owns the room: signed in to the very account that claimed it (a new
    /// account under a deleted one's name owns nothing).
    pub fn is_owner(&self, who: &Who<'_>) -> bool {
        who.account
            .is_some_and(|id| self.owner.as_ref().is_some_and(|owner| owner.id == id))
    }

    /// Whether `who` is one of its moderators (the owner is not listed), by account.
    pub fn is_moderator(&self, who: &Who<'_>) -> bool {
        who.account
            .is_some_and(|id| self.moderators.iter().any(|moderator| moderator.id == id))
    }

    /// The ban in force at `now` that keeps `who` out, if any.
    pub fn ban_of(&self, who: &Who<'_>, now: Millis) -> Option<&Ban> {
        self.bans
            .iter()
            .find(|ban| holds(ban.until, now) && who.is(&ban.target))
    }

    /// The mute in force at `now` on `name`, if any.
    pub fn mute_of(&self, name: &str, now: Millis) -> Option<&Mute> {
        self.mutes
            .iter()
            .find(|mute| holds(mute.until, now) && name_key(&mute.user) == name_key(name))
    }

    /// Drops what expired by `now`.
    pub fn expire(&mut self, now: Millis) {
        self.bans.retain(|ban| holds(ban.until, now));
        self.mutes.retain(|mute| holds(mute.until, now));
    }

    /// The room as `RoomInfo` shows it, named `shown`; the bans and mutes only when `full`.
    pub fn info(&self, shown: &str, full: bool, now: Millis) -> RoomInfo {
        let mut moderators: Vec<String> = self
            .moderators
            .iter()
            .map(|moderator| moderator.name.clone())
            .collect();
        moderators.sort_by_key(|name| name_key(name));
        RoomInfo {
            room: shown.to_owned(),
            owner: self.owner.as_ref().map(|owner| owner.name.clone()),
            moderators,
            topic: self.topic.clone(),
            registered_only: self.registered_only,
            slow_secs: self.slow_secs,
            bans: if full {
                self.bans
                    .iter()
                    .filter(|ban| holds(ban.until, now))
                    .cloned()
                    .collect()
            } else {
                Vec::new()
            },
            mutes: if full {
                self.mutes
                    .iter()
                    .filter(|mute| holds(mute.until, now))
                    .cloned()
                    .collect()
            } else {
                Vec::new()
            },
            moderator: full,
        }
    }
}

/// A suspended account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Suspension {
    /// The account's name.
    pub account: String,
    /// Who suspended it.
    pub by: String,
    /// Why.
    pub reason: String,
}

/// The server-wide record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServerRules {
    /// Server bans, expired ones dropped at the next change.
    pub bans: Vec<Ban>,
    /// Suspended accounts.
    pub suspended: Vec<Suspension>,
    /// Its version and history.
    pub kept: Kept,
}

impl ServerRules {
    /// The server ban in force at `now` that matches `who`, if any.
    pub fn ban_of(&self, who: &Who<'_>, now: Millis) -> Option<&Ban> {
        self.bans
            .iter()
            .find(|ban| holds(ban.until, now) && who.is(&ban.target))
    }

    /// The suspension of the account `name`, if any.
    pub fn suspension_of(&self, name: &str) -> Option<&Suspension> {
        self.suspended
            .iter()
            .find(|suspension| name_key(&suspension.account) == name_key(name))
    }
}

/// The room change as members are told it: an address is never shown to them.
pub fn told(change: &RoomChange) -> RoomChange {
    let hide = |target: &BanTarget| match target {
        BanTarget::Address(_) => BanTarget::Address(String::new()),
        other => other.clone(),
    };
    match change {
        RoomChange::Banned {
            target,
            reason,
            until,
        } => RoomChange::Banned {
            target: hide(target),
            reason: reason.clone(),
            until: *until,
        },
        RoomChange::Unbanned { target } => RoomChange::Unbanned {
            target: hide(target),
        },
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(name: &str, account: Option<i64>, ip: &str) -> Who<'static> {
        Who {
            name: Box::leak(name.to_owned().into_boxed_str()),
            account,
            ip: ip.parse().unwrap(),
        }
    }

    fn ban(target: BanTarget, until: Option<Millis>) -> Ban {
        Ban {
            target,
            by: "op".into(),
            reason: String::new(),
            until,
        }
    }

    #[test]
    fn a_ban_matches_its_account_name_or_network_until_it_expires() {
        let mut rules = RoomRules {
            bans: vec![
                ban(BanTarget::Account("Troll".into()), None),
                ban(BanTarget::Name("spammer".into()), Some(1_000)),
                ban(BanTarget::Address("192.0.2.0/24".into()), None),
            ],
            ..RoomRules::default()
        };
        assert!(rules
            .ban_of(&who("troll", Some(7), "10.0.0.1"), 0)
            .is_some());
        // A guest called like the account is not the account.
        assert!(rules.ban_of(&who("troll", None, "10.0.0.1"), 0).is_none());
        assert!(rules
            .ban_of(&who("SPAMMER", None, "10.0.0.1"), 999)
            .is_some());
        assert!(rules
            .ban_of(&who("spammer", None, "10.0.0.1"), 1_000)
            .is_none());
        assert!(rules
            .ban_of(&who("anyone", None, "192.0.2.200"), 0)
            .is_some());
        assert!(rules.ban_of(&who("anyone", None, "192.0.3.1"), 0).is_none());
        rules.expire(1_000);
        assert_eq!(rules.bans.len(), 2);
    }

    #[test]
    fn members_never_see_a_banned_address() {
        let change = RoomChange::Banned {
            target: BanTarget::Address("192.0.2.7".into()),
            reason: "spam".into(),
            until: None,
        };
        assert_eq!(
            told(&change),
            RoomChange::Banned {
                target: BanTarget::Address(String::new()),
                reason: "spam".into(),
                until: None,
            }
        );
    }
}
