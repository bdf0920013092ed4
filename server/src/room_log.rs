//! The room log's writer: one thread through which every room message passes on its way
//! out, stored before anyone gets it.
//!
//! ```text
//!  connections ──Append(burst)──┐
//!              ──Join(backlog)──┤  one queue, one thread:            ┌─► hub.deliver (fan-out)
//!                               ┘  take what is waiting, store every ─┤
//!                                  burst in ONE transaction, then    └─► the senders' echoes
//!                                  send them, in commit order
//! ```
//!
//! **Group commit.** The thread takes every request waiting and stores all their messages
//! in one transaction: under load a commit carries hundreds of messages, so the disk is
//! not waited on per message, and a burst (messages one client sent together) is never
//! split. **Fan-out after commit**: a message reaches its room's members only once
//! [`Store::append`] has returned, so whatever anyone received is in the log after a crash,
//! `kill -9` included. The `seq`s the store gives are in commit order, and this one thread
//! delivers in that order, so the numbering is the order everyone receives.
//!
//! **Joins with a backlog** go through the same queue: when the thread reaches one, every
//! message before it is stored and delivered and none after it is, so the backlog it reads
//! and the live messages that follow meet exactly, with nothing missing or repeated. History
//! pages need no such cut: they are read beside the writer ([`RoomLog::page`]), on tokio's
//! blocking pool, so that paging never holds up a commit.
//!
//! **Back-pressure.** Connections never wait to submit; when more than [`PENDING_MAX`]
//! messages wait for the disk, their reader loops stop reading until the thread catches up.
//!
//! **Faults.** A failed transaction stores nothing and sends nothing: each of its senders
//! gets `Error{StoreFailed}`, an ERROR line says why, and the next batch tries again, so the
//! server recovers by itself when the disk does.
//!
//! **In a cluster** the same requests ([`RoomLog::Cluster`]) go to the rooms' JetStream
//! streams instead ([`crate::cluster::rooms`]), with the same guarantees: stored before
//! anyone gets it, one order, joins cut exactly.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chat_proto::codec::encode;
use chat_proto::{Backlog, Cursor, ErrorKind, Millis, Past, ServerFrame};
use tokio::sync::{mpsc, oneshot, Notify};

use crate::cluster::rooms::RoomStreams;
use crate::hub::{Hub, JoinedRoom, RoomError, Spoken};
use crate::log::{NewMessage, Page, Read, Store, StoreError};
use crate::outbox::Outbox;

/// The most messages one `History` frame holds: `Welcome`'s `history`.
pub const PAGE_MAX: usize = 500;

/// The most bytes of text and names one `History` frame carries, well under the 1 MiB a
/// client reads: a page of long messages holds fewer than [`PAGE_MAX`] (and says `more`).
pub const PAGE_BYTES: usize = 512 * 1024;

/// Messages submitted and not yet stored past which the connections stop reading until the
/// writer catches up: a disk that stalls must not turn into unbounded memory.
pub const PENDING_MAX: usize = 16 * 1024;

/// Requests taken into one round at most, so that one round's transaction stays bounded
/// (a request carries at most a burst of 64 messages).
const ROUND_MAX: usize = 256;

/// How often, at most, a failing store is reported again at ERROR while it keeps failing.
const REPEAT_ERROR: Duration = Duration::from_secs(10);

/// The handle connections submit to; cheap to clone. Either the disk log of one server
/// (its writer thread, here) or, in a cluster, the rooms' streams in NATS
/// ([`crate::cluster::rooms`]): the same requests, the same guarantees.
#[derive(Debug, Clone)]
pub enum RoomLog {
    /// The writer thread over a [`Store`].
    Disk(DiskLog),
    /// The rooms' JetStream streams.
    Cluster(Arc<RoomStreams>),
}

/// The writer thread's handle.
#[derive(Debug, Clone)]
pub struct DiskLog {
    /// The writer thread's queue.
    tx: mpsc::UnboundedSender<Request>,
    /// What the thread and the connections share.
    shared: Arc<InFlight>,
    /// The store, for pages read beside the thread.
    store: Arc<dyn Store>,
}

/// Messages submitted and not yet stored, and the wake-up for connections that wait for
/// them to drain.
#[derive(Debug, Default)]
pub struct InFlight {
    /// Messages submitted and not yet stored (or refused).
    pending: AtomicUsize,
    /// Woken when `pending` falls back under [`PENDING_MAX`].
    drained: Notify,
}

