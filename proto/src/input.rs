//! What a person types, turned into something to send or do.
//!
//! Plain text is a message for the current room; a line starting with `/` is a command;
//! `//text` is a message that starts with `/`. The parser lives here so every client understands the same lines,
//! and each command's usage text lives beside it so `/help` and error messages agree.
//! [`Input`]'s `Display` writes the line that parses back to it.

use std::fmt;

mod events;
mod moderation;

use crate::moderation::{RoomAction, ServerAction};
use crate::validate::{self, MessageError, NameError, RoomError};
use crate::{Backlog, ClientFrame, Cursor};

/// A command a person can type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Command {
    /// `/whisper <user> <message>`.
    Whisper,
    /// `/list_users`.
    ListUsers,
    /// `/join <room>`.
    Join,
    /// `/part [room]`.
    Part,
    /// `/switch <room>`.
    Switch,
    /// `/rooms`.
    Rooms,
    /// `/members [room]`.
    Members,
    /// `/history [count]`.
    History,
    /// `/disconnect <user> [reason]`, for server operators.
    Disconnect,
    /// `/claim [room]`.
    Claim,
    /// `/info [room]`.
    Info,
    /// `/kick <user> [reason]`.
    Kick,
    /// `/ban <name|account:name|address|cidr> [duration] [reason]`.
    Ban,
    /// `/unban <target>`.
    Unban,
    /// `/mute <user> [duration] [reason]`.
    Mute,
    /// `/unmute <user>`.
    Unmute,
    /// `/op <account>`.
    Op,
    /// `/deop <account>`.
    Deop,
    /// `/topic [text]`.
    Topic,
    /// `/set registered-only on|off | /set slow <seconds>`.
    Set,
    /// `/remove <seq>`.
    Remove,
    /// `/modlog [room]`.
    ModLog,
    /// `/sban <name|account:name|address|cidr> [duration] [reason]`.
    ServerBan,
    /// `/sunban <target>`.
    ServerUnban,
    /// `/suspend <account> [reason]`.
    Suspend,
    /// `/unsuspend <account>`.
    Unsuspend,
    /// `/reply <seq> <message>`.
    Reply,
    /// `/edit <seq> <message>`.
    Edit,
    /// `/react <seq> <emoji>`.
    React,
    /// `/unreact <seq> <emoji>`.
    Unreact,
    /// `/search <words>`.
    Search,
    /// `/help`.
    Help,
    /// `/quit`.
    Quit,
}

impl Command {
    /// Every command, in the order `/help` lists them.
    pub const ALL: [Command; 33] = [
        Command::Whisper,
        Command::ListUsers,
        Command::Join,
        Command::Part,
        Command::Switch,
        Command::Rooms,
        Command::Members,
        Command::History,
        Command::Reply,
        Command::Edit,
        Command::React,
        Command::Unreact,
        Command::Search,
        Command::Disconnect,
        Command::Claim,
        Command::Info,
        Command::Kick,
        Command::Ban,
        Command::Unban,
        Command::Mute,
        Command::Unmute,
        Command::Op,
        Command::Deop,
        Command::Topic,
        Command::Set,
        Command::Remove,
        Command::ModLog,
        Command::ServerBan,
        Command::ServerUnban,
        Command::Suspend,
        Command::Unsuspend,
        Command::Help,
        Command::Quit,
    ];

