//! Pages and backlogs read from a room's records in the stream, with the semantics of the
//! SQLite store's reads, so that [`crate::log::page`] shapes them alike.
//!
//! A room's records are found by subject: its first and last directly, and the record that
//! holds a given `seq` by a binary search over the stream's sequence (a room's seqs grow
//! with it, but for the rare record numbered like an earlier one, which every reader skips
//! whole), each step one get of the room's next record at or after a sequence.
//!
//! Where a removal erased a record, the room's seqs have a gap in the room's subject; the
//! record after it names the stream sequence it was numbered after, under which the erased
//! record's copy is kept ([`copies_before`]), so a walk over the room ([`Walk`]) finds every
//! `seq` in its place, tombstones included.
//!
//! Every get is answered by the stream's leader, never a replica's direct get: with
//! replicas, a replica that was cut off or paused answers direct gets from what it held
//! then, so a node read the heads of rooms from before the outage (and refused every
//! message while it numbered after them) and served histories that ended there.

use async_nats::jetstream::stream::{self, RawMessageErrorKind};
use chat_proto::{Backlog, Cursor, ServerFrame};

use std::collections::VecDeque;

use super::payload::{
    after_of, from_record, kept_subject, subject, Counted, AFTER_HEADER, SEQ_HEADER,
};
use super::Unavailable;
use crate::log::page;
use crate::log::{Page, Stored};

/// A room's record: where it is in the stream, and its messages.
#[derive(Debug)]
pub struct Record {
    /// Its sequence in the stream.
    pub at: u64,
    /// The stream sequence of the room's record it was numbered after; `None` for a record
    /// stored before records said it.
    pub after: Option<u64>,
    /// Its messages, in `seq` order (never empty).
    pub messages: Vec<Stored>,
    /// For the copy of a record a removal erased (which stood at `at`): the copy's own
    /// stream sequence.
    pub copy: Option<u64>,
}

impl Record {
    /// The `seq` of its first message.
    pub fn first(&self) -> u64 {
        self.messages[0].seq
    }

    /// The `seq` of its last message.
    pub fn last(&self) -> u64 {
        self.messages[self.messages.len() - 1].seq
    }

    /// Whether it counts in the walk `counted` (see [`Counted::take`]).
    pub fn count(&self, counted: &mut Counted) -> bool {
        counted.take(self.first(), self.last())
    }
}

/// What the stream holds of one room, read just now.
#[derive(Debug)]
pub struct Bounds {
    /// The first `seq` kept: the first the stream holds, or the first of the last
    /// `keep_per_room`, whichever is later.
    pub first: u64,
    /// The last `seq`.
    pub last: u64,
    /// The stream sequence of the room's first record that holds a kept message (or of the
    /// first after it, when removals erased it and its copy holds the message).
    pub first_at: u64,
    /// The stream sequence of the room's last record.
    pub last_at: u64,
}

/// The room `key`'s record at or after stream sequence `at` (the first when `None`);
/// `None` when there is none.
pub async fn next_record<I>(
    stream: &stream::Stream<I>,
    key: &str,
    at: Option<u64>,
) -> Result<Option<Record>, Unavailable> {
    let get = stream.raw_message_builder().next_by_subject(subject(key));
    let get = match at {
        Some(at) => get.sequence(at),
        None => get,
    };
    from_get(get.send().await)
}

/// Whether the stream's leader holds `message` (a record a consumer fed) at its stream
/// sequence: the same subject, payload and numbering (`Chat-Seq`, `Chat-After`: a twin
/// numbered again carries the same payload under another `seq`) there. With replicas, a NATS server cut
/// off from the others kept records the cluster did not (a sender's attempts it stored
/// while it could not reach them), and after it joined them again a consumer reading its
/// copy fed them under stream sequences and `seq`s every other copy holds other messages
/// under.
pub async fn leader_holds<I>(
    stream: &stream::Stream<I>,
    message: &async_nats::jetstream::Message,
) -> Result<bool, Unavailable> {
    let at = message
        .info()
        .map_err(|err| Unavailable(format!("a record without its stream sequence: {err}")))?
        .stream_sequence;
    match stream.raw_message_builder().sequence(at).send().await {
        Ok(copy) => {
            let numbered = |name: &str| {
                let fed = message.headers.as_ref().and_then(|h| h.get(name));
                fed.map(|value| value.as_str()) == copy.headers.get(name).map(|v| v.as_str())
            };
            Ok(copy.subject == message.subject
                && copy.payload == message.payload
                && numbered(SEQ_HEADER)
                && numbered(AFTER_HEADER))
        }
        Err(err) if err.kind() == RawMessageErrorKind::NoMessageFound => Ok(false),
        Err(err) => Err(Unavailable(format!("cannot read the room's log: {err}"))),
    }
}

