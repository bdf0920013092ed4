//! Flood control over real TCP: past the burst a message is refused with `RateLimited` and
//! reaches nobody; a client that keeps at it is disconnected with `Flooding`; `Ping` is never
//! metered; `messages_per_second = 0` turns it all off.

mod common;

use chat_proto::{ClientFrame, ErrorKind, LeftReason, ServerFrame};
use chat_server::Config;
use common::{joined, left, logs, presence, start_with, test_config, LOBBY};

/// A bucket that does not refill during a test: one token per thousand seconds.
fn strict(burst: u32, disconnect_after: u32) -> Config {
    Config {
        messages_per_second: 0.001,
        burst,
        flood_disconnect_after: disconnect_after,
        ..test_config()
    }
}

#[tokio::test]
async fn past_the_burst_messages_are_refused_and_a_flood_is_disconnected() {
    logs::capture();
    let server = start_with(strict(4, 5)).await;
    let mut reader = server.register("reader").await;
    let mut flooder = server.register("flooder").await;
    assert_eq!(reader.recv_presence().await, joined("flooder"));
    // The Hello and the Join took two tokens of four: two messages pass.
    for i in 0..2 {
        flooder.say(&format!("hi {i}")).await;
        assert!(matches!(flooder.recv().await, ServerFrame::Msg { .. }));
    }
    flooder.say("one too many").await;
    let (kind, detail) = flooder.recv_error().await;
    assert_eq!(kind, ErrorKind::RateLimited);
    assert!(
        detail.contains("at most 0.001 messages per second"),
        "{detail}"
    );
    logs::warned(&flooder.peer(), "Rate limiting").await;
    // A whisper is metered too; a ping is not.
    flooder
        .send(ClientFrame::Whisper {
            to: "reader".into(),
            text: "psst".into(),
        })
        .await;
    assert_eq!(flooder.recv_error().await.0, ErrorKind::RateLimited);
    flooder.send(ClientFrame::Ping).await;
    assert_eq!(flooder.recv().await, ServerFrame::Pong);
    // Refusals three and four, then the fifth ends it.
    for _ in 0..2 {
        flooder.say("more").await;
        assert_eq!(flooder.recv_error().await.0, ErrorKind::RateLimited);
    }
    flooder.say("and more").await;
    match flooder.until_closed().await.as_slice() {
        [ServerFrame::Error {
            kind: ErrorKind::Flooding,
            detail,
        }] => assert!(
            detail.contains("5 messages refused within 10 s"),
            "{detail}"
        ),
        other => panic!("expected Flooding then a close, got {other:?}"),
    }
    logs::warned(&flooder.peer(), "flooder left").await;
    // The reader got the two messages that passed and nothing refused, then heard that the
    // flooder was disconnected by the server.
    let mut texts = Vec::new();
    loop {
        match reader.recv().await {
            ServerFrame::Msg { text, .. } => texts.push(text),
            other => {
                assert_eq!(
                    presence(&other),
                    Some(left("flooder", LeftReason::Refused)),
                    "reader got {other:?}"
                );
                break;
            }
        }
    }
    assert_eq!(texts, ["hi 0", "hi 1"]);
    server.shutdown().await;
}

#[tokio::test]
async fn a_zero_rate_lets_a_burst_of_500_through() {
    let server = start_with(Config {
        messages_per_second: 0.0,
        ..test_config()
    })
    .await;
    let mut ann = server.register("ann").await;
    for i in 0..500 {
        ann.conn
            .feed_frame(&ClientFrame::Msg {
                room: LOBBY.into(),
                text: format!("m{i}"),
            })
            .await
            .unwrap();
    }
    ann.conn.flush().await.unwrap();
    for i in 0..500 {
        match ann.recv().await {
            ServerFrame::Msg { text, .. } => assert_eq!(text, format!("m{i}")),
            other => panic!("message {i}: {other:?}"),
        }
    }
    server.shutdown().await;
}

/// The shipped defaults let a person's quick exchange through: ten frames at once, the
/// Hello and the Join to `lobby` among them.
#[tokio::test]
async fn the_default_burst_suits_people_typing() {
    let server = start_with(Config {
        max_clients: 0,
        max_per_ip: 0,
        ..Config::default()
    })
    .await;
    let mut ann = server.register("ann").await;
    // The Hello and the Join took two tokens of ten.
    for i in 0..8 {
        ann.say(&format!("quick {i}")).await;
        assert!(matches!(ann.recv().await, ServerFrame::Msg { .. }), "{i}");
    }
    server.shutdown().await;
}
