//! TLS: with `[tls] cert` and `key` the listener speaks TLS, and everything above the stream
//! behaves as over plain TCP. Certificates are made at run time: a private CA and a server
//! certificate for `localhost` and 127.0.0.1 signed by it.

mod common;

use std::time::Duration;

use chat_proto::{ErrorKind, LeftReason, ServerFrame};
use chat_server::Config;
use common::pki::Pki;
use common::web::WsStream;
use common::{left, run_to_exit, start_with, TestClient, LOBBY, TIMEOUT};
use rcgen::KeyPair;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads raw bytes until the server closes the connection; panics if it stays open past
/// [`TIMEOUT`].
async fn until_closed(stream: &mut TcpStream) {
    let mut buf = [0u8; 1024];
    loop {
        match tokio::time::timeout(TIMEOUT, stream.read(&mut buf)).await {
            Ok(Ok(0) | Err(_)) => return,
            Ok(Ok(_)) => {}
            Err(_) => panic!("the server kept the connection open"),
        }
    }
}

/// Over TLS, with a client that trusts the server's CA: `Welcome`, a broadcast reaching both
/// clients with the sender's registered name, a whisper, and `Bye` closing cleanly.
#[tokio::test]
async fn tls_clients_are_welcomed_and_chat_as_over_plain_tcp() {
    let pki = Pki::new("tls-chat");
    let server = start_with(pki.config()).await;
    let mut ann = pki.register(&server, "ann").await;
    let mut bob = pki.register(&server, "bob").await;

    ann.say("hello over TLS").await;
    for client in [&mut ann, &mut bob] {
        match client.recv_skipping_notices().await {
            ServerFrame::Msg { from, text, .. } => {
                assert_eq!((from.as_str(), text.as_str()), ("ann", "hello over TLS"));
            }
            other => panic!("expected the broadcast, got {other:?}"),
        }
    }
    bob.send(chat_proto::ClientFrame::Whisper {
        to: "ann".into(),
        text: "psst".into(),
    })
    .await;
    assert!(
        matches!(ann.recv_skipping_notices().await, ServerFrame::Whisper { from, .. } if from == "bob")
    );
    bob.send(chat_proto::ClientFrame::Bye).await;
    assert!(bob
        .until_closed()
        .await
        .iter()
        .all(|f| !matches!(f, ServerFrame::Error { .. })));
    assert_eq!(ann.recv_presence().await, left("bob", LeftReason::Quit));
    server.shutdown().await;
}

/// A plain-TCP client on the TLS port (speaking the chat protocol, or nothing at all) is
/// closed; meanwhile TLS clients are accepted and served, so a handshake that never comes
/// holds up nobody, and the registered client misses nothing.
#[tokio::test]
async fn plain_tcp_on_the_tls_port_is_closed_without_hurting_anyone() {
    let pki = Pki::new("tls-plain-client");
    let server = start_with(Config {
        handshake_timeout: Some(Duration::from_millis(300)),
        ..pki.config()
    })
    .await;
    let mut ann = pki.register(&server, "ann").await;

    // Connected, silent: its TLS handshake never starts.
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    // The chat protocol in the clear: not a TLS record.
    let mut plain = TcpStream::connect(server.addr).await.unwrap();
    let hello = chat_proto::codec::encode(&common::hello("mallory")).unwrap();
    plain.write_all(hello.as_bytes()).await.unwrap();

    // While the silent one still waits for its handshake, a new TLS client is served.
    let mut bob = pki.register(&server, "bob").await;
    ann.say("still here").await;
    for client in [&mut ann, &mut bob] {
        match client.recv_skipping_notices().await {
            ServerFrame::Msg { text, .. } => assert_eq!(text, "still here"),
            other => panic!("expected the broadcast, got {other:?}"),
        }
    }

    until_closed(&mut plain).await;
    // The silent one is closed by the handshake timeout, with a log line.
    until_closed(&mut silent).await;

    ann.send(chat_proto::ClientFrame::ListUsers).await;
    assert_eq!(
        ann.recv_skipping_notices().await,
        ServerFrame::UserList {
            users: vec!["ann".into(), "bob".into()]
        },
        "nobody registered in the clear"
    );
    server.shutdown().await;
}

