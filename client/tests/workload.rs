//! `chat-client bench --workload` over real TCP: against a real chat-server, with history
//! off and on, and against a real nats-server with a JetStream stream on the room subjects.
//! A tiny workload each; what is checked is that every member of every room got every
//! message, once and in order, and that the figures are reported, never how fast.

mod common;

use common::nats::NatsServer;
use common::{run, Server, CLIENT};
use serde_json::Value;

/// The workload's shape: 12 people in 5 rooms of Zipf sizes, 2 rooms each, 300 messages/s
/// offered for a second.
const SHAPE: &[&str] = &[
    "bench",
    "--workload",
    "--json",
    "--people",
    "12",
    "--rooms",
    "5",
    "--rooms-per-person",
    "2",
    "--rate",
    "300",
    "--duration",
    "1",
    "--seed",
    "3",
];

/// Parses the one JSON line of a finished run that exited 0.
fn report(stdout: &str) -> Value {
    serde_json::from_str(stdout.trim()).unwrap_or_else(|e| panic!("{e}: {stdout}"))
}

/// Nothing lost, nothing out of order, and the counts and figures a run reports.
fn assert_complete(r: &Value) {
    assert_eq!(r["mode"], "workload", "{r}");
    let sent = r["sent"].as_u64().unwrap();
    // 300 messages in a second, Poisson: far from both bounds.
    assert!((150..=450).contains(&sent), "{r}");
    let expected = r["expected"].as_u64().unwrap();
    // Every message reaches at least its sender, and at most all twelve.
    assert!(expected >= sent && expected <= 12 * sent, "{r}");
    assert_eq!(r["received"], expected, "{r}");
    assert_eq!(r["lost"], 0, "{r}");
    assert_eq!(r["out_of_order"], 0, "{r}");
    assert_eq!(r["wrong_room"], 0, "{r}");
    assert_eq!(r["disconnected"], 0, "{r}");
    assert_eq!(r["latency"]["count"], expected, "{r}");
    assert!(r["latency"]["p99_us"].as_f64().unwrap() > 0.0, "{r}");
    assert!(r["deliveries_per_s"].as_f64().unwrap() > 0.0, "{r}");
    let sizes = &r["room_sizes"];
    assert!(
        sizes["largest"].as_u64() > sizes["smallest"].as_u64(),
        "{r}"
    );
    assert!(r["server_cpu_us_per_message"].as_f64().is_some(), "{r}");
}

/// Against chat-server, with history off and on, the same seed making the same rooms and
/// sends: both complete.
#[test]
fn a_workload_against_chat_server_delivers_every_message_to_every_member() {
    for server in [Server::start(), Server::start_with_history()] {
        let pid = server.pid().to_string();
        let mut args = SHAPE.to_vec();
        args.extend(["--server-pid", &pid]);
        let out = server.chat("wl", &args).expect_code(0);
        let r = report(&out.stdout);
        assert_complete(&r);
        assert_eq!(r["proto"], "chat", "{r}");
    }
}

/// Against nats-server with a file-backed JetStream stream on the room subjects: the same
/// checks, and the stream holds every message sent.
#[test]
fn a_workload_against_nats_server_with_jetstream_keeps_and_delivers_everything() {
    let nats = NatsServer::start();
    let dir = tempfile::tempdir().unwrap();
    let pid = nats.pid().to_string();
    let port = nats.port.to_string();
    let mut cmd = std::process::Command::new(CLIENT);
    cmd.current_dir(dir.path())
        .args(["--host", "127.0.0.1", "--port", &port, "--name", "wl"])
        .args(SHAPE)
        .args(["--proto", "nats", "--jetstream", "--server-pid", &pid]);
    let out = run(&mut cmd, "").expect_code(0);
    let r = report(&out.stdout);
    assert_complete(&r);
    assert_eq!(r["proto"], "nats", "{r}");
    assert_eq!(r["stream_messages"], r["sent"], "{r}");
}
