//! A client in a hundred rooms that sends to all of them as fast as it can, history on,
//! while reading everything that comes back: it is never dropped as a slow consumer, it
//! gets every one of its own messages back in order, and so does a member of every room.
//!
//! A message to another room cannot share a queue entry with the one before it, so such a
//! sender's own confirmations are one entry each; with history kept they come back only
//! once stored, after the sender has read more. A queue bounded in entries dropped it
//! although it read as fast as it could.

mod common;

use std::collections::HashMap;

use chat_proto::codec::encode;
use chat_proto::{Backlog, ClientFrame, FrameReader, ServerFrame};
use chat_server::Config;
use common::{history_config, joined_raw, scratch_dir, start_with};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;

/// One connection's reading half, frames decoded.
type Reader = FrameReader<OwnedReadHalf, ServerFrame>;

/// Rooms the sender is in and sends to, in turn.
const ROOMS: usize = 100;
/// Messages the sender sends to each room.
const PER_ROOM: usize = 200;

fn room(i: usize) -> String {
    format!("room{i}")
}

/// Reads until `expected` messages have come, checking that each room's come in the order
/// sent (`<room index> <n>`, n counting up from 0) and that nothing else but presence does.
async fn receive_in_order(frames: &mut Reader, who: &str, expected: usize) {
    let mut next: HashMap<String, usize> = HashMap::new();
    let mut got = 0;
    while got < expected {
        let frame = tokio::time::timeout(common::TIMEOUT, frames.read_frame())
            .await
            .unwrap_or_else(|_| panic!("{who}: a frame in time ({got} of {expected} so far)"))
            .unwrap_or_else(|err| panic!("{who}: a well-formed frame: {err}"))
            .unwrap_or_else(|| panic!("{who}: dropped after {got} of {expected} messages"));
        match frame {
            ServerFrame::Msg { room, text, .. } => {
                let n: usize = text.split(' ').nth(1).unwrap().parse().unwrap();
                let want = next.entry(room.clone()).or_default();
                assert_eq!(n, *want, "{who}: #{room} out of order");
                *want += 1;
                got += 1;
            }
            ServerFrame::UserJoined { .. } | ServerFrame::UserLeft { .. } => {}
            other => panic!("{who}: after {got} of {expected} messages: {other:?}"),
        }
    }
}

/// Joins rooms 1 to `ROOMS - 1` on a connection already in room 0 ([`joined_raw`]).
async fn join_the_rest(frames: &mut Reader, write: &mut OwnedWriteHalf, who: &str) {
    for i in 1..ROOMS {
        let join = ClientFrame::Join {
            room: room(i),
            backlog: Backlog::None,
        };
        write
            .write_all(encode(&join).unwrap().as_bytes())
            .await
            .unwrap();
        loop {
            match tokio::time::timeout(common::TIMEOUT, frames.read_frame()).await {
                Ok(Ok(Some(ServerFrame::Joined { .. }))) => break,
                Ok(Ok(Some(ServerFrame::UserJoined { .. }))) => {}
                other => panic!("{who}: expected Joined for {}, got {other:?}", room(i)),
            }
        }
    }
}

/// At the built-in queue bounds.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_in_a_hundred_rooms_that_reads_is_never_dropped() {
    let dir = scratch_dir("many-rooms");
    hundred_rooms_at_full_speed(history_config(&dir)).await;
}

/// At the smallest byte bound there is (64 KiB): the sender's messages on their way to the
/// store must pace it too, or their echoes arrive to a queue already half full.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_is_paced_by_its_own_messages_on_their_way() {
    let dir = scratch_dir("many-rooms-small");
    hundred_rooms_at_full_speed(Config {
        send_queue_bytes: chat_server::config::MIN_SEND_QUEUE_BYTES,
        ..history_config(&dir)
    })
    .await;
}

/// A member of every room and a sender in every room that sends to all of them as fast as
/// its socket takes it, both reading everything: both get every message, in order.
async fn hundred_rooms_at_full_speed(config: Config) {
    let server = start_with(Config {
        rooms_per_user: 0,
        ..config
    })
    .await;

    // A member of every room, reading everything.
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let (mut member, mut member_write) = joined_raw(stream, "member", &room(0)).await;
    join_the_rest(&mut member, &mut member_write, "member").await;
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let (mut frames, mut write) = joined_raw(stream, "sender", &room(0)).await;
    join_the_rest(&mut frames, &mut write, "sender").await;

    // Every message to every room in turn, written as fast as the socket takes them, with
    // no window: only the server's pacing of this client's reads holds it back.
    let sender = tokio::spawn(async move {
        let mut chunk = Vec::new();
        for n in 0..PER_ROOM {
            for i in 0..ROOMS {
                let msg = ClientFrame::Msg {
                    room: room(i),
                    text: format!("{i} {n}"),
                };
                chunk.extend_from_slice(encode(&msg).unwrap().as_bytes());
            }
            write.write_all(&chunk).await.unwrap();
            chunk.clear();
        }
        write
    });
    let member_reads = tokio::spawn(async move {
        receive_in_order(&mut member, "member", ROOMS * PER_ROOM).await;
        member_write
    });
    receive_in_order(&mut frames, "sender", ROOMS * PER_ROOM).await;
    drop(member_reads.await.unwrap());
    drop(sender.await.unwrap());
}
