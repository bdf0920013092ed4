//! One client's outbound queue: the hub and the client's own commands put whole frames in
//! ([`Outbox::offer`]), the client's writer task takes them out in batches
//! ([`Outgoing::next`]).
//!
//! Bounded, and never waited on: a full queue means the client stopped reading, so the
//! frame that found it full marks the client as a slow consumer instead of waiting for it,
//! and nothing more is queued (the client never sees a gap followed by more messages). The
//! reader loop and the writer both learn of it ([`Outbox::overflowed`],
//! [`Next::Overflowed`]).
//!
//! Bounded by bytes (`[limits] send_queue_bytes`), since one entry may be a 30-byte message
//! or a user list of hundreds of kilobytes. Every entry counts at its full length plus what
//! holding it costs ([`ENTRY_OVERHEAD`]), a broadcast shared with others included (an
//! overcount, never an undercount), from the moment it is queued until the writer has
//! written it: frames the writer holds in the middle of a write to a stalled socket are
//! memory too. The count of entries (`[limits] send_queue`) is only a safety net far above
//! what the bytes allow: a client in many rooms gets one entry per message, since messages
//! to different rooms never share one, and must not be dropped for that while it reads.
//!
//! A client's own messages on their way through the room log ([`Outbox::expect`]) count
//! toward its congestion, not toward its bound: with history kept, their echoes come back
//! only once stored, and a client sending to many rooms would otherwise read far ahead of
//! them. Every queue also adds its bytes to the server's total
//! ([`crate::queued_bytes::QueuedBytes`]), which the server keeps under `[limits]
//! max_queued_bytes` by dropping the clients holding the most. An overflowed queue lets go
//! of what it held at once.
//!
//! Written for what an idle client costs, since most clients of a chat server are idle: one
//! allocation of about a hundred bytes, and no slots at all while the queue is empty (the
//! writer takes the frames out by swapping the queue's buffer for an empty one). tokio's
//! bounded channel, which this replaces, holds about 800 bytes per client: a cache-padded
//! channel and a first block of 32 slots, allocated up front and kept.

use std::collections::VecDeque;
use std::future::poll_fn;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::task::{Poll, Waker};
use std::time::Duration;

use bytes::Bytes;
use chat_proto::EncodedFrame;
use tokio::sync::Notify;

use crate::queued_bytes::QueuedBytes;

/// What a client's queue holds: whole frames, one or a burst encoded back to back, shared by
/// every recipient. Behind an `Arc` so a queue slot is one pointer.
pub type Wire = Arc<Bytes>;

/// What holding one entry costs beyond its bytes, counted with each: its slot in the queue (a
/// pointer, up to twice over while the buffer grows) and the shared buffer's header (the
/// `Arc<Bytes>`, 48 bytes before the allocator's own), rounded up. A queue of many small
/// entries is then bounded by what it really holds, not by how many there are.
pub const ENTRY_OVERHEAD: usize = 64;

/// What an entry counts for in a queue's bytes.
fn cost(wire: &Wire) -> usize {
    wire.len() + ENTRY_OVERHEAD
}

/// What a list of entries counts for.
fn cost_of<'a>(wires: impl IntoIterator<Item = &'a Wire>) -> usize {
    wires.into_iter().map(cost).sum()
}

/// How much one queue may hold before its client is a slow consumer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Bound {
    /// Entries (`[limits] send_queue`): a safety net above what the bytes allow.
    pub frames: usize,
    /// Bytes, every entry at its length and [`ENTRY_OVERHEAD`] (`[limits] send_queue_bytes`).
    pub bytes: usize,
}

/// A new queue for at most `capacity` entries, of any size, counted in no server total: for
/// harnesses that look at one queue (unit tests, benchmarks).
pub fn channel(capacity: usize) -> (Outbox, Outgoing) {
    bounded(
        Bound {
            frames: capacity,
            bytes: usize::MAX,
        },
        None,
    )
}

