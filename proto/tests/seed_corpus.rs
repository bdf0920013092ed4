//! The fuzz targets' checked-in seed corpora are what `--example seed_corpus` writes.

#[path = "../examples/seed_corpus.rs"]
#[allow(dead_code)]
mod seed_corpus;

use std::collections::BTreeSet;
use std::path::Path;

/// Every seed on disk equals what the example generates today, and no other `seed-*` file
/// lingers, so a change to the encoding cannot leave the fuzzer starting from stale bytes.
#[test]
fn the_checked_in_seeds_are_current() {
    for (target, seeds) in seed_corpus::corpora() {
        check(target, &seeds);
    }
}

fn check(target: &str, seeds: &[(String, Vec<u8>)]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target);
    let regenerate = "regenerate with `cargo run -p chat-proto --example seed_corpus`";
    for (name, bytes) in seeds {
        let on_disk = std::fs::read(dir.join(name))
            .unwrap_or_else(|e| panic!("seed {name}: {e}; {regenerate}"));
        assert!(on_disk == *bytes, "seed {name} is stale; {regenerate}");
    }
    let expected: BTreeSet<&str> = seeds.iter().map(|(name, _)| name.as_str()).collect();
    let on_disk: BTreeSet<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("seed-"))
        .collect();
    let on_disk: BTreeSet<&str> = on_disk.iter().map(String::as_str).collect();
    assert_eq!(on_disk, expected, "{regenerate}");
}
