//! Whatever bytes a peer sends, the decoder answers with frames or one typed error, and
//! never panics.

mod common;

use bincode::Options;
use chat_proto::codec::{self, bincode_options, decode_body, CodecError, CLIENT_MAX_FRAME};
use chat_proto::{ClientFrame, ErrorKind, LeftReason, ServerFrame};
use common::{
    client_frame_with, client_frames, cut_points, encode_all, every_unit_variant, frame_limit,
    framed, hostile_bytes, outcomes, read_through_connection, room_list, server_frame_with,
    split_at, stream_text, user_list, Outcome, SERVER_MAX_FRAME,
};
use proptest::prelude::*;
use serde::de::DeserializeOwned;

/// What a stream must decode to, judged from its length prefixes alone.
#[derive(Debug)]
enum Expected<'a> {
    /// A complete body: it decodes to a frame or is `Malformed`, as `decode_body` says.
    Body(&'a [u8]),
    /// A prefix over the limit; the last item.
    TooLarge { len: u64, max: usize },
    /// The input ends inside a prefix or a body; the last item.
    Truncated { buffered: usize },
}

/// The framing rules, written as plainly as possible, to judge the real decoder by.
fn framing_model(bytes: &[u8], max: usize) -> Vec<Expected<'_>> {
    let mut rest = bytes;
    let mut out = Vec::new();
    while !rest.is_empty() {
        let Some((head, after)) = rest.split_first_chunk::<4>() else {
            out.push(Expected::Truncated {
                buffered: rest.len(),
            });
            break;
        };
        let len = u32::from_be_bytes(*head) as usize;
        if len > max {
            out.push(Expected::TooLarge {
                len: len as u64,
                max,
            });
            break;
        }
        if after.len() < len {
            out.push(Expected::Truncated {
                buffered: rest.len(),
            });
            break;
        }
        out.push(Expected::Body(&after[..len]));
        rest = &after[len..];
    }
    out
}

/// The outcomes the model predicts for `T`.
fn predicted<T: DeserializeOwned>(bytes: &[u8], max: usize) -> Vec<Outcome<T>> {
    framing_model(bytes, max)
        .into_iter()
        .map(|e| match e {
            Expected::Body(body) => Outcome::from(decode_body::<T>(body)),
            Expected::TooLarge { len, max } => Outcome::TooLarge { len, max },
            Expected::Truncated { buffered } => Outcome::Truncated { buffered },
        })
        .collect()
}

/// A byte stream that is sometimes right and often wrong: valid frames of both directions,
/// bodies of random bytes behind honest prefixes, loose bytes and random prefixes, in any
/// order. Pure random bytes rarely get past the first length prefix; this gets further.
fn noisy_stream() -> impl Strategy<Value = Vec<u8>> {
    let segment = prop_oneof![
        client_frame_with(stream_text()).prop_map(|f| encode_all(&[f])),
        small_server_frame().prop_map(|f| encode_all(&[f])),
        prop::collection::vec(any::<u8>(), 0..64).prop_map(|b| framed(&b)),
        prop::collection::vec(any::<u8>(), 0..16),
        any::<u32>().prop_map(|len| len.to_be_bytes().to_vec()),
    ];
    prop_oneof![
        hostile_bytes(),
        prop::collection::vec(segment, 0..12).prop_map(|s| s.concat()),
    ]
}

/// A server frame with small text and short lists: cheap to generate dozens of.
fn small_server_frame() -> impl Strategy<Value = ServerFrame> {
    server_frame_with(stream_text(), user_list(50).boxed(), room_list(50).boxed())
}

/// A varint as bincode writes it, for hand-made bodies.
fn varint(n: u64) -> Vec<u8> {
    bincode_options(16).serialize(&n).unwrap()
}

/// The wire tag of a frame: the first byte of its body (all tags are under 251).
fn tag_of<T: serde::Serialize>(frame: &T) -> u64 {
    u64::from(codec::encode(frame).unwrap().body()[0])
}

/// Variant indices past the last variant, from the first unknown one to the largest a
/// varint can hold. (`last_client_variant` and `last_server_variant` name the last ones;
/// the exhaustive matches in `common` remind whoever appends one.)
fn unknown_tag(first_unknown: u64) -> impl Strategy<Value = u64> {
    prop_oneof![first_unknown..=250, first_unknown..=u64::MAX]
}