impl InFlight {
    /// `n` more messages submitted.
    pub fn add(&self, n: usize) {
        self.pending.fetch_add(n, Ordering::Relaxed);
    }

    /// `n` messages stored or refused; wakes the waiting connections when that brings the
    /// count back under [`PENDING_MAX`].
    pub fn sub(&self, n: usize) {
        let before = self.pending.fetch_sub(n, Ordering::Relaxed);
        if before > PENDING_MAX && before - n <= PENDING_MAX {
            self.drained.notify_waiters();
        }
    }

    /// Whether so many messages wait that connections should stop reading.
    pub fn is_backlogged(&self) -> bool {
        self.pending.load(Ordering::Relaxed) > PENDING_MAX
    }

    /// Completes once the messages waiting are under [`PENDING_MAX`].
    pub async fn drained(&self) {
        loop {
            let woken = self.drained.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if !self.is_backlogged() {
                return;
            }
            woken.await;
        }
    }
}

/// What a connection asks of the writer thread.
#[derive(Debug)]
enum Request {
    /// Store a burst, then deliver it to its room.
    Append {
        /// The messages, their room and their sender.
        spoken: Spoken,
        /// The sender's queue, for `StoreFailed`.
        sender: Outbox,
        /// Told once the burst was delivered (or refused).
        done: oneshot::Sender<()>,
    },
    /// Join a room, then send its backlog before any later message.
    Join(Join),
}

/// A join that the log performs in its order, sending the backlog right after `Joined`
/// and before any later message of the room (the disk log's thread, or in a cluster the
/// room's task).
#[derive(Debug)]
pub struct Join {
    /// The joiner's registered name.
    pub name: Arc<str>,
    /// The room, a valid name without `#`.
    pub room: String,
    /// The server's clock at the request.
    pub at: Millis,
    /// What the joiner wants of the past.
    pub backlog: Backlog,
    /// The hub's answer.
    pub reply: oneshot::Sender<Result<JoinedRoom, RoomError>>,
}

impl RoomLog {
    /// Starts the writer thread over `store`, delivering through `hub`. The thread ends
    /// once every handle is gone and it has served what was submitted.
    pub fn start(store: Arc<dyn Store>, hub: Arc<Hub>) -> std::io::Result<RoomLog> {
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(InFlight::default());
        let writer = Writer {
            hub,
            store: store.clone(),
            shared: shared.clone(),
            failing: None,
        };
        std::thread::Builder::new()
            .name("room-log".into())
            .spawn(move || writer.run(rx))?;
        Ok(RoomLog::Disk(DiskLog { tx, shared, store }))
    }

    /// Submits a burst; it is delivered once stored. The receiver completes then (or once
    /// it was refused): what the sender does next must wait for it, so that its own
    /// messages come first.
    pub fn append(&self, spoken: Spoken, sender: &Outbox) -> oneshot::Receiver<()> {
        let log = match self {
            RoomLog::Disk(log) => log,
            RoomLog::Cluster(streams) => return streams.append(spoken, sender),
        };
        let (done, confirmed) = oneshot::channel();
        log.shared.add(spoken.said.len());
        let request = Request::Append {
            spoken,
            sender: sender.clone(),
            done,
        };
        if let Err(mpsc::error::SendError(Request::Append { spoken, .. })) = log.tx.send(request) {
            // The thread is gone (it only ends with the process): nothing can be stored.
            log.shared.sub(spoken.said.len());
        }
        confirmed
    }

    /// Submits a join of `room` (valid, without `#`) by `name`, whose backlog the hub queues
    /// right after `Joined`.
    pub fn join(
        &self,
        name: Arc<str>,
        room: String,
        at: Millis,
        backlog: Backlog,
    ) -> oneshot::Receiver<Result<JoinedRoom, RoomError>> {
        let (reply, answer) = oneshot::channel();
        let join = Join {
            name,
            room,
            at,
            backlog,
            reply,
        };
        match self {
            RoomLog::Disk(log) => {
                let _ = log.tx.send(Request::Join(join));
            }
            RoomLog::Cluster(streams) => streams.join(join),
        }
        answer
    }

    /// Whether every join must go through the log, a join without backlog included: in a
    /// cluster a room's first member here starts the room's delivery.
    pub fn joins_itself(&self) -> bool {
        matches!(self, RoomLog::Cluster(_))
    }

