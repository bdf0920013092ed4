//! One member of the crowd: in its room, reading, answering pings, checking every `seq`
//! ([`Seqs`]); when its connection ends (the server restarted, or `--storm drop`), it
//! reconnects and rejoins with `Backlog::After(its last seq)`, pages through the catch-up
//! if it is long, and is back once it has it all. One task per member, with a 256-byte
//! read buffer, so a hundred thousand fit in one process.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bincode::Options;
use bytes::BytesMut;
use chat_proto::codec::{bincode_options, decode_body, encode, FrameCodec, CLIENT_MAX_FRAME};
use chat_proto::{Backlog, ClientFrame, Cursor, ServerFrame};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::codec::Decoder;

use super::dial::{rejoin, Caller};
use super::seqs::{Caught, Seqs};
use super::state::Crowd;
use super::Storm;
use crate::cmd::bench::join::{answer_pings, Joined};
use crate::cmd::bench::layout::receiver_name;
use crate::cmd::bench::stamp::MSG_TAG;

/// What one member saw over the whole run.
#[derive(Debug, Default)]
pub struct Tally {
    /// Its numbering: first and last `seq`, counts of missed and repeated messages.
    pub seqs: Seqs,
    /// Times its connection ended.
    pub drops: u64,
    /// It could not get back before the run stopped, or its connection ended with no storm
    /// to come back from: why.
    pub gone: Option<String>,
    /// `Error` frames from the server (the first few).
    pub errors: Vec<String>,
}

/// How a connection's reading ended.
enum Ended {
    /// The run is over.
    Stopped,
    /// The connection ended: why.
    Lost(String),
}

/// Member `slot`, joined: reads until the run stops, coming back after every drop.
pub async fn member(slot: usize, mut joined: Joined, crowd: Arc<Crowd>) -> Tally {
    let mut tally = Tally::default();
    let mut may_drop = crowd.storm == Storm::Drop;
    let mut catching_up = false;
    loop {
        match serve(slot, joined, catching_up, &mut may_drop, &mut tally, &crowd).await {
            Ended::Stopped => break,
            Ended::Lost(why) => {
                tally.drops += 1;
                tally.seqs.dropped();
                crowd.lost(slot);
                if crowd.storm == Storm::None {
                    tally.gone = Some(why);
                    break;
                }
                let name = receiver_name(&crowd.prefix, slot);
                let last = tally.seqs.last();
                let caller = Caller {
                    name: &name,
                    rooms: crowd.room(slot),
                    from: crowd.source(slot),
                    backlog: last.map_or(Backlog::None, Backlog::After),
                    key: slot,
                };
                match rejoin(&crowd, caller, &crowd.stop).await {
                    Some(again) => {
                        joined = again;
                        catching_up = last.is_some();
                        if !catching_up {
                            crowd.caught_up(slot);
                        }
                    }
                    None => {
                        tally.gone = Some(format!("not back before the run stopped ({why})"));
                        break;
                    }
                }
            }
        }
    }
    tally
}

/// Reads one connection until it ends or the run stops; `catching_up`: it has just
/// rejoined and its catch-up follows.
async fn serve(
    slot: usize,
    joined: Joined,
    mut catching_up: bool,
    may_drop: &mut bool,
    tally: &mut Tally,
    crowd: &Crowd,
) -> Ended {
    let (reader, mut write) = joined.split();
    let (mut read, mut buf, chunk, room) = (reader.read, reader.buf, reader.chunk, reader.room);
    let mut codec = FrameCodec::new(CLIENT_MAX_FRAME);
    let stopped = crowd.stop.cancelled();
    let drop_now = crowd.drop_now.cancelled();
    tokio::pin!(stopped, drop_now);
    loop {
        let mut owed_pongs = 0;
        let mut page_after = None;
        loop {
            let body = match codec.decode(&mut buf) {
                Ok(Some(body)) => body,
                Ok(None) => break,
                Err(err) => return Ended::Lost(err.to_string()),
            };
            if let Some((_, seq)) = msg_room_seq(&body) {
                tally.seqs.live(seq);
                crowd.first_message(slot);
                continue;
            }
            match decode_body::<ServerFrame>(&body) {
                Ok(ServerFrame::History {
                    messages,
                    more,
                    missed,
                    ..
                }) => match tally
                    .seqs
                    .page(messages.iter().map(|m| m.seq), more, missed)
                {
                    Caught::PageAfter(seq) => page_after = Some(seq),
                    Caught::Up if catching_up => {
                        catching_up = false;
                        crowd.caught_up(slot);
                    }
                    Caught::Up => {}
                },
                Ok(ServerFrame::Ping) => owed_pongs += 1,
                Ok(ServerFrame::Error { kind, detail }) if tally.errors.len() < 4 => {
                    tally.errors.push(format!("{kind:?}: {detail}"));
                }
                Ok(_) => {}
                Err(err) => return Ended::Lost(err.to_string()),
            }
        }
        if let Some(last) = tally.seqs.last() {
            crowd.last_seq[slot].store(last, Ordering::Release);
        }
        if owed_pongs > 0 {
            if let Err(err) = answer_pings(&mut write, owed_pongs).await {
                return Ended::Lost(format!("write: {err}"));
            }
        }
        if let Some(after) = page_after {
            let request = encode(&ClientFrame::History {
                room: room.clone(),
                from: Cursor::After(after),
                limit: u32::MAX,
            })
            .expect("a History request is far below any frame limit");
            if let Err(err) = write.write_all(request.as_bytes()).await {
                return Ended::Lost(format!("write: {err}"));
            }
        }
        if buf.is_empty() && buf.capacity() > 4 * chunk {
            // A catch-up grew it: a hundred thousand members keep only their small one.
            buf = BytesMut::with_capacity(chunk);
        } else if buf.capacity() - buf.len() < chunk / 4 {
            buf.reserve(chunk);
        }
        tokio::select! {
            biased;
            () = &mut stopped => return Ended::Stopped,
            () = &mut drop_now, if *may_drop => {
                *may_drop = false;
                return Ended::Lost("dropped by the benchmark".to_owned());
            }
            read = read.read_buf(&mut buf) => match read {
                Ok(0) => return Ended::Lost("closed by the server".to_owned()),
                Ok(n) => {
                    crowd.bytes_in.fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(err) => return Ended::Lost(format!("read: {err}")),
            },
        }
    }
}

/// The room and `seq` of a `ServerFrame::Msg` body, read in place; `None` for any other
/// frame.
pub fn msg_room_seq(body: &[u8]) -> Option<(&[u8], u64)> {
    let (&tag, fields) = body.split_first()?;
    if tag != MSG_TAG {
        return None;
    }
    let (room, _from, _text, _at, seq): (&[u8], &[u8], &[u8], i64, u64) =
        bincode_options(fields.len()).deserialize(fields).ok()?;
    Some((room, seq))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The `seq` read in place is the one encoded, and other frames have none.
    #[test]
    fn a_message_seq_is_read_in_place() {
        let frame = encode(&ServerFrame::Msg {
            room: "lobby".into(),
            from: "bench-p0".into(),
            text: "storm 7".into(),
            at: 1_779_000_000_000,
            seq: 123_456_789,
        })
        .unwrap();
        assert_eq!(
            msg_room_seq(frame.body()),
            Some((&b"lobby"[..], 123_456_789))
        );
        assert_eq!(
            msg_room_seq(encode(&ServerFrame::Ping).unwrap().body()),
            None
        );
    }
}
