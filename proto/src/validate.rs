//! The rules for names, room names and message text, shared so a client can refuse locally
//! exactly what the server would refuse.

/// Longest name, in characters (all ASCII, so also in bytes).
pub const MAX_NAME_LEN: usize = 32;

/// Why a name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NameError {
    /// No characters at all.
    #[error("a name cannot be empty")]
    Empty,
    /// Over [`MAX_NAME_LEN`].
    #[error("a name has at most {MAX_NAME_LEN} characters, this one has {len}")]
    TooLong {
        /// Characters in the refused name.
        len: usize,
    },
    /// A character outside `A-Z a-z 0-9 _ - .`.
    #[error("a name may only use letters, digits, '_', '-' and '.', not {ch:?}")]
    BadChar {
        /// The first offending character.
        ch: char,
    },
}

/// Checks a name: 1 to 32 ASCII letters, digits, `_`, `-` or `.`.
///
/// ASCII only, so that two names that look alike are alike: no homoglyphs, no invisible
/// characters, and case folding is unambiguous ([`name_key`]).
pub fn username(name: &str) -> Result<(), NameError> {
    if name.is_empty() {
        return Err(NameError::Empty);
    }
    if let Some(ch) = first_bad_char(name) {
        return Err(NameError::BadChar { ch });
    }
    if name.len() > MAX_NAME_LEN {
        return Err(NameError::TooLong { len: name.len() });
    }
    Ok(())
}

/// The first character outside `A-Z a-z 0-9 _ - .`: the alphabet of names and rooms alike.
fn first_bad_char(name: &str) -> Option<char> {
    name.chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
}

/// The form under which names are compared: `Bob` and `bob` are the same user.
pub fn name_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// The room a client is in unless told otherwise: the seed's single room, where everyone
/// hears everything.
pub const DEFAULT_ROOM: &str = "lobby";

/// Longest room name, in characters (all ASCII), the `#` not counted.
pub const MAX_ROOM_LEN: usize = 32;

/// Why a room name is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RoomError {
    /// Nothing (or only `#`).
    #[error("a room name cannot be empty")]
    Empty,
    /// Over [`MAX_ROOM_LEN`].
    #[error("a room name has at most {MAX_ROOM_LEN} characters, this one has {len}")]
    TooLong {
        /// Characters in the refused name, the `#` not counted.
        len: usize,
    },
    /// A character outside `A-Z a-z 0-9 _ - .`.
    #[error("a room name may only use letters, digits, '_', '-' and '.', not {ch:?}")]
    BadChar {
        /// The first offending character.
        ch: char,
    },
}

/// Checks a room name as typed and returns it without its optional leading `#`: 1 to 32
/// ASCII letters, digits, `_`, `-` or `.`.
///
/// People type `#rust` as IRC taught them, or just `rust`; both mean the room `rust`, and the
/// `#` is never part of a name. The same alphabet as user names, for the same reasons; rooms
/// compare case-insensitively too ([`room_key`]) and are shown as their first member typed them.
///
/// ```
/// use chat_proto::validate::{room, RoomError};
/// assert_eq!(room("#Rust"), Ok("Rust"));
/// assert_eq!(room("rust"), Ok("rust"));
/// assert_eq!(room("##rust"), Err(RoomError::BadChar { ch: '#' }));
/// ```
pub fn room(typed: &str) -> Result<&str, RoomError> {
    let name = typed.strip_prefix('#').unwrap_or(typed);
    if name.is_empty() {
        return Err(RoomError::Empty);
    }
    if let Some(ch) = first_bad_char(name) {
        return Err(RoomError::BadChar { ch });
    }
    if name.len() > MAX_ROOM_LEN {
        return Err(RoomError::TooLong { len: name.len() });
    }
    Ok(name)
}

/// The form under which room names are compared: `#Rust`, `rust` and `RUST` are one room.
/// Expects a name [`room`] accepted (no `#`).
pub fn room_key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// Why a message text is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MessageError {
    /// Nothing but whitespace.
    #[error("a message cannot be empty")]
    Empty,
    /// A control character other than tab, which could rewrite other people's terminals.
    #[error("a message cannot contain control characters ({ch:?})")]
    ControlChar {
        /// The first offending character.
        ch: char,
    },
    /// A character that changes the direction text is shown in ([`is_direction_control`]):
    /// it would reorder what others see, so that the text shown is not the text sent.
    #[error(
        "a message cannot contain {}: it reorders the text around it on other people's screens",
        code_point(*.ch)
    )]
    DirectionControl {
        /// The first offending character.
        ch: char,
    },
    /// A zero-width character ([`is_zero_width`]) that does not sit between two visible
    /// characters, where it could only hide something or make a message look blank.
    #[error(
        "a message can only have {} (it has no width) between two visible characters",
        code_point(*.ch)
    )]
    ZeroWidth {
        /// The first offending character.
        ch: char,
    },
}

