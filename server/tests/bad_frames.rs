//! Bytes that are not frames: a typed error to the sender, a close where the stream cannot
//! go on, and nothing for anyone else.

mod common;

use chat_proto::{ClientFrame, ErrorKind, LeftReason, ServerFrame};
use common::{joined, left, start_server, LOBBY};

#[tokio::test]
async fn a_malformed_body_gets_bad_frame_and_the_connection_goes_on() {
    let server = start_server().await;
    let mut ann = server.register("ann").await;
    let mut bob = server.register("bob").await;
    assert_eq!(ann.recv_presence().await, joined("bob"));
    // Variant 200 does not exist; then a string whose bytes are not UTF-8.
    for body in [&[200u8][..], &[1, 2, 0xff, 0xfe][..]] {
        let mut raw = (body.len() as u32).to_be_bytes().to_vec();
        raw.extend_from_slice(body);
        bob.conn.write_raw(&raw).await.unwrap();
        assert_eq!(bob.recv_error().await.0, ErrorKind::BadFrame);
    }
    bob.say("still here").await;
    assert!(matches!(bob.recv().await, ServerFrame::Msg { text, .. } if text == "still here"));
    assert!(matches!(ann.recv().await, ServerFrame::Msg { text, .. } if text == "still here"));
    server.shutdown().await;
}

#[tokio::test]
async fn an_oversize_length_prefix_gets_frame_too_large_then_a_close() {
    let server = start_server().await;
    let mut ann = server.register("ann").await;
    let mut bob = server.register("bob").await;
    assert_eq!(ann.recv_presence().await, joined("bob"));
    // 4 GiB - 1 announced; the server refuses before reading any of it.
    bob.conn
        .write_raw(&[0xff, 0xff, 0xff, 0xff, 1, 2, 3])
        .await
        .unwrap();
    match bob.until_closed().await.as_slice() {
        [ServerFrame::Error { kind, detail }] => {
            assert_eq!(*kind, ErrorKind::FrameTooLarge);
            assert!(detail.contains("4294967295"), "{detail}");
        }
        other => panic!("expected one FrameTooLarge then a close, got {other:?}"),
    }
    assert_eq!(ann.recv_presence().await, left("bob", LeftReason::Refused));
    server.shutdown().await;
}

#[tokio::test]
async fn a_message_over_buffsize_is_refused_with_a_close() {
    let server = start_server().await;
    let mut ann = server.register("ann").await;
    ann.send(ClientFrame::Msg {
        room: LOBBY.into(),
        text: "x".repeat(2000),
    })
    .await;
    match ann.until_closed().await.as_slice() {
        [ServerFrame::Error { kind, .. }] => assert_eq!(*kind, ErrorKind::FrameTooLarge),
        other => panic!("expected one FrameTooLarge then a close, got {other:?}"),
    }
    server.shutdown().await;
}
