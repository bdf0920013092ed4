//! The moderation commands people type (`/kick`, `/ban`, `/mute`, `/topic`, `/set`,
//! `/remove`, `/sban`, `/suspend`, ...), read into the actions they mean and written back
//! as the lines that mean them.

use std::fmt;

use super::{Command, Input, InputError};
use crate::moderation::{
    parse_duration, parse_target, BanTarget, Network, RoomAction, ServerAction,
};
use crate::validate;

/// The word that says "for good" where a duration may stand.
const FOREVER: &str = "forever";

/// Reads the arguments `args` of the moderation `command`.
pub(super) fn parse(command: Command, args: &str) -> Result<Input, InputError> {
    let usage = || InputError::Usage { command };
    let (first, rest) = match args.split_once(char::is_whitespace) {
        Some((first, rest)) => (first, rest.trim()),
        None => (args.trim(), ""),
    };
    let user = || -> Result<String, InputError> {
        if first.is_empty() {
            return Err(usage());
        }
        validate::username(first)?;
        Ok(first.to_owned())
    };
    let only_user = || -> Result<String, InputError> {
        if !rest.is_empty() {
            return Err(usage());
        }
        user()
    };
    let moderate = |action| Ok(Input::Moderate { action });
    let operate = |action| Ok(Input::Operate { action });
    match command {
        Command::Kick => moderate(RoomAction::Kick {
            user: user()?,
            reason: rest.to_owned(),
        }),
        Command::Ban | Command::ServerBan => {
            let target = target(first).ok_or_else(usage)?;
            let (for_secs, reason) = lasting(rest);
            if command == Command::Ban {
                moderate(RoomAction::Ban {
                    target,
                    for_secs,
                    reason,
                })
            } else {
                operate(ServerAction::Ban {
                    target,
                    for_secs,
                    reason,
                })
            }
        }
        Command::Unban | Command::ServerUnban => {
            if !rest.is_empty() {
                return Err(usage());
            }
            let target = target(first).ok_or_else(usage)?;
            if command == Command::Unban {
                moderate(RoomAction::Unban { target })
            } else {
                operate(ServerAction::Unban { target })
            }
        }
        Command::Mute => {
            let user = user()?;
            let (for_secs, reason) = lasting(rest);
            moderate(RoomAction::Mute {
                user,
                for_secs,
                reason,
            })
        }
        Command::Unmute => moderate(RoomAction::Unmute { user: only_user()? }),
        Command::Op => moderate(RoomAction::Promote { user: only_user()? }),
        Command::Deop => moderate(RoomAction::Demote { user: only_user()? }),
        Command::Topic => {
            let topic = args.trim();
            if topic.chars().any(char::is_control) {
                return Err(usage());
            }
            moderate(RoomAction::Topic {
                topic: topic.to_owned(),
            })
        }
        Command::Set => match (first, rest) {
            ("registered-only", "on") => moderate(RoomAction::RegisteredOnly { on: true }),
            ("registered-only", "off") => moderate(RoomAction::RegisteredOnly { on: false }),
            ("slow", secs) => match secs.parse::<u32>() {
                Ok(secs) => moderate(RoomAction::Slow { secs }),
                Err(_) => Err(usage()),
            },
            _ => Err(usage()),
        },
        Command::Remove => match (first.parse::<u64>(), rest.is_empty()) {
            (Ok(seq), true) => Ok(Input::Remove { seq }),
            _ => Err(usage()),
        },
        Command::Suspend => operate(ServerAction::Suspend {
            account: user()?,
            reason: rest.to_owned(),
        }),
        Command::Unsuspend => operate(ServerAction::Unsuspend {
            account: only_user()?,
        }),
        _ => Err(usage()),
    }
}

/// A target as typed, if it can be one: a valid name, or an address or network.
fn target(text: &str) -> Option<BanTarget> {
    let target = parse_target(text);
    let valid = match &target {
        BanTarget::Account(name) | BanTarget::Name(name) => validate::username(name).is_ok(),
        BanTarget::Address(address) => Network::parse(address).is_some(),
    };
    valid.then_some(target)
}

/// A duration (or `forever`) and a reason, as typed after a target.
fn lasting(rest: &str) -> (Option<u64>, String) {
    let (word, after) = match rest.split_once(char::is_whitespace) {
        Some((word, after)) => (word, after.trim()),
        None => (rest, ""),
    };
    if word == FOREVER {
        return (None, after.to_owned());
    }
    match parse_duration(word) {
        Some(secs) => (Some(secs), after.to_owned()),
        None => (None, rest.to_owned()),
    }
}

/// Writes `/command` or `/command #room`.
pub(super) fn with_room(
    f: &mut fmt::Formatter<'_>,
    command: Command,
    room: &Option<String>,
) -> fmt::Result {
    match room {
        Some(room) => write!(f, "/{} #{room}", command.name()),
        None => write!(f, "/{}", command.name()),
    }
}

/// A target as typed: `account:NAME`, `NAME` (or `name:NAME` where it would read as an
/// address), or the address.
fn target_text(target: &BanTarget) -> String {
    match target {
        BanTarget::Account(name) => format!("account:{name}"),
        BanTarget::Name(name) if parse_target(name) != BanTarget::Name(name.clone()) => {
            format!("name:{name}")
        }
        BanTarget::Name(name) => name.clone(),
        BanTarget::Address(address) => address.clone(),
    }
}

