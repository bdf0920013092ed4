//! The text-command parser against its renderer, and against anything a person can type.

mod common;

use chat_proto::input::{self, Command, Input, InputError};
use chat_proto::moderation::{parse_target, RoomAction, ServerAction};
use chat_proto::validate;
use chat_proto::{Backlog, ClientFrame, Cursor};
use common::{
    every_input_is_generated, typed_room, unicode_text, valid_input, valid_message_text,
    valid_room, valid_username, valid_whisper_text,
};
use proptest::prelude::*;

/// A command's name or one of its aliases, in random letter case.
fn spelled_command() -> impl Strategy<Value = (Command, String)> {
    let spellings: Vec<(Command, &'static str)> = Command::ALL
        .into_iter()
        .flat_map(|c| {
            std::iter::once(c.name())
                .chain(c.aliases().iter().copied())
                .map(move |n| (c, n))
        })
        .collect();
    (prop::sample::select(spellings), any::<u64>()).prop_map(|((command, name), case_bits)| {
        let spelled = name
            .chars()
            .enumerate()
            .map(|(i, ch)| {
                if case_bits >> (i % 64) & 1 == 1 {
                    ch.to_ascii_uppercase()
                } else {
                    ch
                }
            })
            .collect();
        (command, spelled)
    })
}

/// A command that takes a room, spelled as [`spelled_command`] spells it.
fn spelled_room_command() -> impl Strategy<Value = (Command, String)> {
    spelled_command().prop_filter("takes a room", |(command, _)| {
        matches!(
            command,
            Command::Join | Command::Part | Command::Switch | Command::Members
        )
    })
}

/// Lines a person might type, sensible or not: free text, `/` and `//` lines, known
/// commands with arbitrary arguments, and any Unicode including control characters.
fn typed_line() -> impl Strategy<Value = String> {
    prop_oneof![
        unicode_text(80),
        unicode_text(40).prop_map(|t| format!("/{t}")),
        unicode_text(40).prop_map(|t| format!("//{t}")),
        (spelled_command(), "[ \t]{0,3}", unicode_text(40))
            .prop_map(|((_, name), gap, args)| format!("/{name}{gap}{args}")),
        (
            spelled_command(),
            " {1,3}",
            valid_username(),
            " {1,3}",
            valid_message_text()
        )
            .prop_map(|((_, name), g1, to, g2, text)| format!("/{name}{g1}{to}{g2}{text}")),
        (
            spelled_command(),
            " {1,3}",
            typed_room(),
            "[ \t]{0,3}",
            unicode_text(8)
        )
            .prop_map(|((_, name), g1, (room, _), g2, rest)| format!(
                "/{name}{g1}{room}{g2}{rest}"
            )),
    ]
}

/// A word after `/` that is no command's name or alias in any case.
fn unknown_command_name() -> impl Strategy<Value = String> {
    "[^\\s/][^\\s]{0,15}".prop_filter("not a known command", |w| Command::lookup(w).is_none())
}

proptest! {
    /// Every input the parser can produce renders (`Display`) to a line that parses back to
    /// the same input.
    #[test]
    fn rendered_inputs_parse_back(input in valid_input()) {
        let line = input.to_string();
        prop_assert_eq!(input::parse(&line), Ok(input), "line: {:?}", line);
    }

    /// `/history` with or without a count renders to a line that parses back to it, and asks
    /// for that many of the current room's latest messages (a screenful without a count).
    #[test]
    fn history_inputs_parse_back_and_ask_for_the_latest(
        count in prop::option::of(1u32..),
        current in valid_room(),
    ) {
        let history = Input::History { count };
        let line = history.to_string();
        prop_assert_eq!(input::parse(&line), Ok(history.clone()), "line: {:?}", line);
        prop_assert_eq!(
            history.into_frame(&current),
            Some(ClientFrame::History {
                room: current.clone(),
                from: Cursor::Latest,
                limit: count.unwrap_or(input::HISTORY_COUNT),
            })
        );
    }

    /// Any line at all parses without panicking; what parses renders to a line that parses
    /// to the same input, so a client can echo a command faithfully.
    #[test]
    fn any_line_parses_or_is_refused_and_parsed_lines_render_back(line in typed_line()) {
        if let Ok(input) = input::parse(&line) {
            let again = input.to_string();
            prop_assert_eq!(input::parse(&again), Ok(input), "from {:?} via {:?}", line, again);
        }
    }

    /// A line that does not start with `/` is a message carrying exactly that line, or is
    /// refused because the text is blank or for the reason the message rules give
    /// (`validate::message`: control characters, characters that reorder or hide text).
    #[test]
    fn plain_lines_are_messages_verbatim(line in unicode_text(80)) {
        prop_assume!(!line.starts_with('/'));
        let bare = line.trim_end_matches(['\r', '\n']);
        match input::parse(&line) {
            Ok(input) => prop_assert_eq!(input, Input::Message { text: bare.to_owned() }),
            Err(InputError::Blank) => prop_assert!(bare.trim().is_empty()),
            Err(InputError::Message(err)) => {
                prop_assert_eq!(validate::message(bare), Err(err), "line {:?}", line)
            }
            Err(other) => prop_assert!(false, "plain line {:?} gave {:?}", line, other),
        }
    }

    /// `/word ...` where `word` is not a command is refused with an error that names `word`.
    #[test]
    fn unknown_commands_are_named(name in unknown_command_name(), args in unicode_text(20)) {
        let line = format!("/{name} {args}");
        prop_assert_eq!(input::parse(&line), Err(InputError::UnknownCommand { name }));
    }

    /// Commands work by name or alias in any letter case; room commands take the room with
    /// or without `#` and yield it without; commands without arguments refuse any, and room
    /// commands refuse a second word.
    #[test]
    fn commands_parse_in_any_case_and_by_alias(
        (command, spelled) in spelled_command(),
        to in valid_username(),
        text in valid_whisper_text(),
        (typed, room) in typed_room(),
        count in prop::option::of(1u32..),
    ) {
        let (line, expected) = match command {
            Command::Whisper => (
                format!("/{spelled} {to} {text}"),
                Input::Whisper { to, text },
            ),
            Command::ListUsers => (format!("/{spelled}"), Input::ListUsers),
            Command::Join => (format!("/{spelled} {typed}"), Input::Join { room }),
            Command::Part => (format!("/{spelled} {typed}"), Input::Part { room: Some(room) }),
            Command::Switch => (format!("/{spelled} {typed}"), Input::Switch { room }),
            Command::Rooms => (format!("/{spelled}"), Input::Rooms),
            Command::Members => (
                format!("/{spelled} {typed}"),
                Input::Members { room: Some(room) },
            ),
            Command::History => match count {
                Some(n) => (format!("/{spelled} {n}"), Input::History { count }),
                None => (format!("/{spelled}"), Input::History { count }),
            },
            Command::Disconnect => (
                format!("/{spelled} {to}"),
                Input::Disconnect { user: to, reason: String::new() },
            ),
            Command::Claim => (format!("/{spelled} {typed}"), Input::Claim { room: Some(room) }),
            Command::Info => (format!("/{spelled} {typed}"), Input::Info { room: Some(room) }),
            Command::ModLog => (format!("/{spelled} {typed}"), Input::ModLog { room: Some(room) }),
            Command::Kick => (
                format!("/{spelled} {to}"),
                Input::Moderate { action: RoomAction::Kick { user: to, reason: String::new() } },
            ),
            Command::Ban => (
                format!("/{spelled} {to}"),
                Input::Moderate {
                    action: RoomAction::Ban { target: parse_target(&to), for_secs: None, reason: String::new() },
                },
            ),
            Command::Unban => (
                format!("/{spelled} {to}"),
                Input::Moderate { action: RoomAction::Unban { target: parse_target(&to) } },
            ),
            Command::Mute => (
                format!("/{spelled} {to}"),
                Input::Moderate {
                    action: RoomAction::Mute { user: to, for_secs: None, reason: String::new() },
                },
            ),
            Command::Unmute => (
                format!("/{spelled} {to}"),
                Input::Moderate { action: RoomAction::Unmute { user: to } },
            ),
            Command::Op => (
                format!("/{spelled} {to}"),
                Input::Moderate { action: RoomAction::Promote { user: to } },
            ),
            Command::Deop => (
                format!("/{spelled} {to}"),
                Input::Moderate { action: RoomAction::Demote { user: to } },
            ),
            // A topic is one line: no tabs either.
            Command::Topic => (
                format!("/{spelled} {}", text.replace('\t', " ")),
                Input::Moderate {
                    action: RoomAction::Topic { topic: text.replace('\t', " ").trim().to_owned() },
                },
            ),
            Command::Set => (
                format!("/{spelled} slow {}", count.unwrap_or(0)),
                Input::Moderate { action: RoomAction::Slow { secs: count.unwrap_or(0) } },
            ),
            Command::Remove => (
                format!("/{spelled} {}", count.unwrap_or(7)),
                Input::Remove { seq: u64::from(count.unwrap_or(7)) },
            ),
            Command::ServerBan => (
                format!("/{spelled} {to}"),
                Input::Operate {
                    action: ServerAction::Ban { target: parse_target(&to), for_secs: None, reason: String::new() },
                },
            ),
            Command::ServerUnban => (
                format!("/{spelled} {to}"),
                Input::Operate { action: ServerAction::Unban { target: parse_target(&to) } },
            ),
            Command::Suspend => (
                format!("/{spelled} {to}"),
                Input::Operate { action: ServerAction::Suspend { account: to, reason: String::new() } },
            ),
            Command::Unsuspend => (
                format!("/{spelled} {to}"),
                Input::Operate { action: ServerAction::Unsuspend { account: to } },
            ),
            Command::Reply => (
                format!("/{spelled} {} {text}", count.unwrap_or(7)),
                Input::Reply { to: u64::from(count.unwrap_or(7)), text: text.clone() },
            ),
            Command::Edit => (
                format!("/{spelled} {} {text}", count.unwrap_or(7)),
                Input::Edit { seq: u64::from(count.unwrap_or(7)), text: text.clone() },
            ),
            Command::React | Command::Unreact => (
                format!("/{spelled} {} 👍🏽", count.unwrap_or(7)),
                Input::React {
                    seq: u64::from(count.unwrap_or(7)),
                    emoji: "👍🏽".into(),
                    on: command == Command::React,
                },
            ),
            Command::Search => (
                format!("/{spelled} deploy {to}xyz"),
                Input::Search { query: format!("deploy {to}xyz") },
            ),
            Command::Help => (format!("/{spelled}"), Input::Help),
            Command::Quit => (format!("/{spelled}"), Input::Quit),
        };
        prop_assert_eq!(input::parse(&line), Ok(expected));
        // A whisper's text, a reason, a topic and a search take the rest of the line.
        let rest_of_line = [
            Command::Whisper,
            Command::Search,
            Command::Reply,
            Command::Edit,
            Command::Disconnect,
            Command::Kick,
            Command::Ban,
            Command::Mute,
            Command::Topic,
            Command::ServerBan,
            Command::Suspend,
        ];
        if !rest_of_line.contains(&command) {
            prop_assert_eq!(
                input::parse(&format!("{line} extra")),
                Err(InputError::Usage { command })
            );
        }
    }

    /// `/part` and `/members` without a room mean the current room; `/join` and `/switch`
    /// without one are refused with their usage.
    #[test]
    fn the_room_is_optional_only_where_the_usage_says(
        (command, spelled) in spelled_command(),
        gap in "[ \t]{0,3}",
    ) {
        let parsed = input::parse(&format!("/{spelled}{gap}"));
        match command {
            Command::Part => prop_assert_eq!(parsed, Ok(Input::Part { room: None })),
            Command::Members => prop_assert_eq!(parsed, Ok(Input::Members { room: None })),
            Command::History => prop_assert_eq!(parsed, Ok(Input::History { count: None })),
            Command::Claim => prop_assert_eq!(parsed, Ok(Input::Claim { room: None })),
            Command::Info => prop_assert_eq!(parsed, Ok(Input::Info { room: None })),
            Command::ModLog => prop_assert_eq!(parsed, Ok(Input::ModLog { room: None })),
            Command::Topic => prop_assert_eq!(
                parsed,
                Ok(Input::Moderate { action: RoomAction::Topic { topic: String::new() } })
            ),
            Command::Join
            | Command::Switch
            | Command::Whisper
            | Command::Disconnect
            | Command::Kick
            | Command::Ban
            | Command::Unban
            | Command::Mute
            | Command::Unmute
            | Command::Op
            | Command::Deop
            | Command::Set
            | Command::Remove
            | Command::ServerBan
            | Command::ServerUnban
            | Command::Suspend
            | Command::Unsuspend
            | Command::Reply
            | Command::Edit
            | Command::React
            | Command::Unreact
            | Command::Search => {
                prop_assert_eq!(parsed, Err(InputError::Usage { command }))
            }
            Command::ListUsers | Command::Rooms | Command::Help | Command::Quit => {
                prop_assert!(parsed.is_ok(), "{:?}", parsed)
            }
        }
    }

    /// A room command given a name `validate::room` refuses is refused with that same reason.
    #[test]
    fn room_commands_refuse_what_the_server_would(
        (_, spelled) in spelled_room_command(),
        room in "#?[^\\s]{1,40}",
    ) {
        let parsed = input::parse(&format!("/{spelled} {room}"));
        match chat_proto::validate::room(&room) {
            Ok(name) => prop_assert!(
                parsed.as_ref().is_ok_and(|i| i.to_string().ends_with(&format!("#{name}"))),
                "{:?} gave {:?}", room, parsed
            ),
            Err(e) => prop_assert_eq!(parsed, Err(InputError::Room(e))),
        }
    }

    /// What is sent is what was typed: a message goes to the current room, a room command
    /// names its room or else the current one, `/rooms` lists rooms, and the local commands
    /// (`/switch`, `/help`, `/quit`) send nothing.
    #[test]
    fn inputs_become_the_matching_frame(input in valid_input(), current in valid_room()) {
        every_input_is_generated(&input);
        let frame = input.clone().into_frame(&current);
        let or_current = |room: Option<String>| room.unwrap_or_else(|| current.clone());
        let expected = match input {
            Input::Message { text } => Some(ClientFrame::Msg { room: current.clone(), text }),
            Input::Whisper { to, text } => Some(ClientFrame::Whisper { to, text }),
            Input::ListUsers => Some(ClientFrame::ListUsers),
            Input::Join { room } => Some(ClientFrame::Join {
                room,
                backlog: Backlog::Latest(input::JOIN_BACKLOG),
            }),
            Input::Part { room } => Some(ClientFrame::Part { room: or_current(room) }),
            Input::Rooms => Some(ClientFrame::ListRooms),
            Input::Members { room } => Some(ClientFrame::ListMembers { room: or_current(room) }),
            Input::History { count } => Some(ClientFrame::History {
                room: current.clone(),
                from: Cursor::Latest,
                limit: count.unwrap_or(input::HISTORY_COUNT),
            }),
            Input::Disconnect { user, reason } => Some(ClientFrame::Disconnect { user, reason }),
            Input::Claim { room } => Some(ClientFrame::Claim { room: or_current(room) }),
            Input::Info { room } => Some(ClientFrame::RoomInfo { room: or_current(room) }),
            Input::ModLog { room } => Some(ClientFrame::ModLog {
                room: Some(or_current(room)),
                limit: input::MOD_LOG_COUNT,
            }),
            Input::Remove { seq } => Some(ClientFrame::RemoveMessage { room: current.clone(), seq }),
            Input::Moderate { action } => Some(ClientFrame::Moderate { room: current.clone(), action }),
            Input::Operate { action } => Some(ClientFrame::Operate { action }),
            Input::Reply { to, text } => Some(ClientFrame::Reply { room: current.clone(), to, text }),
            Input::Edit { seq, text } => Some(ClientFrame::Edit { room: current.clone(), seq, text }),
            Input::React { seq, emoji, on } => {
                Some(ClientFrame::React { room: current.clone(), seq, emoji, on })
            }
            Input::Search { query } => Some(ClientFrame::Search {
                query,
                room: None,
                before: None,
                limit: input::SEARCH_COUNT,
            }),
            Input::Switch { .. } | Input::Help | Input::Quit => None,
        };
        prop_assert_eq!(frame, expected);
    }
}
