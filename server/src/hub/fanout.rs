//! The fan-out: every delivery to more than the one who asked, and whispers.
//!
//! A room's messages come back from the room log, numbered ([`Hub::deliver`]) or to be
//! numbered here when no history is kept ([`Hub::flush`]); each is encoded once and the
//! same bytes offered to every member's queue under the hub's lock. Offering never waits,
//! so a slow reader is dropped ([`Hub::shed`] picks the largest when the server's queued
//! bytes pass their ceiling) rather than holding up the others.

use std::sync::Arc;

use chat_proto::codec::encode;
use chat_proto::{CodecError, Millis, ServerFrame};

use super::{wire, Hub, State, WhisperError};
use crate::log::{Burst, Deliveries, Spoken};
use crate::metrics::Metrics;
use crate::outbox::{Delivery, Wire};
use crate::queued_bytes::QueuedBytes;
use crate::registry::ClientHandle;
use crate::room::Room;

impl Hub {
    /// Queues `frame` to every member of the room with key `room`, encoded once. For tests
    /// and benchmarks; connections send through [`Hub::flush`].
    pub fn broadcast(&self, room: &str, frame: &ServerFrame) -> Result<(), CodecError> {
        let frame = wire(encode(frame)?);
        if let Some(place) = self.state().rooms.get(room) {
            fan_out(place.handles(), &frame, None);
        }
        Ok(())
    }

    /// Sends everything in `burst` to every member of its room as one buffer (one queue
    /// entry each), numbered by the room's own count, and empties it: what the history-off
    /// log does with a burst ([`Deliveries::deliver_unstored`]), for tests and benchmarks.
    pub fn flush(&self, burst: &mut Burst) {
        if let Some(spoken) = burst.take() {
            self.deliver_unstored(spoken);
        }
    }

    /// Numbers `spoken` by its room's own count and queues it to every member as one buffer.
    pub(super) fn number_and_deliver(&self, spoken: Spoken) {
        self.state().number_and_deliver(spoken, &self.metrics);
    }

    /// Queues `wire` (`messages` whole frames, already numbered) to every member of the
    /// room with key `room`: the room log's way out, once it has stored them.
    pub fn deliver(&self, room: &str, wire: Wire, messages: usize) {
        if let Some(place) = self.state().rooms.get(room) {
            fan_out_messages(place, &wire, messages, &self.metrics);
        }
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
        self.state()
            .whisper(from, to, text, at, true, &self.metrics)
    }

    /// Queues a whisper another node sent to the client named `to` (any case) here: to its
    /// target only, since its sender, on that node, has its copy from there.
    pub fn deliver_whisper(
        &self,
        from: &str,
        to: &str,
        text: String,
        at: Millis,
    ) -> Result<(), WhisperError> {
        self.state()
            .whisper(from, to, text, at, false, &self.metrics)
    }

    /// Drops, as slow consumers, the registered clients holding the most queued bytes, the
    /// largest first, until what the rest hold is under `total`'s ceiling; returns how many
    /// were dropped and the bytes they held.
    ///
    /// Only the handles and their sizes are taken under the lock. A dropped client's queue
    /// lets go of what it holds at once, but a batch its writer is in the middle of writing
    /// is freed only when the writer gives up, so the count goes by what each held rather
    /// than by the total, which would drop more people than needed.
    pub fn shed(&self, total: &QueuedBytes) -> (usize, usize) {
        let mut holders: Vec<(usize, ClientHandle)> = self
            .state()
            .registry
            .handles()
            .map(|handle| (handle.held_bytes(), handle.clone()))
            .collect();
        holders.sort_unstable_by_key(|h| std::cmp::Reverse(h.0));
        let mut left = total.total();
        let (mut dropped, mut freed) = (0, 0);
        for (held, handle) in holders {
            if left <= total.max() || held == 0 {
                break;
            }
            if handle.shed() {
                dropped += 1;
                freed += held;
                left = left.saturating_sub(held);
            }
        }
        (dropped, freed)
    }
}

impl State {
    /// Numbers `spoken` by its room's own count and queues it to every member as one buffer.
    ///
    /// The `seq`s are given and the frames encoded under the lock, so that the numbering is
    /// the order everyone receives.
    fn number_and_deliver(&mut self, spoken: Spoken, metrics: &Metrics) {
        let Some(place) = self.rooms.get_mut(&spoken.room.key) else {
            return;
        };
        let first = place.take_seqs(spoken.said.len());
        match spoken.encode(first) {
            Ok(wire) => fan_out_messages(place, &Arc::new(wire), spoken.said.len(), metrics),
            Err(err) => tracing::error!("Cannot encode a message to #{}: {err}", place.name()),
        }
    }

    /// Queues a whisper to `to` and, with `copy`, to its sender `from` when it is here and
    /// another person.
    fn whisper(
        &self,
        from: &str,
        to: &str,
        text: String,
        at: Millis,
        copy: bool,
        metrics: &Metrics,
    ) -> Result<(), WhisperError> {
        let target = self
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
        metrics.messages_out(1);
        if let Some(sender) = self.registry.get(from).filter(|_| copy) {
            if !Arc::ptr_eq(sender.name(), target.name()) {
                sender.offer(frame);
                metrics.messages_out(1);
            }
        }
        Ok(())
    }
}

/// Queues `wire`, which holds `messages` room messages, to every member of `place`,
/// timed and counted for `/metrics`.
fn fan_out_messages(place: &Room, wire: &Wire, messages: usize, metrics: &Metrics) {
    let started = std::time::Instant::now();
    let reached = fan_out(place.handles(), wire, None);
    metrics.fanned_out(started.elapsed());
    metrics.messages_out((reached * messages) as u64);
}

