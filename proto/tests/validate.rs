//! Room names against a model of their documented rules: 1 to 32 of `A-Z a-z 0-9 _ - .`, one
//! optional leading `#` that is not part of the name, compared case-insensitively.

mod common;

use chat_proto::validate::{self, RoomError, MAX_ROOM_LEN};
use common::{typed_room, valid_room};
use proptest::prelude::*;

/// Whether `c` is in the alphabet of room names.
fn in_alphabet(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
}

/// The rules as the README states them, written independently of `validate::room`.
fn model(typed: &str) -> Result<&str, RoomError> {
    let name = typed.strip_prefix('#').unwrap_or(typed);
    match name.chars().find(|&c| !in_alphabet(c)) {
        _ if name.is_empty() => Err(RoomError::Empty),
        Some(ch) => Err(RoomError::BadChar { ch }),
        None if name.chars().count() > MAX_ROOM_LEN => Err(RoomError::TooLong {
            len: name.chars().count(),
        }),
        None => Ok(name),
    }
}

/// Strings near the edge of the rules: mostly the alphabet, sometimes `#` (leading, doubled,
/// inside), a space, a non-ASCII letter or a control character, and lengths around 32.
fn room_like() -> impl Strategy<Value = String> {
    let ch = prop_oneof![
        20 => proptest::char::ranges(vec!['a'..='z', 'A'..='Z', '0'..='9'].into()),
        3 => prop::sample::select(vec!['_', '-', '.']),
        2 => Just('#'),
        1 => prop::sample::select(vec![' ', 'é', 'ı', 'K', '\u{0}', '\t', '/', '@']),
        1 => any::<char>(),
    ];
    prop_oneof![
        prop::collection::vec(ch.clone(), 0..=MAX_ROOM_LEN + 3),
        prop::collection::vec(ch, MAX_ROOM_LEN - 2..=MAX_ROOM_LEN + 3),
    ]
    .prop_map(String::from_iter)
}

/// `s` with the letter case of each ASCII letter flipped where `bits` says.
fn recase(s: &str, bits: u64) -> String {
    s.chars()
        .enumerate()
        .map(|(i, c)| {
            if bits >> (i % 64) & 1 == 1 {
                if c.is_ascii_lowercase() {
                    c.to_ascii_uppercase()
                } else {
                    c.to_ascii_lowercase()
                }
            } else {
                c
            }
        })
        .collect()
}

proptest! {
    /// `validate::room` accepts exactly the names of 1 to 32 characters from the alphabet,
    /// after one optional leading `#`, returns the name without that `#`, and refuses
    /// anything else with the reason the model gives (the first bad character before a
    /// length over 32).
    #[test]
    fn room_accepts_exactly_the_documented_names(typed in room_like()) {
        prop_assert_eq!(validate::room(&typed), model(&typed), "typed {:?}", typed);
    }

    /// Any Unicode at all is judged the same way, and never panics.
    #[test]
    fn room_judges_any_text_as_the_model_does(typed in "\\PC{0,40}|.{0,40}") {
        prop_assert_eq!(validate::room(&typed), model(&typed), "typed {:?}", typed);
    }

    /// Exactly one leading `#` is stripped: `#name` and `name` are the same room, and a
    /// second `#` is a bad character.
    #[test]
    fn one_leading_hash_is_stripped((typed, room) in typed_room()) {
        let (one, two) = (format!("#{room}"), format!("##{room}"));
        prop_assert_eq!(validate::room(&typed), Ok(room.as_str()));
        prop_assert_eq!(validate::room(&one), Ok(room.as_str()));
        prop_assert_eq!(validate::room(&two), Err(RoomError::BadChar { ch: '#' }));
    }

    /// A valid name is its own result, so validating twice changes nothing.
    #[test]
    fn a_valid_name_is_a_fixed_point(room in valid_room()) {
        prop_assert_eq!(validate::room(&room), Ok(room.as_str()));
    }

    /// `room_key` makes two valid names equal exactly when they differ only in ASCII letter
    /// case, whichever of them carried a `#` as typed.
    #[test]
    fn room_key_ignores_case_and_only_case(
        (typed, room) in typed_room(),
        bits in any::<u64>(),
        other in valid_room(),
    ) {
        let recased = recase(&room, bits);
        let name = validate::room(&typed).unwrap();
        prop_assert_eq!(validate::room_key(name), validate::room_key(&recased));
        prop_assert_eq!(
            validate::room_key(name) == validate::room_key(&other),
            room.eq_ignore_ascii_case(&other)
        );
    }
}