/// A new queue within `bound`, adding what it holds to `total` if given: the handle
/// everyone offers frames to, and the end the writer drains.
pub fn bounded(bound: Bound, total: Option<Arc<QueuedBytes>>) -> (Outbox, Outgoing) {
    let queue = Arc::new(Queue {
        state: Mutex::new(State {
            frames: VecDeque::new(),
            bytes: 0,
            overflowed: false,
            closed: false,
            evicted: None,
            writer: None,
            put_out: Vec::new(),
        }),
        capacity: bound.frames.max(1),
        byte_capacity: bound.bytes.max(1),
        total,
        senders: AtomicUsize::new(1),
        expected: AtomicUsize::new(0),
        wants_room: AtomicBool::new(false),
        put_out: AtomicBool::new(false),
        reader: Notify::new(),
    });
    (
        Outbox {
            queue: queue.clone(),
        },
        Outgoing { queue, in_hand: 0 },
    )
}

/// What the two ends share.
#[derive(Debug)]
struct Queue {
    /// The frames and the flags, changed together.
    state: Mutex<State>,
    /// Entries the queue holds at most; one more marks a slow consumer.
    capacity: usize,
    /// Bytes the queue holds at most, the writer's batch included; a frame that would take
    /// it past them marks a slow consumer.
    byte_capacity: usize,
    /// The server's total of queued bytes, which this queue's bytes are part of.
    total: Option<Arc<QueuedBytes>>,
    /// Live [`Outbox`] clones; the last one gone closes the queue, so the writer ends once
    /// it has written what is left.
    senders: AtomicUsize,
    /// Bytes of the client's own messages on their way through the room log
    /// ([`Expected`]): they count toward congestion until their echoes are queued.
    expected: AtomicUsize,
    /// Set while the reader loop waits in [`Outbox::wait_for_room`], so the writer wakes it
    /// only then and a busy client's reader is not woken at every batch.
    wants_room: AtomicBool,
    /// Set when a moderator put the client out of a room ([`Outbox::put_out`]): one load
    /// per frame read tells the reader loop whether to look.
    put_out: AtomicBool,
    /// Wakes the reader loop: the queue overflowed, or the writer took frames out while the
    /// reader wanted room.
    reader: Notify,
}

/// What the queue's lock guards.
#[derive(Debug)]
struct State {
    /// Queued entries, oldest first.
    frames: VecDeque<Wire>,
    /// The length of every entry queued or in the writer's hands, not yet written.
    bytes: usize,
    /// The queue was full when a frame came: the client is a slow consumer.
    overflowed: bool,
    /// Every sender is gone: nothing more will come.
    closed: bool,
    /// The server ends this connection once what is queued is written, and why: the reader
    /// stops, the writer does not.
    evicted: Option<Eviction>,
    /// The writer task, when it waits for frames or for the overflow.
    writer: Option<Waker>,
    /// Keys of the rooms a moderator put the client out of, not yet taken by its reader
    /// loop, which keeps its own copy of the rooms it is in.
    put_out: Vec<Arc<str>>,
}

/// Why the server ends a connection from outside its own task ([`Outbox::evict`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eviction {
    /// Its name went to someone else in the cluster while this node could not reach it.
    NameLost,
    /// Its device session ended: signed out elsewhere, the password changed, the account
    /// deleted.
    SessionEnded,
    /// An operator removed it.
    Removed,
    /// A server ban or a suspension of its account.
    Sanctioned,
}

impl Eviction {
    /// The reason the connection's close is logged with.
    pub fn reason(self) -> &'static str {
        match self {
            Eviction::NameLost => {
                "its name was registered on another node while this one could not reach the cluster"
            }
            Eviction::SessionEnded => "its session ended",
            Eviction::Removed => "an operator removed it",
            Eviction::Sanctioned => "an operator banned it or suspended its account",
        }
    }
}

/// What became of a frame offered to an [`Outbox`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Delivery {
    /// In the queue; the writer will send it.
    Queued,
    /// The queue was full: the client is now marked as a slow consumer.
    Overflowed,
    /// Not queued: the client had already overflowed, or it is leaving.
    Dropped,
}

/// The sending end of one client's queue; cheap to clone (one pointer).
///
/// Every frame for a client, its own replies included, goes through [`Outbox::offer`] or
/// [`Outbox::offer_wire`], which never wait.
#[derive(Debug)]
pub struct Outbox {
    /// Shared with the writer's end.
    queue: Arc<Queue>,
}

impl Clone for Outbox {
    fn clone(&self) -> Self {
        self.queue.senders.fetch_add(1, Ordering::Relaxed);
        Outbox {
            queue: self.queue.clone(),
        }
    }
}