/// A presence frame, encoded. Its strings are a room and a user name, at most 32 ASCII
/// characters each, so it cannot exceed any frame limit.
pub(super) fn presence(frame: ServerFrame) -> Wire {
    wire(encode(&frame).expect("a presence frame is far below the frame limit"))
}

/// Offers the same bytes (whole frames) to every client of `to`, `except` one (by
/// registered name); returns how many queued them.
pub(super) fn fan_out<'a>(
    to: impl Iterator<Item = &'a ClientHandle>,
    wire: &Wire,
    except: Option<&Arc<str>>,
) -> usize {
    let mut reached = 0;
    for handle in to {
        if except.is_some_and(|name| Arc::ptr_eq(name, handle.name())) {
            continue;
        }
        match handle.offer_wire(wire.clone()) {
            Delivery::Queued => reached += 1,
            Delivery::Overflowed => {
                tracing::debug!("Queue of {} is full; dropping it", handle.name());
            }
            Delivery::Dropped => {}
        }
    }
    reached
}

#[cfg(test)]
mod tests {
    use chat_proto::codec::{decode_chunks, CLIENT_MAX_FRAME};

    use super::super::testing::{frames, member, msg, said};
    use super::*;
    use crate::outbox::Outgoing;
    use crate::room::JoinedRoom;

    /// A burst reaches nobody until it is flushed, then every member of its room as one
    /// queue entry holding its frames in the order they were added, and nobody outside the
    /// room; a later broadcast comes after it.
    #[test]
    fn a_burst_is_one_queue_entry_per_member_in_order() {
        let hub = Hub::new();
        let (mut ann, lobby) = member(&hub, "ann", "lobby");
        let (mut bob, _) = member(&hub, "bob", "lobby");
        let (mut carol, _) = member(&hub, "carol", "elsewhere");
        frames(&mut ann); // bob's arrival
        let mut burst = Burst::default();
        let ann_name: Arc<str> = "ann".into();
        for i in 0..3 {
            burst.push(&lobby, &ann_name, said(i));
        }
        assert!(ann.take_queued().is_empty() && bob.take_queued().is_empty());
        hub.flush(&mut burst);
        assert!(burst.is_empty());
        hub.broadcast(&lobby.key, &msg("lobby", 3)).unwrap();
        for q in [&mut ann, &mut bob] {
            let entries = q.take_queued();
            assert_eq!(entries.len(), 2, "the burst, then the broadcast");
            let frames: Vec<ServerFrame> =
                decode_chunks(entries.iter().map(|e| &e[..]), CLIENT_MAX_FRAME)
                    .into_iter()
                    .map(Result::unwrap)
                    .collect();
            assert_eq!(frames, (0..4).map(|i| msg("lobby", i)).collect::<Vec<_>>());
        }
        assert_eq!(frames(&mut carol), [], "carol is in another room");
    }

    /// A burst holds one room's messages: a message for another room is not accepted until
    /// the burst was flushed, so the sender's order survives.
    #[test]
    fn a_burst_holds_one_room() {
        let a = JoinedRoom {
            key: "a".into(),
            name: "A".into(),
        };
        let mut burst = Burst::default();
        assert!(burst.accepts("a") && burst.accepts("b"));
        burst.push(&a, &"ann".into(), said(0));
        assert!(burst.accepts("a"));
        assert!(!burst.accepts("b"));
    }

    /// Without history, each room numbers its own messages from 1, in the order they are
    /// sent, and a room made anew counts from 1 again.
    #[test]
    fn each_room_numbers_its_messages() {
        let hub = Hub::new();
        let (mut ann, lobby) = member(&hub, "ann", "lobby");
        let other = hub.join("ann", "other", 0).unwrap();
        let ann_name: Arc<str> = "ann".into();
        let seqs = |q: &mut Outgoing| -> Vec<(String, u64)> {
            frames(q)
                .into_iter()
                .filter_map(|f| match f {
                    ServerFrame::Msg { room, seq, .. } => Some((room, seq)),
                    _ => None,
                })
                .collect()
        };
        for (room, i) in [(&lobby, 0), (&other, 1), (&lobby, 2)] {
            let mut burst = Burst::default();
            burst.push(room, &ann_name, said(i));
            burst.push(room, &ann_name, said(i));
            hub.flush(&mut burst);
        }
        assert_eq!(
            seqs(&mut ann),
            [
                ("lobby".into(), 1),
                ("lobby".into(), 2),
                ("other".into(), 1),
                ("other".into(), 2),
                ("lobby".into(), 3),
                ("lobby".into(), 4)
            ]
        );
        hub.part("ann", &other, 0).unwrap();
        hub.join("ann", "other", 0).unwrap();
        frames(&mut ann);
        let mut burst = Burst::default();
        burst.push(&other, &ann_name, said(9));
        hub.flush(&mut burst);
        assert_eq!(seqs(&mut ann), [("other".into(), 1)]);
    }

    /// A burst says it is full at its frame limit, so a client that never pauses still has
    /// its messages delivered in bounded pieces.
    #[test]
    fn a_burst_is_full_at_its_frame_limit() {
        let mut burst = Burst::default();
        let room = JoinedRoom {
            key: "lobby".into(),
            name: "lobby".into(),
        };
        let ann: Arc<str> = "ann".into();
        for i in 1..Burst::MAX_FRAMES {
            burst.push(&room, &ann, said(i as i64));
        }
        assert!(!burst.is_full());
        burst.push(&room, &ann, said(0));
        assert!(burst.is_full());
        assert_eq!(burst.len(), Burst::MAX_FRAMES);
    }
}
