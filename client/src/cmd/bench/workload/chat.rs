//! The workload's chat-server side: a person registers and joins its rooms as every
//! benchmark connection does ([`super::super::join`]), sends stamped `Msg` frames and reads
//! the room and text of each `Msg` straight out of the frame body.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::BytesMut;
use chat_proto::codec::{decode_body, encode, FrameCodec, CLIENT_MAX_FRAME};
use chat_proto::{ClientFrame, ServerFrame};
use tokio_util::codec::Decoder;

use super::super::connect::join_failed;
use super::super::join::join;
use super::super::stamp::{msg_room_text, MsgTemplate};
use super::link::{Incoming, Link, Wire, CHUNK};

/// Registers `name` at `addr` and joins `rooms`, within `wait`.
pub async fn connect(
    addr: SocketAddr,
    name: &str,
    rooms: &[String],
    size: usize,
    wait: Duration,
) -> anyhow::Result<Link> {
    let joined = join(addr, name, rooms, CHUNK, wait)
        .await
        .map_err(|e| join_failed(name, e))?;
    let named = joined.rooms.clone();
    let templates = named
        .iter()
        .map(|room| MsgTemplate::new(room, size))
        .collect::<Result<Vec<_>, _>>()?;
    let (reader, write) = joined.split();
    Ok(Link {
        read: reader.read,
        write,
        buf: reader.buf,
        wire: Wire::Chat(FrameCodec::new(CLIENT_MAX_FRAME)),
        rooms: named.into_iter().map(String::into_bytes).collect(),
        templates,
    })
}

/// Cuts `buf` into frames: `Msg` bodies read in place, `Ping` and `Error` decoded, the rest
/// (join notices) passed over.
pub fn decode(
    codec: &mut FrameCodec,
    buf: &mut BytesMut,
    mut on: impl FnMut(Incoming<'_>),
) -> Result<(), String> {
    while let Some(body) = codec.decode(buf).map_err(|e| e.to_string())? {
        if let Some((room, text)) = msg_room_text(&body) {
            on(Incoming::Msg { room, text });
            continue;
        }
        match decode_body::<ServerFrame>(&body) {
            Ok(ServerFrame::Ping) => on(Incoming::Ping),
            Ok(ServerFrame::Error { kind, detail }) => {
                on(Incoming::Error(format!("{kind:?}: {detail}")));
            }
            Ok(_) => {}
            Err(err) => on(Incoming::Error(err.to_string())),
        }
    }
    Ok(())
}

/// Appends a `Pong` frame to `out`.
pub fn pong(out: &mut Vec<u8>) {
    let frame = encode(&ClientFrame::Pong).expect("a Pong is far below any frame limit");
    out.extend_from_slice(frame.as_bytes());
}
