//! How a page of history looks on the wire, whatever log it was read from: the `History`
//! frame of a page, a backlog and a catch-up, cut to what one frame may carry.

use chat_proto::{Backlog, Cursor, ErrorKind, Past, ServerFrame};

use super::Page;

/// The most messages one `History` frame holds: `Welcome`'s `history`.
pub const PAGE_MAX: usize = 500;

/// The most bytes of text and names one `History` frame carries, well under the 1 MiB a
/// client reads: a page of long messages holds fewer than [`PAGE_MAX`] (and says `more`).
pub const PAGE_BYTES: usize = 512 * 1024;

/// What a client gets instead of a page the store could not read.
pub fn unreadable() -> ServerFrame {
    ServerFrame::Error {
        kind: ErrorKind::StoreFailed,
        detail: "the server could not read its message log: try again later".to_owned(),
    }
}

/// Where a catch-up after `seq` reads in a room that keeps `first..=last`, and whether it
/// missed messages: past what is kept (trimmed), or a seq this room never had (a wiped
/// log), it gets the latest instead. The disk log and the cluster's streams alike.
pub fn catch_up(seq: u64, first: u64, last: u64) -> (Cursor, bool) {
    let missed = seq > last || seq.saturating_add(1) < first;
    let from = if missed {
        Cursor::Latest
    } else {
        Cursor::After(seq)
    };
    (from, missed)
}

/// Where a join's backlog reads: from where, at most how many messages, and whether it
/// missed messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BacklogRead {
    /// Where the read starts.
    pub from: Cursor,
    /// The most messages it takes.
    pub limit: usize,
    /// Whether a catch-up asked for messages no longer kept, or never the room's.
    pub missed: bool,
}

/// Where the backlog `backlog` reads, every log alike: the latest `n` (at most
/// [`PAGE_MAX`]), or a catch-up after a seq ([`catch_up`]) in a room that keeps
/// `first..=last`, which `bounds` is asked for only then; `None` for no backlog.
pub fn backlog_read<E>(
    backlog: Backlog,
    bounds: impl FnOnce() -> Result<(u64, u64), E>,
) -> Result<Option<BacklogRead>, E> {
    Ok(match backlog {
        Backlog::None => None,
        Backlog::Latest(n) => Some(BacklogRead {
            from: Cursor::Latest,
            limit: (n as usize).min(PAGE_MAX),
            missed: false,
        }),
        Backlog::After(seq) => {
            let (first, last) = bounds()?;
            let (from, missed) = catch_up(seq, first, last);
            Some(BacklogRead {
                from,
                limit: PAGE_MAX,
                missed,
            })
        }
    })
}

/// `frame` (a `History`) saying whether its catch-up missed messages.
pub fn with_missed(mut frame: ServerFrame, missed: bool) -> ServerFrame {
    if let ServerFrame::History { missed: m, .. } = &mut frame {
        *m = missed;
    }
    frame
}

/// The backlog of a join that stands although what it missed cannot be read now.
pub fn unreadable_backlog(room: &str) -> ServerFrame {
    no_backlog(room, true)
}

/// The backlog of a room when the server keeps no history, or none was asked for.
pub fn empty_backlog(room: &str) -> ServerFrame {
    no_backlog(room, false)
}

/// An empty backlog of `room`, `missed` saying whether it should have held something.
fn no_backlog(room: &str, missed: bool) -> ServerFrame {
    ServerFrame::History {
        room: room.to_owned(),
        messages: Vec::new(),
        more: false,
        next: Cursor::Latest,
        backlog: true,
        missed,
    }
}

/// A page read from `from` as the `History` frame naming the room `shown`, cut to
/// [`PAGE_BYTES`], with the cursor to the next page: what every log answers alike.
pub fn shape(page: Page, shown: &str, from: Cursor, backlog: bool) -> ServerFrame {
    let forward = matches!(from, Cursor::After(_));
    // A stored entry is the very entry a client gets.
    let Page { mut messages, more } = page;
    let trimmed = fit(&mut messages, forward);
    let next = match (forward, messages.first(), messages.last()) {
        (true, _, Some(last)) => Cursor::After(last.seq),
        (false, Some(first), _) => Cursor::Before(first.seq),
        _ => from,
    };
    ServerFrame::History {
        room: shown.to_owned(),
        messages,
        more: more || trimmed,
        next,
        backlog,
        missed: false,
    }
}

/// Drops messages from the far end of a page (the oldest of a backward page, the newest of
/// a forward one) until it fits in [`PAGE_BYTES`]; whether any were dropped. The page keeps
/// at least one message, so paging always moves on.
fn fit(messages: &mut Vec<Past>, forward: bool) -> bool {
    // Its strings and what frames them (lengths, numbers): reactions too, which may
    // outweigh the text a thousand to one.
    let size = |m: &Past| {
        let kind = match &m.kind {
            chat_proto::PastKind::Removed { by } => by.len(),
            chat_proto::PastKind::React { emoji, .. }
            | chat_proto::PastKind::Unreact { emoji, .. } => emoji.len(),
            _ => 0,
        };
        let reactions: usize = m
            .reactions
            .iter()
            .map(|r| r.emoji.len() + 8 + r.by.iter().map(|by| by.len() + 8).sum::<usize>())
            .sum();
        m.text.len() + m.from.len() + kind + reactions + 48
    };
    let mut total: usize = messages.iter().map(size).sum();
    let mut dropped = false;
    while total > PAGE_BYTES && messages.len() > 1 {
        let gone = if forward {
            messages.pop()
        } else {
            Some(messages.remove(0))
        };
        if let Some(gone) = gone {
            total -= size(&gone);
            dropped = true;
        }
    }
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn past(seq: u64, bytes: usize) -> Past {
        Past {
            seq,
            from: "ann".into(),
            text: "x".repeat(bytes),
            at: 0,
            kind: chat_proto::PastKind::Message,
            reply_to: None,
            edited: None,
            reactions: vec![],
        }
    }

    /// A page too large for one frame loses its far end: the oldest of a page back, the
    /// newest of a page forward, and says so.
    #[test]
    fn a_page_too_large_keeps_its_near_end() {
        let mut back: Vec<Past> = (1..=10).map(|s| past(s, PAGE_BYTES / 4)).collect();
        assert!(fit(&mut back, false));
        assert_eq!(back.iter().map(|m| m.seq).collect::<Vec<_>>(), [8, 9, 10]);
        let mut forward: Vec<Past> = (1..=10).map(|s| past(s, PAGE_BYTES / 4)).collect();
        assert!(fit(&mut forward, true));
        assert_eq!(forward.iter().map(|m| m.seq).collect::<Vec<_>>(), [1, 2, 3]);
        let mut small = vec![past(1, 10)];
        assert!(!fit(&mut small, true));
        let mut huge = vec![past(1, PAGE_BYTES * 2)];
        assert!(!fit(&mut huge, true), "one message always goes");
    }
}