/// Writes ` DURATION REASON`, as [`lasting`] reads it back.
fn write_lasting(f: &mut fmt::Formatter<'_>, for_secs: Option<u64>, reason: &str) -> fmt::Result {
    let first = reason.split_whitespace().next().unwrap_or("");
    match for_secs {
        Some(secs) => write!(f, " {secs}s")?,
        None if first == FOREVER || parse_duration(first).is_some() => write!(f, " {FOREVER}")?,
        None => {}
    }
    if !reason.is_empty() {
        write!(f, " {reason}")?;
    }
    Ok(())
}

/// Writes a person and a reason: ` USER REASON`.
fn write_user(
    f: &mut fmt::Formatter<'_>,
    command: Command,
    user: &str,
    reason: &str,
) -> fmt::Result {
    write!(f, "/{} {user}", command.name())?;
    if !reason.is_empty() {
        write!(f, " {reason}")?;
    }
    Ok(())
}

/// Writes the line that reads back as `action`.
pub(super) fn write_room_action(f: &mut fmt::Formatter<'_>, action: &RoomAction) -> fmt::Result {
    match action {
        RoomAction::Kick { user, reason } => write_user(f, Command::Kick, user, reason),
        RoomAction::Ban {
            target,
            for_secs,
            reason,
        } => {
            write!(f, "/{} {}", Command::Ban.name(), target_text(target))?;
            write_lasting(f, *for_secs, reason)
        }
        RoomAction::Unban { target } => {
            write!(f, "/{} {}", Command::Unban.name(), target_text(target))
        }
        RoomAction::Mute {
            user,
            for_secs,
            reason,
        } => {
            write!(f, "/{} {user}", Command::Mute.name())?;
            write_lasting(f, *for_secs, reason)
        }
        RoomAction::Unmute { user } => write_user(f, Command::Unmute, user, ""),
        RoomAction::Promote { user } => write_user(f, Command::Op, user, ""),
        RoomAction::Demote { user } => write_user(f, Command::Deop, user, ""),
        RoomAction::Topic { topic } if topic.is_empty() => write!(f, "/{}", Command::Topic.name()),
        RoomAction::Topic { topic } => write!(f, "/{} {topic}", Command::Topic.name()),
        RoomAction::RegisteredOnly { on } => write!(
            f,
            "/{} registered-only {}",
            Command::Set.name(),
            if *on { "on" } else { "off" }
        ),
        RoomAction::Slow { secs } => write!(f, "/{} slow {secs}", Command::Set.name()),
    }
}

/// Writes the line that reads back as `action`.
pub(super) fn write_server_action(
    f: &mut fmt::Formatter<'_>,
    action: &ServerAction,
) -> fmt::Result {
    match action {
        ServerAction::Ban {
            target,
            for_secs,
            reason,
        } => {
            write!(f, "/{} {}", Command::ServerBan.name(), target_text(target))?;
            write_lasting(f, *for_secs, reason)
        }
        ServerAction::Unban { target } => {
            write!(
                f,
                "/{} {}",
                Command::ServerUnban.name(),
                target_text(target)
            )
        }
        ServerAction::Suspend { account, reason } => {
            write_user(f, Command::Suspend, account, reason)
        }
        ServerAction::Unsuspend { account } => write_user(f, Command::Unsuspend, account, ""),
    }
}

#[cfg(test)]
mod tests {
    use crate::input::{parse, Input, InputError};
    use crate::moderation::{BanTarget, RoomAction, ServerAction};

    fn moderate(action: RoomAction) -> Input {
        Input::Moderate { action }
    }

    #[test]
    fn moderation_lines_read_as_the_actions_they_mean() {
        assert_eq!(
            parse("/ban account:Troll 2h spam again"),
            Ok(moderate(RoomAction::Ban {
                target: BanTarget::Account("Troll".into()),
                for_secs: Some(7_200),
                reason: "spam again".into(),
            }))
        );
        assert_eq!(
            parse("/ban 192.0.2.0/24 forever 10m of spam"),
            Ok(moderate(RoomAction::Ban {
                target: BanTarget::Address("192.0.2.0/24".into()),
                for_secs: None,
                reason: "10m of spam".into(),
            }))
        );
        assert_eq!(
            parse("/mute gus be nice"),
            Ok(moderate(RoomAction::Mute {
                user: "gus".into(),
                for_secs: None,
                reason: "be nice".into(),
            }))
        );
        assert_eq!(
            parse("/set slow 30"),
            Ok(moderate(RoomAction::Slow { secs: 30 }))
        );
        assert_eq!(parse("/remove 42"), Ok(Input::Remove { seq: 42 }));
        assert_eq!(
            parse("/suspend sam a break"),
            Ok(Input::Operate {
                action: ServerAction::Suspend {
                    account: "sam".into(),
                    reason: "a break".into()
                }
            })
        );
        for bad in [
            "/ban",
            "/ban 10.0.0.0/33",
            "/set slow x",
            "/remove x",
            "/op",
            "/unban a b",
        ] {
            assert!(matches!(parse(bad), Err(InputError::Usage { .. })), "{bad}");
        }
        for line in [
            "/ban account:Troll 7200s spam again",
            "/ban 192.0.2.0/24 forever 10m of spam",
            "/mute gus 60s",
            "/set registered-only on",
            "/topic Be kind",
            "/sban name:1.2.3.4",
        ] {
            assert_eq!(parse(line).unwrap().to_string(), line);
        }
    }
}