    /// The name typed after `/`.
    pub fn name(self) -> &'static str {
        match self {
            Command::Whisper => "whisper",
            Command::ListUsers => "list_users",
            Command::Join => "join",
            Command::Part => "part",
            Command::Switch => "switch",
            Command::Rooms => "rooms",
            Command::Members => "members",
            Command::History => "history",
            Command::Disconnect => "disconnect",
            Command::Claim => "claim",
            Command::Info => "info",
            Command::Kick => "kick",
            Command::Ban => "ban",
            Command::Unban => "unban",
            Command::Mute => "mute",
            Command::Unmute => "unmute",
            Command::Op => "op",
            Command::Deop => "deop",
            Command::Topic => "topic",
            Command::Set => "set",
            Command::Remove => "remove",
            Command::ModLog => "modlog",
            Command::ServerBan => "sban",
            Command::ServerUnban => "sunban",
            Command::Suspend => "suspend",
            Command::Unsuspend => "unsuspend",
            Command::Reply => "reply",
            Command::Edit => "edit",
            Command::React => "react",
            Command::Unreact => "unreact",
            Command::Search => "search",
            Command::Help => "help",
            Command::Quit => "quit",
        }
    }

    /// Shorter names that also work, as IRC users expect `/w` and `/exit`.
    pub fn aliases(self) -> &'static [&'static str] {
        match self {
            Command::Whisper => &["w", "msg"],
            Command::ListUsers => &["users", "who"],
            Command::Join => &["j"],
            Command::Part => &["leave"],
            Command::Switch => &["go"],
            Command::Rooms => &["list"],
            Command::Members => &["names"],
            Command::History => &[],
            Command::Disconnect => &["kill"],
            Command::Claim => &[],
            Command::Info => &["roominfo"],
            Command::Kick => &[],
            Command::Ban => &[],
            Command::Unban => &[],
            Command::Mute => &[],
            Command::Unmute => &[],
            Command::Op => &["promote"],
            Command::Deop => &["demote"],
            Command::Topic => &[],
            Command::Set => &["mode"],
            Command::Remove => &["delete"],
            Command::ModLog => &[],
            Command::ServerBan => &["kline"],
            Command::ServerUnban => &["unkline"],
            Command::Suspend => &[],
            Command::Unsuspend => &[],
            Command::Reply => &["re"],
            Command::Edit => &[],
            Command::React => &["+"],
            Command::Unreact => &["-"],
            Command::Search => &["find"],
            Command::Help => &["?"],
            Command::Quit => &["exit"],
        }
    }

    /// How to call it, as `/help` and usage errors print it.
    pub fn usage(self) -> &'static str {
        match self {
            Command::Whisper => "/whisper <user> <message>",
            Command::ListUsers => "/list_users",
            Command::Join => "/join <room>",
            Command::Part => "/part [room]",
            Command::Switch => "/switch <room>",
            Command::Rooms => "/rooms",
            Command::Members => "/members [room]",
            Command::History => "/history [count]",
            Command::Disconnect => "/disconnect <user> [reason]",
            Command::Claim => "/claim [room]",
            Command::Info => "/info [room]",
            Command::Kick => "/kick <user> [reason]",
            Command::Ban => "/ban <name|account:name|address|cidr> [duration] [reason]",
            Command::Unban => "/unban <target>",
            Command::Mute => "/mute <user> [duration] [reason]",
            Command::Unmute => "/unmute <user>",
            Command::Op => "/op <account>",
            Command::Deop => "/deop <account>",
            Command::Topic => "/topic [text]",
            Command::Set => "/set registered-only on|off | /set slow <seconds>",
            Command::Remove => "/remove <seq>",
            Command::ModLog => "/modlog [room]",
            Command::ServerBan => "/sban <name|account:name|address|cidr> [duration] [reason]",
            Command::ServerUnban => "/sunban <target>",
            Command::Suspend => "/suspend <account> [reason]",
            Command::Unsuspend => "/unsuspend <account>",
            Command::Reply => "/reply <seq> <message>",
            Command::Edit => "/edit <seq> <message>",
            Command::React => "/react <seq> <emoji>",
            Command::Unreact => "/unreact <seq> <emoji>",
            Command::Search => "/search <words>",
            Command::Help => "/help",
            Command::Quit => "/quit",
        }
    }

    /// One line on what it does.
    pub fn summary(self) -> &'static str {
        match self {
            Command::Whisper => "send a private message to one user",
            Command::ListUsers => "list who is online, in every room",
            Command::Join => "join a room (creating it) and make it the current room",
            Command::Part => "leave a room (the current one without a name)",
            Command::Switch => "make another joined room the current room",
            Command::Rooms => "list every room with its member count",
            Command::Members => "list who is in a room (the current one without a name)",
            Command::History => "show earlier messages of the current room (20 without a count)",
            Command::Disconnect => "disconnect someone from the server (server operators only)",
            Command::Claim => "become the owner of a room nobody owns (accounts only)",
            Command::Info => "show a room's owner, moderators and settings",
            Command::Kick => "put someone out of the current room (its moderators)",
            Command::Ban => "keep someone out of the current room, for a while (10m, 2h, 7d) or for good",
            Command::Unban => "lift a ban of the current room",
            Command::Mute => "let someone read the current room but not speak",
            Command::Unmute => "let someone speak again",
            Command::Op => "make an account a moderator of the current room (its owner)",
            Command::Deop => "take the moderator role away (the room's owner)",
            Command::Topic => "set the current room's topic (no text: clear it)",
            Command::Set => "the current room's settings: accounts only, slow mode",
            Command::Remove => "remove a message of the current room by its seq (yours, or anyone's as a moderator)",
            Command::ModLog => "show what the moderators of a room did",
            Command::ServerBan => "refuse someone at the server's door (server operators)",
            Command::ServerUnban => "lift a server ban (server operators)",
            Command::Suspend => "end an account's sessions and keep it out (server operators)",
            Command::Unsuspend => "let a suspended account in again (server operators)",
            Command::Reply => "answer message <seq> of the current room",
            Command::Edit => "change the text of your message <seq> of the current room",
            Command::React => "react to message <seq> of the current room with an emoji",
            Command::Unreact => "take back your reaction to message <seq>",
            Command::Search => "find the messages of your rooms that hold every word (3+ characters each)",
            Command::Help => "show this list",
            Command::Quit => "leave the chat",
        }
    }

    /// The command named `name` (without the `/`), by name or alias, in any case.
    pub fn lookup(name: &str) -> Option<Command> {
        let name = name.to_ascii_lowercase();
        Command::ALL
            .into_iter()
            .find(|c| c.name() == name || c.aliases().contains(&name.as_str()))
    }
}

