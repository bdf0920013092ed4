//! The `sqlite` room log: one writer thread through which every room message passes on its
//! way out, stored in [`SqliteStore`](super::SqliteStore) before anyone gets it.
//!
//! ```text
//!  connections ──Append(burst)──┐
//!              ──Join(backlog)──┤  one queue, one thread:            ┌─► Deliveries (fan-out)
//!                               ┘  take what is waiting, store every ─┤
//!                                  burst in ONE transaction, then    └─► the senders' echoes
//!                                  deliver them, in commit order
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
//! and the live messages that follow meet exactly, with nothing missing or repeated. A join
//! without a backlog needs no cut and is done at once. History pages need no cut either:
//! they are read beside the writer, on tokio's blocking pool, so that paging never holds up
//! a commit.
//!
//! **Back-pressure.** Connections never wait to submit; when more than
//! [`PENDING_MAX`](crate::log::in_flight::PENDING_MAX) messages wait for the disk, their
//! reader loops stop reading until the thread catches up.
//!
//! **Faults.** A failed transaction stores nothing and sends nothing: each of its senders
//! gets `Error{StoreFailed}` ([`crate::log::failures`]), and the next batch tries again.

use std::sync::Arc;

use bytes::Bytes;
use chat_proto::{Backlog, Cursor, ErrorKind, ServerFrame};
use tokio::sync::{mpsc, oneshot};

use crate::log::failures::{self, Failures};
use crate::log::page::{self, PAGE_MAX};
use crate::log::search::SearchRequest;
use crate::log::wire::push_message;
use crate::log::{
    Change, ChangeRefusal, Changing, Deliveries, InFlight, Join, Joining, NewMessage, Page,
    PageRead, Read, RoomLog, Spoken, Store, StoreError, Stored,
};
use crate::outbox::{Expected, Outbox};
use crate::room::{JoinedRoom, RoomError};
use crate::wakes;

/// Messages taken into one round at most, so that one round's transaction stays bounded
/// (a round takes whole requests, so it may pass this by one burst of 64). Counted in
/// messages, not requests: a sender writing to many rooms in turn sends bursts of one, and
/// each commit costs about the pages it touches, however few messages they hold.
const ROUND_MAX: usize = 16 * 1024;

/// What a sender whose burst was not stored is told.
const NOT_STORED: &str =
    "the server could not store your message, so nobody got it: try again later";

/// The history a single server keeps: its writer thread's handle; cheap to share.
#[derive(Debug)]
pub struct SqliteLog {
    /// The writer thread's queue.
    tx: mpsc::UnboundedSender<Request>,
    /// Messages submitted and not yet stored, shared with the thread.
    in_flight: Arc<InFlight>,
    /// The store, for pages read beside the thread.
    store: Arc<dyn Store>,
    /// Where joins without a backlog go at once.
    hub: Arc<dyn Deliveries>,
}

/// What a connection asks of the writer thread.
#[derive(Debug)]
enum Request {
    /// Store a burst, then deliver it to its room.
    Append(Pending),
    /// Join a room, then send its backlog before any later message.
    Join(Join, oneshot::Sender<Result<JoinedRoom, RoomError>>),
    /// Change a message (remove, answer, edit, react), in the room's order.
    Change(Change, oneshot::Sender<Result<Stored, ChangeRefusal>>),
}

impl Request {
    /// The messages it appends.
    fn messages(&self) -> usize {
        match self {
            Request::Append(pending) => pending.spoken.said.len(),
            Request::Join(..) | Request::Change(..) => 0,
        }
    }
}

/// A burst on its way, with what is needed once it is stored.
#[derive(Debug)]
struct Pending {
    /// The messages, their room and their sender.
    spoken: Spoken,
    /// The sender's queue, for `StoreFailed`, expecting the burst's echo.
    sender: Expected,
    /// Told once the burst was delivered (or refused).
    done: oneshot::Sender<()>,
}

impl SqliteLog {
    /// Starts the writer thread over `store`, delivering through `hub`. The thread ends
    /// once the log is dropped and it has served what was submitted.
    pub fn start(store: Arc<dyn Store>, hub: Arc<dyn Deliveries>) -> std::io::Result<SqliteLog> {
        let (tx, rx) = mpsc::unbounded_channel();
        let in_flight = Arc::new(InFlight::default());
        let writer = Writer {
            hub: hub.clone(),
            store: store.clone(),
            in_flight: in_flight.clone(),
            failures: Failures::default(),
        };
        std::thread::Builder::new()
            .name("room-log".into())
            .spawn(move || writer.run(rx))?;
        Ok(SqliteLog {
            tx,
            in_flight,
            store,
            hub,
        })
    }
}

impl RoomLog for SqliteLog {
    fn append(&self, spoken: Spoken, sender: &Outbox) -> Option<oneshot::Receiver<()>> {
        let (done, confirmed) = oneshot::channel();
        let messages = spoken.said.len();
        self.in_flight.add(messages);
        let request = Request::Append(Pending {
            sender: sender.expect(spoken.echo_bytes()),
            spoken,
            done,
        });
        if self.tx.send(request).is_err() {
            // The thread is gone (it only ends with the process): nothing can be stored.
            self.in_flight.sub(messages);
        }
        Some(confirmed)
    }

    fn join(&self, join: Join) -> Joining {
        if matches!(join.backlog, Backlog::None) {
            return Joining::Done(self.hub.join(&join.name, &join.room, join.at, None));
        }
        let (reply, answer) = oneshot::channel();
        let _ = self.tx.send(Request::Join(join, reply));
        Joining::Waiting(answer)
    }