/// Checks a message text: not blank, no control characters except tab, nothing that
/// reorders the text, and zero-width characters only between two visible characters.
///
/// The checks come in that order: the first control character, else the first character
/// that reorders or hides text, else blankness. Each rule keeps others from being shown
/// something other than what was sent: a control character rewrites their terminal; a
/// direction control reorders the text (after U+202E RIGHT-TO-LEFT OVERRIDE, `txt.exe`
/// shows as `exe.txt`); a zero-width character with nothing visible on one side hides in
/// the text or makes it look blank. Joiners between letters (Persian, Devanagari) and in
/// emoji sequences (woman, U+200D, laptop: a woman at a laptop) join two visible
/// characters, so they pass.
///
/// Whether it fits a frame depends on the reader's limit; see [`crate::codec::body_len`].
///
/// ```
/// use chat_proto::validate::{message, MessageError};
/// assert_eq!(message("می\u{200C}خواهم"), Ok(()));
/// assert_eq!(message("👨\u{200D}👩\u{200D}👧"), Ok(()));
/// assert_eq!(
///     message("see \u{202E}txt.exe"),
///     Err(MessageError::DirectionControl { ch: '\u{202E}' })
/// );
/// assert_eq!(message("\u{200B}"), Err(MessageError::ZeroWidth { ch: '\u{200B}' }));
/// ```
pub fn message(text: &str) -> Result<(), MessageError> {
    if text.is_ascii() {
        ascii_message(text.as_bytes())
    } else {
        any_message(text)
    }
}

/// Whether `text` is one emoji, as Unicode lists them (with a skin tone, or a sequence
/// joined by U+200D, such as a family): what a reaction may be. The list is the `emojis`
/// crate's, which follows Unicode's emoji data.
///
/// ```
/// use chat_proto::validate::emoji;
/// assert!(emoji("👍") && emoji("👍🏽") && emoji("❤️") && emoji("👨\u{200D}👩\u{200D}👧"));
/// assert!(!emoji("") && !emoji("ok") && !emoji("👍👍") && !emoji(":+1:"));
/// ```
pub fn emoji(text: &str) -> bool {
    emojis::get(text).is_some()
}

/// [`message`] for any text, a character at a time.
fn any_message(text: &str) -> Result<(), MessageError> {
    if let Some(ch) = text.chars().find(|c| c.is_control() && *c != '\t') {
        return Err(MessageError::ControlChar { ch });
    }
    if let Some(err) = first_spoof(text) {
        return Err(err);
    }
    if text.trim().is_empty() {
        return Err(MessageError::Empty);
    }
    Ok(())
}

/// [`message`] for text that is all ASCII, the usual case, in one pass over its bytes: ASCII
/// holds no direction or zero-width character, and once controls other than tab are out its
/// only whitespace is space and tab.
fn ascii_message(text: &[u8]) -> Result<(), MessageError> {
    let mut blank = true;
    for &byte in text {
        if byte.is_ascii_control() && byte != b'\t' {
            return Err(MessageError::ControlChar { ch: byte.into() });
        }
        blank &= byte == b' ' || byte == b'\t';
    }
    if blank {
        return Err(MessageError::Empty);
    }
    Ok(())
}

/// Whether `ch` changes the direction text is shown in: the embeddings and overrides
/// U+202A–U+202E and the isolates U+2066–U+2069, which reorder everything up to their end,
/// and the marks U+200E, U+200F and U+061C, which make the digits and punctuation beside
/// them follow their direction (`1 - 2` between two U+200F shows as `2 - 1`).
///
/// The marks have a legitimate use (placing punctuation at the end of a right-to-left
/// phrase), but they are invisible, and a chat line is displayed as a paragraph of its
/// own, so the reader's display orders it well enough without them.
pub fn is_direction_control(ch: char) -> bool {
    matches!(
        ch,
        '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}'
    )
}

/// Whether `ch` is one of the zero-width characters: U+200B ZERO WIDTH SPACE, U+200C ZERO
/// WIDTH NON-JOINER, U+200D ZERO WIDTH JOINER, U+2060 WORD JOINER and U+FEFF ZERO WIDTH
/// NO-BREAK SPACE (the byte-order mark).
pub fn is_zero_width(ch: char) -> bool {
    matches!(
        ch,
        '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
    )
}