/// The client frame with the highest variant index.
fn last_client_variant() -> ClientFrame {
    ClientFrame::ModLog {
        room: None,
        limit: 0,
    }
}

/// The server frame with the highest variant index.
fn last_server_variant() -> ServerFrame {
    ServerFrame::Enforced { closed: 0 }
}

/// `UserLeft`'s variant index.
fn user_left_tag() -> u64 {
    tag_of(&ServerFrame::UserLeft {
        room: String::new(),
        user: String::new(),
        at: 0,
        reason: LeftReason::Parted,
    })
}

/// Byte sequences that are never valid UTF-8: a stray continuation byte, bytes that never
/// occur, a sequence cut short, an encoded surrogate, an overlong encoding.
fn invalid_utf8() -> impl Strategy<Value = Vec<u8>> {
    prop::sample::select(vec![
        vec![0x80],
        vec![0xFF],
        vec![0xC0, 0xAF],
        vec![0xE2, 0x82],
        vec![0xED, 0xA0, 0x80],
        vec![0xF4, 0x90, 0x80, 0x80],
    ])
}

proptest! {
    /// Arbitrary bytes, cut anywhere, never panic the decoder, and decode exactly as the
    /// framing rules say: every complete body is a frame or `Malformed`; the stream ends
    /// cleanly, with `Truncated` (input ends mid-frame) or with `FrameTooLarge` (a prefix
    /// over the limit), and nothing follows either error.
    #[test]
    fn any_bytes_decode_as_the_framing_rules_say(
        bytes in noisy_stream(),
        cuts in cut_points(),
        max in frame_limit(),
    ) {
        let pieces = split_at(&bytes, &cuts);
        prop_assert_eq!(
            outcomes::<ClientFrame>(pieces.clone(), max),
            predicted::<ClientFrame>(&bytes, max)
        );
        prop_assert_eq!(
            outcomes::<ServerFrame>(pieces, max),
            predicted::<ServerFrame>(&bytes, max)
        );
    }

    /// A real `Connection` fed the same bytes in pieces yields the same items as
    /// `decode_chunks`, and after a fatal error reports the end of the stream.
    #[test]
    fn a_connection_agrees_with_the_decoder_on_any_bytes(
        bytes in noisy_stream(),
        cuts in cut_points(),
        max in frame_limit(),
        pipe_buf in 1usize..=256,
    ) {
        let pieces = split_at(&bytes, &cuts);
        prop_assert_eq!(
            read_through_connection::<ClientFrame, ServerFrame>(&pieces, pipe_buf, max),
            outcomes::<ClientFrame>(pieces, max)
        );
    }

    /// Every frame decoded from arbitrary bytes encodes again to bytes that decode to the
    /// same frame (what the fuzz target checks, here on every `cargo test`).
    #[test]
    fn every_frame_from_any_bytes_re_encodes_to_itself(bytes in noisy_stream()) {
        let client = codec::decode_chunks::<ClientFrame>([bytes.as_slice()], CLIENT_MAX_FRAME);
        for frame in client.into_iter().flatten() {
            let again = codec::encode(&frame).unwrap();
            prop_assert_eq!(decode_body::<ClientFrame>(again.body()).unwrap(), frame);
        }
        let server = codec::decode_chunks::<ServerFrame>([bytes.as_slice()], CLIENT_MAX_FRAME);
        for frame in server.into_iter().flatten() {
            let again = codec::encode(&frame).unwrap();
            prop_assert_eq!(decode_body::<ServerFrame>(again.body()).unwrap(), frame);
        }
    }

    /// A length prefix over the limit is refused as `FrameTooLarge` with the claimed length
    /// and the limit, and nothing after it is yielded, not even good frames; the frames
    /// before it arrive intact. A real `Connection` reads the same.
    #[test]
    fn a_prefix_over_the_limit_ends_the_stream(
        before in client_frames(),
        headroom in 0usize..=SERVER_MAX_FRAME,
        excess in 1u64..=u64::from(u32::MAX),
        after in client_frames(),
        cuts in cut_points(),
    ) {
        let max = before.iter().map(|f| codec::body_len(f) as usize).max().unwrap_or(0) + headroom;
        let len = (max as u64).saturating_add(excess).min(u64::from(u32::MAX));
        prop_assume!(len > max as u64);
        let mut bytes = encode_all(&before);
        bytes.extend_from_slice(&(len as u32).to_be_bytes());
        bytes.extend_from_slice(&encode_all(&after));

        let mut expected: Vec<Outcome<ClientFrame>> =
            before.into_iter().map(Outcome::Frame).collect();
        expected.push(Outcome::TooLarge { len, max });
        let pieces = split_at(&bytes, &cuts);
        prop_assert_eq!(&outcomes::<ClientFrame>(pieces.clone(), max), &expected);
        prop_assert_eq!(
            read_through_connection::<ClientFrame, ServerFrame>(&pieces, 7, max),
            expected
        );
    }

    /// A stream that stops inside a frame (in its prefix or its body) ends with `Truncated`,
    /// counting the bytes of the unfinished frame; the complete frames before it arrive.
    #[test]
    fn a_stream_cut_inside_a_frame_is_truncated(
        before in client_frames(),
        last in client_frame_with(stream_text()),
        cut in any::<prop::sample::Index>(),
        cuts in cut_points(),
    ) {
        let last = encode_all(&[last]);
        let keep = 1 + cut.index(last.len() - 1);
        let mut bytes = encode_all(&before);
        bytes.extend_from_slice(&last[..keep]);

        let mut expected: Vec<Outcome<ClientFrame>> =
            before.into_iter().map(Outcome::Frame).collect();
        expected.push(Outcome::Truncated { buffered: keep });
        let pieces = split_at(&bytes, &cuts);
        prop_assert_eq!(&outcomes::<ClientFrame>(pieces.clone(), CLIENT_MAX_FRAME), &expected);
        prop_assert_eq!(
            read_through_connection::<ClientFrame, ServerFrame>(&pieces, 5, CLIENT_MAX_FRAME),
            expected
        );
    }

    /// A body whose variant index names no client frame is `Malformed`, and the good frame
    /// behind it still decodes.
    #[test]
    fn an_unknown_tag_is_malformed_and_the_stream_goes_on(
        tag in unknown_tag(tag_of(&last_client_variant()) + 1),
        tail in prop::collection::vec(any::<u8>(), 0..32),
        next in client_frame_with(stream_text()),
    ) {
        let mut body = varint(tag);
        body.extend_from_slice(&tail);
        assert_malformed_then(&body, next, |_| true)?;
    }

    /// A body whose variant index names no server frame is `Malformed` for a client, and the
    /// good frame behind it still decodes.
    #[test]
    fn an_unknown_server_tag_is_malformed_and_the_stream_goes_on(
        tag in unknown_tag(tag_of(&last_server_variant()) + 1),
        tail in prop::collection::vec(any::<u8>(), 0..32),
        next in small_server_frame(),
    ) {
        let mut body = varint(tag);
        body.extend_from_slice(&tail);
        assert_malformed_then(&body, next, |_| true)?;
    }

    /// A `LeftReason` or an `ErrorKind` index past the last one is `Malformed` for a client,
    /// and the good frame behind it still decodes.
    #[test]
    fn an_unknown_reason_or_error_kind_is_malformed(
        reason in unknown_tag(every_unit_variant::<LeftReason>().len() as u64),
        kind in unknown_tag(every_unit_variant::<ErrorKind>().len() as u64),
        next in small_server_frame(),
    ) {
        // UserLeft: room "", user "", at 0, then the reason.
        let mut body = varint(user_left_tag());
        body.extend_from_slice(&[0, 0, 0]);
        body.extend_from_slice(&varint(reason));
        assert_malformed_then(&body, next.clone(), |_| true)?;
        // Error: the kind, then detail "".
        let mut body = varint(tag_of(&ServerFrame::Error {
            kind: ErrorKind::BadFrame,
            detail: String::new(),
        }));
        body.extend_from_slice(&varint(kind));
        body.push(0);
        assert_malformed_then(&body, next, |_| true)?;
    }

    /// Text that is not UTF-8, in a message's room or in its text, is `Malformed` (bincode's
    /// `InvalidUtf8Encoding`), and the good frame behind it still decodes.
    #[test]
    fn bad_utf8_is_malformed_and_the_stream_goes_on(
        head in "\\PC{0,20}",
        bad in invalid_utf8(),
        tail in "\\PC{0,20}",
        in_room in any::<bool>(),
        next in client_frame_with(stream_text()),
    ) {
        let bad_text: Vec<u8> = [head.as_bytes(), &bad, tail.as_bytes()].concat();
        let good_text = b"lobby".to_vec();
        let (room, text) = if in_room {
            (bad_text, good_text)
        } else {
            (good_text, bad_text)
        };
        let mut body = varint(tag_of(&ClientFrame::Msg {
            room: String::new(),
            text: String::new(),
        }));
        for field in [room, text] {
            body.extend_from_slice(&varint(field.len() as u64));
            body.extend_from_slice(&field);
        }
        assert_malformed_then(&body, next, |e| {
            matches!(e, bincode::ErrorKind::InvalidUtf8Encoding(_))
        })?;
    }

    /// A valid frame followed by extra bytes inside the same body is `Malformed`, and the
    /// good frame behind it still decodes.
    #[test]
    fn trailing_bytes_are_malformed_and_the_stream_goes_on(
        frame in client_frame_with(stream_text()),
        extra in prop::collection::vec(any::<u8>(), 1..32),
        next in client_frame_with(stream_text()),
    ) {
        let mut body = codec::encode(&frame).unwrap().body().to_vec();
        body.extend_from_slice(&extra);
        assert_malformed_then(&body, next, |_| true)?;
    }

    /// A string, a name list or a room list claiming more than the body holds, up to
    /// 2^64 − 1, is `Malformed` at once, for either direction, and the good frame behind it
    /// decodes.
    #[test]
    fn an_inner_length_past_the_body_is_malformed(
        claim_over in 1u64..=u64::MAX,
        tail in prop::collection::vec(any::<u8>(), 0..64),
        next in client_frame_with(stream_text()),
    ) {
        let claim = (tail.len() as u64).saturating_add(claim_over);
        let claiming = |tag: u64, before: &[u8]| {
            let mut body = varint(tag);
            body.extend_from_slice(before);
            body.extend_from_slice(&varint(claim));
            body.extend_from_slice(&tail);
            body
        };
        let join_tag = tag_of(&ClientFrame::Join {
            room: String::new(),
            backlog: chat_proto::Backlog::None,
        });
        assert_malformed_then(&claiming(join_tag, &[]), next, |_| true)?;

        let list_tag = tag_of(&ServerFrame::UserList { users: vec![] });
        assert_malformed_then(&claiming(list_tag, &[]), ServerFrame::Pong, |_| true)?;
        let rooms_tag = tag_of(&ServerFrame::RoomList { rooms: vec![] });
        assert_malformed_then(&claiming(rooms_tag, &[]), ServerFrame::Pong, |_| true)?;
        // `Joined`'s member list comes after its room: an empty room name, then the claim.
        let joined_tag = tag_of(&ServerFrame::Joined { room: String::new(), members: vec![] });
        assert_malformed_then(&claiming(joined_tag, &[0]), ServerFrame::Pong, |_| true)?;
    }
}

