//! What the hub's tests share: registered clients with their queues, the frames a queue
//! holds, and ann's numbered messages.

use chat_proto::codec::{decode_chunks, CLIENT_MAX_FRAME};
use chat_proto::ServerFrame;

use super::Hub;
use crate::log::Said;
use crate::outbox::{self, Outgoing};
use crate::registry::ClientHandle;
use crate::room::JoinedRoom;

/// A client registered as `name`, its `Welcome` taken from its queue.
pub(super) fn registered(hub: &Hub, name: &str) -> Outgoing {
    let (outbox, mut rx) = outbox::channel(16);
    let peer = "127.0.0.1:1".parse().unwrap();
    hub.register(ClientHandle::new(name.into(), outbox), peer, None)
        .unwrap();
    rx.take_queued();
    rx
}

/// A client registered and in `room`, its queue emptied.
pub(super) fn member(hub: &Hub, name: &str, room: &str) -> (Outgoing, JoinedRoom) {
    let mut rx = registered(hub, name);
    let joined = hub.join(name, room, 0).unwrap();
    rx.take_queued();
    (rx, joined)
}

/// Everything queued to `q`, decoded, and the queue emptied.
pub(super) fn frames(q: &mut Outgoing) -> Vec<ServerFrame> {
    let wire = q.take_queued();
    decode_chunks(wire.iter().map(|w| &w[..]), CLIENT_MAX_FRAME)
        .into_iter()
        .map(Result::unwrap)
        .collect()
}

/// Message `i` of ann's in `room`, the `i + 1`th of the room.
pub(super) fn msg(room: &str, i: i64) -> ServerFrame {
    ServerFrame::Msg {
        room: room.into(),
        from: "ann".into(),
        text: format!("message {i}"),
        at: i,
        seq: i as u64 + 1,
    }
}

/// What ann says in message `i`.
pub(super) fn said(i: i64) -> Said {
    Said {
        text: format!("message {i}"),
        at: i,
    }
}
