//! Connection limits: `max_clients` and `max_per_ip`. One connection over either is told
//! why (`ServerFull`, `TooManyConnections`) and closed at once, with a WARN line; the
//! others are not disturbed, and a closed connection gives its place back.

mod common;

use chat_proto::codec::CLIENT_MAX_FRAME;
use chat_proto::{ClientConnection, ClientFrame, ErrorKind, ServerFrame};
use chat_server::Config;
use common::{joined, logs, start_with, test_config, TestClient, TestServer};
use tokio::net::TcpSocket;

/// Connects and expects one error of `kind`, then the close; returns the peer address.
async fn refused(server: &TestServer, kind: ErrorKind) -> String {
    let mut client = server.connect().await;
    // A client sends its Hello at once; the refusal must still arrive intact.
    client.send(common::hello("hopeful")).await;
    match client.until_closed().await.as_slice() {
        [ServerFrame::Error { kind: k, .. }] if *k == kind => {}
        other => panic!("expected {kind:?} then a close, got {other:?}"),
    }
    client.peer()
}

#[tokio::test]
async fn over_max_clients_a_connection_is_told_server_full_and_closed() {
    logs::capture();
    let server = start_with(Config {
        max_clients: 2,
        ..test_config()
    })
    .await;
    let mut ann = server.register("ann").await;
    let mut bob = server.register("bob").await;
    assert_eq!(ann.recv_presence().await, joined("bob"));
    let peer = refused(&server, ErrorKind::ServerFull).await;
    logs::warned(
        &peer,
        "Refused connection: the server is full (2 connections)",
    )
    .await;
    // Nobody inside noticed.
    bob.say("all quiet").await;
    assert!(matches!(ann.recv().await, ServerFrame::Msg { text, .. } if text == "all quiet"));
    // A place freed is a place taken.
    bob.send(ClientFrame::Bye).await;
    bob.until_closed().await;
    let _carol = server.register_when_room("carol").await;
    server.shutdown().await;
}

#[tokio::test]
async fn over_max_per_ip_a_connection_is_told_too_many_and_other_addresses_still_join() {
    logs::capture();
    let server = start_with(Config {
        max_per_ip: 2,
        ..test_config()
    })
    .await;
    let _ann = server.register("ann").await;
    let _unregistered = server.connect().await;
    let peer = refused(&server, ErrorKind::TooManyConnections).await;
    logs::warned(&peer, "too many connections from 127.0.0.1 (at most 2)").await;
    // Another loopback address is another host to the server.
    let socket = TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
    let stream = socket.connect(server.addr).await.unwrap();
    let mut other = TestClient {
        conn: ClientConnection::new(stream, CLIENT_MAX_FRAME),
    };
    assert!(matches!(
        other.hello("elsewhere").await,
        ServerFrame::Welcome { .. }
    ));
    server.shutdown().await;
}
