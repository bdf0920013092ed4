//! The broadcast seam: everything that reaches more than the client who asked.
//!
//! A frame for several clients is encoded once ([`chat_proto::codec::encode`]) and the same
//! bytes are offered to each client's queue. Commands and connections talk only to the
//! [`Hub`], so a hub that also reaches other nodes (through a broker) can replace this one
//! without touching them.
//!
//! **One order for everyone.** Every fan-out, join and leave runs under one `std` mutex, and a
//! fan-out only `try_send`s (it never waits), so the lock is held for a loop of queue pushes.
//! Two broadcasts from two connection tasks are therefore queued to every client in the same
//! order, and a newcomer's `Welcome` is queued before any broadcast it can see.
//!
//! **Bursts.** Messages a client sent together (read from its socket in one go) are encoded
//! one by one into a [`Burst`] and queued to everyone as one buffer, under one lock: a
//! publisher's burst of 64 costs each recipient one queue entry instead of 64. The burst is
//! sent before anything else the client causes (a reply, a whisper, its leaving), so the
//! order everyone sees is the order the client sent in.
//!
//! A client whose queue is full is marked as a slow consumer by its [`crate::registry::Outbox`]
//! and receives nothing more; its connection then leaves with that reason. The others never
//! wait for it.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use bytes::{Bytes, BytesMut};

use chat_proto::codec::encode;
use chat_proto::{CodecError, EncodedFrame, Millis, ServerFrame, PROTOCOL_VERSION};

use crate::registry::{ClientHandle, Delivery, LeaveReason, NameTaken, Registry, Wire};

/// Why a client could not join.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JoinError {
    /// Someone online has the name in another case or the same.
    #[error(transparent)]
    NameTaken(#[from] NameTaken),
    /// The server has told everyone it is stopping; nobody new may join.
    #[error("the server is shutting down")]
    ShuttingDown,
}

/// Why a whisper was not delivered.
#[derive(Debug, thiserror::Error)]
pub enum WhisperError {
    /// Nobody online has that name.
    #[error("no user named {0:?} is online")]
    NoSuchUser(String),
    /// The frame could not be encoded (larger than any frame may be).
    #[error(transparent)]
    Encode(#[from] CodecError),
}

/// Broadcasts from one client waiting to be queued together: their frames, encoded back to
/// back. Held by the client's connection; [`Hub::flush`] sends it.
#[derive(Debug, Default)]
pub struct Burst {
    /// Whole frames, prefix and body each.
    wire: BytesMut,
    /// How many frames `wire` holds.
    frames: usize,
}

impl Burst {
    /// Frames held at most before the burst is sent anyway: a client that never pauses
    /// still has its messages delivered, and a queue entry stays small.
    pub const MAX_FRAMES: usize = 64;

    /// Bytes held at most before the burst is sent anyway.
    pub const MAX_BYTES: usize = 16 * 1024;

    /// Adds one encoded frame.
    pub fn push(&mut self, frame: &EncodedFrame) {
        self.wire.extend_from_slice(frame.as_bytes());
        self.frames += 1;
    }

    /// Whether the burst should be sent before it grows further.
    pub fn is_full(&self) -> bool {
        self.frames >= Self::MAX_FRAMES || self.wire.len() >= Self::MAX_BYTES
    }

    /// Whether nothing is waiting.
    pub fn is_empty(&self) -> bool {
        self.frames == 0
    }

    /// How many frames are waiting.
    pub fn len(&self) -> usize {
        self.frames
    }

    /// The frames as one buffer, leaving the burst empty.
    fn take(&mut self) -> Bytes {
        self.frames = 0;
        self.wire.split().freeze()
    }
}

/// The in-process hub: one room on one server.
#[derive(Debug, Default)]
pub struct Hub {
    /// The registry and the closing flag, changed together under one lock.
    state: Mutex<State>,
    /// Largest room in which joins and leaves are announced; 0: any size.
    announce_up_to: usize,
}

/// What the hub's lock guards.
#[derive(Debug, Default)]
struct State {
    /// Who is online.
    registry: Registry,
    /// Set once the shutdown notice went out: later joins are refused so that nobody
    /// registers without having been told.
    closing: bool,
}

impl Hub {
    /// An empty room.
    pub fn new() -> Self {
        Hub::default()
    }

