//! Streams of many frames, delivered in arbitrary pieces, decode to the frames sent.

mod common;

use chat_proto::codec::{self, CLIENT_MAX_FRAME};
use chat_proto::{ClientFrame, ServerConnection, ServerFrame};
use common::{
    client_frames, cut_points, encode_all, outcomes, read_through_connection,
    read_through_frame_reader, runtime, server_frames, split_at, Outcome, SERVER_MAX_FRAME,
};
use proptest::prelude::*;

/// The outcomes a reader must produce for `frames`: each frame, in order.
fn expected<T>(frames: Vec<T>) -> Vec<Outcome<T>> {
    frames.into_iter().map(Outcome::Frame).collect()
}

proptest! {
    /// Client frames sent back to back and cut anywhere decode, through `decode_chunks`, to
    /// the same frames in the same order.
    #[test]
    fn client_frames_survive_any_chunking(frames in client_frames(), cuts in cut_points()) {
        let wire = encode_all(&frames);
        let got = outcomes::<ClientFrame>(split_at(&wire, &cuts), CLIENT_MAX_FRAME);
        prop_assert_eq!(got, expected(frames));
    }

    /// Server frames sent back to back and cut anywhere decode to the same frames in order.
    #[test]
    fn server_frames_survive_any_chunking(frames in server_frames(), cuts in cut_points()) {
        let wire = encode_all(&frames);
        let got = outcomes::<ServerFrame>(split_at(&wire, &cuts), CLIENT_MAX_FRAME);
        prop_assert_eq!(got, expected(frames));
    }

    /// The server's `Connection`, reading a pipe that holds only a few bytes at a time and
    /// is fed in arbitrary pieces, yields every client frame in order, then a clean end.
    #[test]
    fn a_server_connection_reads_every_frame_of_a_chunked_stream(
        frames in client_frames(),
        cuts in cut_points(),
        pipe_buf in 1usize..=64,
    ) {
        let wire = encode_all(&frames);
        let got = read_through_connection::<ClientFrame, ServerFrame>(
            &split_at(&wire, &cuts),
            pipe_buf,
            CLIENT_MAX_FRAME,
        );
        prop_assert_eq!(got, expected(frames));
    }

    /// A client's `Connection` does the same for server frames.
    #[test]
    fn a_client_connection_reads_every_frame_of_a_chunked_stream(
        frames in server_frames(),
        cuts in cut_points(),
        pipe_buf in 1usize..=64,
    ) {
        let wire = encode_all(&frames);
        let got = read_through_connection::<ServerFrame, ClientFrame>(
            &split_at(&wire, &cuts),
            pipe_buf,
            CLIENT_MAX_FRAME,
        );
        prop_assert_eq!(got, expected(frames));
    }

    /// A `FrameReader` on the read half alone, as the server uses it, yields every frame too.
    #[test]
    fn a_frame_reader_reads_every_frame_of_a_chunked_stream(
        frames in client_frames(),
        cuts in cut_points(),
        pipe_buf in 1usize..=64,
    ) {
        let wire = encode_all(&frames);
        let got = read_through_frame_reader::<ClientFrame>(
            &split_at(&wire, &cuts),
            pipe_buf,
            CLIENT_MAX_FRAME,
        );
        prop_assert_eq!(got, expected(frames));
    }
}

/// A limit changed between reads governs the next frame even when its bytes already sit in
/// the read buffer: the server can raise or lower it right after the handshake.
#[test]
fn a_changed_limit_applies_to_frames_already_buffered() {
    let hello = ClientFrame::Hello {
        version: 1,
        username: "ann".into(),
        password: None,
    };
    let big = ClientFrame::Msg {
        room: "lobby".into(),
        text: "x".repeat(2 * SERVER_MAX_FRAME),
    };
    let big_len = codec::body_len(&big);
    let wire = encode_all(&[hello.clone(), big.clone(), big.clone()]);

    runtime().block_on(async {
        let (reader_end, mut writer_end) = tokio::io::duplex(wire.len());
        tokio::io::AsyncWriteExt::write_all(&mut writer_end, &wire)
            .await
            .unwrap();
        drop(writer_end);
        let mut conn = ServerConnection::new(reader_end, SERVER_MAX_FRAME);
        assert_eq!(conn.read_frame().await.unwrap(), Some(hello));

        conn.set_max_frame(big_len as usize);
        assert_eq!(conn.read_frame().await.unwrap(), Some(big));

        conn.set_max_frame(big_len as usize - 1);
        match conn.read_frame().await {
            Err(codec::CodecError::FrameTooLarge { len, max }) => {
                assert_eq!((len, max), (big_len, big_len as usize - 1));
            }
            other => panic!("expected FrameTooLarge, got {other:?}"),
        }
    });
}
