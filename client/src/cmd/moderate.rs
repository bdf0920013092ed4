//! `chat-client mod ...`: what a room's owner and moderators, and a server's operators, do
//! to others, signed in with this device's session (`chat-client login` first).

use chat_proto::moderation::{parse_duration, parse_target, RoomAction, ServerAction};
use chat_proto::ClientFrame;

use super::{signed_in, UsageError};
use crate::render::moderation::{audit_text, info_text};
use crate::reply::Reply;
use crate::settings::Settings;

/// Moderate a room (its owner, its moderators, server operators) or the server (operators)
#[derive(Debug, clap::Args)]
pub struct Mod {
    /// What to do
    #[command(subcommand)]
    action: Action,
}

/// How long an action holds.
#[derive(Debug, clap::Args)]
struct Lasting {
    /// For how long (`90s`, `10m`, `2h`, `7d`, `1w`); for good without it
    #[arg(long = "for", value_name = "DURATION")]
    duration: Option<String>,
    /// Why, told to them and kept in the audit log
    #[arg(long, default_value = "")]
    reason: String,
}

impl Lasting {
    /// The duration in seconds, checked.
    fn secs(&self) -> anyhow::Result<Option<u64>> {
        match &self.duration {
            None => Ok(None),
            Some(text) => parse_duration(text).map(Some).ok_or_else(|| {
                UsageError(format!(
                    "{text:?} is not a duration: a number with s, m, h, d or w (10m, 2h, 7d)"
                ))
                .into()
            }),
        }
    }
}