/// Checks that `bad_body` behind an honest prefix decodes to one `Malformed` whose bincode
/// error satisfies `reason`, and that `next`, sent after it, still arrives.
fn assert_malformed_then<T>(
    bad_body: &[u8],
    next: T,
    reason: impl Fn(&bincode::ErrorKind) -> bool,
) -> Result<(), TestCaseError>
where
    T: serde::Serialize + DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let mut bytes = framed(bad_body);
    bytes.extend_from_slice(&encode_all(&[&next]));
    let mut items = codec::decode_chunks::<T>([bytes.as_slice()], CLIENT_MAX_FRAME).into_iter();
    match items.next() {
        Some(Err(CodecError::Malformed(e))) => {
            prop_assert!(reason(&e), "unexpected reason: {e}")
        }
        other => prop_assert!(false, "expected Malformed, got {other:?}"),
    }
    prop_assert_eq!(items.next().map(|i| i.ok()), Some(Some(next)));
    prop_assert!(items.next().is_none());
    Ok(())
}

/// `FrameTooLarge` and `Truncated` end the stream; `Malformed` does not. A reader relies on
/// this to decide whether to answer and go on or to hang up.
#[test]
fn only_malformed_bodies_leave_the_stream_usable() {
    let malformed = decode_body::<ClientFrame>(&[0xFF]).unwrap_err();
    assert!(matches!(malformed, CodecError::Malformed(_)));
    assert!(!malformed.is_fatal());
    assert!(CodecError::FrameTooLarge { len: 5, max: 4 }.is_fatal());
    assert!(CodecError::Truncated { buffered: 3 }.is_fatal());
}
