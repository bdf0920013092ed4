//! Room messages: everyone gets every message, in one order, stamped by the server; a client
//! that stops reading is dropped without costing anyone else a message.

mod common;

use std::collections::HashMap;

use chat_proto::{ClientFrame, ErrorKind, LeftReason, ServerFrame};
use chat_server::Config;
use common::{joined, left, presence, start_server, start_with, TestClient, LOBBY};

/// Messages each sender sends in the ordering test.
const PER_SENDER: usize = 200;

/// Reads `count` room messages (skipping presence frames) as `(from, text)`.
async fn read_messages(client: &mut TestClient, count: usize) -> Vec<(String, String)> {
    let mut got = Vec::with_capacity(count);
    while got.len() < count {
        match client.recv_skipping_notices().await {
            ServerFrame::Msg { from, text, .. } => got.push((from, text)),
            other => panic!("expected a room message, got {other:?}"),
        }
    }
    got
}

/// Five clients, three of them sending 200 messages each at the same time: every client,
/// the senders included, receives all 600 in one identical order, and each sender's
/// messages keep the order they were sent in.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_client_sees_every_message_in_one_order() {
    let server = start_server().await;
    let names = ["s0", "s1", "s2", "r0", "r1"];
    let mut clients = Vec::new();
    for name in names {
        clients.push(server.register(name).await);
    }
    let total = 3 * PER_SENDER;
    let mut tasks = Vec::new();
    for (i, mut client) in clients.into_iter().enumerate() {
        tasks.push(tokio::spawn(async move {
            if i < 3 {
                for n in 0..PER_SENDER {
                    let frame = ClientFrame::Msg {
                        room: LOBBY.into(),
                        text: format!("s{i} message {n}"),
                    };
                    client.conn.feed_frame(&frame).await.unwrap();
                    if n % 7 == 0 {
                        client.conn.flush().await.unwrap();
                        tokio::task::yield_now().await;
                    }
                }
                client.conn.flush().await.unwrap();
            }
            read_messages(&mut client, total).await
        }));
    }
    let mut orders = Vec::new();
    for task in tasks {
        orders.push(task.await.unwrap());
    }

    let first = &orders[0];
    for (name, order) in names.iter().zip(&orders) {
        assert!(order == first, "{name} saw another order than s0");
    }
    let mut next_of: HashMap<&str, usize> = HashMap::new();
    for (from, text) in first {
        let n = next_of.entry(from.as_str()).or_default();
        assert_eq!(text, &format!("{from} message {n}"), "per-sender order");
        *n += 1;
    }
    assert_eq!(next_of.len(), 3);
    assert!(next_of.values().all(|&n| n == PER_SENDER), "{next_of:?}");
    // Interleaved, not one sender after another: the test exercised concurrent senders.
    let switches = first.windows(2).filter(|w| w[0].0 != w[1].0).count();
    assert!(
        switches > 2,
        "the senders never interleaved ({switches} switches)"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn the_server_sets_from_and_at() {
    let server = start_server().await;
    let mut ann = server.register("Ann").await;
    let mut bob = server.register("bob").await;
    let before = chrono_now();
    ann.say("hello").await;
    for client in [&mut ann, &mut bob] {
        match client.recv_skipping_notices().await {
            ServerFrame::Msg {
                room,
                from,
                text,
                at,
                seq,
            } => {
                assert_eq!(
                    (room.as_str(), from.as_str(), text.as_str(), seq),
                    (LOBBY, "Ann", "hello", 1)
                );
                assert!(at >= before && at <= chrono_now(), "at = {at}");
            }
            other => panic!("expected Msg, got {other:?}"),
        }
    }
    server.shutdown().await;
}

/// Unix milliseconds by the test's clock, as the server stamps `at`.
fn chrono_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test]
async fn an_invalid_message_is_refused_and_reaches_nobody() {
    let server = start_server().await;
    let mut ann = server.register("ann").await;
    let mut bob = server.register("bob").await;
    for bad in ["", "   ", "bell\u{7}", "line\nbreak"] {
        ann.say(bad).await;
        assert_eq!(
            ann.recv_error().await.0,
            ErrorKind::InvalidMessage,
            "{bad:?}"
        );
    }
    ann.say("fine").await;
    match bob.recv_skipping_notices().await {
        ServerFrame::Msg { text, .. } => assert_eq!(text, "fine"),
        other => panic!("expected the valid message first, got {other:?}"),
    }
    server.shutdown().await;
}

/// Text that would show others something other than what was sent (a right-to-left
/// override turning `txt.exe` into `exe.txt`, an isolate, a lone zero-width space) is
/// refused as an invalid message naming the character, in a room and in a whisper, and
/// reaches nobody; a joiner inside an emoji sequence goes through.
#[tokio::test]
async fn text_that_reorders_or_hides_itself_is_refused_naming_the_character() {
    let server = start_server().await;
    let mut ann = server.register("ann").await;
    let mut bob = server.register("bob").await;
    for (bad, named) in [
        ("see \u{202E}txt.exe", "U+202E"),
        ("\u{2067}admin\u{2069} says hi", "U+2067"),
        ("\u{200B}", "U+200B"),
    ] {
        ann.say(bad).await;
        let (kind, detail) = ann.recv_error().await;
        assert_eq!(kind, ErrorKind::InvalidMessage, "{bad:?}");
        assert!(detail.contains(named), "{bad:?}: {detail}");
        ann.send(ClientFrame::Whisper {
            to: "bob".into(),
            text: bad.into(),
        })
        .await;
        let (kind, detail) = ann.recv_error().await;
        assert_eq!(kind, ErrorKind::InvalidMessage, "whisper {bad:?}");
        assert!(detail.contains(named), "whisper {bad:?}: {detail}");
    }
    let family = "\u{1F468}\u{200D}\u{1F469}\u{200D}\u{1F467} at home";
    ann.say(family).await;
    match bob.recv_skipping_notices().await {
        ServerFrame::Msg { from, text, .. } => {
            assert_eq!((from.as_str(), text.as_str()), ("ann", family))
        }
        other => panic!("expected the family message first, got {other:?}"),
    }
    server.shutdown().await;
}

