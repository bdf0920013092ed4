//! Appending to the room log, one transaction per batch: a message alone, and the bursts of
//! 64 and 256 that group commit turns into one transaction each. Reported as messages per
//! second; the log lives in a real file in a temporary directory (WAL, `synchronous =
//! NORMAL`, as the server runs it), growing as the bench runs.
//!
//! Searching it: 1,000,000 messages in 1,000 rooms (each a few words of a 2,000-word
//! vocabulary with a number), one room's and fifty rooms' newest 20 hits; criterion's
//! median, and the 95th percentile of 1,000 searches printed beside it.
//!
//! `cargo bench -p chat-server --bench store`

use std::hint::black_box;
use std::time::{Duration, Instant};

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

/// The `n`th word of a made-up vocabulary of 2,000: syllables, so that words share parts.
fn word(n: usize) -> String {
    const SYLLABLES: [&str; 20] = [
        "ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "de", "va", "zu", "chi", "ro", "mo", "ha",
        "ni", "ge", "bu", "sa", "te",
    ];
    let n = n % 2_000;
    format!(
        "{}{}{}",
        SYLLABLES[n % 20],
        SYLLABLES[(n / 20) % 20],
        SYLLABLES[(n / 400) % 20]
    )
}

/// A store holding `rooms` rooms of `per_room` messages of six words each.
fn filled(rooms: usize, per_room: usize) -> (tempfile::TempDir, SqliteStore) {
    let dir = tempfile::tempdir().expect("a temporary directory for the bench's file");
    let store = SqliteStore::open(&dir.path().join("search.db")).expect("a fresh log opens");
    let mut seed = 7usize;
    let mut next = || {
        seed = seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        seed >> 33
    };
    for round in 0..per_room / 100 {
        let batch: Vec<NewMessage> = (0..rooms)
            .flat_map(|room| (0..100).map(move |i| (room, i)))
            .map(|(room, i)| NewMessage {
                room: format!("room{room}").into(),
                from: "bench".into(),
                text: (0..6).map(|_| word(next())).collect::<Vec<_>>().join(" "),
                at: (round * 100 + i) as i64,
            })
            .collect();
        store.append(&batch).expect("append");
    }
    (dir, store)
}

fn search(c: &mut Criterion) {
    let (_dir, store) = filled(1_000, 1_000);
    let one = vec!["room7".to_owned()];
    let fifty: Vec<String> = (0..50).map(|room| format!("room{room}")).collect();
    let terms = vec![word(1_234)];
    let mut group = c.benchmark_group("store_search");
    for (name, rooms) in [("one_room", &one), ("fifty_rooms", &fifty)] {
        let mut took: Vec<Duration> = (0..1_000)
            .map(|_| {
                let started = Instant::now();
                black_box(store.search(rooms, &terms, None, 20).expect("search"));
                started.elapsed()
            })
            .collect();
        took.sort();
        println!(
            "store_search/{name}: p50 {:?}, p95 {:?} over 1,000 searches of 1,000,000 messages",
            took[500], took[950]
        );
        group.bench_function(name, |b| {
            b.iter(|| store.search(rooms, &terms, None, 20).expect("search"))
        });
    }
    group.finish();
}

criterion_group!(benches, append, search);
criterion_main!(benches);