/// Over the connection limit, a TLS client still learns why: the handshake is made, then
/// `Error{ServerFull}` comes over TLS, and the connection is closed.
#[tokio::test]
async fn a_full_server_tells_a_tls_client_why_over_tls() {
    let pki = Pki::new("tls-full");
    let server = start_with(Config {
        max_clients: 1,
        ..pki.config()
    })
    .await;
    let _ann = pki.register(&server, "ann").await;
    let mut refused = pki.connect(&server).await;
    let frames = refused.until_closed().await;
    assert!(
        matches!(
            frames.as_slice(),
            [ServerFrame::Error {
                kind: ErrorKind::ServerFull,
                ..
            }]
        ),
        "{frames:?}"
    );
    server.shutdown().await;
}

/// A `[tls]` section the server cannot serve stops start-up with exit code 2 and one line
/// naming the config file, the key and the file at fault.
#[test]
fn unusable_tls_files_stop_start_up_naming_the_file() {
    let pki = Pki::new("tls-bad-files");
    std::fs::write(
        pki.dir.join("other-key.pem"),
        KeyPair::generate().unwrap().serialize_pem(),
    )
    .unwrap();
    let cases = [
        (
            "cert = missing.pem\nkey = key.pem\n",
            "config.ini: [tls] cert: missing.pem: cannot read: ",
        ),
        (
            "cert = key.pem\nkey = key.pem\n",
            "config.ini: [tls] cert: key.pem: no PEM CERTIFICATE in it",
        ),
        (
            "cert = cert.pem\nkey = cert.pem\n",
            "config.ini: [tls] key: cert.pem: no PEM PRIVATE KEY in it",
        ),
        (
            "cert = cert.pem\nkey = other-key.pem\n",
            "config.ini: [tls] key: other-key.pem: not usable with cert.pem: ",
        ),
        ("cert = cert.pem\n", "config.ini: [tls] key: missing: "),
    ];
    for (tls, expected) in cases {
        std::fs::write(
            pki.dir.join("config.ini"),
            format!("[server]\nhost = 127.0.0.1\n[tls]\n{tls}"),
        )
        .unwrap();
        let (code, stderr) = run_to_exit(&pki.dir, &["--port", "0"]);
        assert_eq!(code, Some(2), "{tls}: {stderr}");
        assert!(
            stderr.starts_with(&format!("chat-server: {expected}")) && stderr.lines().count() == 1,
            "{tls}: {stderr}"
        );
    }
}

/// With `[tls]` the web listener serves HTTPS and WSS with the same certificate: a page
/// fetched over HTTPS, and a chat over WSS with a TLS client on the chat port.
#[tokio::test]
async fn the_web_listener_serves_https_and_wss_with_the_same_certificate() {
    let pki = Pki::new("tls-web");
    let server = start_with(Config {
        http: common::web::on_free_port(),
        ..pki.config()
    })
    .await;
    let web = server.web_addr.expect("the web listener is on");

    let mut https = pki.tls_to(web).await;
    https
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut answer = String::new();
    tokio::time::timeout(TIMEOUT, https.read_to_string(&mut answer))
        .await
        .expect("an answer in time")
        .unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.ends_with(r#"{"status":"ok"}"#), "{answer}");

    let port = web.port();
    let request = format!("wss://localhost:{port}/ws");
    let (socket, _) = tokio_tungstenite::client_async(request, pki.tls_to(web).await)
        .await
        .expect("the WebSocket handshake over TLS");
    let mut ann = TestClient::over(WsStream::new(socket));
    assert!(matches!(
        ann.hello("ann").await,
        ServerFrame::Welcome { .. }
    ));
    ann.join(LOBBY).await;
    let mut bob = pki.register(&server, "bob").await;
    ann.say("over wss").await;
    match bob.recv_skipping_notices().await {
        ServerFrame::Msg { from, text, .. } => {
            assert_eq!((from.as_str(), text.as_str()), ("ann", "over wss"))
        }
        other => panic!("expected ann's message, got {other:?}"),
    }
    server.shutdown().await;
}
