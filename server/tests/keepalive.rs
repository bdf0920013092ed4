//! Keepalive: a registered client silent for `ping_interval` is sent `Ping`; one that
//! answers stays, one that sends nothing within `ping_timeout` is told `Timeout` and closed.

mod common;

use std::time::Duration;

use chat_proto::{ClientFrame, ErrorKind, LeftReason, ServerFrame};
use chat_server::Config;
use common::{joined, left, logs, presence, start_with, test_config};

#[tokio::test]
async fn a_client_that_answers_pings_stays_and_a_silent_one_is_closed() {
    logs::capture();
    let server = start_with(Config {
        ping_interval: Some(Duration::from_millis(300)),
        // Generous, so a busy machine cannot make the answering client late.
        ping_timeout: Duration::from_secs(2),
        ..test_config()
    })
    .await;
    let mut alive = server.register("alive").await;
    let mut dead = server.register("dead").await;
    let dead_peer = dead.peer();

    // The answering one, meanwhile: it sees only pings and the other's join and leave,
    // across more than the silent one's whole life, and is still connected after.
    let alive = tokio::spawn(async move {
        let mut pings = 0;
        let mut notices = Vec::new();
        while pings < 3 || notices.len() < 2 {
            match alive.recv().await {
                ServerFrame::Ping => {
                    pings += 1;
                    alive.send(ClientFrame::Pong).await;
                }
                other => {
                    notices.push(presence(&other).unwrap_or_else(|| panic!("alive got {other:?}")))
                }
            }
        }
        alive.say("still here").await;
        loop {
            match alive.recv().await {
                ServerFrame::Ping => alive.send(ClientFrame::Pong).await,
                ServerFrame::Msg { text, .. } => return (pings, notices, text),
                other => panic!("alive got {other:?}"),
            }
        }
    });

    // The silent one: pinged, never answers, told why, closed.
    assert_eq!(dead.recv().await, ServerFrame::Ping);
    match dead.until_closed().await.as_slice() {
        [ServerFrame::Error {
            kind: ErrorKind::Timeout,
            detail,
        }] => assert_eq!(detail, "no answer to a ping within 2 s"),
        other => panic!("expected Timeout then a close, got {other:?}"),
    }
    logs::warned(&dead_peer, "timed out: no answer to a ping within 2 s").await;

    let (pings, notices, echo) = alive.await.expect("the answering client's task");
    assert!(pings >= 3, "{pings}");
    assert_eq!(
        notices,
        [joined("dead"), left("dead", LeftReason::TimedOut)]
    );
    assert_eq!(echo, "still here");
    server.shutdown().await;
}

/// Any frame counts as a sign of life, not only `Pong`: a client that keeps talking is
/// never pinged.
#[tokio::test]
async fn a_client_that_talks_is_not_pinged() {
    let server = start_with(Config {
        ping_interval: Some(Duration::from_millis(500)),
        ..test_config()
    })
    .await;
    let mut ann = server.register("ann").await;
    // Each round trip is far shorter than the interval: the answers are all Pongs.
    for _ in 0..50 {
        ann.send(ClientFrame::Ping).await;
        assert_eq!(ann.recv().await, ServerFrame::Pong);
    }
    server.shutdown().await;
}