/// The `/help` text: every command with its usage and summary, one per line.
pub fn help_text() -> String {
    let width = Command::ALL
        .iter()
        .map(|c| c.usage().len())
        .max()
        .unwrap_or(0);
    let mut out = String::new();
    for c in Command::ALL {
        out.push_str(&format!("{:width$}  {}\n", c.usage(), c.summary()));
    }
    out.push_str(
        "Any other line is sent to the current room; start it with // to send a leading /.\n\
         Rooms may be written with or without '#': /join #rust and /join rust are the same.",
    );
    out
}

/// One parsed line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// A message for the current room.
    Message {
        /// The text, without the escaping `/` of a `//` line.
        text: String,
    },
    /// A private message.
    Whisper {
        /// Recipient's name.
        to: String,
        /// The text.
        text: String,
    },
    /// Ask who is online.
    ListUsers,
    /// Join a room and make it current.
    Join {
        /// The room's name, without `#`.
        room: String,
    },
    /// Leave a room.
    Part {
        /// The room's name, without `#`; `None`: the current room.
        room: Option<String>,
    },
    /// Make another joined room current (local).
    Switch {
        /// The room's name, without `#`.
        room: String,
    },
    /// Ask for every room.
    Rooms,
    /// Ask who is in a room.
    Members {
        /// The room's name, without `#`; `None`: the current room.
        room: Option<String>,
    },
    /// Show earlier messages of the current room.
    History {
        /// How many, at least 1; `None`: [`HISTORY_COUNT`].
        count: Option<u32>,
    },
    /// Disconnect someone from the server (an operator's action).
    Disconnect {
        /// Their name.
        user: String,
        /// Why; may be empty.
        reason: String,
    },
    /// Claim a room.
    Claim {
        /// The room's name, without `#`; `None`: the current room.
        room: Option<String>,
    },
    /// Ask for a room's roles and settings.
    Info {
        /// The room's name, without `#`; `None`: the current room.
        room: Option<String>,
    },
    /// A moderation action in the current room.
    Moderate {
        /// What to do.
        action: RoomAction,
    },
    /// Remove a message of the current room.
    Remove {
        /// Its seq.
        seq: u64,
    },
    /// Ask for a room's moderation log.
    ModLog {
        /// The room's name, without `#`; `None`: the current room.
        room: Option<String>,
    },
    /// A server operator's server-wide action.
    Operate {
        /// What to do.
        action: ServerAction,
    },
    /// Answer a message of the current room.
    Reply {
        /// The answered message's seq.
        to: u64,
        /// The text.
        text: String,
    },
    /// Change the text of one's message of the current room.
    Edit {
        /// The message's seq.
        seq: u64,
        /// Its new text.
        text: String,
    },
    /// React to a message of the current room, or take the reaction back.
    React {
        /// The message's seq.
        seq: u64,
        /// One emoji.
        emoji: String,
        /// `true` reacts, `false` takes it back.
        on: bool,
    },
    /// Search every room one is in.
    Search {
        /// The words, as typed.
        query: String,
    },
    /// Show the command list (local).
    Help,
    /// Leave (local; the client sends `Bye`).
    Quit,
}