/// A record the node's reader was fed, as read back; `None` for anything else.
pub fn fed_record(message: &async_nats::jetstream::Message) -> Option<Record> {
    Some(Record {
        at: message.info().ok()?.stream_sequence,
        after: message.headers.as_ref().and_then(after_of),
        messages: from_record(message.headers.as_ref(), &message.payload)?,
        copy: None,
    })
}

/// The room `key`'s last record; `None` when the stream holds none.
pub async fn last_record<I>(
    stream: &stream::Stream<I>,
    key: &str,
) -> Result<Option<Record>, Unavailable> {
    let get = stream.raw_message_builder().last_by_subject(subject(key));
    from_get(get.send().await)
}

/// The copy of the room `key`'s record that stood at stream sequence `at` until a removal
/// erased it there (the latest copy, when several removals changed it); `None` when none
/// was made.
pub async fn kept_copy<I>(
    stream: &stream::Stream<I>,
    key: &str,
    at: u64,
) -> Result<Option<Record>, Unavailable> {
    let get = stream
        .raw_message_builder()
        .last_by_subject(kept_subject(key, at));
    Ok(from_get(get.send().await)?.map(|copy| Record {
        at,
        copy: Some(copy.at),
        ..copy
    }))
}

/// The copies of the erased records just before the room `key`'s `record`, oldest first,
/// back to the one holding `seq` `counted + 1` (the first missing): found through the
/// stream sequence each record was numbered after. Stops where no copy is kept (the
/// records before were trimmed, not erased), so it may fill less than the gap, or nothing.
pub async fn copies_before<I>(
    stream: &stream::Stream<I>,
    key: &str,
    record: &Record,
    counted: u64,
) -> Result<Vec<Record>, Unavailable> {
    let mut found = Vec::new();
    let mut after = record.after;
    let mut below = record.at;
    // Each record was numbered after an earlier one, so the walk goes strictly back.
    while let Some(at) = after.filter(|&at| at > 0 && at < below) {
        let Some(copy) = kept_copy(stream, key, at).await? else {
            break;
        };
        if copy.last() <= counted {
            break;
        }
        below = at;
        after = copy.after;
        let reached = copy.first() <= counted + 1;
        found.push(copy);
        if reached {
            break;
        }
    }
    found.reverse();
    Ok(found)
}

/// A walk over the room's records in `seq` order: the records of its subject, skipping
/// those numbered like earlier ones, with the copies of erased ones in their places.
pub struct Walk<'a, I> {
    stream: &'a stream::Stream<I>,
    key: &'a str,
    counted: Counted,
    /// The stream sequence the next record of the room's subject is read at or after.
    from: u64,
    /// Records found and not yet walked over.
    found: VecDeque<Record>,
}

impl<'a, I> Walk<'a, I> {
    /// A walk from the record `start` of the room `key` (the first of the walk, which
    /// counts), preceded by the copies of erased records back to `seq` (`0`: none).
    pub async fn from(
        stream: &'a stream::Stream<I>,
        key: &'a str,
        start: Option<Record>,
        seq: u64,
    ) -> Result<Walk<'a, I>, Unavailable> {
        let mut walk = Walk {
            stream,
            key,
            counted: Counted::after(0),
            from: u64::MAX,
            found: VecDeque::new(),
        };
        if let Some(start) = start {
            if seq > 0 && start.first() > seq {
                walk.found
                    .extend(copies_before(stream, key, &start, seq - 1).await?);
            }
            walk.from = start.at + 1;
            walk.found.push_back(start);
        }
        Ok(walk)
    }

    /// The next record that counts; `None` past the room's last.
    pub async fn next(&mut self) -> Result<Option<Record>, Unavailable> {
        loop {
            let record = match self.found.pop_front() {
                Some(record) => record,
                None => {
                    if self.from == u64::MAX {
                        return Ok(None);
                    }
                    let Some(record) = next_record(self.stream, self.key, Some(self.from)).await?
                    else {
                        return Ok(None);
                    };
                    self.from = record.at + 1;
                    let last = self.counted.last();
                    if last > 0 && self.counted.counts(record.first()) && record.first() > last + 1
                    {
                        let copies = copies_before(self.stream, self.key, &record, last).await?;
                        if !copies.is_empty() {
                            self.found.extend(copies);
                            self.found.push_back(record);
                            continue;
                        }
                    }
                    record
                }
            };
            if record.count(&mut self.counted) {
                return Ok(Some(record));
            }
        }
    }
}

