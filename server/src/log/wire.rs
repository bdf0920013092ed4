//! The one encoder of a room message for its members: every log, whether it numbered a
//! burst just now or read a message back from its store, writes `Msg` frames here.

use bytes::BytesMut;
use chat_proto::codec::encode;
use chat_proto::{CodecError, ServerFrame};

use super::Stored;

/// Appends `message` of the room shown as `room` to `wire` as a whole `Msg` frame: many of
/// them back to back are the one buffer every member's queue gets.
pub fn push_message(wire: &mut BytesMut, room: &str, message: Stored) -> Result<(), CodecError> {
    let frame = encode(&ServerFrame::Msg {
        room: room.to_owned(),
        from: message.from,
        text: message.text,
        at: message.at,
        seq: message.seq,
    })?;
    wire.extend_from_slice(frame.as_bytes());
    Ok(())
}
