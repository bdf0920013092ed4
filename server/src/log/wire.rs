//! The one encoder of a room's log for its members: every log, whether it numbered a burst
//! just now or read an entry back from its store, writes the frames members get here.

use bytes::BytesMut;
use chat_proto::codec::encode;
use chat_proto::{CodecError, PastKind, ServerFrame};

use super::Stored;

/// The frame live members get for `entry` of the room shown as `room`: a plain message as
/// `Msg` (the hot path, and what every client reads), a removal as `MessageRemoved`, a
/// reply, an edit or a reaction as `Event` with the entry as the log keeps it. A tombstone
/// (a message removed before it reached them) is nothing to deliver.
pub fn live_frame(room: &str, entry: Stored) -> Option<ServerFrame> {
    Some(match entry.kind {
        PastKind::Message if entry.reply_to.is_none() => ServerFrame::Msg {
            room: room.to_owned(),
            from: entry.from,
            text: entry.text,
            at: entry.at,
            seq: entry.seq,
        },
        PastKind::Removal { target } => ServerFrame::MessageRemoved {
            room: room.to_owned(),
            seq: entry.seq,
            target,
            by: entry.from,
            at: entry.at,
        },
        PastKind::Removed { .. } => return None,
        PastKind::Message
        | PastKind::Edit { .. }
        | PastKind::React { .. }
        | PastKind::Unreact { .. } => ServerFrame::Event {
            room: room.to_owned(),
            entry,
        },
    })
}

/// Appends `entry` of the room shown as `room` to `wire` as a whole frame, as live members
/// get it ([`live_frame`]): many back to back are the one buffer every member's queue gets.
/// Answers whether a frame was appended.
pub fn push_message(wire: &mut BytesMut, room: &str, entry: Stored) -> Result<bool, CodecError> {
    let Some(frame) = live_frame(room, entry) else {
        return Ok(false);
    };
    wire.extend_from_slice(encode(&frame)?.as_bytes());
    Ok(true)
}