    /// Reads one page of the room with key `key`, named `shown` in the answer, beside the
    /// writer (on the blocking pool): at most `limit` messages (at most [`PAGE_MAX`]).
    pub fn page(
        &self,
        key: String,
        shown: String,
        from: Cursor,
        limit: u32,
    ) -> tokio::task::JoinHandle<Result<ServerFrame, StoreError>> {
        let log = match self {
            RoomLog::Disk(log) => log,
            RoomLog::Cluster(streams) => return streams.page(key, shown, from, limit),
        };
        let store = log.store.clone();
        let limit = (limit as usize).min(PAGE_MAX);
        tokio::task::spawn_blocking(move || page_frame(&*store, &key, &shown, from, limit, false))
    }

    /// What counts the messages waiting.
    fn in_flight(&self) -> &InFlight {
        match self {
            RoomLog::Disk(log) => &log.shared,
            RoomLog::Cluster(streams) => streams.in_flight(),
        }
    }

    /// Whether so many messages wait for the disk (or NATS) that connections should stop
    /// reading.
    pub fn is_backlogged(&self) -> bool {
        self.in_flight().is_backlogged()
    }

    /// Completes once the messages waiting are under [`PENDING_MAX`].
    pub async fn drained(&self) {
        self.in_flight().drained().await;
    }
}

/// The writer thread's own state.
struct Writer {
    /// Where stored messages are delivered.
    hub: Arc<Hub>,
    /// Where they are stored.
    store: Arc<dyn Store>,
    /// Shared with the handles.
    shared: Arc<InFlight>,
    /// Since when, and when last reported, the store has been failing.
    failing: Option<(Instant, Instant, usize)>,
}

/// A burst taken into a round, with what is needed once it is stored.
struct Pending {
    spoken: Spoken,
    sender: Outbox,
    done: oneshot::Sender<()>,
}

impl Writer {
    /// Serves requests until every handle is gone.
    fn run(mut self, mut rx: mpsc::UnboundedReceiver<Request>) {
        let mut round = Vec::new();
        while let Some(first) = rx.blocking_recv() {
            round.push(first);
            while round.len() < ROUND_MAX {
                match rx.try_recv() {
                    Ok(next) => round.push(next),
                    Err(_) => break,
                }
            }
            let mut bursts = Vec::new();
            for request in round.drain(..) {
                match request {
                    Request::Append {
                        spoken,
                        sender,
                        done,
                    } => bursts.push(Pending {
                        spoken,
                        sender,
                        done,
                    }),
                    other => {
                        // Everything before a join is stored and delivered first.
                        self.commit(&mut bursts);
                        self.serve(other);
                    }
                }
            }
            self.commit(&mut bursts);
        }
    }

    /// Stores `bursts` in one transaction, then delivers each in order; or, if the store
    /// fails, tells each sender and delivers nothing.
    fn commit(&mut self, bursts: &mut Vec<Pending>) {
        if bursts.is_empty() {
            return;
        }
        let batch: Vec<NewMessage> = bursts
            .iter()
            .flat_map(|b| {
                b.spoken.said.iter().map(|said| NewMessage {
                    room: b.spoken.room.key.clone(),
                    from: b.spoken.from.clone(),
                    text: said.text.clone(),
                    at: said.at,
                })
            })
            .collect();
        let started = std::time::Instant::now();
        let stored = self.store.append(&batch);
        self.hub.metrics().store_committed(started.elapsed());
        match stored {
            Ok(seqs) => {
                self.recovered();
                let mut next = 0;
                for burst in bursts.drain(..) {
                    let first = seqs[next];
                    next += burst.spoken.said.len();
                    match burst.spoken.encode(first) {
                        Ok(wire) => self.hub.deliver(
                            &burst.spoken.room.key,
                            Arc::new(wire),
                            burst.spoken.said.len(),
                        ),
                        Err(err) => tracing::error!(
                            "Cannot encode a message to #{}: {err}",
                            burst.spoken.room.name
                        ),
                    }
                    let _ = burst.done.send(());
                }
            }
            Err(err) => {
                self.failed(&err, batch.len());
                let refusal = encode(&ServerFrame::Error {
                    kind: ErrorKind::StoreFailed,
                    detail: "the server could not store your message, so nobody got it: try \
                             again later"
                        .to_owned(),
                });
                for burst in bursts.drain(..) {
                    if let Ok(refusal) = &refusal {
                        burst.sender.offer(refusal.clone());
                        self.hub.metrics().refused(ErrorKind::StoreFailed);
                    }
                    let _ = burst.done.send(());
                }
            }
        }
        self.shared.sub(batch.len());
    }

