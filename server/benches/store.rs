//! Appending to the room log, one transaction per batch: a message alone, and the bursts of
//! 64 and 256 that group commit turns into one transaction each. Reported as messages per
//! second; the log lives in a real file in a temporary directory (WAL, `synchronous =
//! NORMAL`, as the server runs it), growing as the bench runs.
//!
//! `cargo bench -p chat-server --bench store`

use std::hint::black_box;

use chat_server::log::{NewMessage, SqliteStore, Store};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};

/// A batch of `n` messages to one room, each with a 40-byte text, dated one millisecond
/// apart from `*clock` on. The clock advances as in a server, so `at` grows from batch to
/// batch: the index by age is appended to, not written all over.
fn batch(n: usize, clock: &mut i64) -> Vec<NewMessage> {
    (0..n)
        .map(|i| {
            *clock += 1;
            NewMessage {
                room: "lobby".into(),
                from: "bench-p0".into(),
                text: format!("{i:040}"),
                at: *clock,
            }
        })
        .collect()
}

fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("store_append");
    for n in [1, 64, 256] {
        let dir = tempfile::tempdir().expect("a temporary directory for the bench's file");
        let store = SqliteStore::open(&dir.path().join("bench.db")).expect("a fresh log opens");
        let mut clock = 1_779_000_000_000;
        group.throughput(Throughput::Elements(n as u64));
        group.bench_function(format!("batch_{n}"), |b| {
            b.iter_batched_ref(
                || batch(n, &mut clock),
                |messages| store.append(black_box(messages)).expect("append"),
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

criterion_group!(benches, append);
criterion_main!(benches);