/// The moderators' and operators' actions.
#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Disconnect a person from the server (operators); they are told the reason
    Disconnect {
        /// Who (any case)
        #[arg(value_name = "NAME")]
        user: String,
        /// Why, told to them and kept in the server's log
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Become the owner of a room nobody owns
    Claim {
        /// The room
        room: String,
    },
    /// Show a room's owner, moderators and settings (and bans, to its moderators)
    Info {
        /// The room
        room: String,
    },
    /// Put someone out of a room
    Kick {
        /// The room
        room: String,
        /// Who
        user: String,
        /// Why, told to them and the room
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Keep someone out of a room: NAME, account:NAME, an address or a network (CIDR)
    Ban {
        /// The room
        room: String,
        /// Whom
        target: String,
        #[command(flatten)]
        lasting: Lasting,
    },
    /// Lift a room ban
    Unban {
        /// The room
        room: String,
        /// Whom, as banned
        target: String,
    },
    /// Let someone read a room but not speak in it
    Mute {
        /// The room
        room: String,
        /// Who
        user: String,
        #[command(flatten)]
        lasting: Lasting,
    },
    /// Let someone speak again
    Unmute {
        /// The room
        room: String,
        /// Who
        user: String,
    },
    /// Make an account a moderator of a room (its owner)
    Promote {
        /// The room
        room: String,
        /// The account
        user: String,
    },
    /// Take the moderator role away (its owner)
    Demote {
        /// The room
        room: String,
        /// The account
        user: String,
    },
    /// Set a room's topic (no words: clear it)
    Topic {
        /// The room
        room: String,
        /// The topic
        topic: Vec<String>,
    },
    /// Let only accounts join a room (`on`), or guests too (`off`)
    RegisteredOnly {
        /// The room
        room: String,
        /// on or off
        #[arg(value_parser = ["on", "off"])]
        on: String,
    },
    /// At most one message per SECS seconds per person (0: off)
    Slow {
        /// The room
        room: String,
        /// Seconds
        secs: u32,
    },
    /// Remove a message by its seq (one's own, or anyone's for moderators)
    Remove {
        /// The room
        room: String,
        /// The message's seq (as `history` and `listen --json` show it)
        seq: u64,
    },
    /// Refuse someone at the server's door (operators): NAME, account:NAME, address, CIDR
    ServerBan {
        /// Whom
        target: String,
        #[command(flatten)]
        lasting: Lasting,
    },
    /// Lift a server ban (operators)
    ServerUnban {
        /// Whom, as banned
        target: String,
    },
    /// End every session of an account and refuse it until unsuspended (operators)
    Suspend {
        /// The account
        account: String,
        /// Why, told to them
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Let a suspended account sign in again (operators)
    Unsuspend {
        /// The account
        account: String,
    },
}

impl Action {
    /// The frame that asks for it.
    fn frame(self) -> anyhow::Result<ClientFrame> {
        let room_action = |room: String, action| ClientFrame::Moderate { room, action };
        let operate = |action| ClientFrame::Operate { action };
        Ok(match self {
            Action::Disconnect { user, reason } => ClientFrame::Disconnect { user, reason },
            Action::Claim { room } => ClientFrame::Claim { room },
            Action::Info { room } => ClientFrame::RoomInfo { room },
            Action::Kick { room, user, reason } => {
                room_action(room, RoomAction::Kick { user, reason })
            }
            Action::Ban {
                room,
                target,
                lasting,
            } => room_action(
                room,
                RoomAction::Ban {
                    target: parse_target(&target),
                    for_secs: lasting.secs()?,
                    reason: lasting.reason,
                },
            ),
            Action::Unban { room, target } => room_action(
                room,
                RoomAction::Unban {
                    target: parse_target(&target),
                },
            ),
            Action::Mute {
                room,
                user,
                lasting,
            } => room_action(
                room,
                RoomAction::Mute {
                    user,
                    for_secs: lasting.secs()?,
                    reason: lasting.reason,
                },
            ),
            Action::Unmute { room, user } => room_action(room, RoomAction::Unmute { user }),
            Action::Promote { room, user } => room_action(room, RoomAction::Promote { user }),
            Action::Demote { room, user } => room_action(room, RoomAction::Demote { user }),
            Action::Topic { room, topic } => room_action(
                room,
                RoomAction::Topic {
                    topic: topic.join(" "),
                },
            ),
            Action::RegisteredOnly { room, on } => {
                room_action(room, RoomAction::RegisteredOnly { on: on == "on" })
            }
            Action::Slow { room, secs } => room_action(room, RoomAction::Slow { secs }),
            Action::Remove { room, seq } => ClientFrame::RemoveMessage { room, seq },
            Action::ServerBan { target, lasting } => operate(ServerAction::Ban {
                target: parse_target(&target),
                for_secs: lasting.secs()?,
                reason: lasting.reason,
            }),
            Action::ServerUnban { target } => operate(ServerAction::Unban {
                target: parse_target(&target),
            }),
            Action::Suspend { account, reason } => {
                operate(ServerAction::Suspend { account, reason })
            }
            Action::Unsuspend { account } => operate(ServerAction::Unsuspend { account }),
        })
    }
}

impl Mod {
    /// Carries out the action and says `Bye`; prints what the server answered. A refusal is
    /// exit status 1 with the server's words.
    pub async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        let frame = self.action.frame()?;
        let mut session = signed_in(settings).await?;
        let reply = session.request(&frame).await?;
        session.bye().await?;
        match reply {
            Reply::Disconnected(user) => println!("disconnected {}", crate::render::clean(&user)),
            Reply::RoomInfo(info) => println!("{}", info_text(&info)),
            Reply::Enforced(closed) => println!("done; {closed} connections closed"),
            Reply::Removed { seq, target, .. } => {
                println!("removed message {target} (removal {seq})")
            }
            _ => {}
        }
        Ok(())
    }
}

/// Read the moderation log: a room's (its owner, moderators, operators) or the server's
/// (operators), newest first
#[derive(Debug, clap::Args)]
pub struct ModLog {
    /// The room; the server-wide log without it
    #[arg(long)]
    room: Option<String>,
    /// The most entries
    #[arg(long, default_value_t = 50)]
    limit: u32,
}

impl ModLog {
    /// Asks for the log and prints one line per entry.
    pub async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        let mut session = signed_in(settings).await?;
        let reply = session
            .request(&ClientFrame::ModLog {
                room: self.room,
                limit: self.limit,
            })
            .await?;
        session.bye().await?;
        if let Reply::ModLog(entries) = reply {
            for entry in &entries {
                println!("{}", audit_text(entry));
            }
        }
        Ok(())
    }
}