impl Drop for Outbox {
    fn drop(&mut self) {
        if self.queue.senders.fetch_sub(1, Ordering::AcqRel) == 1 {
            let writer = {
                let mut state = self.queue.lock();
                state.closed = true;
                state.writer.take()
            };
            if let Some(writer) = writer {
                writer.wake();
            }
        }
    }
}

impl Queue {
    /// The state, even if a thread panicked while holding the lock: every change under it
    /// is a push, a swap or a flag, never half-done.
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether more than half of the queue is taken, in entries or in bytes, counting the
    /// client's own messages on their way (see [`Outbox::is_congested`]).
    fn congested(&self, state: &State) -> bool {
        self.backed_up(state)
            || state.bytes + self.expected.load(Ordering::Acquire) > self.byte_capacity / 2
    }

    /// Whether more than half of the queue is taken by what is queued alone: the client is
    /// behind in reading, not merely waiting for the room log.
    fn backed_up(&self, state: &State) -> bool {
        state.frames.len() > self.capacity / 2 || state.bytes > self.byte_capacity / 2
    }

    /// Wakes the reader loop if it waits for room.
    fn wake_reader(&self) {
        if self.wants_room.load(Ordering::SeqCst) {
            self.reader.notify_waiters();
        }
    }

    /// Whether `len` more bytes would take the queue past its byte bound. An empty queue
    /// takes any one frame (each is bounded by the frame limit), so a bound below the
    /// largest frame cannot make a client unservable.
    fn over_bytes(&self, state: &State, cost: usize) -> bool {
        state.bytes > 0 && state.bytes.saturating_add(cost) > self.byte_capacity
    }

    /// Counts `len` more bytes held, here and in the server's total.
    fn hold(&self, state: &mut State, len: usize) {
        state.bytes += len;
        if let Some(total) = &self.total {
            total.add(len);
        }
    }

    /// Counts `len` bytes let go of (written, dropped), here and in the server's total.
    fn release(&self, state: &mut State, len: usize) {
        state.bytes -= len;
        if let Some(total) = &self.total {
            total.sub(len);
        }
    }

    /// Marks the client as a slow consumer and tells both ends: the reader loop (which ends
    /// the connection) and the writer (which stops writing what is queued). What is queued
    /// is let go of now: it will never be sent.
    fn overflow(&self, mut state: MutexGuard<'_, State>) {
        state.overflowed = true;
        let queued = cost_of(&state.frames);
        state.frames = VecDeque::new();
        self.release(&mut state, queued);
        let writer = state.writer.take();
        drop(state);
        self.reader.notify_waiters();
        if let Some(writer) = writer {
            writer.wake();
        }
    }
}

impl Outbox {
    /// Queues `frame` without waiting.
    pub fn offer(&self, frame: EncodedFrame) -> Delivery {
        self.offer_wire(Arc::new(frame.into_bytes()))
    }

    /// Queues whole frames, already encoded back to back, without waiting; one entry.
    pub fn offer_wire(&self, wire: Wire) -> Delivery {
        let mut state = self.queue.lock();
        if state.overflowed || state.closed {
            return Delivery::Dropped;
        }
        let cost = cost(&wire);
        if state.frames.len() >= self.queue.capacity || self.queue.over_bytes(&state, cost) {
            self.queue.overflow(state);
            return Delivery::Overflowed;
        }
        self.queue.hold(&mut state, cost);
        state.frames.push_back(wire);
        let writer = state.writer.take();
        drop(state);
        if let Some(writer) = writer {
            // Held to the end of the deliveries under way, if any (see `crate::wakes`).
            crate::wakes::wake(writer);
        }
        Delivery::Queued
    }

    /// Whether more than half of the queue is taken, in entries or in bytes, the client's
    /// own messages on their way through the room log included. The client's own requests
    /// then wait ([`Outbox::wait_for_room`]): a client that sends a burst of requests must
    /// not have their answers overflow its own queue while it is reading them, nor pin
    /// their bytes when it reads nothing.
    pub fn is_congested(&self) -> bool {
        self.queue.congested(&self.queue.lock())
    }

    /// Counts `bytes` of this client's own messages, on their way through the room log,
    /// toward its congestion until the returned [`Expected`] is dropped: once their echoes
    /// are queued here, or they were refused.
    pub fn expect(&self, bytes: usize) -> Expected {
        self.queue.expected.fetch_add(bytes, Ordering::AcqRel);
        Expected {
            outbox: self.clone(),
            bytes,
        }
    }