    fn page(&self, key: String, shown: String, from: Cursor, limit: u32) -> Option<PageRead> {
        let store = self.store.clone();
        let limit = (limit as usize).min(PAGE_MAX);
        Some(tokio::task::spawn_blocking(move || {
            page_frame(&*store, &key, &shown, from, limit, false)
        }))
    }

    fn in_flight(&self) -> &InFlight {
        &self.in_flight
    }

    fn search(&self, search: SearchRequest) -> Option<PageRead> {
        let store = self.store.clone();
        Some(tokio::task::spawn_blocking(move || {
            let (found, more) = store.search(
                &search.keys(),
                &search.terms,
                search.before.as_ref(),
                search.limit,
            )?;
            Ok(search.results(found, more))
        }))
    }

    fn change(&self, change: Change) -> Changing {
        let (reply, answer) = oneshot::channel();
        if let Err(refused) = self.tx.send(Request::Change(change, reply)) {
            if let Request::Change(_, reply) = refused.0 {
                let _ = reply.send(Err(ChangeRefusal::Failed("the room log stopped".into())));
            }
        }
        answer
    }
}

/// The writer thread's own state.
struct Writer {
    /// Where stored messages are delivered.
    hub: Arc<dyn Deliveries>,
    /// Where they are stored.
    store: Arc<dyn Store>,
    /// Shared with the handle.
    in_flight: Arc<InFlight>,
    /// Whether the store has been failing, for the log.
    failures: Failures,
}

impl Writer {
    /// Serves requests until the handle is gone.
    fn run(mut self, mut rx: mpsc::UnboundedReceiver<Request>) {
        let mut round = Vec::new();
        while let Some(first) = rx.blocking_recv() {
            let mut messages = first.messages();
            round.push(first);
            while messages < ROUND_MAX {
                match rx.try_recv() {
                    Ok(next) => {
                        messages += next.messages();
                        round.push(next);
                    }
                    Err(_) => break,
                }
            }
            // Each writer this round reaches is woken once, when it is done, and finds
            // everything the round queued for it.
            wakes::batch(|| self.serve(&mut round));
        }
    }

    /// Serves one round of requests in order.
    fn serve(&mut self, round: &mut Vec<Request>) {
        let mut bursts = Vec::new();
        for request in round.drain(..) {
            match request {
                Request::Append(pending) => bursts.push(pending),
                Request::Join(join, reply) => {
                    // Everything before a join is stored and delivered first.
                    self.commit(&mut bursts);
                    let _ = reply.send(self.join(join));
                }
                Request::Change(change, reply) => {
                    self.commit(&mut bursts);
                    let _ = reply.send(self.change(&change));
                }
            }
        }
        self.commit(&mut bursts);
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
                self.failures.recovered();
                let mut next = 0;
                for burst in bursts.drain(..) {
                    let first = seqs[next];
                    next += burst.spoken.said.len();
                    self.deliver(&burst.spoken, first);
                    let _ = burst.done.send(());
                }
            }
            Err(err) => {
                self.failures.failed(&err, batch.len());
                for burst in bursts.drain(..) {
                    failures::refuse(
                        burst.sender.outbox(),
                        self.hub.metrics(),
                        ErrorKind::StoreFailed,
                        NOT_STORED,
                    );
                    let _ = burst.done.send(());
                }
            }
        }
        self.in_flight.sub(batch.len());
    }

    /// Delivers a stored burst whose first message got `first`.
    fn deliver(&self, spoken: &Spoken, first: u64) {
        match spoken.encode(first) {
            Ok(wire) => {
                self.hub
                    .deliver(&spoken.room.key, Arc::<Bytes>::new(wire), spoken.said.len())
            }
            Err(err) => tracing::error!("Cannot encode a message to #{}: {err}", spoken.room.name),
        }
    }

    /// Serves a change in its place in the queue, and delivers it once stored.
    fn change(&self, change: &Change) -> Result<Stored, ChangeRefusal> {
        let room = &change.room;
        let made = self
            .store
            .change(&room.key, &change.by, change.at, &change.kind)
            .map_err(|err| {
                tracing::error!(
                    "Cannot change message {} of #{}: {err}",
                    change.kind.target(),
                    room.name
                );
                ChangeRefusal::Failed(err.to_string())
            })?
            .map_err(|refused| refused.for_change(&room.name, &change.kind))?;
        let mut wire = bytes::BytesMut::new();
        match push_message(&mut wire, &room.name, made.clone()) {
            Ok(_) => self.hub.deliver(&room.key, Arc::new(wire.freeze()), 1),
            Err(err) => tracing::error!("Cannot encode a change of #{}: {err}", room.name),
        }
        Ok(made)
    }

    /// Serves a join in its place in the queue.
    fn join(&self, join: Join) -> Result<JoinedRoom, RoomError> {
        // Read before the join, which queues it right after `Joined`: nothing is appended
        // meanwhile, since appends go through this thread too.
        let key = chat_proto::validate::room_key(&join.room);
        let frame =
            backlog_frame(&*self.store, &key, &join.room, join.backlog).unwrap_or_else(|err| {
                tracing::error!("Cannot read the backlog of #{}: {err}", join.room);
                page::unreadable_backlog(&join.room)
            });
        self.hub.join(&join.name, &join.room, join.at, Some(frame))
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
    let read = page::backlog_read(backlog, || {
        store.bounds(key).map(|bounds| (bounds.first, bounds.last))
    })?;
    let Some(read) = read else {
        return Ok(page::empty_backlog(shown));
    };
    let frame = page_frame(store, key, shown, read.from, read.limit, true)?;
    Ok(page::with_missed(frame, read.missed))
}

/// One page of the room with key `key` from `from`, at most `limit` messages, as a
/// `History` frame naming the room `shown`.
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
    Ok(page::shape(page, shown, from, backlog))
}
