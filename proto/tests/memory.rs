//! Hostile input costs little memory: each case runs in a child process whose peak resident
//! memory (`VmHWM`) is read from the kernel before and after decoding.
//!
//! The child is this test binary again, started with [`CASE_VAR`] naming the case; it
//! prepares the input, resets its peak to the current size, decodes through a real
//! `Connection`, and prints the growth. Linux only: it reads `/proc/self/status`.
#![cfg(target_os = "linux")]

mod common;

use std::process::Command;

use bincode::Options;
use chat_proto::codec::{bincode_options, CodecError, CLIENT_MAX_FRAME};
use chat_proto::{ClientConnection, ServerConnection};
use common::{framed, SERVER_MAX_FRAME};
use tokio::io::AsyncWriteExt;

/// Names the case a child process runs; unset in a normal test run.
const CASE_VAR: &str = "CHAT_PROTO_MEMORY_CASE";

/// The most a hostile input may add to the peak resident memory of the decoding process.
const BUDGET: u64 = 16 * 1024 * 1024;

/// What the child prints, for the parent to read.
const REPORT: &str = "memory-report";

/// What the child does once its peak is reset.
#[derive(Debug, Clone, Copy)]
enum Work {
    /// Read the first frame as the server does: client frames under `buffsize`.
    ServerReads,
    /// Read the first frame as a client does: server frames under `CLIENT_MAX_FRAME`.
    ClientReads,
    /// Decode nothing; allocate and touch this many bytes, to check the meter.
    Allocate(usize),
}

/// One case: the bytes sent and who reads them.
fn case_input(case: &str) -> (Work, Vec<u8>) {
    match case {
        "four_gib_prefix_server" => (Work::ServerReads, four_gib_prefix()),
        "four_gib_prefix_client" => (Work::ClientReads, four_gib_prefix()),
        // Tag 1 is `Msg` both ways; its first field is the room, a string.
        "huge_string_server" => (Work::ServerReads, claims(&[1], 1 << 60)),
        "huge_string_client" => (Work::ClientReads, claims(&[1], 1 << 60)),
        // Tag 7 is `Join`: its room, a string.
        "huge_room_server" => (Work::ServerReads, claims(&[7], 1 << 60)),
        // Tag 3 is `UserList`, tag 10 `RoomList`; tag 8 is `Joined`, an empty room, then
        // its member list.
        "huge_list_client" => (Work::ClientReads, claims(&[3], 1 << 60)),
        "huge_room_list_client" => (Work::ClientReads, claims(&[10], 1 << 60)),
        "huge_members_client" => (Work::ClientReads, claims(&[8, 0], 1 << 60)),
        "random_stream_server" => (Work::ServerReads, random_bytes(1 << 20, 1)),
        "random_stream_client" => (Work::ClientReads, random_bytes(1 << 20, 2)),
        "random_body_client" => (Work::ClientReads, random_body(1 << 20)),
        "empty_names_client" => (Work::ClientReads, empty_names(CLIENT_MAX_FRAME)),
        "empty_rooms_client" => (Work::ClientReads, empty_rooms(CLIENT_MAX_FRAME)),
        "meter_check" => (Work::Allocate(32 << 20), Vec::new()),
        other => panic!("unknown memory case {other}"),
    }
}

/// A length prefix of 2^32 − 1 bytes (the largest a u32 holds), then a little of a body.
fn four_gib_prefix() -> Vec<u8> {
    let mut bytes = u32::MAX.to_be_bytes().to_vec();
    bytes.extend_from_slice(&[0; 64]);
    bytes
}

/// A short frame: `tag`, then a length claiming `claim` bytes (or elements), then 16 bytes.
fn claims(tag: &[u8], claim: u64) -> Vec<u8> {
    let mut body = tag.to_vec();
    body.extend(bincode_options(16).serialize(&claim).unwrap());
    body.extend_from_slice(&[b'x'; 16]);
    framed(&body)
}

/// A full-size frame for a client: an honest 1 MiB prefix and 1 MiB of random body that
/// starts as a `UserList`, so that decoding goes as deep as random bytes let it.
fn random_body(len: usize) -> Vec<u8> {
    let mut body = random_bytes(len, 3);
    body[0] = 3;
    framed(&body)
}

/// A valid `UserList` body of `len` bytes naming as many empty names as fit: the most
/// names, and so the most memory, a frame of that size can decode to.
fn empty_names(len: usize) -> Vec<u8> {
    let header = 1 + 9;
    let count = (len - header) as u64;
    let mut body = vec![3];
    body.extend(bincode_options(16).serialize(&count).unwrap());
    body.resize(len - header + body.len(), 0);
    framed(&body)
}

/// A valid `RoomList` body of `len` bytes naming as many empty rooms of no members as fit
/// (two bytes each): the most rooms a frame of that size can decode to.
fn empty_rooms(len: usize) -> Vec<u8> {
    let header = 1 + 9;
    let count = ((len - header) / 2) as u64;
    let mut body = vec![10];
    body.extend(bincode_options(16).serialize(&count).unwrap());
    body.resize(body.len() + 2 * count as usize, 0);
    framed(&body)
}

/// `len` bytes of xorshift noise: reproducible, no dependency.
fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15_u64 ^ seed;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        })
        .collect()
}

/// A field of `/proc/self/status`, in bytes.
fn status_bytes(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status
        .lines()
        .find(|l| l.starts_with(field))
        .unwrap_or_else(|| panic!("{field} missing from /proc/self/status"));
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unreadable {line}"));
    kib * 1024
}