    /// The bytes this client's queue holds now, the writer's batch included: what dropping
    /// it would free (see [`crate::hub::Hub::shed`]).
    pub fn held_bytes(&self) -> usize {
        self.queue.lock().bytes
    }

    /// Marks the client as a slow consumer now, whatever its queue holds: the server is over
    /// its total of queued bytes and this client holds among the most. `false` if it had
    /// already overflowed or is leaving.
    pub fn shed(&self) -> bool {
        let state = self.queue.lock();
        if state.overflowed || state.closed {
            return false;
        }
        self.queue.overflow(state);
        true
    }

    /// Whether the queue overflowed: the client is a slow consumer.
    pub fn has_overflowed(&self) -> bool {
        self.queue.lock().overflowed
    }

    /// Ends the connection once what is queued (an error saying why, last) is written:
    /// its reader loop stops, its writer drains the queue as usual.
    pub fn evict(&self, why: Eviction) {
        self.queue.lock().evicted = Some(why);
        self.queue.reader.notify_waiters();
    }

    /// Tells the reader loop that the client is no longer in the room with key `key`.
    pub fn put_out(&self, key: &str) {
        self.queue.lock().put_out.push(key.into());
        self.queue.put_out.store(true, Ordering::Release);
    }

    /// The keys of the rooms the client was put out of since the last call; costs one
    /// atomic load when there are none.
    pub fn take_put_out(&self) -> Vec<Arc<str>> {
        if !self.queue.put_out.swap(false, Ordering::AcqRel) {
            return Vec::new();
        }
        std::mem::take(&mut self.queue.lock().put_out)
    }

    /// Whether `other` is this queue (another handle to the same connection).
    pub fn is(&self, other: &Outbox) -> bool {
        Arc::ptr_eq(&self.queue, &other.queue)
    }

    /// Whether [`Outbox::evict`] was called.
    pub fn is_evicted(&self) -> bool {
        self.queue.lock().evicted.is_some()
    }

    /// Why [`Outbox::evict`] was called, if it was.
    pub fn eviction(&self) -> Option<Eviction> {
        self.queue.lock().evicted
    }

    /// Completes once the queue has overflowed, or the client was evicted; for the reader
    /// loop, which then ends the connection as a slow consumer (or as evicted).
    pub async fn overflowed(&self) {
        loop {
            let woken = self.queue.reader.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            if self.has_overflowed() || self.is_evicted() {
                return;
            }
            woken.await;
        }
    }

    /// Waits until at most half of the queue is taken, the client's own messages on their
    /// way included. After `limit` with the queue itself that full the client is not
    /// reading: it is marked as a slow consumer and `false` is returned. Waiting for its
    /// own messages to come back from the room log has no limit: the log is behind, not the
    /// client.
    ///
    /// Woken by the writer after each batch it takes out, and by each of the client's
    /// messages that arrives, rather than reserving room, which would take room away from
    /// broadcasts to this client. The wake-up is registered before the queue is looked at,
    /// so a batch taken in between cannot be missed.
    pub async fn wait_for_room(&self, limit: Duration) -> bool {
        let mut deadline = None;
        self.queue.wants_room.store(true, Ordering::SeqCst);
        let room = loop {
            let woken = self.queue.reader.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            {
                let state = self.queue.lock();
                if state.overflowed {
                    break false;
                }
                if state.closed || !self.queue.congested(&state) {
                    break true;
                }
                deadline = match deadline {
                    _ if !self.queue.backed_up(&state) => None,
                    None => Some(tokio::time::Instant::now() + limit),
                    kept => kept,
                };
            }
            match deadline {
                None => woken.await,
                Some(deadline) => {
                    if tokio::time::timeout_at(deadline, woken).await.is_err() {
                        self.queue.overflow(self.queue.lock());
                        break false;
                    }
                }
            }
        };
        self.queue.wants_room.store(false, Ordering::SeqCst);
        room
    }
}

/// A client's own messages on their way through the room log, counted toward its
/// congestion ([`Outbox::expect`]) until this is dropped: the room log holds it with the
/// messages and drops it once their echoes are queued, or once it told the client they
/// were refused.
#[derive(Debug)]
pub struct Expected {
    /// The sender's queue.
    outbox: Outbox,
    /// What was counted.
    bytes: usize,
}

impl Expected {
    /// The sender's queue, to tell it what became of its messages.
    pub fn outbox(&self) -> &Outbox {
        &self.outbox
    }
}

