//! One stalled reader among twenty healthy clients: the healthy ones receive all 20,000
//! broadcasts in order, the stalled one is dropped as a slow consumer (WARN line), and the
//! memory of this process, which hosts the server, stays bounded.
//!
//! Its own test binary, so that no other test's allocations count against the bound.

mod common;

use std::sync::Arc;

use chat_proto::codec::{encode, CLIENT_MAX_FRAME};
use chat_proto::{Backlog, ClientFrame, FrameReader, ServerFrame};
use chat_server::Config;
use common::{hello, logs, start_with, status_kib, test_config, TestClient, LOBBY};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpSocket, TcpStream};
use tokio::sync::Semaphore;

/// Broadcasts sent.
const MESSAGES: usize = 20_000;
/// Healthy clients, the sender included.
const HEALTHY: usize = 20;
/// Bytes of each message: big enough that the stalled client's socket buffers fill and its
/// queue overflows early, and that an unbounded queue would hold about 80 MB.
const MESSAGE_BYTES: usize = 4_000;
/// Messages the sender may have in flight before it waits for its own echoes, as
/// `chat-client send -` does: a sender that only writes would flood its own queue.
const WINDOW: usize = 64;
/// The bound on the growth of this process's peak resident memory (VmHWM over the VmRSS
/// before the server started), server and all twenty-one clients included. The stalled
/// client's queue holds at most `send_queue_bytes` (4 MiB). Measured on a debug build: 6.5
/// to 18 MiB of growth (the writer's batching changes it); with the queue made practically
/// unbounded the same run grew by 77 MiB and never dropped the stalled client.
const RSS_GROWTH_BOUND_KIB: u64 = 48 * 1024;

/// `Join` for `lobby`, where every client of this test talks.
fn join() -> ClientFrame {
    ClientFrame::Join {
        room: LOBBY.into(),
        backlog: Backlog::None,
    }
}

fn text(i: usize) -> String {
    let mut text = format!("{i:05} ");
    text.push_str(&"x".repeat(MESSAGE_BYTES - text.len()));
    text
}

/// Reads until `MESSAGES` room messages have arrived, checking each is the next in order;
/// presence frames (joins, the stalled client leaving) are skipped, anything else fails.
async fn receive_all(mut client: TestClient, name: String) -> String {
    let mut next = 0;
    while next < MESSAGES {
        match client.recv().await {
            ServerFrame::Msg { text, .. } => {
                assert!(
                    text.starts_with(&format!("{next:05} ")),
                    "{name}: expected message {next}, got {}",
                    &text[..5]
                );
                next += 1;
            }
            ServerFrame::UserJoined { .. } | ServerFrame::UserLeft { .. } => {}
            other => panic!("{name}: {other:?}"),
        }
    }
    name
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_reader_is_dropped_and_twenty_healthy_clients_get_all_20000_in_order() {
    logs::capture();
    let rss_before = status_kib("VmRSS:");
    let config = Config {
        buffsize: 8 * 1024,
        ..test_config()
    };
    let send_queue_bytes = config.send_queue_bytes;
    let server = start_with(config).await;

    // The stalled reader: registers and joins lobby, then never reads again. A small
    // receive buffer, so the kernel absorbs little before the server's queue takes over.
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stalled = socket.connect(server.addr).await.unwrap();
    let stalled_peer = stalled.local_addr().unwrap().to_string();
    let (stalled_read, mut stalled_write) = stalled.into_split();
    let mut stalled_frames = FrameReader::<_, ServerFrame>::new(stalled_read, CLIENT_MAX_FRAME);
    for frame in [hello("stalled"), join()] {
        stalled_write
            .write_all(encode(&frame).unwrap().as_bytes())
            .await
            .unwrap();
    }
    assert!(matches!(
        stalled_frames.read_frame().await,
        Ok(Some(ServerFrame::Welcome { .. }))
    ));
    assert!(matches!(
        stalled_frames.read_frame().await,
        Ok(Some(ServerFrame::Joined { .. }))
    ));

    let mut receivers = Vec::new();
    for i in 1..HEALTHY {
        let name = format!("healthy{i}");
        let client = server.register(&name).await;
        receivers.push(tokio::spawn(receive_all(client, name)));
    }

    // The sender, also healthy: writes with a window of unconfirmed messages and reads
    // every broadcast, its own echoes included, in order.
    let stream = TcpStream::connect(server.addr).await.unwrap();
    let (read, mut write) = stream.into_split();
    for frame in [hello("sender"), join()] {
        write
            .write_all(encode(&frame).unwrap().as_bytes())
            .await
            .unwrap();
    }
    let window = Arc::new(Semaphore::new(WINDOW));
    let echoes = {
        let window = window.clone();
        let mut frames = FrameReader::<_, ServerFrame>::new(read, CLIENT_MAX_FRAME);
        tokio::spawn(async move {
            let mut next = 0;
            while next < MESSAGES {
                let frame = tokio::time::timeout(common::TIMEOUT, frames.read_frame())
                    .await
                    .expect("the sender's next frame in time")
                    .expect("a well-formed frame")
                    .expect("the sender stays connected");
                match frame {
                    ServerFrame::Msg { text, .. } => {
                        assert!(text.starts_with(&format!("{next:05} ")), "sender: {next}");
                        next += 1;
                        window.add_permits(1);
                    }
                    ServerFrame::Welcome { .. }
                    | ServerFrame::Joined { .. }
                    | ServerFrame::UserJoined { .. }
                    | ServerFrame::UserLeft { .. } => {}
                    other => panic!("sender: {other:?}"),
                }
            }
        })
    };
    for i in 0..MESSAGES {
        window.acquire().await.expect("open").forget();
        let frame = encode(&ClientFrame::Msg {
            room: LOBBY.into(),
            text: text(i),
        })
        .unwrap();
        write.write_all(frame.as_bytes()).await.unwrap();
    }
    echoes.await.expect("the sender got every message in order");
    for receiver in receivers {
        receiver
            .await
            .expect("a healthy client got every message in order");
    }

    // The stalled one was dropped as a slow consumer, with a WARN line, long before the end.
    logs::warned(&stalled_peer, "stalled left").await;
    let line = logs::warned(&stalled_peer, "reason=slow consumer").await;
    assert!(line.contains("stalled left"), "{line}");
    // What it can still read is a gap-free start of the room's messages, then the end.
    let mut got = 0;
    while let Ok(Ok(Some(frame))) =
        tokio::time::timeout(common::TIMEOUT, stalled_frames.read_frame()).await
    {
        if let ServerFrame::Msg { text, .. } = frame {
            assert!(text.starts_with(&format!("{got:05} ")), "stalled: {got}");
            got += 1;
        }
    }
    assert!(got < MESSAGES / 2, "the stalled client received {got}");

    let peak = status_kib("VmHWM:");
    let growth = peak.saturating_sub(rss_before);
    println!(
        "RSS before {rss_before} KiB, peak {peak} KiB, growth {growth} KiB (bound \
         {RSS_GROWTH_BOUND_KIB} KiB); the stalled client got {got} of {MESSAGES} messages \
         (send_queue_bytes {send_queue_bytes})"
    );
    assert!(
        growth < RSS_GROWTH_BOUND_KIB,
        "peak RSS grew by {growth} KiB, over the bound of {RSS_GROWTH_BOUND_KIB} KiB"
    );
    server.shutdown().await;
}
