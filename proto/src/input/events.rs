//! The lines that change or answer a message of the current room: `/reply`, `/edit`,
//! `/react` and `/unreact`, each naming the message by its `seq` (shown before every
//! message the REPL prints).

use super::{Command, Input, InputError};
use crate::validate;

/// Parses the arguments of one of [`Command::Reply`], [`Command::Edit`],
/// [`Command::React`] and [`Command::Unreact`]: a `seq`, then the text or the emoji.
pub(super) fn parse(command: Command, args: &str) -> Result<Input, InputError> {
    let usage = || InputError::Usage { command };
    let (seq, rest) = args.split_once(char::is_whitespace).ok_or_else(usage)?;
    let seq: u64 = seq.parse().map_err(|_| usage())?;
    let rest = rest.trim_start();
    if rest.is_empty() {
        return Err(usage());
    }
    match command {
        Command::Reply | Command::Edit => {
            validate::message(rest)?;
            let text = rest.to_owned();
            Ok(if command == Command::Reply {
                Input::Reply { to: seq, text }
            } else {
                Input::Edit { seq, text }
            })
        }
        _ => {
            let emoji = rest.trim_end();
            if emoji.contains(char::is_whitespace) {
                return Err(usage());
            }
            if !validate::emoji(emoji) {
                return Err(InputError::NotEmoji {
                    typed: emoji.to_owned(),
                });
            }
            Ok(Input::React {
                seq,
                emoji: emoji.to_owned(),
                on: command == Command::React,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse;
    use super::*;

    #[test]
    fn each_names_a_seq_then_its_text_or_emoji() {
        assert_eq!(
            parse("/reply 41 agreed, ship it"),
            Ok(Input::Reply {
                to: 41,
                text: "agreed, ship it".into()
            })
        );
        assert_eq!(
            parse("/edit 7 fixed the typo"),
            Ok(Input::Edit {
                seq: 7,
                text: "fixed the typo".into()
            })
        );
        assert_eq!(
            parse("/react 7 👍🏽"),
            Ok(Input::React {
                seq: 7,
                emoji: "👍🏽".into(),
                on: true
            })
        );
        assert_eq!(
            parse("/unreact 7 🎉"),
            Ok(Input::React {
                seq: 7,
                emoji: "🎉".into(),
                on: false
            })
        );
        assert!(matches!(
            parse("/react 7 ok"),
            Err(InputError::NotEmoji { .. })
        ));
        for bad in ["/reply", "/reply 41", "/edit x text", "/react 7"] {
            assert!(matches!(parse(bad), Err(InputError::Usage { .. })), "{bad}");
        }
    }
}