impl Drop for Expected {
    fn drop(&mut self) {
        let queue = &self.outbox.queue;
        queue.expected.fetch_sub(self.bytes, Ordering::AcqRel);
        queue.wake_reader();
    }
}

/// What the writer gets from [`Outgoing::next`].
#[derive(Debug)]
pub enum Next {
    /// This many entries were added to the batch.
    Frames(usize),
    /// Every sender is gone and the queue is empty: the stream can be shut down.
    Closed,
    /// The client is a slow consumer: stop writing what is queued.
    Overflowed,
}

/// The writer's end of one client's queue.
#[derive(Debug)]
pub struct Outgoing {
    /// Shared with the [`Outbox`] clones.
    queue: Arc<Queue>,
    /// Bytes taken out by [`Outgoing::next`] and not yet reported written
    /// ([`Outgoing::written`]): still held, in the writer's batch.
    in_hand: usize,
}

impl Drop for Outgoing {
    /// The writer is gone (its stream failed, or it finished): nothing offered from now on
    /// can be sent, so offers say `Dropped`, as they would to a client that is leaving,
    /// instead of filling the queue until the client looks like a slow consumer. Whatever
    /// is still queued or in the writer's hands is let go of.
    fn drop(&mut self) {
        let mut state = self.queue.lock();
        state.closed = true;
        let queued = cost_of(&state.frames);
        state.frames = VecDeque::new();
        self.queue.release(&mut state, queued + self.in_hand);
        drop(state);
        self.queue.reader.notify_waiters();
    }
}

impl Outgoing {
    /// Waits for frames and moves up to `max` of them into `batch`, oldest first; or says
    /// the queue is closed or overflowed. An overflow is reported first, whatever is queued.
    pub async fn next(&mut self, batch: &mut Vec<Wire>, max: usize) -> Next {
        let next = poll_fn(|cx| {
            let mut state = self.queue.lock();
            if state.overflowed {
                return Poll::Ready(Next::Overflowed);
            }
            if state.frames.is_empty() {
                if state.closed {
                    return Poll::Ready(Next::Closed);
                }
                state.writer = Some(cx.waker().clone());
                return Poll::Pending;
            }
            let taken = state.frames.len().min(max);
            let from = batch.len();
            if taken == state.frames.len() && batch.is_empty() {
                // The whole buffer goes to the writer; the queue starts again with none, so
                // an idle client holds no slots.
                *batch = Vec::from(std::mem::take(&mut state.frames));
            } else {
                batch.extend(state.frames.drain(..taken));
            }
            self.in_hand += cost_of(&batch[from..]);
            Poll::Ready(Next::Frames(taken))
        })
        .await;
        if matches!(next, Next::Frames(_)) {
            self.queue.wake_reader();
        }
        next
    }

    /// Reports that everything [`Outgoing::next`] handed out has been written: its bytes
    /// are no longer held, which may make room for the client's own requests.
    pub fn written(&mut self) {
        if self.in_hand == 0 {
            return;
        }
        {
            let mut state = self.queue.lock();
            self.queue.release(&mut state, self.in_hand);
        }
        self.in_hand = 0;
        self.queue.wake_reader();
    }

    /// Takes everything queued now, without waiting, as if written at once. For harnesses
    /// that drive the hub without writer tasks (unit tests, benchmarks).
    pub fn take_queued(&mut self) -> Vec<Wire> {
        let mut state = self.queue.lock();
        let taken: Vec<Wire> = state.frames.drain(..).collect();
        self.queue.release(&mut state, cost_of(&taken));
        taken
    }

    /// Whether nothing is queued now (the writer flushes the stream then).
    pub fn is_empty(&self) -> bool {
        self.queue.lock().frames.is_empty()
    }

