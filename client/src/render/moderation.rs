//! Moderation as people read it: what changed in a room, a room's roles and settings, and
//! a line of the audit log. Shared by the REPL, `listen` and `chat-client mod`.

use chat_proto::moderation::{AuditEntry, BanTarget, RoomChange, RoomInfo};
use chat_proto::Millis;

use super::safe::clean;
use super::utc::rfc3339;

/// How long until `until`, or "for good".
fn until_text(until: Option<Millis>) -> String {
    match until {
        Some(until) => format!(" until {}", rfc3339(until)),
        None => String::new(),
    }
}

/// `: why`, or nothing.
fn because(reason: &str) -> String {
    if reason.is_empty() {
        String::new()
    } else {
        format!(": {}", clean(reason))
    }
}

/// Whom a ban names, as people read it (an address members are not shown reads
/// "an address").
pub fn target_text(target: &BanTarget) -> String {
    match target {
        BanTarget::Account(name) => format!("the account {}", clean(name)),
        BanTarget::Name(name) => clean(name).into_owned(),
        BanTarget::Address(address) if address.is_empty() => "an address".to_owned(),
        BanTarget::Address(address) => clean(address).into_owned(),
    }
}

/// `by` changed `change`: `alice banned bob for good: spam`.
pub fn change_text(by: &str, change: &RoomChange) -> String {
    let by = clean(by);
    match change {
        RoomChange::Claimed => format!("{by} claimed the room"),
        RoomChange::Kicked { user, reason } => {
            format!("{by} kicked {}{}", clean(user), because(reason))
        }
        RoomChange::Banned {
            target,
            reason,
            until,
        } => format!(
            "{by} banned {}{}{}",
            target_text(target),
            until_text(*until),
            because(reason)
        ),
        RoomChange::Unbanned { target } => {
            format!("{by} lifted the ban of {}", target_text(target))
        }
        RoomChange::Muted {
            user,
            reason,
            until,
        } => format!(
            "{by} muted {}{}{}",
            clean(user),
            until_text(*until),
            because(reason)
        ),
        RoomChange::Unmuted { user } => format!("{by} unmuted {}", clean(user)),
        RoomChange::Promoted { user } => format!("{by} made {} a moderator", clean(user)),
        RoomChange::Demoted { user } => {
            format!("{by} took the moderator role from {}", clean(user))
        }
        RoomChange::Topic { topic } if topic.is_empty() => format!("{by} cleared the topic"),
        RoomChange::Topic { topic } => format!("{by} set the topic: {}", clean(topic)),
        RoomChange::RegisteredOnly { on: true } => format!("{by} made the room accounts-only"),
        RoomChange::RegisteredOnly { on: false } => format!("{by} let guests in again"),
        RoomChange::Slow { secs: 0 } => format!("{by} turned slow mode off"),
        RoomChange::Slow { secs } => format!("{by} set slow mode: one message per {secs} s"),
    }
}

/// A room's roles and settings, one line.
pub fn info_text(info: &RoomInfo) -> String {
    let mut parts = vec![format!("#{}", clean(&info.room))];
    match &info.owner {
        Some(owner) => parts.push(format!("owner {}", clean(owner))),
        None => parts.push("unclaimed".to_owned()),
    }
    if !info.moderators.is_empty() {
        parts.push(format!("moderators {}", clean(&info.moderators.join(", "))));
    }
    if !info.topic.is_empty() {
        parts.push(format!("topic: {}", clean(&info.topic)));
    }
    if info.registered_only {
        parts.push("accounts only".to_owned());
    }
    if info.slow_secs > 0 {
        parts.push(format!("slow mode {} s", info.slow_secs));
    }
    for ban in &info.bans {
        parts.push(format!(
            "ban of {}{} by {}{}",
            target_text(&ban.target),
            until_text(ban.until),
            clean(&ban.by),
            because(&ban.reason)
        ));
    }
    for mute in &info.mutes {
        parts.push(format!(
            "{} muted{} by {}{}",
            clean(&mute.user),
            until_text(mute.until),
            clean(&mute.by),
            because(&mute.reason)
        ));
    }
    parts.join("; ")
}

/// One audit entry: `2026-12-08T10:00:00.000Z #rust alice ban name bob until ...: spam`.
pub fn audit_text(entry: &AuditEntry) -> String {
    let room = match &entry.room {
        Some(room) => format!("#{} ", clean(room)),
        None => String::new(),
    };
    format!(
        "{} {room}{} {} {}{}{}",
        rfc3339(entry.at),
        clean(&entry.actor),
        clean(&entry.action),
        clean(&entry.target),
        until_text(entry.until),
        because(&entry.reason)
    )
}