/// How many past messages `/join` shows: a screenful of context, as IRC bouncers and
/// Slack show on entering a channel.
pub const JOIN_BACKLOG: u32 = 20;

/// How many hits `/search` shows: a screenful.
pub const SEARCH_COUNT: u32 = 20;

/// How many entries `/modlog` shows: a screenful.
pub const MOD_LOG_COUNT: u32 = 20;

/// How many earlier messages `/history` without a count shows: as many as `/join` shows,
/// so each `/history` goes back one more screenful.
pub const HISTORY_COUNT: u32 = JOIN_BACKLOG;

impl Input {
    /// The frame to send, with `current` standing for the room where the line names none, or
    /// `None` for the local actions `Switch`, `Help` and `Quit`.
    ///
    /// `/history` becomes a request for the latest messages of the current room; a client
    /// that already shows some of them (the REPL) asks instead for those before the oldest
    /// it shows, and pages on past the server's cap.
    pub fn into_frame(self, current: &str) -> Option<ClientFrame> {
        let or_current = |room: Option<String>| room.unwrap_or_else(|| current.to_owned());
        match self {
            Input::Message { text } => Some(ClientFrame::Msg {
                room: current.to_owned(),
                text,
            }),
            Input::Whisper { to, text } => Some(ClientFrame::Whisper { to, text }),
            Input::ListUsers => Some(ClientFrame::ListUsers),
            Input::Join { room } => Some(ClientFrame::Join {
                room,
                backlog: Backlog::Latest(JOIN_BACKLOG),
            }),
            Input::Part { room } => Some(ClientFrame::Part {
                room: or_current(room),
            }),
            Input::Rooms => Some(ClientFrame::ListRooms),
            Input::Members { room } => Some(ClientFrame::ListMembers {
                room: or_current(room),
            }),
            Input::History { count } => Some(ClientFrame::History {
                room: current.to_owned(),
                from: Cursor::Latest,
                limit: count.unwrap_or(HISTORY_COUNT),
            }),
            Input::Disconnect { user, reason } => Some(ClientFrame::Disconnect { user, reason }),
            Input::Claim { room } => Some(ClientFrame::Claim {
                room: or_current(room),
            }),
            Input::Info { room } => Some(ClientFrame::RoomInfo {
                room: or_current(room),
            }),
            Input::Moderate { action } => Some(ClientFrame::Moderate {
                room: current.to_owned(),
                action,
            }),
            Input::Remove { seq } => Some(ClientFrame::RemoveMessage {
                room: current.to_owned(),
                seq,
            }),
            Input::ModLog { room } => Some(ClientFrame::ModLog {
                room: Some(or_current(room)),
                limit: MOD_LOG_COUNT,
            }),
            Input::Operate { action } => Some(ClientFrame::Operate { action }),
            Input::Reply { to, text } => Some(ClientFrame::Reply {
                room: current.to_owned(),
                to,
                text,
            }),
            Input::Edit { seq, text } => Some(ClientFrame::Edit {
                room: current.to_owned(),
                seq,
                text,
            }),
            Input::React { seq, emoji, on } => Some(ClientFrame::React {
                room: current.to_owned(),
                seq,
                emoji,
                on,
            }),
            Input::Search { query } => Some(ClientFrame::Search {
                query,
                room: None,
                before: None,
                limit: SEARCH_COUNT,
            }),
            Input::Switch { .. } | Input::Help | Input::Quit => None,
        }
    }
}