/// A registered client that never reads is dropped as a slow consumer once its queue is
/// full; the others keep receiving every message, in order, and are told it left and why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stops_reading_is_dropped_and_nobody_else_misses_a_message() {
    let server = start_with(Config {
        buffsize: 64 * 1024,
        send_queue: 8,
        ..common::test_config()
    })
    .await;
    let mut talker = server.register("talker").await;
    let mut stalled = server.register("stalled").await;
    let mut watcher = server.register("watcher").await;
    // 32 KB messages fill the stalled client's socket buffers, then its 8-frame queue.
    let body = "x".repeat(32 * 1024);
    let mut sent = 0;
    let mut gone_seen = false;
    let mut watcher_got = 0;
    while !gone_seen {
        assert!(sent < 2_000, "the stalled client was never dropped");
        talker.say(&format!("{sent} {body}")).await;
        // The talker waits for its own echo, reading any presence frame before it.
        loop {
            let frame = talker.recv().await;
            match (&frame, presence(&frame)) {
                (ServerFrame::Msg { text, .. }, _) => {
                    assert!(text.starts_with(&format!("{sent} ")));
                    break;
                }
                (_, Some(news)) => {
                    let gone = left("stalled", LeftReason::SlowConsumer);
                    assert!(
                        news == joined("watcher") || news == joined("stalled") || news == gone,
                        "{news:?}"
                    );
                    gone_seen |= news == gone;
                }
                _ => panic!("talker got {frame:?}"),
            }
        }
        // The watcher reads along and gets every message in order.
        loop {
            match watcher.recv().await {
                ServerFrame::Msg { text, .. } => {
                    assert!(
                        text.starts_with(&format!("{watcher_got} ")),
                        "watcher missed a message"
                    );
                    watcher_got += 1;
                    break;
                }
                other => assert_eq!(
                    presence(&other),
                    Some(left("stalled", LeftReason::SlowConsumer)),
                    "watcher got {other:?}"
                ),
            }
        }
        sent += 1;
    }
    assert_eq!(watcher_got, sent);
    // The stalled client's connection is closed: reading now drains what was written and
    // ends, possibly with the slow-consumer error, and never with more than was sent.
    let mut tail = Vec::new();
    while let Ok(Some(frame)) = tokio::time::timeout(common::TIMEOUT, stalled.conn.read_frame())
        .await
        .expect("the stalled client's stream ends")
    {
        tail.push(frame);
    }
    // What it did get is a gap-free prefix of the messages: never a gap followed by more.
    let texts: Vec<&str> = tail
        .iter()
        .filter_map(|f| match f {
            ServerFrame::Msg { text, .. } => Some(text.as_str()),
            _ => None,
        })
        .collect();
    assert!(
        texts.len() < sent,
        "{} of {sent} messages reached it",
        texts.len()
    );
    for (i, text) in texts.iter().enumerate() {
        assert!(
            text.starts_with(&format!("{i} ")),
            "message {i} out of place"
        );
    }
    if let Some(ServerFrame::Error { kind, .. }) = tail.last() {
        assert_eq!(*kind, ErrorKind::SlowConsumer);
    }
    // The name is free again.
    server.register("stalled").await;
    server.shutdown().await;
}

/// Message text is logged only at DEBUG: at the default INFO level, what people say, in a
/// room message or a whisper, never reaches the log, while their joins and leaves do.
#[tokio::test]
async fn message_text_stays_out_of_the_log_at_info() {
    common::logs::capture();
    let server = start_server().await;
    let mut ann = server.register("ann").await;
    let mut bob = server.register("bob").await;
    ann.say("zanzibar-quartz-7").await;
    assert!(matches!(
        ann.recv_skipping_notices().await,
        ServerFrame::Msg { text, .. } if text == "zanzibar-quartz-7"
    ));
    bob.send(ClientFrame::Whisper {
        to: "ann".into(),
        text: "obsidian-lark-3".into(),
    })
    .await;
    assert!(matches!(
        ann.recv_skipping_notices().await,
        ServerFrame::Whisper { text, .. } if text == "obsidian-lark-3"
    ));
    // Leaving is logged after everything ann's and bob's frames caused, so once the leave
    // line is there, any line about the messages would be too.
    ann.send(ClientFrame::Bye).await;
    ann.until_closed().await;
    common::logs::wait_for("saying ann left", |l| l.contains("ann left")).await;
    let leaks = common::logs::lines(|l| l.contains("zanzibar") || l.contains("obsidian"));
    assert!(leaks.is_empty(), "message text in the log: {leaks:#?}");
    server.shutdown().await;
}
