//! `chat-client bench` against the real server: every message reaches every receiver.
//! Counts only; how fast is for the benchmark itself to say, never for a test.

mod common;

use common::{run, Server};
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

/// With rooms, each receiver gets every publisher's messages to its own room, in order,
/// and none from the others; the deliveries are `P × M × N` as with one room, and each
/// publisher reads back what everyone sent to every room.
#[test]
fn a_run_over_rooms_delivers_each_room_to_its_receivers() {
    let server = bench_server();
    // Seven receivers over three rooms: rooms of 3, 2 and 2.
    let r = report(
        &server,
        &[
            "--clients",
            "7",
            "--rooms",
            "3",
            "--publishers",
            "2",
            "--messages",
            "200",
            "--window",
            "20",
        ],
    );
    assert_eq!(r["rooms"], 3, "{r}");
    assert_eq!(r["sent"], 2 * 200 * 3, "{r}");
    assert_eq!(r["expected"], 2 * 200 * 7, "{r}");
    assert_eq!(r["received"], 2 * 200 * 7, "{r}");
    assert_eq!(r["lost"], 0, "{r}");
    assert_eq!(r["out_of_order"], 0, "{r}");
    assert_eq!(r["wrong_room"], 0, "{r}");
    assert_eq!(r["receivers_disconnected"], 0, "{r}");
    assert_eq!(r["publisher_received"], 2 * (2 * 200 * 3), "{r}");
    assert!(
        r["ns_per_delivery"].as_f64().is_some_and(|ns| ns > 0.0),
        "{r}"
    );
}

/// `--also` spreads the receivers over the servers round-robin and the report says how
/// many went where; given the same server again, nothing changes for the messages.
#[test]
fn also_spreads_the_receivers_and_the_report_says_where() {
    let server = bench_server();
    let also = format!("127.0.0.1:{}", server.port);
    let r = report(
        &server,
        &[
            "--clients",
            "5",
            "--messages",
            "100",
            "--window",
            "20",
            "--also",
            &also,
        ],
    );
    assert_eq!(r["received"], 500, "{r}");
    assert_eq!(r["lost"], 0, "{r}");
    assert_eq!(r["out_of_order"], 0, "{r}");
    assert_eq!(r["servers"][0]["addr"], also.as_str(), "{r}");
    assert_eq!(r["servers"][0]["receivers"], 3, "{r}");
    assert_eq!(r["servers"][1]["addr"], also.as_str(), "{r}");
    assert_eq!(r["servers"][1]["receivers"], 2, "{r}");
}

/// The `--also` receivers really are on the other server: given one outside the first's
/// cluster (here, no cluster at all), exactly their messages are lost.
#[test]
fn receivers_of_an_unrelated_also_server_miss_everything() {
    let (first, other) = (bench_server(), bench_server());
    let out = run(
        first.client("b").args([
            "--timeout",
            "1",
            "bench",
            "--json",
            "--clients",
            "5",
            "--messages",
            "20",
            "--window",
            "0",
            "--also",
            &format!("127.0.0.1:{}", other.port),
        ]),
        "",
    )
    .expect_code(1);
    let r: Value =
        serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {out:#?}"));
    assert_eq!(r["expected"], 100, "{r}");
    assert_eq!(r["received"], 60, "{r}");
    assert_eq!(r["lost"], 40, "{r}");
}

/// A rate-limited run over rooms sends every room its share and loses none.
#[test]
fn a_rate_run_over_rooms_delivers_everything() {
    let server = bench_server();
    let r = report(
        &server,
        &[
            "--clients",
            "4",
            "--rooms",
            "4",
            "--messages",
            "10",
            "--rate",
            "400",
        ],
    );
    assert_eq!(r["sent"], 40, "{r}");
    assert_eq!(r["received"], 40, "{r}");
    assert_eq!(r["lost"], 0, "{r}");
}

/// One room is `lobby`, where anyone else can hear the benchmark; more rooms are named
/// after --name, and the report says how many.
#[test]
fn one_room_is_lobby_and_more_are_named_after_the_bench() {
    let server = bench_server();
    let r = report(&server, &["--idle", "--clients", "6", "--rooms", "3"]);
    assert_eq!(r["rooms"], 3, "{r}");
    assert_eq!(r["disconnected"], 0, "{r}");
    let r = report(&server, &["--clients", "2", "--messages", "5"]);
    assert_eq!(r["rooms"], 1, "{r}");
    assert_eq!(r["received"], 10, "{r}");
}

/// A publisher must be in every room: a server that allows fewer rooms per person makes
/// the benchmark stop before sending, saying which limit to change.
#[test]
fn more_rooms_than_the_server_allows_one_person_is_a_clear_error() {
    let server = Server::start_with(
        "[server]\nhost = 127.0.0.1\nport = 0\n\
         [limits]\nmessages_per_second = 0\nrooms_per_user = 2\n",
        0,
    );
    let out = server
        .chat(
            "b",
            &["bench", "--clients", "3", "--rooms", "3", "--messages", "5"],
        )
        .expect_code(1)
        .expect_one_error_line();
    assert!(
        out.stderr.contains("publisher b-p0") && out.stderr.contains("rooms_per_user = 0"),
        "{out:#?}"
    );
}

/// With flood control on, a publisher's joins are refused after the burst: the benchmark
/// stops and says to switch flood control off.
#[test]
fn joining_many_rooms_under_flood_control_is_a_clear_error() {
    let server = Server::start_with(
        "[server]\nhost = 127.0.0.1\nport = 0\n[limits]\nrooms_per_user = 0\n",
        0,
    );
    let out = server
        .chat(
            "b",
            &[
                "bench",
                "--clients",
                "20",
                "--rooms",
                "20",
                "--messages",
                "5",
            ],
        )
        .expect_code(1)
        .expect_one_error_line();
    assert!(
        out.stderr.contains("publisher b-p0") && out.stderr.contains("messages_per_second = 0"),
        "{out:#?}"
    );
}

/// No rooms, or more rooms than receivers, is refused before connecting.
#[test]
fn rooms_outside_one_to_clients_are_a_usage_error() {
    let server = bench_server();
    for rooms in ["0", "4"] {
        server
            .chat("b", &["bench", "--clients", "3", "--rooms", rooms])
            .expect_code(2)
            .expect_one_error_line();
    }
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
