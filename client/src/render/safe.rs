//! Text from the network made safe for a terminal: control characters are replaced before
//! anything is printed, so a hostile or buggy server cannot move the cursor or recolour the
//! terminal. How a line is laid out is [`super::text`]'s and [`super::json`](mod@super::json)'s.

use std::borrow::Cow;

/// Replaces control characters (escape sequences, bells, line breaks) with `�`, tabs excepted.
pub fn clean(text: &str) -> Cow<'_, str> {
    if text.chars().any(is_unsafe) {
        Cow::Owned(
            text.chars()
                .map(|c| if is_unsafe(c) { '\u{fffd}' } else { c })
                .collect(),
        )
    } else {
        Cow::Borrowed(text)
    }
}

fn is_unsafe(c: char) -> bool {
    c.is_control() && c != '\t'
}