/// Whether `ch` may stand beside a zero-width character: anything that is not whitespace,
/// not a control character, and not itself a direction control or a zero-width character.
///
/// Letters, digits, punctuation, symbols, emoji, combining marks (a virama, an emoji's
/// variation selector or skin tone) all count: a joiner between any two of them joins
/// something. What is left out is what would let a zero-width character sit where nothing
/// shows: at either end of the text, beside a space, or in a run of invisible characters.
pub fn is_visible(ch: char) -> bool {
    !ch.is_whitespace() && !ch.is_control() && !is_direction_control(ch) && !is_zero_width(ch)
}

/// The first character of `text` that reorders or hides text, as the error to refuse it with.
fn first_spoof(text: &str) -> Option<MessageError> {
    let mut before: Option<char> = None;
    let mut chars = text.chars().peekable();
    while let Some(ch) = chars.next() {
        if is_direction_control(ch) {
            return Some(MessageError::DirectionControl { ch });
        }
        if is_zero_width(ch) {
            let after = chars.peek().copied();
            if !(before.is_some_and(is_visible) && after.is_some_and(is_visible)) {
                return Some(MessageError::ZeroWidth { ch });
            }
        }
        before = Some(ch);
    }
    None
}

/// `U+202E RIGHT-TO-LEFT OVERRIDE`: a character as people look it up, with its Unicode name
/// when it is one of the characters the message rules refuse.
fn code_point(ch: char) -> String {
    let name = match ch {
        '\u{061C}' => " ARABIC LETTER MARK",
        '\u{200B}' => " ZERO WIDTH SPACE",
        '\u{200C}' => " ZERO WIDTH NON-JOINER",
        '\u{200D}' => " ZERO WIDTH JOINER",
        '\u{200E}' => " LEFT-TO-RIGHT MARK",
        '\u{200F}' => " RIGHT-TO-LEFT MARK",
        '\u{202A}' => " LEFT-TO-RIGHT EMBEDDING",
        '\u{202B}' => " RIGHT-TO-LEFT EMBEDDING",
        '\u{202C}' => " POP DIRECTIONAL FORMATTING",
        '\u{202D}' => " LEFT-TO-RIGHT OVERRIDE",
        '\u{202E}' => " RIGHT-TO-LEFT OVERRIDE",
        '\u{2060}' => " WORD JOINER",
        '\u{2066}' => " LEFT-TO-RIGHT ISOLATE",
        '\u{2067}' => " RIGHT-TO-LEFT ISOLATE",
        '\u{2068}' => " FIRST STRONG ISOLATE",
        '\u{2069}' => " POP DIRECTIONAL ISOLATE",
        '\u{FEFF}' => " ZERO WIDTH NO-BREAK SPACE",
        _ => "",
    };
    format!("U+{:04X}{name}", u32::from(ch))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn ascii_text_is_judged_as_any_text_is(text in "[ \\t]{0,3}[\\x00-\\x7f]{0,4}[ \\t]{0,3}") {
            prop_assert_eq!(ascii_message(text.as_bytes()), any_message(&text));
        }
    }

    #[test]
    fn names_follow_the_documented_rules() {
        assert_eq!(username("ann"), Ok(()));
        assert_eq!(username("A.b-c_9"), Ok(()));
        assert_eq!(username(&"x".repeat(32)), Ok(()));
        assert_eq!(username(""), Err(NameError::Empty));
        assert_eq!(
            username(&"x".repeat(33)),
            Err(NameError::TooLong { len: 33 })
        );
        assert_eq!(username("a b"), Err(NameError::BadChar { ch: ' ' }));
        assert_eq!(username("zoë"), Err(NameError::BadChar { ch: 'ë' }));
        assert_eq!(username("a\u{7}"), Err(NameError::BadChar { ch: '\u{7}' }));
    }

    #[test]
    fn rooms_follow_the_documented_rules() {
        assert_eq!(room("lobby"), Ok("lobby"));
        assert_eq!(room("#Rust-lang.2"), Ok("Rust-lang.2"));
        assert_eq!(room(&format!("#{}", "r".repeat(32))), Ok(&*"r".repeat(32)));
        assert_eq!(room(""), Err(RoomError::Empty));
        assert_eq!(room("#"), Err(RoomError::Empty));
        assert_eq!(room(&"r".repeat(33)), Err(RoomError::TooLong { len: 33 }));
        assert_eq!(room("a room"), Err(RoomError::BadChar { ch: ' ' }));
        assert_eq!(room("rust#"), Err(RoomError::BadChar { ch: '#' }));
        assert_eq!(room("café"), Err(RoomError::BadChar { ch: 'é' }));
        assert_eq!(room_key("Rust"), room_key(room("#RUST").unwrap()));
    }

    #[test]
    fn names_compare_case_insensitively() {
        assert_eq!(name_key("Bob"), name_key("bOB"));
        assert_ne!(name_key("bob"), name_key("bob2"));
    }

    #[test]
    fn messages_follow_the_documented_rules() {
        assert_eq!(message("hi"), Ok(()));
        assert_eq!(message("tab\tok ✓"), Ok(()));
        assert_eq!(message(""), Err(MessageError::Empty));
        assert_eq!(message("  \t "), Err(MessageError::Empty));
        assert_eq!(
            message("bell\u{7}"),
            Err(MessageError::ControlChar { ch: '\u{7}' })
        );
        assert_eq!(
            message("esc\u{1b}[2J"),
            Err(MessageError::ControlChar { ch: '\u{1b}' })
        );
        assert_eq!(
            message("line\nbreak"),
            Err(MessageError::ControlChar { ch: '\n' })
        );
    }

    #[test]
    fn every_direction_control_is_refused_wherever_it_stands() {
        let controls = ['\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}']
            .into_iter()
            .chain(['\u{2066}', '\u{2067}', '\u{2068}', '\u{2069}'])
            .chain(['\u{200E}', '\u{200F}', '\u{061C}']);
        for ch in controls {
            for text in [
                format!("{ch}hello"),
                format!("hel{ch}lo"),
                format!("hello{ch}"),
                format!("{ch}"),
            ] {
                assert_eq!(
                    message(&text),
                    Err(MessageError::DirectionControl { ch }),
                    "{text:?}"
                );
            }
        }
        // The Trojan Source example: "access level: user" followed by a comment that
        // displays as if it came before the check.
        assert_eq!(
            message(
                "if access_level != \"user\u{202E} \u{2066}// Check if admin\u{2069} \u{2066}\" {"
            ),
            Err(MessageError::DirectionControl { ch: '\u{202E}' })
        );
    }

    #[test]
    fn joiners_between_visible_characters_pass() {
        for text in [
            // Persian: "I want", with a non-joiner inside the word.
            "می\u{200C}خواهم",
            // Devanagari: ka, virama, zero width joiner, ssa (a half-form ka).
            "क\u{094D}\u{200D}ष",
            // Emoji: a family, a woman at a laptop with a skin tone, a rainbow flag
            // (white flag, variation selector 16, joiner, rainbow).
            "👨\u{200D}👩\u{200D}👧",
            "👩\u{1F3FD}\u{200D}💻",
            "🏳\u{FE0F}\u{200D}🌈 pride",
            // Thai has no spaces between words; a zero width space marks where to break.
            "ภาษา\u{200B}ไทย",
            "no\u{2060}break and a\u{FEFF}b",
        ] {
            assert_eq!(message(text), Ok(()), "{text:?}");
        }
    }

    #[test]
    fn a_zero_width_character_with_nothing_visible_beside_it_is_refused() {
        for (text, ch) in [
            ("\u{200B}", '\u{200B}'),
            ("\u{200D}hi", '\u{200D}'),
            ("hi\u{200C}", '\u{200C}'),
            ("\u{FEFF}hello", '\u{FEFF}'),
            ("a \u{200B}b", '\u{200B}'),
            ("a\u{200B} b", '\u{200B}'),
            ("a\u{2060}\tb", '\u{2060}'),
            ("a\u{200D}\u{200D}b", '\u{200D}'),
            ("a\u{200B}\u{200C}b", '\u{200B}'),
            ("a\u{200D}\u{200F}b", '\u{200D}'),
            ("  \u{200B}  ", '\u{200B}'),
        ] {
            assert_eq!(
                message(text),
                Err(MessageError::ZeroWidth { ch }),
                "{text:?}"
            );
        }
    }

    #[test]
    fn a_refusal_names_the_character_as_people_look_it_up() {
        assert_eq!(
            message("hi \u{202E}olleh").unwrap_err().to_string(),
            "a message cannot contain U+202E RIGHT-TO-LEFT OVERRIDE: it reorders the text \
             around it on other people's screens"
        );
        assert_eq!(
            message("\u{200B}").unwrap_err().to_string(),
            "a message can only have U+200B ZERO WIDTH SPACE (it has no width) between two \
             visible characters"
        );
        assert_eq!(
            message("\u{061C}").unwrap_err().to_string(),
            "a message cannot contain U+061C ARABIC LETTER MARK: it reorders the text around \
             it on other people's screens"
        );
    }

    #[test]
    fn a_control_character_is_reported_before_a_direction_control() {
        assert_eq!(
            message("\u{202E}bell\u{7}"),
            Err(MessageError::ControlChar { ch: '\u{7}' })
        );
    }
}