    /// Announces joins and leaves only while the room has at most `people` (0: always).
    ///
    /// Every announcement goes to everyone, so filling a room of N costs N²/2 notices: ten
    /// thousand people joining would send fifty million, and hear of nothing else.
    pub fn announcing_up_to(mut self, people: usize) -> Self {
        self.announce_up_to = people;
        self
    }

    /// Whether a join or leave in a room of `people` (counting the one joining or leaving)
    /// is announced.
    fn announces(&self, people: usize) -> bool {
        self.announce_up_to == 0 || people <= self.announce_up_to
    }

    /// The state, even if a thread panicked while holding the lock: every change under it is
    /// a single map operation or a loop of non-blocking sends, so it is never half-done.
    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers `handle`, queues its `Welcome` and tells everyone else `<name> joined`.
    ///
    /// Returns how many are online, the newcomer included.
    pub fn join(&self, handle: ClientHandle, at: Millis) -> Result<usize, JoinError> {
        let name = handle.name().clone();
        let mut state = self.state();
        if state.closing {
            return Err(JoinError::ShuttingDown);
        }
        state.registry.add(handle)?;
        let online = state.registry.len();
        let welcome = ServerFrame::Welcome {
            version: PROTOCOL_VERSION,
            username: name.to_string(),
            online: u32::try_from(online).unwrap_or(u32::MAX),
        };
        if let (Ok(welcome), Some(me)) = (encode(&welcome), state.registry.get(&name)) {
            me.offer(welcome);
        }
        if self.announces(online) {
            let joined = system(format!("{name} joined"), at);
            fan_out(&state.registry, &wire(joined), Some(&name));
        }
        Ok(online)
    }

    /// Removes `name` with `reason` (logged) and, unless the server is stopping, tells
    /// everyone else `<name> left`.
    pub fn leave(&self, name: &str, reason: &LeaveReason, at: Millis) {
        let mut state = self.state();
        let people = state.registry.len();
        if state.registry.remove(name, reason).is_some() && !state.closing && self.announces(people)
        {
            fan_out(
                &state.registry,
                &wire(system(format!("{name} left"), at)),
                None,
            );
        }
    }

    /// Queues `frame` to every registered client, encoded once.
    pub fn broadcast(&self, frame: &ServerFrame) -> Result<(), CodecError> {
        let frame = encode(frame)?;
        fan_out(&self.state().registry, &wire(frame), None);
        Ok(())
    }

    /// Queues everything in `burst` to every registered client as one buffer (one queue
    /// entry each), and empties it.
    pub fn flush(&self, burst: &mut Burst) {
        if burst.is_empty() {
            return;
        }
        let burst = Arc::new(burst.take());
        fan_out(&self.state().registry, &burst, None);
    }

    /// Queues a whisper to the client named `to` (any case) and a copy to its sender `from`.
    ///
    /// The frame names both as registered. Sent under the same lock as broadcasts, so a
    /// whisper keeps its place among the messages around it.
    pub fn whisper(
        &self,
        from: &str,
        to: &str,
        text: String,
        at: Millis,
    ) -> Result<(), WhisperError> {
        let state = self.state();
        let target = state
            .registry
            .get(to)
            .ok_or_else(|| WhisperError::NoSuchUser(to.to_owned()))?;
        let frame = encode(&ServerFrame::Whisper {
            from: from.to_owned(),
            to: target.name().to_string(),
            text,
            at,
        })?;
        target.offer(frame.clone());
        if let Some(sender) = state.registry.get(from) {
            if !Arc::ptr_eq(sender.name(), target.name()) {
                sender.offer(frame);
            }
        }
        Ok(())
    }

    /// Every registered name, sorted case-insensitively.
    pub fn users(&self) -> Vec<String> {
        self.state().registry.names()
    }

    /// Refuses further joins and queues `notice` to everyone; returns how many were told.
    pub fn close(&self, notice: &ServerFrame) -> Result<usize, CodecError> {
        let notice = encode(notice)?;
        let mut state = self.state();
        state.closing = true;
        fan_out(&state.registry, &wire(notice), None);
        Ok(state.registry.len())
    }
}

/// A `System` notice, encoded. Encoding a short notice cannot exceed any frame limit.
fn system(text: String, at: Millis) -> EncodedFrame {
    encode(&ServerFrame::System { text, at }).expect("a system notice is far below the frame limit")
}

/// A frame as a queue entry.
fn wire(frame: EncodedFrame) -> Wire {
    Arc::new(frame.into_bytes())
}

/// Offers the same bytes (whole frames) to every client, `except` one (by registered name).
fn fan_out(registry: &Registry, wire: &Wire, except: Option<&Arc<str>>) {
    for handle in registry.handles() {
        if except.is_some_and(|name| Arc::ptr_eq(name, handle.name())) {
            continue;
        }
        if handle.offer_wire(wire.clone()) == Delivery::Overflowed {
            tracing::debug!("Queue of {} is full; dropping it", handle.name());
        }
    }
}

#[cfg(test)]
mod tests {
    use chat_proto::codec::{decode_chunks, CLIENT_MAX_FRAME};
    use tokio::sync::mpsc;
    use tokio_util::sync::CancellationToken;