/// The record of the room `key` (within `bounds`) that holds `seq` as it stands now: the
/// room's own, or the copy of one a removal erased; `None` when no record holds it.
pub async fn record_holding<I>(
    stream: &stream::Stream<I>,
    key: &str,
    bounds: &Bounds,
    seq: u64,
) -> Result<Option<Record>, Unavailable> {
    if seq < bounds.first || seq > bounds.last {
        return Ok(None);
    }
    let start = holding(stream, key, bounds, seq).await?;
    let mut walk = Walk::from(stream, key, start, seq).await?;
    while let Some(record) = walk.next().await? {
        if record.last() >= seq {
            return Ok((record.first() <= seq).then_some(record));
        }
    }
    Ok(None)
}

/// The record a get found; `None` when there was none.
fn from_get(
    got: Result<async_nats::jetstream::message::StreamMessage, stream::RawMessageError>,
) -> Result<Option<Record>, Unavailable> {
    match got {
        Ok(message) => Ok(record(message)),
        Err(err) if err.kind() == RawMessageErrorKind::NoMessageFound => Ok(None),
        Err(err) => Err(Unavailable(format!("cannot read the room's log: {err}"))),
    }
}

/// A stream message as a record; `None` (logged) for anything else on the subject.
fn record(message: async_nats::jetstream::message::StreamMessage) -> Option<Record> {
    match from_record(Some(&message.headers), &message.payload) {
        Some(messages) => Some(Record {
            at: message.sequence,
            after: after_of(&message.headers),
            messages,
            copy: None,
        }),
        None => {
            tracing::warn!(
                "Skipped stream message {} on {}: not a chat record",
                message.sequence,
                message.subject
            );
            None
        }
    }
}

/// The last `seq` of the room `key` as every reader counts it, up to and including its
/// record `last`: `last`'s own, unless `last` is numbered like a record before it (a record
/// the NATS client sent again late, say), which readers skip whole.
pub async fn counted_end<I>(
    stream: &stream::Stream<I>,
    key: &str,
    last: &Record,
) -> Result<u64, Unavailable> {
    let Some(after) = last.after else {
        return Ok(last.last());
    };
    // Almost always: nothing came between it and the record it was numbered after.
    match next_record(stream, key, Some(after + 1)).await? {
        Some(first) if first.at == last.at => Ok(last.last()),
        _ => counted_through(stream, key, after, last.at).await,
    }
}

/// The last `seq` of the room `key` as every reader counts it through stream sequence
/// `through`, counting from its record at stream sequence `after` (taken to count; 0 or
/// trimmed: from the room's first record after it): a walk over the room's records between,
/// usually a step or two.
pub async fn counted_through<I>(
    stream: &stream::Stream<I>,
    key: &str,
    after: u64,
    through: u64,
) -> Result<u64, Unavailable> {
    // The first record read counts: the one at `after`, or the room's first after it.
    let (counted, _) = count_between(stream, key, Counted::after(0), after.max(1), through).await?;
    Ok(counted.last())
}

/// The walk `counted` carried over the room `key`'s records from stream sequence `from`
/// through `through`, and the room's first record past `through` (where the walk stopped),
/// if there is one.
pub async fn count_between<I>(
    stream: &stream::Stream<I>,
    key: &str,
    mut counted: Counted,
    from: u64,
    through: u64,
) -> Result<(Counted, Option<Record>), Unavailable> {
    let mut from = from;
    while let Some(record) = next_record(stream, key, Some(from)).await? {
        if record.at > through {
            return Ok((counted, Some(record)));
        }
        record.count(&mut counted);
        from = record.at + 1;
    }
    Ok((counted, None))
}

