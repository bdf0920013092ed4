//! `ListUsers` and `Ping`: answers to the asker only.

mod common;

use chat_proto::{ClientFrame, ServerFrame};
use common::start_server;

#[tokio::test]
async fn the_user_list_is_exactly_the_registered_names_sorted_case_insensitively() {
    let server = start_server().await;
    let mut zed = server.register("zed").await;
    let _ann = server.register("Ann").await;
    let _bob = server.register("bob").await;
    // Connected but not registered: not a user.
    let _lurker = server.connect().await;
    zed.send(ClientFrame::ListUsers).await;
    assert_eq!(
        zed.recv_skipping_notices().await,
        ServerFrame::UserList {
            users: vec!["Ann".into(), "bob".into(), "zed".into()]
        }
    );
    server.shutdown().await;
}

#[tokio::test]
async fn ping_is_answered_with_pong_to_the_asker_only() {
    let server = start_server().await;
    let mut ann = server.register("ann").await;
    let mut bob = server.register("bob").await;
    ann.send(ClientFrame::Ping).await;
    assert_eq!(ann.recv_skipping_notices().await, ServerFrame::Pong);
    ann.say("after").await;
    assert!(matches!(bob.recv().await, ServerFrame::Msg { text, .. } if text == "after"));
    server.shutdown().await;
}
