//! What a frame costs to encode and decode, and what encoding a broadcast once saves.
//!
//! ```sh
//! cargo bench -p chat-proto --bench codec
//! ```
//!
//! Decoding goes through the same steps as a connection: [`FrameCodec`] cuts the body out of
//! the read buffer, [`decode_body`] turns it into a frame.

use bytes::BytesMut;
use chat_proto::codec::{self, decode_body, FrameCodec, CLIENT_MAX_FRAME};
use chat_proto::ServerFrame;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use std::hint::black_box;
use tokio_util::codec::Decoder;

/// A chat line as the server broadcasts it: 64 bytes of text in `lobby`.
fn typical_msg() -> ServerFrame {
    ServerFrame::Msg {
        room: "lobby".into(),
        from: "alice".into(),
        text: "x".repeat(64),
        at: 1_700_000_000_000,
        seq: 123_456,
    }
}

/// The answer to `/list_users` in a busy room.
fn user_list_1000() -> ServerFrame {
    ServerFrame::UserList {
        users: (0..1_000).map(|i| format!("user{i:04}")).collect(),
    }
}

/// Reads one frame out of a buffer holding exactly its wire bytes, as a connection does.
fn read_one(codec: &mut FrameCodec, mut buf: BytesMut) -> ServerFrame {
    let body = codec
        .decode(&mut buf)
        .expect("a valid frame")
        .expect("a whole frame");
    decode_body(&body).expect("a valid body")
}

fn encode_and_decode(c: &mut Criterion) {
    for (name, frame) in [
        ("msg_64b", typical_msg()),
        ("user_list_1000", user_list_1000()),
    ] {
        let wire = codec::encode(&frame).unwrap();
        let mut group = c.benchmark_group(name);
        group.throughput(Throughput::Bytes(wire.len() as u64));
        group.bench_function("encode", |b| {
            b.iter(|| codec::encode(black_box(&frame)).unwrap())
        });
        let mut frame_codec = FrameCodec::new(CLIENT_MAX_FRAME);
        group.bench_function("decode", |b| {
            b.iter_batched(
                || BytesMut::from(wire.as_bytes().as_ref()),
                |buf| read_one(&mut frame_codec, buf),
                BatchSize::SmallInput,
            )
        });
        group.finish();
    }
}

/// A broadcast to 1,000 clients: one encode and 1,000 clones of the shared bytes, against
/// 1,000 encodes (serialising per recipient).
fn broadcast_to_1000(c: &mut Criterion) {
    let frame = typical_msg();
    let mut group = c.benchmark_group("broadcast_msg_64b_to_1000");
    group.bench_function("encode_once_clone_1000", |b| {
        b.iter(|| {
            let wire = codec::encode(black_box(&frame)).unwrap();
            let copies: Vec<_> = (0..1_000).map(|_| wire.clone()).collect();
            copies
        })
    });
    group.bench_function("encode_1000", |b| {
        b.iter(|| {
            let copies: Vec<_> = (0..1_000)
                .map(|_| codec::encode(black_box(&frame)).unwrap())
                .collect();
            copies
        })
    });
    group.finish();
}

criterion_group!(benches, encode_and_decode, broadcast_to_1000);
criterion_main!(benches);
