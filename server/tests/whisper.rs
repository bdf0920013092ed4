//! Whispers reach their target and their sender, and nobody else.

mod common;

use chat_proto::{ClientFrame, ErrorKind, ServerFrame};
use common::start_server;

/// A whisper frame as the server should deliver it, minus the time.
fn whisper_parts(frame: ServerFrame) -> (String, String, String) {
    match frame {
        ServerFrame::Whisper { from, to, text, .. } => (from, to, text),
        other => panic!("expected a Whisper, got {other:?}"),
    }
}

/// The third client's next frame after the whisper is the broadcast sent after it: since
/// every client receives frames in the order the server handled them, a whisper leaked to
/// it would have arrived first.
#[tokio::test]
async fn a_whisper_reaches_its_target_and_sender_and_nobody_else() {
    let server = start_server().await;
    let mut ann = server.register("ann").await;
    let mut bob = server.register("Bob").await;
    let mut carol = server.register("carol").await;
    ann.send(ClientFrame::Whisper {
        to: "BOB".into(),
        text: "psst".into(),
    })
    .await;
    ann.say("after the whisper").await;

    let expected = ("ann".to_owned(), "Bob".to_owned(), "psst".to_owned());
    assert_eq!(whisper_parts(bob.recv_skipping_notices().await), expected);
    assert_eq!(whisper_parts(ann.recv_skipping_notices().await), expected);
    match carol.recv_skipping_notices().await {
        ServerFrame::Msg { text, .. } => assert_eq!(text, "after the whisper"),
        other => panic!("carol got {other:?} before the broadcast"),
    }
    server.shutdown().await;
}

#[tokio::test]
async fn a_whisper_to_oneself_arrives_once() {
    let server = start_server().await;
    let mut ann = server.register("ann").await;
    ann.send(ClientFrame::Whisper {
        to: "ann".into(),
        text: "note to self".into(),
    })
    .await;
    ann.send(ClientFrame::Ping).await;
    assert_eq!(whisper_parts(ann.recv().await).2, "note to self");
    assert_eq!(ann.recv().await, ServerFrame::Pong);
    server.shutdown().await;
}

#[tokio::test]
async fn a_whisper_to_someone_offline_is_refused_and_the_session_goes_on() {
    let server = start_server().await;
    let mut ann = server.register("ann").await;
    ann.send(ClientFrame::Whisper {
        to: "ghost".into(),
        text: "anyone?".into(),
    })
    .await;
    let (kind, detail) = ann.recv_error().await;
    assert_eq!(kind, ErrorKind::NoSuchUser);
    assert!(detail.contains("ghost"), "{detail}");
    ann.send(ClientFrame::Ping).await;
    assert_eq!(ann.recv().await, ServerFrame::Pong);
    server.shutdown().await;
}

/// Whispers go person to person, whatever their rooms: one reaches a user in no room, and
/// a user in no room can answer.
#[tokio::test]
async fn a_whisper_needs_no_room_in_common() {
    let server = start_server().await;
    let mut ann = server.register("ann").await;
    let mut hermit = server.register_only("hermit").await;
    ann.send(ClientFrame::Whisper {
        to: "hermit".into(),
        text: "anyone home?".into(),
    })
    .await;
    let expected = (
        "ann".to_owned(),
        "hermit".to_owned(),
        "anyone home?".to_owned(),
    );
    assert_eq!(whisper_parts(hermit.recv().await), expected);
    assert_eq!(whisper_parts(ann.recv().await), expected);
    hermit
        .send(ClientFrame::Whisper {
            to: "ann".into(),
            text: "yes".into(),
        })
        .await;
    let expected = ("hermit".to_owned(), "ann".to_owned(), "yes".to_owned());
    assert_eq!(whisper_parts(ann.recv().await), expected);
    assert_eq!(whisper_parts(hermit.recv().await), expected);
    server.shutdown().await;
}
