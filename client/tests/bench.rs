//! `chat-client bench` against the real server: every message reaches every receiver.
//! Counts only; how fast is for the benchmark itself to say, never for a test.

mod common;

use common::Server;
use serde_json::Value;

/// A server with flood control off, as the benchmark needs (a bench publisher sends far
/// faster than anyone types).
fn bench_server() -> Server {
    Server::start_with(
        "[server]\nhost = 127.0.0.1\nport = 0\nbuffsize = 1024\n\
         [limits]\nmessages_per_second = 0\n",
        0,
    )
}

fn report(server: &Server, args: &[&str]) -> Value {
    let mut full = vec!["bench", "--json"];
    full.extend_from_slice(args);
    let out = server.chat("b", &full).expect_code(0);
    serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {out:#?}"))
}

/// At saturation, with several publishers, each receiver gets every message of every
/// publisher, in each publisher's order; nothing is lost.
#[test]
fn saturation_run_delivers_everything_in_order() {
    let server = bench_server();
    let r = report(
        &server,
        &[
            "--clients",
            "5",
            "--publishers",
            "2",
            "--messages",
            "300",
            "--window",
            "50",
        ],
    );
    assert_eq!(r["sent"], 600, "{r}");
    assert_eq!(r["expected"], 3000, "{r}");
    assert_eq!(r["received"], 3000, "{r}");
    assert_eq!(r["lost"], 0, "{r}");
    assert_eq!(r["out_of_order"], 0, "{r}");
    assert_eq!(r["receivers_disconnected"], 0, "{r}");
    assert_eq!(r["latency"]["count"], 3000, "{r}");
}

/// A rate-limited run sends the same messages, paced, and loses none.
#[test]
fn rate_run_delivers_everything() {
    let server = bench_server();
    let r = report(
        &server,
        &[
            "--clients",
            "3",
            "--messages",
            "40",
            "--rate",
            "400",
            "--size",
            "100",
        ],
    );
    assert_eq!(r["received"], 120, "{r}");
    assert_eq!(r["lost"], 0, "{r}");
    assert_eq!(r["size"], 100, "{r}");
}

/// Idle mode registers every client and reports none dropped.
#[test]
fn idle_run_registers_every_client() {
    let server = bench_server();
    let r = report(&server, &["--idle", "--clients", "20"]);
    assert_eq!(r["mode"], "idle", "{r}");
    assert_eq!(r["clients"], 20, "{r}");
    assert_eq!(r["disconnected"], 0, "{r}");
}

/// A size under the stamp is refused before connecting, as a usage error.
#[test]
fn a_size_below_the_stamp_is_a_usage_error() {
    let server = bench_server();
    server
        .chat("b", &["bench", "--size", "10"])
        .expect_code(2)
        .expect_one_error_line();
}
