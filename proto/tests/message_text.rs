//! Message text against a model of its documented rules: not blank, no control character but
//! tab, no character that changes the direction text is shown in, and a zero-width character
//! only between two visible characters (neither whitespace, nor a control, nor one of those
//! invisible characters).

mod common;

use chat_proto::validate::{self, MessageError};
use common::{
    direction_control, message_like, unicode_text, valid_message_text, zero_width,
    DIRECTION_CONTROLS, ZERO_WIDTHS,
};
use proptest::prelude::*;
use proptest::sample::Index;

/// Whether `c` is one of the invisible characters the rules are about.
fn invisible(c: char) -> bool {
    DIRECTION_CONTROLS.contains(&c) || ZERO_WIDTHS.contains(&c)
}

/// Whether `c` counts as something shown, beside a zero-width character.
fn shows(c: char) -> bool {
    !c.is_whitespace() && !c.is_control() && !invisible(c)
}

/// The rules as the README states them, written independently of `validate::message`: the
/// first control character, else the first direction control or misplaced zero-width
/// character, else blankness.
fn model(text: &str) -> Result<(), MessageError> {
    let chars: Vec<char> = text.chars().collect();
    if let Some(&ch) = chars.iter().find(|c| c.is_control() && **c != '\t') {
        return Err(MessageError::ControlChar { ch });
    }
    for (i, &ch) in chars.iter().enumerate() {
        if DIRECTION_CONTROLS.contains(&ch) {
            return Err(MessageError::DirectionControl { ch });
        }
        if ZERO_WIDTHS.contains(&ch) {
            let before = i.checked_sub(1).map(|j| chars[j]);
            let after = chars.get(i + 1).copied();
            if !(before.is_some_and(shows) && after.is_some_and(shows)) {
                return Err(MessageError::ZeroWidth { ch });
            }
        }
    }
    if chars.iter().all(|c| c.is_whitespace()) {
        return Err(MessageError::Empty);
    }
    Ok(())
}

/// `text` with `ch` put in at the character boundary `at` picks.
fn insert(text: &str, at: Index, ch: char) -> String {
    let boundaries: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .chain([text.len()])
        .collect();
    let mut out = text.to_owned();
    out.insert(*at.get(&boundaries), ch);
    out
}

/// A character that counts as shown.
fn visible_char() -> impl Strategy<Value = char> {
    prop_oneof![
        prop::sample::select(vec![
            'a',
            'ی',
            'क',
            '\u{94D}',
            '👩',
            '\u{FE0F}',
            '\u{1F3FD}',
            '.'
        ]),
        any::<char>().prop_filter("shows", |c| shows(*c)),
    ]
}

proptest! {
    /// Text near the edges of the rules (scripts, emoji, spaces, every invisible character
    /// of the rules in every position) is judged exactly as the model judges it.
    #[test]
    fn message_judges_text_as_the_model_does(text in message_like()) {
        prop_assert_eq!(validate::message(&text), model(&text), "text {:?}", text);
    }

    /// Any Unicode at all is judged the same way, and never panics.
    #[test]
    fn message_judges_any_text_as_the_model_does(text in unicode_text(40)) {
        prop_assert_eq!(validate::message(&text), model(&text), "text {:?}", text);
    }

    /// A direction control anywhere in an otherwise valid message gets it refused, naming
    /// that character.
    #[test]
    fn a_direction_control_anywhere_is_refused(
        text in valid_message_text(),
        at in any::<Index>(),
        ch in direction_control(),
    ) {
        let spoof = insert(&text, at, ch);
        prop_assert_eq!(
            validate::message(&spoof),
            Err(MessageError::DirectionControl { ch }),
            "text {:?}", spoof
        );
    }

    /// A zero-width character between two visible characters is accepted wherever the pair
    /// stands in a valid message.
    #[test]
    fn a_zero_width_character_between_two_visible_ones_is_accepted(
        text in valid_message_text(),
        at in any::<Index>(),
        (a, zw, b) in (visible_char(), zero_width(), visible_char()),
    ) {
        let joined = String::from_iter([a, zw, b]);
        let boundaries: Vec<usize> = text
            .char_indices()
            .map(|(i, _)| i)
            .chain([text.len()])
            .collect();
        let mut with = text.clone();
        with.insert_str(*at.get(&boundaries), &joined);
        prop_assert_eq!(validate::message(&with), Ok(()), "text {:?}", with);
    }

    /// A zero-width character at the start, at the end, or beside whitespace of a valid
    /// message gets it refused, naming that character.
    #[test]
    fn a_zero_width_character_beside_nothing_visible_is_refused(
        text in valid_message_text(),
        zw in zero_width(),
        space in prop::sample::select(vec![' ', '\t', '\u{A0}', '\u{3000}']),
        place in 0..3u8,
    ) {
        let spoof = match place {
            0 => format!("{zw}{text}"),
            1 => format!("{text}{zw}"),
            _ => format!("{text}{space}{zw}{text}"),
        };
        prop_assert_eq!(
            validate::message(&spoof),
            Err(MessageError::ZeroWidth { ch: zw }),
            "text {:?}", spoof
        );
    }

    /// Every refusal for a hidden or reordering character names it as people look it up,
    /// `U+XXXX`.
    #[test]
    fn a_refusal_names_its_character(text in message_like()) {
        if let Err(
            err @ (MessageError::DirectionControl { ch } | MessageError::ZeroWidth { ch }),
        ) = validate::message(&text)
        {
            let code = format!("U+{:04X}", u32::from(ch));
            prop_assert!(err.to_string().contains(&code), "{} lacks {}", err, code);
        }
    }
}