impl fmt::Display for Input {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Input::Message { text } if text.starts_with('/') => write!(f, "/{text}"),
            Input::Message { text } => f.write_str(text),
            Input::Whisper { to, text } => write!(f, "/{} {to} {text}", Command::Whisper.name()),
            Input::ListUsers => write!(f, "/{}", Command::ListUsers.name()),
            Input::Join { room } => write!(f, "/{} #{room}", Command::Join.name()),
            Input::Part { room: None } => write!(f, "/{}", Command::Part.name()),
            Input::Part { room: Some(room) } => write!(f, "/{} #{room}", Command::Part.name()),
            Input::Switch { room } => write!(f, "/{} #{room}", Command::Switch.name()),
            Input::Rooms => write!(f, "/{}", Command::Rooms.name()),
            Input::Members { room: None } => write!(f, "/{}", Command::Members.name()),
            Input::Members { room: Some(room) } => {
                write!(f, "/{} #{room}", Command::Members.name())
            }
            Input::History { count: None } => write!(f, "/{}", Command::History.name()),
            Input::History { count: Some(n) } => write!(f, "/{} {n}", Command::History.name()),
            Input::Disconnect { user, reason } if reason.is_empty() => {
                write!(f, "/{} {user}", Command::Disconnect.name())
            }
            Input::Disconnect { user, reason } => {
                write!(f, "/{} {user} {reason}", Command::Disconnect.name())
            }
            Input::Claim { room } => moderation::with_room(f, Command::Claim, room),
            Input::Info { room } => moderation::with_room(f, Command::Info, room),
            Input::ModLog { room } => moderation::with_room(f, Command::ModLog, room),
            Input::Remove { seq } => write!(f, "/{} {seq}", Command::Remove.name()),
            Input::Moderate { action } => moderation::write_room_action(f, action),
            Input::Operate { action } => moderation::write_server_action(f, action),
            Input::Reply { to, text } => write!(f, "/{} {to} {text}", Command::Reply.name()),
            Input::Edit { seq, text } => write!(f, "/{} {seq} {text}", Command::Edit.name()),
            Input::React { seq, emoji, on } => {
                let command = if *on {
                    Command::React
                } else {
                    Command::Unreact
                };
                write!(f, "/{} {seq} {emoji}", command.name())
            }
            Input::Search { query } => write!(f, "/{} {query}", Command::Search.name()),
            Input::Help => write!(f, "/{}", Command::Help.name()),
            Input::Quit => write!(f, "/{}", Command::Quit.name()),
        }
    }
}