    /// Reports a failed transaction: at once the first time, then at most every
    /// [`REPEAT_ERROR`] while the store keeps failing.
    fn failed(&mut self, err: &StoreError, messages: usize) {
        let now = Instant::now();
        match &mut self.failing {
            None => {
                tracing::error!(
                    "Cannot store {messages} messages, so they were not sent (their senders \
                     were told): {err}"
                );
                self.failing = Some((now, now, 0));
            }
            Some((since, reported, refused)) => {
                *refused += messages;
                if now.duration_since(*reported) >= REPEAT_ERROR {
                    tracing::error!(
                        "The message log still fails after {:?} ({refused} more messages \
                         refused): {err}",
                        now.duration_since(*since)
                    );
                    *reported = now;
                    *refused = 0;
                }
            }
        }
    }

    /// Says once that the store works again.
    fn recovered(&mut self) {
        if let Some((since, _, _)) = self.failing.take() {
            tracing::info!("The message log works again, after {:?}", since.elapsed());
        }
    }

    /// Serves a join, in its place in the queue.
    fn serve(&mut self, request: Request) {
        match request {
            Request::Append { .. } => unreachable!("appends are committed in rounds"),
            Request::Join(Join {
                name,
                room,
                at,
                backlog,
                reply,
            }) => {
                // Read before the join, which queues it right after `Joined`: nothing is
                // appended meanwhile, since appends go through this thread too.
                let key = chat_proto::validate::room_key(&room);
                let frame =
                    backlog_frame(&*self.store, &key, &room, backlog).unwrap_or_else(|err| {
                        tracing::error!("Cannot read the backlog of #{room}: {err}");
                        unreadable_backlog(&room)
                    });
                let joined = self.hub.join_with_backlog(&name, &room, at, frame);
                let _ = reply.send(joined);
            }
        }
    }
}

/// What a client gets instead of a page the store could not read.
pub fn unreadable() -> ServerFrame {
    ServerFrame::Error {
        kind: ErrorKind::StoreFailed,
        detail: "the server could not read its message log: try again later".to_owned(),
    }
}

/// The `History{backlog: true}` a join with `backlog` of the room with key `key`, asked for
/// as `shown`, gets.
fn backlog_frame(
    store: &dyn Store,
    key: &str,
    shown: &str,
    backlog: Backlog,
) -> Result<ServerFrame, StoreError> {
    match backlog {
        Backlog::None => Ok(empty_backlog(shown)),
        Backlog::Latest(n) => {
            let limit = (n as usize).min(PAGE_MAX);
            page_frame(store, key, shown, Cursor::Latest, limit, true)
        }
        Backlog::After(seq) => {
            let bounds = store.bounds(key)?;
            let (from, missed) = catch_up(seq, bounds.first, bounds.last);
            let frame = page_frame(store, key, shown, from, PAGE_MAX, true)?;
            Ok(with_missed(frame, missed))
        }
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

/// One page of the room with key `key` from `from`, at most `limit` messages and
/// [`PAGE_BYTES`], as a `History` frame naming the room `shown`.
fn page_frame(
    store: &dyn Store,
    key: &str,
    shown: &str,
    from: Cursor,
    limit: usize,
    backlog: bool,
) -> Result<ServerFrame, StoreError> {
    let read = match from {
        Cursor::Latest => Read::Latest,
        Cursor::Before(seq) => Read::Before(seq),
        Cursor::After(seq) => Read::After(seq),
    };
    let page = if limit == 0 {
        // Nothing wanted: only whether there is anything, so `more` stays true to its word.
        let any = store.read(key, read, 1)?;
        Page {
            messages: Vec::new(),
            more: !any.messages.is_empty() || any.more,
        }
    } else {
        store.read(key, read, limit)?
    };
    Ok(shape(page, shown, from, backlog))
}

/// A page read from `from` as the `History` frame naming the room `shown`, cut to
/// [`PAGE_BYTES`], with the cursor to the next page: what the disk log and the cluster's
/// streams answer alike.
pub fn shape(page: Page, shown: &str, from: Cursor, backlog: bool) -> ServerFrame {
    let forward = matches!(from, Cursor::After(_));
    let Page { messages, more } = page;
    let mut messages: Vec<Past> = messages
        .into_iter()
        .map(|m| Past {
            seq: m.seq,
            from: m.from,
            text: m.text,
            at: m.at,
        })
        .collect();
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
    let size = |m: &Past| m.text.len() + m.from.len() + 24;
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