    use super::*;
    use crate::registry::Outbox;

    fn joined(hub: &Hub, name: &str) -> mpsc::Receiver<Wire> {
        let (tx, mut rx) = mpsc::channel(16);
        let outbox = Outbox::new(tx, CancellationToken::new());
        let peer = "127.0.0.1:1".parse().unwrap();
        hub.join(ClientHandle::new(name.into(), peer, outbox), 0)
            .unwrap();
        while rx.try_recv().is_ok() {}
        rx
    }

    fn msg(i: i64) -> ServerFrame {
        ServerFrame::Msg {
            from: "ann".into(),
            text: format!("message {i}"),
            at: i,
        }
    }

    /// A burst reaches nobody until it is flushed, then every client as one queue entry
    /// holding its frames in the order they were added; a later broadcast comes after it.
    #[test]
    fn a_burst_is_one_queue_entry_per_client_in_order() {
        let hub = Hub::new();
        let mut queues = [joined(&hub, "ann"), joined(&hub, "bob")];
        for q in &mut queues {
            while q.try_recv().is_ok() {}
        }
        let mut burst = Burst::default();
        for i in 0..3 {
            burst.push(&encode(&msg(i)).unwrap());
        }
        assert!(queues.iter_mut().all(|q| q.try_recv().is_err()));
        hub.flush(&mut burst);
        assert!(burst.is_empty());
        hub.broadcast(&msg(3)).unwrap();
        for q in &mut queues {
            let entries: Vec<Wire> = std::iter::from_fn(|| q.try_recv().ok()).collect();
            assert_eq!(entries.len(), 2, "the burst, then the broadcast");
            let frames: Vec<ServerFrame> =
                decode_chunks(entries.iter().map(|e| &e[..]), CLIENT_MAX_FRAME)
                    .into_iter()
                    .map(Result::unwrap)
                    .collect();
            assert_eq!(frames, (0..4).map(msg).collect::<Vec<_>>());
        }
    }

    /// Above the announcement limit joins and leaves pass silently; at or below it everyone
    /// else hears of them.
    #[test]
    fn joins_and_leaves_are_announced_only_up_to_the_limit() {
        let hub = Hub::new().announcing_up_to(2);
        let mut ann = joined(&hub, "ann");
        let _bob = joined(&hub, "bob");
        let notices = |q: &mut mpsc::Receiver<Wire>| -> Vec<ServerFrame> {
            let wire: Vec<Wire> = std::iter::from_fn(|| q.try_recv().ok()).collect();
            decode_chunks(wire.iter().map(|w| &w[..]), CLIENT_MAX_FRAME)
                .into_iter()
                .map(Result::unwrap)
                .collect()
        };
        assert!(
            matches!(&notices(&mut ann)[..], [ServerFrame::System { text, .. }] if text == "bob joined")
        );
        let _carol = joined(&hub, "carol");
        hub.leave("carol", &LeaveReason::Bye, 0);
        assert_eq!(notices(&mut ann), [], "a third person is over the limit");
        hub.leave("bob", &LeaveReason::Bye, 0);
        assert!(
            matches!(&notices(&mut ann)[..], [ServerFrame::System { text, .. }] if text == "bob left")
        );
    }

    /// A burst says it is full at its frame limit, so a client that never pauses still has
    /// its messages delivered in bounded pieces.
    #[test]
    fn a_burst_is_full_at_its_frame_limit() {
        let mut burst = Burst::default();
        let frame = encode(&msg(0)).unwrap();
        for _ in 1..Burst::MAX_FRAMES {
            burst.push(&frame);
        }
        assert!(!burst.is_full());
        burst.push(&frame);
        assert!(burst.is_full());
        assert_eq!(burst.len(), Burst::MAX_FRAMES);
    }
}