    /// Completes once the queue has overflowed; for a writer in the middle of a write.
    pub async fn overflowed(&self) {
        poll_fn(|cx| {
            let mut state = self.queue.lock();
            if state.overflowed {
                Poll::Ready(())
            } else {
                state.writer = Some(cx.waker().clone());
                Poll::Pending
            }
        })
        .await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wire(i: u8) -> Wire {
        Arc::new(Bytes::from(vec![i]))
    }

    /// A full queue marks the client and queues nothing more, even once there is room: the
    /// client already missed a frame.
    #[tokio::test]
    async fn a_full_queue_marks_the_client_and_queues_nothing_more() {
        let (outbox, mut outgoing) = channel(2);
        assert_eq!(outbox.offer_wire(wire(0)), Delivery::Queued);
        assert_eq!(outbox.offer_wire(wire(1)), Delivery::Queued);
        assert_eq!(outbox.offer_wire(wire(2)), Delivery::Overflowed);
        assert!(outbox.has_overflowed());
        let mut batch = Vec::new();
        assert!(matches!(
            outgoing.next(&mut batch, 10).await,
            Next::Overflowed
        ));
        assert_eq!(outbox.offer_wire(wire(3)), Delivery::Dropped);
        outbox.overflowed().await;
    }

    /// The writer gets the frames in order, at most `max` at a time, and the end of the
    /// queue once every clone of the sender is gone and it is empty.
    #[tokio::test]
    async fn the_writer_drains_in_order_and_sees_the_end() {
        let (outbox, mut outgoing) = channel(8);
        let other = outbox.clone();
        for i in 0..5 {
            outbox.offer_wire(wire(i));
        }
        let mut batch = Vec::new();
        assert!(matches!(
            outgoing.next(&mut batch, 3).await,
            Next::Frames(3)
        ));
        assert!(matches!(
            outgoing.next(&mut batch, 3).await,
            Next::Frames(2)
        ));
        let got: Vec<u8> = batch.iter().map(|w| w[0]).collect();
        assert_eq!(got, [0, 1, 2, 3, 4]);
        drop(outbox);
        other.offer_wire(wire(5));
        drop(other);
        batch.clear();
        assert!(matches!(
            outgoing.next(&mut batch, 8).await,
            Next::Frames(1)
        ));
        assert!(matches!(outgoing.next(&mut batch, 8).await, Next::Closed));
    }

    /// The byte bound counts every entry at its length and its overhead until the writer
    /// reports it written: a frame that would take the queue past it marks the client, and
    /// what was queued is let go of at once, in the queue and in the server's total.
    #[tokio::test]
    async fn bytes_count_until_written_and_an_overflow_lets_go() {
        let total = Arc::new(QueuedBytes::new(0));
        let entry = |n: usize| n + ENTRY_OVERHEAD;
        let bound = Bound {
            frames: 100,
            bytes: 2 * entry(4) + 2,
        };
        let (outbox, mut outgoing) = bounded(bound, Some(total.clone()));
        let sized = |n: usize| Arc::new(Bytes::from(vec![0; n]));
        assert_eq!(outbox.offer_wire(sized(4)), Delivery::Queued);
        assert_eq!(outbox.offer_wire(sized(4)), Delivery::Queued);
        let two = 2 * entry(4);
        assert_eq!((outbox.held_bytes(), total.total()), (two, two));
        assert!(outbox.is_congested(), "over half of the bytes");
        let mut batch = Vec::new();
        assert!(matches!(
            outgoing.next(&mut batch, 1).await,
            Next::Frames(1)
        ));
        // Taken out but not yet written: still held.
        assert_eq!(outbox.held_bytes(), two);
        assert_eq!(outbox.offer_wire(sized(3)), Delivery::Overflowed);
        // The queued entry is let go of; the writer's batch is held until it is done.
        assert_eq!((outbox.held_bytes(), total.total()), (entry(4), entry(4)));
        outgoing.written();
        assert_eq!((outbox.held_bytes(), total.total()), (0, 0));
    }

    /// Many small entries are bounded by what they hold, their overhead included, while
    /// the entry count is far above: a 1-byte frame counts for `1 + ENTRY_OVERHEAD`.
    #[test]
    fn small_entries_are_bounded_by_their_overhead() {
        let bound = Bound {
            frames: 1_000_000,
            bytes: 10 * (1 + ENTRY_OVERHEAD),
        };
        let (outbox, _outgoing) = bounded(bound, None);
        for i in 0..10 {
            assert_eq!(outbox.offer_wire(wire(i)), Delivery::Queued);
        }
        assert_eq!(outbox.offer_wire(wire(10)), Delivery::Overflowed);
    }

    /// The client's own messages on their way count toward its congestion, not toward its
    /// bound, until they arrive; a reader waiting only for them is not given up on at the
    /// deadline, and is woken when they arrive.
    #[tokio::test(start_paused = true)]
    async fn own_messages_on_their_way_pace_the_reader_without_a_deadline() {
        let bound = Bound {
            frames: 100,
            bytes: 1000,
        };
        let (outbox, _outgoing) = bounded(bound, None);
        let expected = outbox.expect(600);
        assert!(outbox.is_congested());
        let waiter = outbox.clone();
        let wait = tokio::spawn(async move { waiter.wait_for_room(Duration::from_secs(1)).await });
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!wait.is_finished(), "still waiting, not given up on");
        assert!(!outbox.has_overflowed());
        // Their echo is queued (bytes the queue takes whole), then the expectation ends.
        assert_eq!(
            outbox.offer_wire(Arc::new(Bytes::from(vec![0; 400]))),
            Delivery::Queued
        );
        drop(expected);
        assert!(wait.await.unwrap(), "room once they arrived");
        assert!(!outbox.is_congested());
    }

