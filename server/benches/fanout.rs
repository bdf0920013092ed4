//! The hot pieces of a broadcast, without sockets, so a regression shows without a load
//! test: encoding a message once, queueing it (alone, and as a burst of 64, numbered and
//! encoded under the lock as a server without history sends it) to the 1,000
//! members of a room, and the writer turning 256 queued frames into one vectored write.
//!
//! `cargo bench -p chat-server --bench fanout`; the load test is `chat-client bench`.

use std::hint::black_box;
use std::sync::Arc;

use chat_proto::codec::encode;
use chat_proto::ServerFrame;
use chat_server::connection::write_batch;
use chat_server::hub::{Hub, Limits};
use chat_server::log::{Burst, Said};
use chat_server::outbox::{self, Outgoing, Wire};
use chat_server::registry::ClientHandle;
use chat_server::room::JoinedRoom;
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

/// Receivers in the room.
const CLIENTS: usize = 1000;

/// The room every receiver is in (its name is its key: lowercase, no `#`).
const ROOM: &str = "lobby";

/// A room message with a 64-byte text, as the load test sends.
fn message(i: i64) -> ServerFrame {
    ServerFrame::Msg {
        room: ROOM.into(),
        from: "bench-p0".into(),
        text: format!("{i:064}"),
        at: 1_779_000_000_000 + i,
        seq: i as u64 + 1,
    }
}

fn encode_once(c: &mut Criterion) {
    let frame = message(0);
    c.bench_function("encode_once/msg_64B", |b| {
        b.iter(|| encode(black_box(&frame)).unwrap())
    });
}

/// A hub with [`CLIENTS`] registered clients, all in [`ROOM`] (joins unannounced), and
/// their queues.
fn room() -> (Hub, Vec<Outgoing>) {
    let hub = Hub::with_limits(Limits {
        announce_up_to: 1,
        ..Limits::default()
    });
    let peer = "127.0.0.1:1".parse().unwrap();
    let mut queues = (0..CLIENTS)
        .map(|i| {
            let (outbox, mut rx) = outbox::channel(1024);
            let name = format!("r{i}");
            hub.register(ClientHandle::new(name.as_str().into(), outbox), peer, None)
                .unwrap();
            hub.join(&name, ROOM, 0).unwrap();
            rx.take_queued();
            rx
        })
        .collect::<Vec<_>>();
    // What is measured reaches every member: a wrong room key would measure nothing.
    hub.broadcast(ROOM, &message(0)).unwrap();
    for q in &mut queues {
        assert!(
            !q.take_queued().is_empty(),
            "a member of #{ROOM} got nothing"
        );
    }
    (hub, queues)
}

/// Empties every queue, as the writers would.
fn drain(queues: &mut [Outgoing]) {
    for q in queues {
        q.take_queued();
    }
}

fn fan_out(c: &mut Criterion) {
    let (hub, mut queues) = room();
    let mut group = c.benchmark_group("fan_out_1000");
    group.throughput(Throughput::Elements(CLIENTS as u64));
    group.bench_function("one_message", |b| {
        b.iter(|| {
            hub.broadcast(ROOM, black_box(&message(1))).unwrap();
            drain(&mut queues);
        })
    });
    let room = JoinedRoom {
        key: ROOM.into(),
        name: ROOM.into(),
    };
    let from: Arc<str> = "bench-p0".into();
    group.throughput(Throughput::Elements(64 * CLIENTS as u64));
    group.bench_function("burst_of_64", |b| {
        b.iter_batched_ref(
            || {
                let mut burst = Burst::default();
                for i in 0..64 {
                    let said = Said {
                        text: format!("{i:064}"),
                        at: 1_779_000_000_000 + i,
                    };
                    burst.push(&room, &from, said);
                }
                burst
            },
            |burst| {
                hub.flush(burst);
                drain(&mut queues);
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

fn writer_batching(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let batch: Vec<Wire> = (0..256)
        .map(|i| encode(&message(i)).unwrap().into_bytes().into())
        .collect();
    let bytes: usize = batch.iter().map(|f| f.len()).sum();
    let mut out: Vec<u8> = Vec::with_capacity(bytes);
    let mut group = c.benchmark_group("writer");
    group.throughput(Throughput::Elements(batch.len() as u64));
    group.bench_function("batch_of_256_vectored", |b| {
        b.iter(|| {
            out.clear();
            runtime
                .block_on(write_batch(&mut out, black_box(&batch), true))
                .unwrap();
        })
    });
    group.finish();
}

criterion_group!(benches, encode_once, fan_out, writer_batching);
criterion_main!(benches);
