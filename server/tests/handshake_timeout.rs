//! `handshake_timeout`: a connection that does not complete `Hello` in time gets
//! `Error{Timeout}` and is closed, with a WARN line; idle connections cannot hold the
//! server's places for longer than that.

mod common;

use std::collections::HashSet;
use std::time::Duration;

use chat_proto::codec::CLIENT_MAX_FRAME;
use chat_proto::{ErrorKind, FrameReader, ServerFrame};
use chat_server::Config;
use common::{error_of, logs, start_with, test_config, TestClient, TestServer};
use tokio::net::TcpStream;

fn with_timeout(secs: f64) -> Config {
    Config {
        handshake_timeout: Some(Duration::from_secs_f64(secs)),
        ..test_config()
    }
}

/// Waits for the server to close `client` and checks it said `Timeout` first.
async fn timed_out(client: &mut TestClient, limit: &str) {
    match client.until_closed().await.as_slice() {
        [ServerFrame::Error {
            kind: ErrorKind::Timeout,
            detail,
        }] => assert_eq!(detail, &format!("no Hello within {limit}")),
        other => panic!("expected Timeout then a close, got {other:?}"),
    }
    logs::warned(
        &client.peer(),
        &format!("timed out: no Hello within {limit}"),
    )
    .await;
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_told_timeout_and_closed() {
    logs::capture();
    let server = start_with(with_timeout(0.3)).await;
    let mut silent = server.connect().await;
    timed_out(&mut silent, "0.3 s").await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_connection_that_never_completes_hello_is_closed_too() {
    logs::capture();
    let server = start_with(with_timeout(0.5)).await;
    let _ann = server.register("ann").await;
    // Half a frame, then nothing.
    let mut halfway = server.connect().await;
    halfway.conn.write_raw(&[0, 0, 0, 9, 0]).await.unwrap();
    // Busy, but never registered: retrying a taken name does not extend the deadline.
    let mut retrying = server.connect().await;
    for _ in 0..3 {
        assert_eq!(
            error_of(retrying.hello("ann").await).0,
            ErrorKind::NameTaken
        );
    }
    timed_out(&mut halfway, "0.5 s").await;
    timed_out(&mut retrying, "0.5 s").await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_welcomed_client_is_not_subject_to_the_handshake_timeout() {
    let server = start_with(with_timeout(0.2)).await;
    let mut ann = server.register("ann").await;
    let mut bob = server.register("bob").await;
    // Connected after ann and bob: once it has timed out, their connections are older than
    // the handshake timeout, and they are still served.
    let mut probe = server.connect().await;
    match probe.until_closed().await.as_slice() {
        [ServerFrame::Error {
            kind: ErrorKind::Timeout,
            ..
        }] => {}
        other => panic!("{other:?}"),
    }
    ann.say("still here").await;
    assert!(
        matches!(bob.recv_skipping_notices().await, ServerFrame::Msg { text, .. } if text == "still here")
    );
    server.shutdown().await;
}

/// A connection that only connected, read with the raw frame reader.
async fn idle(server: &TestServer) -> (String, FrameReader<TcpStream, ServerFrame>) {
    let stream = TcpStream::connect(server.addr).await.expect("connect");
    let peer = stream.local_addr().unwrap().to_string();
    (peer, FrameReader::new(stream, CLIENT_MAX_FRAME))
}

/// A thousand connections that never say `Hello` fill a server of a thousand and one
/// places. A real client still joins (the last place), one more is refused with
/// `ServerFull`; then the handshake timeout closes every idle one, each told `Timeout`
/// and logged, and their places are free again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_idle_connections_cannot_exhaust_the_server() {
    const IDLE: usize = 1000;
    // Both ends of every connection live in this process: about 2,000 descriptors, over
    // the soft limit of 1,024 many systems start a process with.
    let limit = rlimit::increase_nofile_limit(4 * IDLE as u64).expect("read the open-file limit");
    assert!(
        limit >= 2 * IDLE as u64 + 100,
        "this test needs about {} open files; the hard limit is {limit}",
        2 * IDLE + 100
    );
    logs::capture();
    let server = start_with(Config {
        max_clients: IDLE + 1,
        ..with_timeout(5.0)
    })
    .await;
    let mut idlers = Vec::with_capacity(IDLE);
    for _ in 0..IDLE {
        idlers.push(idle(&server).await);
    }
    // Accepted in order, so the server has taken all the idle ones before bob.
    let mut bob = server.register("bob").await;
    bob.say("room for me").await;
    assert!(matches!(bob.recv().await, ServerFrame::Msg { .. }));
    let mut extra = server.connect().await;
    match extra.until_closed().await.as_slice() {
        [ServerFrame::Error {
            kind: ErrorKind::ServerFull,
            ..
        }] => {}
        other => panic!("expected ServerFull then a close, got {other:?}"),
    }
    logs::warned(&extra.peer(), "Refused connection: the server is full").await;

    let mut peers = HashSet::new();
    for (peer, mut reader) in idlers {
        let first = tokio::time::timeout(common::TIMEOUT, reader.read_frame()).await;
        assert!(
            matches!(
                first,
                Ok(Ok(Some(ServerFrame::Error {
                    kind: ErrorKind::Timeout,
                    ..
                })))
            ),
            "{peer}: {first:?}"
        );
        let end = tokio::time::timeout(common::TIMEOUT, reader.read_frame()).await;
        assert!(matches!(end, Ok(Ok(None))), "{peer}: {end:?}");
        peers.insert(peer);
    }
    logs::wait_for("the last idle connection's timeout", |l| {
        l.contains("timed out: no Hello within 5 s")
    })
    .await;
    let logged: HashSet<String> = logs::lines(|l| l.contains("timed out: no Hello within 5 s"))
        .iter()
        .filter(|l| l.contains(" | WARN | "))
        .filter_map(|l| l.split(' ').find_map(|w| w.strip_prefix("peer=")))
        .map(str::to_owned)
        .collect();
    assert!(
        peers.is_subset(&logged),
        "{} not logged",
        peers.difference(&logged).count()
    );

    let mut carol = server.register_when_room("carol").await;
    carol.say("and for me").await;
    assert!(matches!(carol.recv().await, ServerFrame::Msg { .. }));
    server.shutdown().await;
}
