//! `max_queued_bytes`: stalled readers that each stay within their own budget, but together
//! hold more than the server's ceiling. The one holding the most is dropped first as a slow
//! consumer; the others, smaller, keep their place and, once they read again, get every
//! message in order.

mod common;

use chat_proto::{ClientFrame, FrameReader, ServerFrame};
use chat_server::Config;
use common::{joined_raw, logs, start_with, test_config, TestClient, TIMEOUT};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpSocket;

/// The server's ceiling in this test.
const MAX_QUEUED: usize = 22 << 20;
/// Each reader's own budget: above what any of them is sent here.
const SEND_QUEUE_BYTES: usize = 16 << 20;
/// Bytes of each message's text.
const TEXT: usize = 60_000;
/// Messages to the room of the reader that will hold the most: 14 MB.
const BIGGEST: usize = 234;
/// Messages to the room of the second reader: 7 MB.
const SECOND: usize = 117;
/// Readers in rooms of their own that each hold a little more each round, until the total
/// passes the ceiling.
///
/// The kernel takes up to 4 MiB of what is sent to a stalled reader into the socket's send
/// buffer (`tcp_wmem`'s maximum) before the server's queue holds any of it, so each reader
/// holds what it was sent less up to that much. The amounts above keep the order whatever
/// the kernel took: the biggest holds at least 9.8 MB, the second at most 7 MB, and both
/// together at most 21 MB, under the ceiling, so only the small ones take the total over.
const SMALL: usize = 3;

/// A reader that registered, joined `room` and stopped reading.
struct Stalled {
    room: String,
    peer: String,
    frames: FrameReader<OwnedReadHalf, ServerFrame>,
    _write: OwnedWriteHalf,
    /// Messages said in its room.
    said: usize,
}

async fn stalled(addr: std::net::SocketAddr, name: &str, room: &str) -> Stalled {
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = socket.connect(addr).await.unwrap();
    let peer = stream.local_addr().unwrap().to_string();
    let (frames, write) = joined_raw(stream, name, room).await;
    Stalled {
        room: room.into(),
        peer,
        frames,
        _write: write,
        said: 0,
    }
}

/// Says `n` more messages in `reader`'s room, waiting for each to come back to the sender.
async fn fill(sender: &mut TestClient, reader: &mut Stalled, n: usize) {
    for _ in 0..n {
        let text = format!("{:05} {}", reader.said, "x".repeat(TEXT));
        sender.say_in(&reader.room, &text).await;
        match sender.recv_skipping_notices().await {
            ServerFrame::Msg { text: got, .. } => assert_eq!(got, text),
            other => panic!("expected the sender's echo, got {other:?}"),
        }
        reader.said += 1;
    }
}

/// Reads every message said in `reader`'s room, in order.
async fn read_all(reader: &mut Stalled) {
    let mut next = 0;
    while next < reader.said {
        let frame = tokio::time::timeout(TIMEOUT, reader.frames.read_frame())
            .await
            .expect("the next frame in time")
            .expect("a well-formed frame")
            .expect("still connected");
        match frame {
            ServerFrame::Msg { text, .. } => {
                assert!(text.starts_with(&format!("{next:05} ")), "#{}", reader.room);
                next += 1;
            }
            ServerFrame::UserJoined { .. } => {}
            other => panic!("#{}: {other:?}", reader.room),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn over_the_ceiling_the_largest_queue_goes_first_and_the_rest_are_served() {
    logs::capture();
    let server = start_with(Config {
        buffsize: 64 * 1024,
        send_queue_bytes: SEND_QUEUE_BYTES,
        max_queued_bytes: MAX_QUEUED,
        ..test_config()
    })
    .await;
    let mut sender = server.register_only("sender").await;
    let mut biggest = stalled(server.addr, "biggest", "r-biggest").await;
    let mut second = stalled(server.addr, "second", "r-second").await;
    let mut small = Vec::new();
    for i in 0..SMALL {
        small.push(stalled(server.addr, &format!("small{i}"), &format!("r-small{i}")).await);
    }
    for reader in [&biggest, &second].into_iter().chain(&small) {
        sender.join(&reader.room).await;
    }

    // The two big ones together stay under the ceiling; the small ones take the total over.
    fill(&mut sender, &mut biggest, BIGGEST).await;
    fill(&mut sender, &mut second, SECOND).await;
    assert!(logs::lines(|l| l.contains("max_queued_bytes")).is_empty());
    let over = |l: &str| l.contains("over max_queued_bytes");
    let mut rounds = 0;
    while logs::lines(over).is_empty() {
        rounds += 1;
        assert!(rounds <= 400, "never over the ceiling");
        for reader in &mut small {
            fill(&mut sender, reader, 1).await;
        }
        tokio::task::yield_now().await;
    }
    let warning = logs::wait_for("about the ceiling", over).await;
    assert!(warning.contains("dropped 1 of the clients"), "{warning}");

    // The one holding the most went, as a slow consumer.
    logs::warned(&biggest.peer, "reason=slow consumer").await;
    // The others were kept: they read everything said in their rooms, in order.
    read_all(&mut second).await;
    for reader in &mut small {
        read_all(reader).await;
    }
    for reader in [&second].into_iter().chain(&small) {
        let dropped = logs::lines(|l| logs::names_peer(l, &reader.peer) && l.contains("slow"));
        assert!(dropped.is_empty(), "{dropped:?}");
    }
    sender.send(ClientFrame::ListUsers).await;
    match sender.recv_skipping_notices().await {
        ServerFrame::UserList { users } => {
            assert_eq!(users, ["second", "sender", "small0", "small1", "small2"]);
        }
        other => panic!("expected the user list, got {other:?}"),
    }
    server.shutdown().await;
}
