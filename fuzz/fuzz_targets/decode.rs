//! Arbitrary bytes, delivered in arbitrary pieces, through the streaming decoder that every
//! connection uses, read both as client frames and as server frames.
//!
//! Input layout (the seed corpus follows it; see `proto/examples/seed_corpus.rs`):
//!
//! ```text
//! byte 0          n: how many piece lengths follow (taken modulo 17)
//! next 2·n bytes  the first n piece lengths, u16 big-endian each
//! the rest        the byte stream, cut into those pieces; what is left is the last piece
//! ```
//!
//! Checked for every input:
//! - decoding never panics, and gives frames or typed errors, never an I/O error;
//! - cutting the stream into pieces never changes what it decodes to;
//! - only `Malformed` is followed by more items: the other errors end the stream;
//! - every frame yielded encodes again to bytes that decode, under the same limit, to the
//!   same frame, and `codec::body_len` states that body's length exactly (clients rely on it
//!   to refuse an oversize message themselves);
//! - every frame's typed fields (`ErrorKind`, `LeftReason`) render without panicking.
//!
//! Both enums are matched exhaustively in [`Frame::touch`], so a variant added to the
//! protocol stops this build until it is listed here (and, ideally, given a seed in
//! `proto/examples/seed_corpus.rs`). Since protocol 2 that covers the room frames (`Join`,
//! `Part`, `ListRooms`, `ListMembers`; `Joined`, `Parted`, `RoomList`, `Members`) and the
//! presence frames (`UserJoined`, `UserLeft` with its `LeftReason`).
#![no_main]

use std::fmt::Debug;
use std::hint::black_box;

use chat_proto::codec::{self, decode_chunks, CodecError};
use chat_proto::{ClientFrame, ServerFrame};
use libfuzzer_sys::fuzz_target;
use serde::{de::DeserializeOwned, Serialize};

/// The most piece lengths one input can give.
const MAX_CUTS: u8 = 16;

/// Client frames are read under the server's default `buffsize`, the limit they meet in
/// practice.
const SERVER_MAX_FRAME: usize = 1024;

/// Server frames are read under 64 KiB rather than the client's 1 MiB, so that libFuzzer
/// inputs (`-max_len=70000`) reach the limit; the decoder's logic does not depend on its size.
const CLIENT_FUZZ_MAX_FRAME: usize = 64 * 1024;

fuzz_target!(|data: &[u8]| {
    let pieces = pieces(data);
    check::<ClientFrame>(&pieces, SERVER_MAX_FRAME);
    check::<ServerFrame>(&pieces, CLIENT_FUZZ_MAX_FRAME);
});

/// Splits an input into the byte stream's pieces, as the layout above says.
fn pieces(data: &[u8]) -> Vec<&[u8]> {
    let Some((&n, mut rest)) = data.split_first() else {
        return vec![];
    };
    let mut lens = Vec::new();
    for _ in 0..n % (MAX_CUTS + 1) {
        let Some((len, after)) = rest.split_first_chunk::<2>() else {
            break;
        };
        lens.push(usize::from(u16::from_be_bytes(*len)));
        rest = after;
    }
    let mut out = Vec::with_capacity(lens.len() + 1);
    for len in lens {
        let (piece, after) = rest.split_at(len.min(rest.len()));
        out.push(piece);
        rest = after;
    }
    out.push(rest);
    out
}

/// A frame type of either direction.
trait Frame: Serialize + DeserializeOwned + PartialEq + Debug {
    /// Looks at every field, the way a client renders it.
    fn touch(&self);
}

impl Frame for ClientFrame {
    fn touch(&self) {
        match self {
            ClientFrame::Hello { .. }
            | ClientFrame::Msg { .. }
            | ClientFrame::Whisper { .. }
            | ClientFrame::ListUsers
            | ClientFrame::Ping
            | ClientFrame::Pong
            | ClientFrame::Bye
            | ClientFrame::Join { .. }
            | ClientFrame::Part { .. }
            | ClientFrame::ListRooms
            | ClientFrame::ListMembers { .. }
            | ClientFrame::History { .. }
            | ClientFrame::SignIn { .. }
            | ClientFrame::Register { .. }
            | ClientFrame::ChangePassword { .. }
            | ClientFrame::ListSessions
            | ClientFrame::Revoke { .. }
            | ClientFrame::DeleteAccount { .. }
            | ClientFrame::Disconnect { .. }
            | ClientFrame::Claim { .. }
            | ClientFrame::Moderate { .. }
            | ClientFrame::RemoveMessage { .. }
            | ClientFrame::Operate { .. }
            | ClientFrame::RoomInfo { .. }
            | ClientFrame::ModLog { .. }
            | ClientFrame::Reply { .. }
            | ClientFrame::Edit { .. }
            | ClientFrame::Typing { .. } => {}
            ClientFrame::React { emoji, .. } => {
                black_box(chat_proto::validate::emoji(emoji));
            }
            ClientFrame::Search { query, .. } => {
                black_box(chat_proto::search::terms(query).ok());
            }
        }
    }
}

