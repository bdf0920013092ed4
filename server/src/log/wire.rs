//! The one encoder of a room message for its members: every log, whether it numbered a
//! burst just now or read a message back from its store, writes `Msg` (and
//! `MessageRemoved`) frames here.

use bytes::BytesMut;
use chat_proto::codec::encode;
use chat_proto::{CodecError, PastKind, ServerFrame};

use super::Stored;

/// Appends `message` of the room shown as `room` to `wire` as a whole frame, as live
/// members get it: a message as `Msg`, a removal as `MessageRemoved`. Many back to back are
/// the one buffer every member's queue gets. A tombstone (a message removed before it
/// reached them) is nothing to deliver: answers whether a frame was appended.
pub fn push_message(wire: &mut BytesMut, room: &str, message: Stored) -> Result<bool, CodecError> {
    let frame = match message.kind {
        PastKind::Message => ServerFrame::Msg {
            room: room.to_owned(),
            from: message.from,
            text: message.text,
            at: message.at,
            seq: message.seq,
        },
        PastKind::Removal { target } => ServerFrame::MessageRemoved {
            room: room.to_owned(),
            seq: message.seq,
            target,
            by: message.from,
            at: message.at,
        },
        PastKind::Removed { .. } => return Ok(false),
    };
    wire.extend_from_slice(encode(&frame)?.as_bytes());
    Ok(true)
}
