//! Shutdown: stop accepting, tell everyone, flush, close, exit 0.

mod common;

use chat_proto::ServerFrame;
use common::{
    joined, notice, presence, scratch_dir, start_server, ServerProcess, TestClient, LOBBY,
};

#[tokio::test]
async fn everyone_is_told_then_disconnected_after_what_was_queued() {
    let server = start_server().await;
    let addr = server.addr;
    let mut ann = server.register("ann").await;
    let mut bob = server.register("bob").await;
    assert_eq!(ann.recv_presence().await, joined("bob"));
    let mut lurker = server.connect().await;
    bob.say("last words").await;
    // Wait until the message is through the server, so it is queued before the shutdown.
    assert!(matches!(bob.recv().await, ServerFrame::Msg { .. }));

    server.shutdown().await;

    // Nobody hears of the others leaving once the shutdown began: only the notice follows.
    let rest = ann.until_closed().await;
    assert!(
        matches!(rest.as_slice(),
            [ServerFrame::Msg { text, .. }, ServerFrame::System { text: notice, .. }]
            if text == "last words" && notice == "server shutting down"),
        "{rest:?}"
    );
    let rest = bob.until_closed().await;
    assert_eq!(
        rest.iter().filter_map(notice).collect::<Vec<_>>(),
        ["server shutting down"]
    );
    assert!(rest.iter().all(|f| presence(f).is_none()), "{rest:?}");
    // Not registered: told with an error, then closed.
    match lurker.until_closed().await.as_slice() {
        [ServerFrame::Error { kind, .. }] => {
            assert_eq!(*kind, chat_proto::ErrorKind::ShuttingDown);
        }
        other => panic!("expected ShuttingDown, got {other:?}"),
    }
    // No longer accepting: a connection is refused or, if the kernel still had the
    // listening socket (a test elsewhere in this process forking a child holds a copy of
    // every descriptor until its exec), reset without a single byte from a server.
    if let Ok(stream) = tokio::net::TcpStream::connect(addr).await {
        let mut late = TestClient::over(stream);
        let answer = tokio::time::timeout(common::TIMEOUT, late.conn.read_frame())
            .await
            .expect("the orphaned connection ends in time");
        assert!(
            !matches!(answer, Ok(Some(_))),
            "a server answered after shutdown: {answer:?}"
        );
    }
}

/// The real binary, started on port 0: SIGTERM delivers the notice to a connected client,
/// every step is logged, and the exit code is 0.
#[tokio::test]
async fn sigterm_to_the_binary_notifies_clients_and_exits_0() {
    let dir = scratch_dir("sigterm");
    let mut process = ServerProcess::spawn(&dir, &["--host", "127.0.0.1", "--port", "0"]);
    let addr = process.listening_addr();
    let mut ann = TestClient::connect(addr).await;
    assert!(matches!(
        ann.hello("ann").await,
        ServerFrame::Welcome { .. }
    ));
    process.wait_for_line("ann joined");
    assert_eq!(ann.join(LOBBY).await, ["ann"]);

    process.terminate();

    let rest = ann.until_closed().await;
    assert_eq!(
        rest.iter().filter_map(notice).collect::<Vec<_>>(),
        ["server shutting down"]
    );
    let (status, lines) = process.wait();
    assert_eq!(status.code(), Some(0), "{lines:#?}");
    for step in [
        "Received SIGTERM",
        "Shutting down: no longer accepting connections",
        "Sent the shutdown notice clients=1",
        "ann left",
        "All connections closed",
    ] {
        assert!(
            lines.iter().any(|l| l.contains(step)),
            "no {step:?} in {lines:#?}"
        );
    }
}
