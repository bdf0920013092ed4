//! Whispers and the list of users span the cluster: two nodes joined through one real
//! nats-server (with JetStream), a user on each.

mod common;

use chat_proto::{ClientFrame, ErrorKind, ServerFrame};
use common::nats::{users_until, NatsServer};
use common::{start_with, TestClient, TestServer};

/// Two nodes of the cluster behind `nats`; the second's name has characters a NATS
/// subject may not hold, as a host name and port do.
async fn two_nodes(nats: &NatsServer) -> (TestServer, TestServer) {
    let a = start_with(nats.node_config("a")).await;
    let b = start_with(nats.node_config("b.example:7001")).await;
    (a, b)
}

/// A whisper frame's sender, target and text.
fn whisper_parts(frame: ServerFrame) -> (String, String, String) {
    match frame {
        ServerFrame::Whisper { from, to, text, .. } => (from, to, text),
        other => panic!("expected a Whisper, got {other:?}"),
    }
}

/// What `client` gets for `ListUsers`.
async fn users(client: &mut TestClient) -> Vec<String> {
    client.send(ClientFrame::ListUsers).await;
    match client.recv_skipping_notices().await {
        ServerFrame::UserList { users } => users,
        other => panic!("expected a UserList, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whisper_reaches_its_target_on_another_node_and_its_sender_gets_a_copy() {
    let nats = NatsServer::start();
    let (a, b) = two_nodes(&nats).await;
    let mut ann = a.register_only("Ann").await;
    let mut bob = b.register_only("Bob").await;

    ann.send(ClientFrame::Whisper {
        to: "bOB".into(),
        text: "psst, across nodes".into(),
    })
    .await;
    let expected = (
        "Ann".to_owned(),
        "Bob".to_owned(),
        "psst, across nodes".to_owned(),
    );
    assert_eq!(whisper_parts(bob.recv_skipping_notices().await), expected);
    assert_eq!(whisper_parts(ann.recv_skipping_notices().await), expected);

    // And back the other way.
    bob.send(ClientFrame::Whisper {
        to: "ann".into(),
        text: "got it".into(),
    })
    .await;
    let back = ("Bob".to_owned(), "Ann".to_owned(), "got it".to_owned());
    assert_eq!(whisper_parts(ann.recv_skipping_notices().await), back);
    assert_eq!(whisper_parts(bob.recv_skipping_notices().await), back);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whisper_to_a_name_nobody_holds_on_any_node_is_no_such_user() {
    let nats = NatsServer::start();
    let (a, b) = two_nodes(&nats).await;
    let mut ann = a.register_only("ann").await;
    let mut bob = b.register_only("bob").await;

    ann.send(ClientFrame::Whisper {
        to: "nobody".into(),
        text: "hello?".into(),
    })
    .await;
    let (kind, detail) = ann.recv_error().await;
    assert_eq!(kind, ErrorKind::NoSuchUser, "{detail}");
    assert!(detail.contains("nobody"), "{detail}");

    // Once bob leaves, he is nobody too.
    bob.send(ClientFrame::Bye).await;
    bob.until_closed().await;
    ann.send(ClientFrame::Whisper {
        to: "bob".into(),
        text: "still there?".into(),
    })
    .await;
    let (kind, detail) = ann.recv_error().await;
    assert_eq!(kind, ErrorKind::NoSuchUser, "{detail}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_users_on_either_node_lists_everyone_on_both_and_not_who_left() {
    let nats = NatsServer::start();
    let (a, b) = two_nodes(&nats).await;
    let mut carol = a.register_only("carol").await;
    let mut ann = a.register_only("Ann").await;
    let mut bob = b.register_only("bob").await;

    let everyone = ["Ann", "bob", "carol"];
    users_until(&mut ann, &everyone).await;
    users_until(&mut bob, &everyone).await;

    carol.send(ClientFrame::Bye).await;
    carol.until_closed().await;
    users_until(&mut bob, &["Ann", "bob"]).await;
    // Her own node knew at once.
    assert_eq!(users(&mut ann).await, ["Ann", "bob"]);
}
