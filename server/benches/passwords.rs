//! What signing in costs the server: one argon2id hash of a password at OWASP's parameters
//! (19 MiB, 2 passes, 1 lane), verifying a password against a stored hash (what every
//! password login pays, and a login for a name without an account too), and resuming a
//! device session, which costs one SHA-256 of its token instead.
//!
//! `cargo bench -p chat-server --bench passwords`

use std::hint::black_box;

use chat_server::accounts::password::{Hasher, Secret};
use chat_server::accounts::token;
use criterion::{criterion_group, criterion_main, Criterion};

fn passwords(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .expect("a runtime for the hasher's blocking threads");
    let hasher = Hasher::new(1).expect("OWASP's parameters are valid");
    let password = Secret::new("violet tractor at noon");
    let stored = runtime
        .block_on(hasher.hash(&password))
        .expect("a password hashes");
    let mut group = c.benchmark_group("sign_in");
    group.sample_size(20);
    group.bench_function("argon2id_hash", |b| {
        b.iter(|| runtime.block_on(hasher.hash(black_box(&password))))
    });
    group.bench_function("argon2id_verify", |b| {
        b.iter(|| runtime.block_on(hasher.verify(Some(black_box(&stored)), &password)))
    });
    group.bench_function("argon2id_verify_no_account", |b| {
        b.iter(|| runtime.block_on(hasher.verify(None, black_box(&password))))
    });
    group.finish();
    let token = token::generate().expect("random numbers");
    c.bench_function("session_token_hash", |b| {
        b.iter(|| token::hash(black_box(&token)))
    });
}

criterion_group!(benches, passwords);
criterion_main!(benches);
