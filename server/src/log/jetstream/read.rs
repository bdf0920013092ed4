//! Pages and backlogs read from a room's stream, with the semantics of the SQLite store's
//! reads, so that [`crate::log::page`] shapes them alike.

use async_nats::jetstream::{self, stream};
use chat_proto::{Backlog, Cursor, ServerFrame};
use futures::{StreamExt, TryStreamExt};

use super::payload::from_payload;
use super::Unavailable;
use crate::log::page;
use crate::log::{Page, Stored};

/// How many stream messages a page reads from NATS at once.
const READS_AT_ONCE: usize = 32;

/// Reads one page from `stream`, whose bounds `state` was read just now, at most `limit`
/// messages (0: none, only whether there are any), no later than `cut` when given: the
/// semantics of [`crate::log::Store::read`].
pub async fn read(
    stream: &stream::Stream,
    state: &stream::State,
    from: Cursor,
    limit: usize,
    cut: Option<u64>,
) -> Result<Page, Unavailable> {
    if state.messages == 0 {
        return Ok(Page::default());
    }
    let first = state.first_sequence;
    let last = cut.map_or(state.last_sequence, |cut| cut.min(state.last_sequence));
    let want = limit.max(1) as u64;
    let (lo, hi, older) = match from {
        Cursor::Latest => {
            let lo = (last + 1).saturating_sub(want).max(first);
            (lo, last, true)
        }
        Cursor::Before(seq) => {
            let hi = seq.saturating_sub(1).min(last);
            let lo = (hi + 1).saturating_sub(want).max(first);
            (lo, hi, true)
        }
        Cursor::After(seq) => {
            let lo = seq.saturating_add(1).max(first);
            let hi = lo.saturating_add(want - 1).min(last);
            (lo, hi, false)
        }
    };
    if lo > hi {
        return Ok(Page::default());
    }
    let more = if older { lo > first } else { hi < last };
    if limit == 0 {
        return Ok(Page {
            messages: Vec::new(),
            more: true,
        });
    }
    let messages: Vec<Option<Stored>> = futures::stream::iter(lo..=hi)
        .map(|seq| async move {
            match stream.direct_get(seq).await {
                Ok(message) => Ok(from_payload(message.sequence, &message.payload)),
                Err(err) if err.kind() == jetstream::stream::DirectGetErrorKind::NotFound => {
                    // Trimmed since the bounds were read.
                    Ok(None)
                }
                Err(err) => Err(Unavailable(format!("cannot read a message: {err}"))),
            }
        })
        .buffered(READS_AT_ONCE)
        .try_collect()
        .await?;
    Ok(Page {
        messages: messages.into_iter().flatten().collect(),
        more,
    })
}

/// The backlog `backlog` (not `None`) of the room `shown`, up to `cut`: the latest N, or
/// what came after a seq (the latest when that is past what is kept). One read of the
/// stream's bounds serves both.
pub async fn backlog_of(
    stream: &stream::Stream,
    shown: &str,
    backlog: Backlog,
    cut: u64,
) -> Result<ServerFrame, Unavailable> {
    let state = stream
        .get_info()
        .await
        .map_err(|err| Unavailable(format!("cannot read the room's stream: {err}")))?
        .state;
    let first = state.first_sequence;
    let Some(plan) = page::backlog_read(backlog, || Ok::<_, Unavailable>((first, cut)))? else {
        return Ok(page::empty_backlog(shown));
    };
    let page = read(stream, &state, plan.from, plan.limit, Some(cut)).await?;
    Ok(page::with_missed(
        page::shape(page, shown, plan.from, true),
        plan.missed,
    ))
}