/// Why a line could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// A blank line: nothing to do (a client ignores it).
    #[error("nothing to send")]
    Blank,
    /// `/something` that is not a command.
    #[error("unknown command /{name}; commands: {}", known_commands())]
    UnknownCommand {
        /// What was typed after the `/`.
        name: String,
    },
    /// A known command with missing or extra arguments.
    #[error("usage: {}", command.usage())]
    Usage {
        /// The command misused.
        command: Command,
    },
    /// A whisper to a name that cannot exist.
    #[error("{0}")]
    Name(#[from] NameError),
    /// A room name the server would refuse.
    #[error("{0}")]
    Room(#[from] RoomError),
    /// A message text the server would refuse.
    #[error("{0}")]
    Message(#[from] MessageError),
    /// A search the server would refuse.
    #[error("{0}")]
    Search(#[from] crate::search::SearchError),
    /// A reaction that is not one emoji.
    #[error("{typed:?} is not one emoji")]
    NotEmoji {
        /// What was typed.
        typed: String,
    },
}

fn known_commands() -> String {
    Command::ALL
        .iter()
        .map(|c| format!("/{}", c.name()))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Parses one typed line (without its line ending).
pub fn parse(line: &str) -> Result<Input, InputError> {
    let line = line.trim_end_matches(['\r', '\n']);
    if line.trim().is_empty() {
        return Err(InputError::Blank);
    }
    let Some(rest) = line.strip_prefix('/') else {
        return message(line);
    };
    if rest.starts_with('/') {
        return message(rest);
    }
    let (name, args) = match rest.split_once(char::is_whitespace) {
        Some((name, args)) => (name, args.trim_start()),
        None => (rest, ""),
    };
    let command = Command::lookup(name).ok_or_else(|| InputError::UnknownCommand {
        name: name.to_owned(),
    })?;
    let no_args = |input: Input| {
        if args.trim().is_empty() {
            Ok(input)
        } else {
            Err(InputError::Usage { command })
        }
    };
    let one_room = || -> Result<String, InputError> {
        match args.split_whitespace().collect::<Vec<_>>()[..] {
            [room] => Ok(validate::room(room)?.to_owned()),
            _ => Err(InputError::Usage { command }),
        }
    };
    let maybe_room = || -> Result<Option<String>, InputError> {
        if args.trim().is_empty() {
            Ok(None)
        } else {
            one_room().map(Some)
        }
    };
    match command {
        Command::ListUsers => no_args(Input::ListUsers),
        Command::Rooms => no_args(Input::Rooms),
        Command::Join => Ok(Input::Join { room: one_room()? }),
        Command::Switch => Ok(Input::Switch { room: one_room()? }),
        Command::Part => Ok(Input::Part {
            room: maybe_room()?,
        }),
        Command::Members => Ok(Input::Members {
            room: maybe_room()?,
        }),
        Command::History => match args.split_whitespace().collect::<Vec<_>>()[..] {
            [] => Ok(Input::History { count: None }),
            [count] => match count.parse::<u32>() {
                Ok(n) if n > 0 => Ok(Input::History { count: Some(n) }),
                _ => Err(InputError::Usage { command }),
            },
            _ => Err(InputError::Usage { command }),
        },
        Command::Claim => Ok(Input::Claim {
            room: maybe_room()?,
        }),
        Command::Info => Ok(Input::Info {
            room: maybe_room()?,
        }),
        Command::ModLog => Ok(Input::ModLog {
            room: maybe_room()?,
        }),
        Command::Kick
        | Command::Ban
        | Command::Unban
        | Command::Mute
        | Command::Unmute
        | Command::Op
        | Command::Deop
        | Command::Topic
        | Command::Set
        | Command::Remove
        | Command::ServerBan
        | Command::ServerUnban
        | Command::Suspend
        | Command::Unsuspend => moderation::parse(command, args),
        Command::Reply | Command::Edit | Command::React | Command::Unreact => {
            events::parse(command, args)
        }
        Command::Search => {
            let query = args.trim();
            if query.is_empty() {
                return Err(InputError::Usage { command });
            }
            crate::search::terms(query)?;
            Ok(Input::Search {
                query: query.to_owned(),
            })
        }
        Command::Help => no_args(Input::Help),
        Command::Quit => no_args(Input::Quit),
        Command::Disconnect => {
            let (user, reason) = args.split_once(char::is_whitespace).unwrap_or((args, ""));
            if user.is_empty() {
                return Err(InputError::Usage { command });
            }
            validate::username(user)?;
            Ok(Input::Disconnect {
                user: user.to_owned(),
                reason: reason.trim().to_owned(),
            })
        }
        Command::Whisper => {
            let Some((to, text)) = args.split_once(char::is_whitespace) else {
                return Err(InputError::Usage { command });
            };
            let text = text.trim_start();
            if text.is_empty() {
                return Err(InputError::Usage { command });
            }
            validate::username(to)?;
            validate::message(text)?;
            Ok(Input::Whisper {
                to: to.to_owned(),
                text: text.to_owned(),
            })
        }
    }
}

fn message(text: &str) -> Result<Input, InputError> {
    validate::message(text)?;
    Ok(Input::Message {
        text: text.to_owned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(text: &str) -> Input {
        Input::Message { text: text.into() }
    }

    #[test]
    fn disconnect_names_a_person_and_maybe_a_reason() {
        assert_eq!(
            parse("/disconnect troll spamming   links"),
            Ok(Input::Disconnect {
                user: "troll".into(),
                reason: "spamming   links".into()
            })
        );
        assert_eq!(
            parse("/kill troll"),
            Ok(Input::Disconnect {
                user: "troll".into(),
                reason: String::new()
            })
        );
        assert_eq!(
            parse("/disconnect"),
            Err(InputError::Usage {
                command: Command::Disconnect
            })
        );
        assert!(matches!(parse("/disconnect b@d"), Err(InputError::Name(_))));
    }

    #[test]
    fn plain_text_is_a_message() {
        assert_eq!(parse("hello there"), Ok(msg("hello there")));
        assert_eq!(parse("  spaced  \n"), Ok(msg("  spaced  ")));
    }

    #[test]
    fn double_slash_sends_a_leading_slash() {
        assert_eq!(parse("//shrug"), Ok(msg("/shrug")));
        assert_eq!(msg("/shrug").to_string(), "//shrug");
    }

    #[test]
    fn commands_parse_to_their_frames() {
        assert_eq!(
            parse("/whisper bob  hi   there"),
            Ok(Input::Whisper {
                to: "bob".into(),
                text: "hi   there".into()
            })
        );
        assert_eq!(
            parse("/W bob hi"),
            Ok(Input::Whisper {
                to: "bob".into(),
                text: "hi".into()
            })
        );
        assert_eq!(parse("/list_users"), Ok(Input::ListUsers));
        assert_eq!(parse("/help"), Ok(Input::Help));
        assert_eq!(parse("/quit"), Ok(Input::Quit));
        assert_eq!(
            parse("/list_users").unwrap().into_frame("lobby"),
            Some(ClientFrame::ListUsers)
        );
        assert_eq!(
            parse("/join #Rust"),
            Ok(Input::Join {
                room: "Rust".into()
            })
        );
        assert_eq!(
            parse("/part").unwrap().into_frame("rust"),
            Some(ClientFrame::Part {
                room: "rust".into()
            })
        );
        assert_eq!(
            parse("hi").unwrap().into_frame("rust"),
            Some(ClientFrame::Msg {
                room: "rust".into(),
                text: "hi".into()
            })
        );
        assert_eq!(parse("/switch go").unwrap().into_frame("rust"), None);
        assert_eq!(
            parse("/names #ops").unwrap().into_frame("rust"),
            Some(ClientFrame::ListMembers { room: "ops".into() })
        );
        assert_eq!(
            parse("/join rust").unwrap().into_frame("lobby"),
            Some(ClientFrame::Join {
                room: "rust".into(),
                backlog: Backlog::Latest(JOIN_BACKLOG)
            })
        );
    }

    #[test]
    fn history_takes_an_optional_positive_count() {
        assert_eq!(parse("/history"), Ok(Input::History { count: None }));
        assert_eq!(
            parse("/HISTORY  50 "),
            Ok(Input::History { count: Some(50) })
        );
        assert_eq!(
            parse("/history 7").unwrap().into_frame("rust"),
            Some(ClientFrame::History {
                room: "rust".into(),
                from: Cursor::Latest,
                limit: 7
            })
        );
        assert_eq!(
            parse("/history").unwrap().into_frame("rust"),
            Some(ClientFrame::History {
                room: "rust".into(),
                from: Cursor::Latest,
                limit: HISTORY_COUNT
            })
        );
        for bad in ["/history 0", "/history -1", "/history ten", "/history 5 6"] {
            assert_eq!(
                parse(bad),
                Err(InputError::Usage {
                    command: Command::History
                }),
                "{bad}"
            );
        }
        let summary = Command::History.summary();
        assert!(summary.contains(&HISTORY_COUNT.to_string()), "{summary}");
    }

    #[test]
    fn unknown_commands_name_themselves_and_the_known_ones() {
        let err = parse("/dance now").unwrap_err();
        assert_eq!(
            err,
            InputError::UnknownCommand {
                name: "dance".into()
            }
        );
        let text = err.to_string();
        assert!(text.contains("/dance"), "{text}");
        for c in Command::ALL {
            assert!(text.contains(&format!("/{}", c.name())), "{text}");
        }
    }

    #[test]
    fn misused_commands_show_their_usage() {
        for line in [
            "/whisper",
            "/whisper bob",
            "/whisper bob   ",
            "/list_users x",
            "/join",
            "/join a b",
            "/switch",
            "/rooms x",
            "/history x",
        ] {
            let err = parse(line).unwrap_err();
            assert!(matches!(err, InputError::Usage { .. }), "{line}: {err:?}");
            assert!(err.to_string().starts_with("usage: /"), "{err}");
        }
        assert_eq!(
            parse("/whisper b@d hi"),
            Err(InputError::Name(NameError::BadChar { ch: '@' }))
        );
        assert_eq!(
            parse("/join #b@d"),
            Err(InputError::Room(RoomError::BadChar { ch: '@' }))
        );
    }

    #[test]
    fn blank_lines_send_nothing() {
        assert_eq!(parse(""), Err(InputError::Blank));
        assert_eq!(parse("   "), Err(InputError::Blank));
    }

    #[test]
    fn help_lists_every_usage() {
        let help = help_text();
        for c in Command::ALL {
            assert!(help.contains(c.usage()), "{help}");
        }
    }
}
