//! Leaving: by `Bye` or by a dropped connection, the others in its room are told why and the
//! name is freed.

mod common;

use chat_proto::{ClientFrame, LeftReason, ServerFrame};
use common::{joined, left, start_server};

/// Bob goes away without `Bye`, closed cleanly or reset: Ann is told bob left, disconnected,
/// and the name, in any case, can be registered again.
async fn leaving_without_bye(reset: bool) {
    let server = start_server().await;
    let mut ann = server.register("ann").await;
    let bob = server.register("bob").await;
    assert_eq!(ann.recv_presence().await, joined("bob"));
    if reset {
        bob.conn.get_ref().set_zero_linger().unwrap();
    }
    drop(bob);
    assert_eq!(
        ann.recv_presence().await,
        left("bob", LeftReason::Disconnected)
    );
    server.register("BOB").await;
    assert_eq!(ann.recv_presence().await, joined("BOB"));
    server.shutdown().await;
}

#[tokio::test]
async fn an_abrupt_disconnect_tells_the_others_and_frees_the_name() {
    leaving_without_bye(false).await;
}

#[tokio::test]
async fn a_reset_connection_tells_the_others_and_frees_the_name() {
    leaving_without_bye(true).await;
}

/// A one-shot client sends its message, then `Bye`, and waits for the server to close the
/// connection: it must get its echo first, then the close, and its name is free at once.
/// The others hear that it quit.
#[tokio::test]
async fn bye_flushes_what_is_queued_closes_and_frees_the_name() {
    let server = start_server().await;
    let mut ann = server.register("ann").await;
    let mut once = server.register("once").await;
    assert_eq!(ann.recv_presence().await, joined("once"));
    once.say("one shot").await;
    once.send(ClientFrame::Bye).await;
    let rest = once.until_closed().await;
    assert!(
        matches!(rest.as_slice(), [ServerFrame::Msg { text, .. }] if text == "one shot"),
        "{rest:?}"
    );
    assert!(matches!(ann.recv().await, ServerFrame::Msg { text, .. } if text == "one shot"));
    assert_eq!(ann.recv_presence().await, left("once", LeftReason::Quit));
    // Back to back under the same name.
    let mut again = server.register("once").await;
    again.send(ClientFrame::Bye).await;
    assert_eq!(again.until_closed().await, vec![]);
    server.shutdown().await;
}

#[tokio::test]
async fn bye_before_hello_just_closes() {
    let server = start_server().await;
    let mut client = server.connect().await;
    client.send(ClientFrame::Bye).await;
    assert_eq!(client.until_closed().await, vec![]);
    server.shutdown().await;
}
