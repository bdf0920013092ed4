//! The handshake: `Hello` first, with the protocol version and a free, valid name.

mod common;

use chat_proto::{ClientFrame, ErrorKind, ServerFrame, PROTOCOL_VERSION};
use common::{error_of, joined, start_server, test_config, LOBBY};

/// `Welcome` as the test server sends it: its `buffsize`, the default of 50 rooms, and no
/// history (the test server keeps none).
fn welcome(username: &str, online: u32) -> ServerFrame {
    ServerFrame::Welcome {
        version: PROTOCOL_VERSION,
        username: username.into(),
        online,
        buffsize: test_config().buffsize as u32,
        rooms_per_user: 50,
        history: 0,
    }
}

/// A newcomer is welcomed with the server's limits and is in no room; once it joins
/// `lobby` it gets the member list, and everyone already there is told.
#[tokio::test]
async fn a_newcomer_is_welcomed_and_everyone_else_told() {
    let server = start_server().await;
    let mut ann = server.connect().await;
    assert_eq!(ann.hello("ann").await, welcome("ann", 1));
    assert_eq!(ann.join(LOBBY).await, ["ann"]);
    let mut bob = server.connect().await;
    assert_eq!(bob.hello("Bob").await, welcome("Bob", 2));
    // Registering alone tells nobody: Ann's next frame is the answer to her own request
    // (a notice about Bob would have been queued to her before his Welcome was sent).
    ann.send(ClientFrame::Ping).await;
    assert_eq!(ann.recv().await, ServerFrame::Pong);
    assert_eq!(bob.join(LOBBY).await, ["ann", "Bob"]);
    assert_eq!(ann.recv_presence().await, joined("Bob"));
    // Bob is not told about himself: his next frame is the answer to his own request.
    bob.send(ClientFrame::Ping).await;
    assert_eq!(bob.recv().await, ServerFrame::Pong);
    server.shutdown().await;
}

#[tokio::test]
async fn a_taken_name_in_any_case_is_refused_and_a_free_one_then_accepted() {
    let server = start_server().await;
    let _ann = server.register("Ann").await;
    let mut other = server.connect().await;
    for taken in ["Ann", "ann", "ANN", "aNn"] {
        let (kind, detail) = error_of(other.hello(taken).await);
        assert_eq!(kind, ErrorKind::NameTaken, "{taken}: {detail}");
        assert!(detail.contains("taken"), "{detail}");
    }
    // Same connection, another name.
    assert!(matches!(
        other.hello("bob").await,
        ServerFrame::Welcome { username, online: 2, .. } if username == "bob"
    ));
    server.shutdown().await;
}

#[tokio::test]
async fn a_wrong_version_is_refused_naming_both_versions_then_closed() {
    let server = start_server().await;
    let mut client = server.connect().await;
    let wrong = PROTOCOL_VERSION + 41;
    client
        .send(ClientFrame::Hello {
            version: wrong,
            username: "ann".into(),
            password: None,
        })
        .await;
    let (kind, detail) = client.recv_error().await;
    assert_eq!(kind, ErrorKind::VersionMismatch);
    assert!(
        detail.contains(&format!("version {PROTOCOL_VERSION}"))
            && detail.contains(&format!("version {wrong}")),
        "{detail}"
    );
    assert_eq!(client.until_closed().await, vec![]);
    // The name was never taken.
    server.register("ann").await;
    server.shutdown().await;
}

#[tokio::test]
async fn invalid_names_are_refused_and_the_client_may_try_again() {
    let server = start_server().await;
    let mut client = server.connect().await;
    let too_long = "x".repeat(33);
    for bad in ["", "a b", "zoë", "tab\there", too_long.as_str()] {
        let (kind, detail) = error_of(client.hello(bad).await);
        assert_eq!(kind, ErrorKind::InvalidName, "{bad:?}: {detail}");
    }
    assert!(matches!(
        client.hello("ok.name-1").await,
        ServerFrame::Welcome { .. }
    ));
    server.shutdown().await;
}

#[tokio::test]
async fn commands_before_hello_are_refused_and_the_handshake_still_works() {
    let server = start_server().await;
    let mut watcher = server.register("watcher").await;
    let mut client = server.connect().await;
    for frame in [
        ClientFrame::Msg {
            room: LOBBY.into(),
            text: "sneaky".into(),
        },
        ClientFrame::Whisper {
            to: "watcher".into(),
            text: "psst".into(),
        },
        ClientFrame::ListUsers,
        ClientFrame::Ping,
    ] {
        client.send(frame.clone()).await;
        let (kind, _) = client.recv_error().await;
        assert_eq!(kind, ErrorKind::NotRegistered, "{frame:?}");
    }
    assert!(matches!(
        client.hello("late").await,
        ServerFrame::Welcome { .. }
    ));
    // The watcher saw nothing of the refused frames: the join is its first frame.
    assert_eq!(client.join(LOBBY).await, ["late", "watcher"]);
    assert_eq!(watcher.recv_presence().await, joined("late"));
    server.shutdown().await;
}

#[tokio::test]
async fn a_second_hello_is_refused_and_the_first_name_kept() {
    let server = start_server().await;
    let mut ann = server.register("ann").await;
    let (kind, _) = error_of(ann.hello("other").await);
    assert_eq!(kind, ErrorKind::AlreadyRegistered);
    ann.send(ClientFrame::ListUsers).await;
    assert_eq!(
        ann.recv().await,
        ServerFrame::UserList {
            users: vec!["ann".into()]
        }
    );
    server.shutdown().await;
}