/// What the stream holds of the room `key`, keeping at most `keep` messages (the latest);
/// `None` for a room with nothing in it.
pub async fn bounds<I>(
    stream: &stream::Stream<I>,
    key: &str,
    keep: Option<u64>,
) -> Result<Option<Bounds>, Unavailable> {
    let Some(last) = last_record(stream, key).await? else {
        return Ok(None);
    };
    let Some(first) = next_record(stream, key, None).await? else {
        return Ok(None);
    };
    // The room's first records may have been erased by removals, and kept as copies.
    let earliest = match first.after {
        Some(after) if after > 0 => copies_before(stream, key, &first, 0)
            .await?
            .first()
            .map_or(first.first(), Record::first),
        _ => first.first(),
    };
    let mut bounds = Bounds {
        first: earliest,
        last: counted_end(stream, key, &last).await?.max(earliest),
        first_at: first.at,
        last_at: last.at,
    };
    if let Some(keep) = keep.filter(|&keep| bounds.last - bounds.first >= keep) {
        bounds.first = bounds.last + 1 - keep.max(1);
        bounds.first_at = holding(stream, key, &bounds, bounds.first)
            .await?
            .map_or(bounds.last_at, |record| record.at);
    }
    Ok(Some(bounds))
}

/// The room's first record whose messages reach `seq` (within `bounds`): a binary search
/// over the stream's sequence, since a later record never holds an earlier `seq`.
async fn holding<I>(
    stream: &stream::Stream<I>,
    key: &str,
    bounds: &Bounds,
    seq: u64,
) -> Result<Option<Record>, Unavailable> {
    let (mut lo, mut hi) = (bounds.first_at, bounds.last_at);
    while lo < hi {
        let mid = lo + (hi - lo) / 2;
        match next_record(stream, key, Some(mid)).await? {
            // Every sequence from `mid` up to this record's finds it.
            Some(record) if record.last() >= seq => hi = mid,
            Some(record) => lo = record.at + 1,
            // Trimmed since the bounds were read: nothing from here on is older.
            None => lo = mid + 1,
        }
    }
    next_record(stream, key, Some(lo)).await
}

/// Reads one page of the room `key` within `bounds` (read just now), at most `limit`
/// messages (0: none, only whether there are any), no later than `cut` when given: the
/// semantics of [`crate::log::Store::read`].
pub async fn read<I>(
    stream: &stream::Stream<I>,
    key: &str,
    bounds: &Bounds,
    from: Cursor,
    limit: usize,
    cut: Option<u64>,
) -> Result<Page, Unavailable> {
    let first = bounds.first;
    let last = cut.map_or(bounds.last, |cut| cut.min(bounds.last));
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
    let mut messages = Vec::new();
    let start = if lo == first {
        next_record(stream, key, Some(bounds.first_at)).await?
    } else {
        holding(stream, key, bounds, lo).await?
    };
    let mut walk = Walk::from(stream, key, start, lo).await?;
    while let Some(record) = walk.next().await? {
        let done = record.last() >= hi;
        messages.extend(
            record
                .messages
                .into_iter()
                .filter(|message| (lo..=hi).contains(&message.seq)),
        );
        if done {
            break;
        }
    }
    Ok(Page { messages, more })
}

/// The backlog `backlog` (not `None`) of the room `key`, shown as `shown`, up to `cut`: the
/// latest N, or what came after a seq (the latest when that is past what is kept), keeping
/// at most `keep` messages. One read of the room's bounds serves both.
pub async fn backlog_of<I>(
    stream: &stream::Stream<I>,
    key: &str,
    shown: &str,
    backlog: Backlog,
    cut: u64,
    keep: Option<u64>,
) -> Result<ServerFrame, Unavailable> {
    let Some(bounds) = bounds(stream, key, keep).await? else {
        return Ok(page::empty_backlog(shown));
    };
    let first = bounds.first;
    let Some(plan) = page::backlog_read(backlog, || Ok::<_, Unavailable>((first, cut)))? else {
        return Ok(page::empty_backlog(shown));
    };
    let page = read(stream, key, &bounds, plan.from, plan.limit, Some(cut)).await?;
    Ok(page::with_missed(
        page::shape(page, shown, plan.from, true),
        plan.missed,
    ))
}