impl Frame for ServerFrame {
    fn touch(&self) {
        match self {
            ServerFrame::Error { kind, detail } => {
                black_box((kind.is_fatal(), kind.as_str(), kind.to_string(), detail));
            }
            ServerFrame::UserLeft { reason, .. } => {
                black_box((reason.as_str(), reason.to_string()));
            }
            ServerFrame::Welcome { .. }
            | ServerFrame::Msg { .. }
            | ServerFrame::Whisper { .. }
            | ServerFrame::UserList { .. }
            | ServerFrame::System { .. }
            | ServerFrame::Pong
            | ServerFrame::Ping
            | ServerFrame::Joined { .. }
            | ServerFrame::Parted { .. }
            | ServerFrame::RoomList { .. }
            | ServerFrame::Members { .. }
            | ServerFrame::UserJoined { .. }
            | ServerFrame::History { .. }
            | ServerFrame::SignedIn { .. }
            | ServerFrame::Sessions { .. }
            | ServerFrame::Revoked { .. }
            | ServerFrame::PasswordChanged { .. }
            | ServerFrame::AccountDeleted
            | ServerFrame::Disconnected { .. }
            | ServerFrame::RoomInfo { .. }
            | ServerFrame::RoomChanged { .. }
            | ServerFrame::MessageRemoved { .. }
            | ServerFrame::ModLog { .. }
            | ServerFrame::Enforced { .. }
            | ServerFrame::Event { .. }
            | ServerFrame::Typing { .. } => {}
            ServerFrame::SearchResults { hits, .. } => {
                // As a client marks what it shows: small texts, as a server sends.
                for hit in hits.iter().filter(|h| h.entry.text.len() <= 4096) {
                    let terms = [hit.room.chars().take(16).collect::<String>()];
                    black_box(chat_proto::search::marks(&hit.entry.text, &terms));
                }
            }
        }
    }
}

fn check<T: Frame>(pieces: &[&[u8]], max_frame: usize) {
    let chunked = decode_chunks::<T>(pieces.iter().copied(), max_frame);
    let whole = pieces.concat();
    let at_once = decode_chunks::<T>([whole.as_slice()], max_frame);
    assert_eq!(
        chunked.len(),
        at_once.len(),
        "pieces changed the item count"
    );
    for (a, b) in chunked.iter().zip(&at_once) {
        assert!(same(a, b), "pieces changed an item: {a:?} vs {b:?}");
    }

    let last = chunked.len().saturating_sub(1);
    for (i, item) in chunked.into_iter().enumerate() {
        match item {
            Ok(frame) => {
                frame.touch();
                let wire = codec::encode(&frame).expect("a decoded frame encodes");
                assert_eq!(
                    codec::body_len(&frame),
                    wire.body().len() as u64,
                    "body_len disagrees with the encoder for {frame:?}"
                );
                let again = decode_chunks::<T>([wire.as_bytes().as_ref()], max_frame);
                match again.as_slice() {
                    [Ok(back)] => assert_eq!(back, &frame, "re-encoding changed the frame"),
                    other => panic!("{frame:?} re-encoded to {other:?}"),
                }
            }
            Err(CodecError::Io(e)) => panic!("an in-memory stream gave an I/O error: {e}"),
            Err(e) => assert!(
                !e.is_fatal() || i == last,
                "items followed a fatal error: {e}"
            ),
        }
    }
}

/// Whether two decoders said the same thing.
fn same<T: PartialEq>(a: &Result<T, CodecError>, b: &Result<T, CodecError>) -> bool {
    use CodecError::*;
    match (a, b) {
        (Ok(a), Ok(b)) => a == b,
        (Err(FrameTooLarge { len: a, max: m }), Err(FrameTooLarge { len: b, max: n })) => {
            a == b && m == n
        }
        (Err(Truncated { buffered: a }), Err(Truncated { buffered: b })) => a == b,
        (Err(Malformed(a)), Err(Malformed(b))) => a.to_string() == b.to_string(),
        _ => false,
    }
}
