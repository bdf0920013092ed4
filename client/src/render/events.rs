//! Entries of a room's log as people read them: a message with its reply mark, its
//! "edited" mark and its reactions, a tombstone, and the events that change a message
//! (removal, edit, reaction). Shared by the REPL, `listen` and `history`.

use chat_proto::{Past, PastKind};

use super::safe::clean;

/// What an entry of a room's log shows after its sender's name: a message's text with
/// `(reply to 41)`, `(edited)` and `[👍 2 🎉 1]` as they apply, or what an event did.
pub fn entry_text(past: &Past) -> String {
    match &past.kind {
        PastKind::Message => {
            let mut line = String::new();
            if let Some(to) = past.reply_to {
                line.push_str(&format!("(reply to {to}) "));
            }
            line.push_str(&clean(&past.text));
            if past.edited.is_some() {
                line.push_str(" (edited)");
            }
            if !past.reactions.is_empty() {
                let chips: Vec<String> = past
                    .reactions
                    .iter()
                    .map(|r| format!("{} {}", clean(&r.emoji), r.by.len()))
                    .collect();
                line.push_str(&format!(" [{}]", chips.join(" ")));
            }
            line
        }
        PastKind::Removed { by } => format!("(message removed by {})", clean(by)),
        PastKind::Removal { target } => format!("(removed message {target})"),
        PastKind::Edit { target } => {
            format!("(edited message {target}: {})", clean(&past.text))
        }
        PastKind::React { target, emoji } => {
            format!("(reacted {} to message {target})", clean(emoji))
        }
        PastKind::Unreact { target, emoji } => {
            format!("(took back {} from message {target})", clean(emoji))
        }
    }
}

/// A search hit as the REPL and `chat-client search` show it: `#room [seq] from: text`,
/// with the matched parts between `*`s (or painted, by `paint`).
pub fn hit_text(hit: &chat_proto::search::Hit, paint: impl Fn(&str) -> String) -> String {
    let text = &hit.entry.text;
    let mut shown = String::new();
    let mut at = 0;
    for mark in &hit.marks {
        let (start, end) = (mark.start as usize, mark.end as usize);
        let (Some(before), Some(marked)) = (text.get(at..start), text.get(start..end)) else {
            continue;
        };
        shown.push_str(&clean(before));
        shown.push_str(&paint(&clean(marked)));
        at = end;
    }
    shown.push_str(&clean(text.get(at..).unwrap_or("")));
    format!(
        "#{} [{}] {}: {shown}",
        clean(&hit.room),
        hit.entry.seq,
        clean(&hit.entry.from)
    )
}

#[cfg(test)]
mod tests {
    use super::entry_text;
    use chat_proto::{Past, PastKind, Reaction};

    fn entry(kind: PastKind) -> Past {
        Past {
            seq: 9,
            from: "ann".into(),
            text: "hi\x1b".into(),
            at: 0,
            kind,
            reply_to: None,
            edited: None,
            reactions: vec![],
        }
    }

    /// A reply, edited, with reactions, reads with each mark; events say what they did;
    /// nothing a sender typed reaches the terminal raw.
    #[test]
    fn every_entry_reads_as_what_it_is() {
        let mut reply = entry(PastKind::Message);
        reply.reply_to = Some(4);
        reply.edited = Some(1);
        reply.reactions = vec![Reaction {
            emoji: "👍".into(),
            by: vec!["bob".into(), "cat".into()],
        }];
        let hi = super::clean("hi\x1b");
        assert_ne!(hi, "hi\x1b", "an escape is never printed raw");
        assert_eq!(
            entry_text(&reply),
            format!("(reply to 4) {hi} (edited) [👍 2]")
        );
        assert_eq!(
            entry_text(&entry(PastKind::Edit { target: 4 })),
            format!("(edited message 4: {hi})")
        );
        assert_eq!(
            entry_text(&entry(PastKind::React {
                target: 4,
                emoji: "🎉".into()
            })),
            "(reacted 🎉 to message 4)"
        );
        assert_eq!(
            entry_text(&entry(PastKind::Removed { by: "mod".into() })),
            "(message removed by mod)"
        );
    }
}
