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
}

/// Checks a message text: not blank, and no control characters except tab.
///
/// Whether it fits a frame depends on the reader's limit; see [`crate::codec::body_len`].
pub fn message(text: &str) -> Result<(), MessageError> {
    if let Some(ch) = text.chars().find(|c| c.is_control() && *c != '\t') {
        return Err(MessageError::ControlChar { ch });
    }
    if text.trim().is_empty() {
        return Err(MessageError::Empty);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
