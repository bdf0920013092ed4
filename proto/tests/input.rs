//! The text-command parser against its renderer, and against anything a person can type.

mod common;

use chat_proto::input::{self, Command, Input, InputError};
use chat_proto::ClientFrame;
use common::{unicode_text, valid_input, valid_message_text, valid_username, valid_whisper_text};
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
    /// refused because the text is blank or holds control characters.
    #[test]
    fn plain_lines_are_messages_verbatim(line in unicode_text(80)) {
        prop_assume!(!line.starts_with('/'));
        let bare = line.trim_end_matches(['\r', '\n']);
        match input::parse(&line) {
            Ok(input) => prop_assert_eq!(input, Input::Message { text: bare.to_owned() }),
            Err(InputError::Blank) => prop_assert!(bare.trim().is_empty()),
            Err(InputError::Message(_)) => {
                prop_assert!(bare.chars().any(|c| c.is_control() && c != '\t'))
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

    /// Commands work by name or alias in any letter case, and local commands take no
    /// arguments.
    #[test]
    fn commands_parse_in_any_case_and_by_alias(
        (command, spelled) in spelled_command(),
        to in valid_username(),
        text in valid_whisper_text(),
    ) {
        let (line, expected) = match command {
            Command::Whisper => (
                format!("/{spelled} {to} {text}"),
                Input::Whisper { to, text },
            ),
            Command::ListUsers => (format!("/{spelled}"), Input::ListUsers),
            Command::Help => (format!("/{spelled}"), Input::Help),
            Command::Quit => (format!("/{spelled}"), Input::Quit),
        };
        prop_assert_eq!(input::parse(&line), Ok(expected));
        if command != Command::Whisper {
            prop_assert_eq!(
                input::parse(&format!("{line} extra")),
                Err(InputError::Usage { command })
            );
        }
    }

    /// What is sent is what was typed: a message or whisper becomes the frame with the same
    /// text, `/list_users` becomes `ListUsers`, and `/help` and `/quit` send nothing.
    #[test]
    fn inputs_become_the_matching_frame(input in valid_input()) {
        let frame = input.clone().into_frame();
        match input {
            Input::Message { text } => prop_assert_eq!(frame, Some(ClientFrame::Msg { text })),
            Input::Whisper { to, text } => {
                prop_assert_eq!(frame, Some(ClientFrame::Whisper { to, text }))
            }
            Input::ListUsers => prop_assert_eq!(frame, Some(ClientFrame::ListUsers)),
            Input::Help | Input::Quit => prop_assert_eq!(frame, None),
        }
    }
}