    /// An empty queue takes one frame larger than its whole byte bound, so no frame can
    /// make a client unservable; the next frame behind it cannot come.
    #[test]
    fn an_empty_queue_takes_one_frame_over_the_byte_bound() {
        let bound = Bound {
            frames: 100,
            bytes: 10,
        };
        let (outbox, _outgoing) = bounded(bound, None);
        assert_eq!(
            outbox.offer_wire(Arc::new(Bytes::from(vec![0; 50]))),
            Delivery::Queued
        );
        assert_eq!(outbox.offer_wire(wire(0)), Delivery::Overflowed);
    }

    /// A writer that ends lets go of everything it held and everything still queued.
    #[tokio::test]
    async fn a_writer_that_ends_lets_go_of_everything() {
        let total = Arc::new(QueuedBytes::new(0));
        let bound = Bound {
            frames: 100,
            bytes: 1000,
        };
        let (outbox, mut outgoing) = bounded(bound, Some(total.clone()));
        for i in 0..4 {
            outbox.offer_wire(wire(i));
        }
        let mut batch = Vec::new();
        outgoing.next(&mut batch, 2).await;
        assert_eq!(total.total(), 4 * (1 + ENTRY_OVERHEAD));
        drop(outgoing);
        assert_eq!(total.total(), 0);
    }

    /// Shedding marks the client as a slow consumer whatever its queue holds, once.
    #[test]
    fn shedding_marks_the_client_once() {
        let (outbox, _outgoing) = channel(8);
        outbox.offer_wire(wire(0));
        assert!(outbox.shed());
        assert!(outbox.has_overflowed());
        assert_eq!(outbox.held_bytes(), 0);
        assert!(!outbox.shed());
    }

    /// Once the writer is gone, offers are dropped rather than queued.
    #[test]
    fn without_a_writer_offers_are_dropped() {
        let (outbox, outgoing) = channel(4);
        drop(outgoing);
        assert_eq!(outbox.offer_wire(wire(0)), Delivery::Dropped);
        assert!(!outbox.has_overflowed());
    }

    /// A waiting writer is woken by the next frame.
    #[tokio::test]
    async fn a_waiting_writer_is_woken_by_a_frame() {
        let (outbox, mut outgoing) = channel(8);
        let writer = tokio::spawn(async move {
            let mut batch = Vec::new();
            let next = outgoing.next(&mut batch, 8).await;
            (matches!(next, Next::Frames(1)), batch[0][0])
        });
        tokio::task::yield_now().await;
        outbox.offer_wire(wire(7));
        assert_eq!(writer.await.unwrap(), (true, 7));
    }

    /// A reader waiting for room is woken when the writer takes frames out; one that waits
    /// in vain is marked as a slow consumer at the deadline.
    #[tokio::test(start_paused = true)]
    async fn waiting_for_room_ends_with_the_writer_or_at_the_deadline() {
        let (outbox, mut outgoing) = channel(4);
        for i in 0..4 {
            outbox.offer_wire(wire(i));
        }
        assert!(outbox.is_congested());
        let waiter = outbox.clone();
        let wait = tokio::spawn(async move { waiter.wait_for_room(Duration::from_secs(1)).await });
        tokio::task::yield_now().await;
        let mut batch = Vec::new();
        outgoing.next(&mut batch, 2).await;
        assert!(wait.await.unwrap(), "room after the writer took two");
        for i in 0..2 {
            outbox.offer_wire(wire(i));
        }
        assert!(!outbox.wait_for_room(Duration::from_secs(1)).await);
        assert!(outbox.has_overflowed());
    }
}
