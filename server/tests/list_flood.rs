//! The user-list flood: 900 people online with 32-character names (so each `UserList` is
//! about 30 KB), then 60 connections that each ask for the list 200 times and never read.
//! Bounded by entries alone, each of them could pin 200 unique lists (6 MB, 360 MB in all);
//! bounded in bytes (`send_queue_bytes`), each is dropped as a slow consumer holding at most
//! its budget, while a conversation in `lobby` goes on without losing a message.
//!
//! Its own test binary, so that no other test's allocations count against the bound.

mod common;

use chat_proto::codec::encode;
use chat_proto::{ClientFrame, ServerFrame};
use chat_server::Config;
use common::{hello, logs, start_with, status_kib, test_config};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpSocket;

/// Idle people online, each named with 32 characters.
const IDLE: usize = 900;
/// Connections that flood the server with list requests and never read.
const FLOODERS: usize = 60;
/// `ListUsers` each flooder sends, in one write.
const REQUESTS: usize = 200;
/// Messages said in `lobby` while the flood goes on.
const MESSAGES: usize = 300;
/// The byte budget of each client's queue in this test: smaller than the default so the
/// bound is tight, and still seven user lists of 30 KB.
const SEND_QUEUE_BYTES: usize = 256 << 10;
/// What the bound allows beyond the flooders' budgets: their connections' read buffers and
/// tasks, the test's own 60 sockets, and the allocator's slack. Measured on a debug build:
/// see the figure this test prints.
const OVERHEAD_KIB: u64 = 24 * 1024;

/// A 32-character name, unique for `i`.
fn idle_name(i: usize) -> String {
    let name = format!("idle_{i:04}_");
    format!("{name}{}", "x".repeat(32 - name.len()))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_list_flood_is_bounded_in_bytes_and_the_room_loses_nothing() {
    rlimit::increase_nofile_limit(10_000).unwrap();
    logs::capture();
    let server = start_with(Config {
        send_queue_bytes: SEND_QUEUE_BYTES,
        ..test_config()
    })
    .await;

    let mut idle = Vec::new();
    for i in 0..IDLE {
        idle.push(server.register_only(&idle_name(i)).await);
    }
    let mut witness = server.register("witness").await;
    let mut sender = server.register("sender").await;
    assert!(matches!(
        witness.recv().await,
        ServerFrame::UserJoined { .. }
    ));

    // The bound starts from here: what the flood and the conversation add.
    let _ = std::fs::write("/proc/self/clear_refs", "5");
    let rss_before = status_kib("VmRSS:");

    let mut flooders = Vec::new();
    for i in 0..FLOODERS {
        let socket = TcpSocket::new_v4().unwrap();
        socket.set_recv_buffer_size(4096).unwrap();
        let mut stream = socket.connect(server.addr).await.unwrap();
        let peer = stream.local_addr().unwrap().to_string();
        let mut bytes = encode(&hello(&format!("flood{i}")))
            .unwrap()
            .as_bytes()
            .to_vec();
        for _ in 0..REQUESTS {
            bytes.extend_from_slice(encode(&ClientFrame::ListUsers).unwrap().as_bytes());
        }
        stream.write_all(&bytes).await.unwrap();
        flooders.push((stream, peer));
    }

    // The conversation goes on through the flood: every message reaches the witness, in
    // order, and comes back to its sender.
    for i in 0..MESSAGES {
        let text = format!("message {i}");
        sender.say(&text).await;
        for client in [&mut sender, &mut witness] {
            match client.recv_skipping_notices().await {
                ServerFrame::Msg { text: got, .. } => assert_eq!(got, text),
                other => panic!("expected {text:?}, got {other:?}"),
            }
        }
    }

    // Every flooder is dropped as a slow consumer, with a WARN line naming it.
    for (_, peer) in &flooders {
        logs::warned(peer, "reason=slow consumer").await;
    }
    let peak = status_kib("VmHWM:");
    let growth = peak.saturating_sub(rss_before);
    let bound = (FLOODERS * SEND_QUEUE_BYTES / 1024) as u64 + OVERHEAD_KIB;
    println!(
        "RSS before the flood {rss_before} KiB, peak {peak} KiB, growth {growth} KiB (bound \
         {bound} KiB: {FLOODERS} x send_queue_bytes {} KiB + {OVERHEAD_KIB} KiB)",
        SEND_QUEUE_BYTES / 1024
    );
    assert!(
        growth < bound,
        "peak RSS grew by {growth} KiB, over {bound} KiB"
    );

    // Nobody else was dropped: everyone idle is still online, and still served.
    let asker = &mut idle[IDLE - 1];
    asker.send(ClientFrame::ListUsers).await;
    match asker.recv().await {
        ServerFrame::UserList { users } => {
            assert_eq!(users.len(), IDLE + 2, "online after the flood");
            assert!(users.iter().all(|u| !u.starts_with("flood")), "{users:?}");
        }
        other => panic!("expected the user list, got {other:?}"),
    }
    drop(flooders);
    server.shutdown().await;
}