/// How a read ended, as one word the parent can compare.
fn outcome_name<T>(item: Result<Option<T>, CodecError>) -> &'static str {
    match item {
        Ok(Some(_)) => "frame",
        Ok(None) => "end",
        Err(CodecError::FrameTooLarge { .. }) => "frame_too_large",
        Err(CodecError::Truncated { .. }) => "truncated",
        Err(CodecError::Malformed(_)) => "malformed",
        Err(CodecError::Io(_)) => "io",
    }
}

/// The child's side: runs the case named in [`CASE_VAR`] and prints the peak growth. Does
/// nothing in a normal run.
#[test]
fn child_process_entry() {
    let Ok(case) = std::env::var(CASE_VAR) else {
        return;
    };
    let (work, input) = case_input(&case);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (pipe, mut writer) = tokio::io::duplex(input.len() + 1);
    runtime.block_on(async {
        writer.write_all(&input).await.unwrap();
        writer.shutdown().await.unwrap();
    });

    // From here on, only decoding can raise the peak. Writing 5 to clear_refs resets VmHWM
    // to the current resident size.
    std::fs::write("/proc/self/clear_refs", "5").expect("VmHWM can be reset");
    let base = status_bytes("VmHWM:");
    let outcome = runtime.block_on(async {
        match work {
            Work::ServerReads => {
                let mut conn = ServerConnection::new(pipe, SERVER_MAX_FRAME);
                outcome_name(conn.read_frame().await)
            }
            Work::ClientReads => {
                let mut conn = ClientConnection::new(pipe, CLIENT_MAX_FRAME);
                outcome_name(conn.read_frame().await)
            }
            Work::Allocate(bytes) => {
                std::hint::black_box(vec![1u8; bytes]);
                "allocated"
            }
        }
    });
    let peak = status_bytes("VmHWM:");
    println!("{REPORT} outcome={outcome} growth={}", peak - base);
}

/// Runs `case` in a child process; returns how its read ended and the peak memory growth.
fn run_case(case: &str) -> (String, u64) {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "child_process_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CASE_VAR, case)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "case {case} failed: {}\n{stdout}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    let report = stdout
        .lines()
        .find_map(|l| l.split_once(REPORT).map(|(_, report)| report))
        .unwrap_or_else(|| panic!("case {case} printed no report:\n{stdout}"));
    let mut outcome = String::new();
    let mut growth = 0;
    for field in report.split_whitespace() {
        match field.split_once('=') {
            Some(("outcome", v)) => outcome = v.to_owned(),
            Some(("growth", v)) => growth = v.parse().unwrap(),
            _ => {}
        }
    }
    eprintln!("{case}: {outcome}, peak grew by {} KiB", growth / 1024);
    (outcome, growth)
}

/// Asserts that `case` ends in the typed error `expected` within [`BUDGET`].
fn assert_cheap(case: &str, expected: &[&str]) {
    let (outcome, growth) = run_case(case);
    assert!(
        expected.contains(&outcome.as_str()),
        "case {case}: expected one of {expected:?}, got {outcome}"
    );
    assert!(
        growth < BUDGET,
        "case {case}: peak memory grew by {growth} bytes, over {BUDGET}"
    );
}

/// The measurement itself works: touching 32 MiB shows up as nearly that much growth, so
/// a decoder that allocated past the budget would be caught.
#[test]
fn the_meter_sees_a_32_mib_allocation() {
    let (outcome, growth) = run_case("meter_check");
    assert_eq!(outcome, "allocated");
    // Within a few pages: the kernel updates the counters in batches.
    assert!(growth >= 30 << 20, "growth {growth}");
}

/// A 4 GiB length prefix is refused before any of its body is buffered, by the server and
/// by a client.
#[test]
fn a_four_gib_prefix_is_refused_in_little_memory() {
    assert_cheap("four_gib_prefix_server", &["frame_too_large"]);
    assert_cheap("four_gib_prefix_client", &["frame_too_large"]);
}

/// A string (a message's room, a join's room) claiming 2^60 bytes, or a list claiming 2^60
/// names or rooms, fails as `Malformed` without allocating for the claim.
#[test]
fn a_string_claiming_two_to_the_sixty_bytes_is_refused_in_little_memory() {
    assert_cheap("huge_string_server", &["malformed"]);
    assert_cheap("huge_string_client", &["malformed"]);
    assert_cheap("huge_room_server", &["malformed"]);
    assert_cheap("huge_list_client", &["malformed"]);
    assert_cheap("huge_room_list_client", &["malformed"]);
    assert_cheap("huge_members_client", &["malformed"]);
}

/// 1 MiB of random bytes, as a stream or as one full-size body, gives a typed error.
#[test]
fn a_mebibyte_of_random_bytes_is_refused_in_little_memory() {
    assert_cheap("random_stream_server", &["frame_too_large"]);
    assert_cheap(
        "random_stream_client",
        &["frame_too_large", "malformed", "truncated"],
    );
    assert_cheap("random_body_client", &["malformed"]);
}

/// Not hostile but the worst a client accepts: a full-size `UserList` of about a million
/// empty names decodes to some 26 MiB (24 bytes per `String`). Only a server can send it; the
/// bound keeps that amplification from growing unnoticed.
#[test]
fn the_largest_user_list_a_client_accepts_costs_under_64_mib() {
    let (outcome, growth) = run_case("empty_names_client");
    assert_eq!(outcome, "frame");
    assert!(growth < 4 * BUDGET, "growth {growth}");
}

/// The same for a full-size `RoomList` of about half a million empty rooms: some 16 MiB
/// (32 bytes per `RoomSummary`), under the same bound.
#[test]
fn the_largest_room_list_a_client_accepts_costs_under_64_mib() {
    let (outcome, growth) = run_case("empty_rooms_client");
    assert_eq!(outcome, "frame");
    assert!(growth < 4 * BUDGET, "growth {growth}");
}
