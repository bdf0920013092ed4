//! `chat-client bench --crowd` against a real server, at a small scale: many clients from
//! several local addresses, one message to all of them, then a reconnect storm in which
//! every client catches up from its last `seq`; nothing missed, nothing twice.

mod common;

use common::{Server, Spawned};
use serde_json::Value;

/// History on, flood control and the per-address cap off, as the crowd run needs.
const CONFIG: &str = "[server]\nhost = 127.0.0.1\nport = 0\nbuffsize = 1024\n\
                      [limits]\nmessages_per_second = 0\nmax_per_ip = 0\n\
                      [store]\npath = chat.db\n";

fn report(out: &common::Outcome) -> Value {
    serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {out:#?}"))
}

/// Every client had the timed message, was dropped, came back and caught up, and then
/// holds every `seq` of the room from the timed message to the last, each once.
fn assert_storm_lost_nothing(r: &Value, clients: u64) {
    let check = &r["check"];
    assert_eq!(r["delivery"]["reached"], clients, "{r}");
    assert_eq!(r["storm"]["dropped"], clients, "{r}");
    assert_eq!(r["storm"]["back"]["reached"], clients, "{r}");
    assert_eq!(check["missed"], 0, "{r}");
    assert_eq!(check["twice"], 0, "{r}");
    assert_eq!(check["trimmed"], 0, "{r}");
    assert_eq!(check["wrong_start"], 0, "{r}");
    assert_eq!(check["behind"], 0, "{r}");
    assert_eq!(check["gone"], 0, "{r}");
    assert_eq!(check["received"], check["expected"], "{r}");
    // Room k holds the clients i with i mod R = k; each should have all of that room's
    // seqs from the first to the last.
    let seqs = |key: &str| -> Vec<u64> {
        check[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_u64().unwrap())
            .collect()
    };
    let (first, last) = (seqs("first_seqs"), seqs("last_seqs"));
    let rooms = first.len() as u64;
    let expected: u64 = (0..rooms)
        .map(|k| (clients + rooms - 1 - k) / rooms * (last[k as usize] - first[k as usize] + 1))
        .sum();
    assert_eq!(check["expected"], expected, "{r}");
}

/// The server is killed and started again on the same `chat.db` while 200 clients from
/// two addresses are in `lobby` and a publisher keeps sending: each comes back with
/// `Backlog::After(its last seq)` and ends with every message, once, in order.
#[test]
fn a_restart_storm_loses_nothing_and_repeats_nothing() {
    let server = Server::start_with(CONFIG, 0);
    let mut cmd = server.client("crowd");
    cmd.args([
        "bench",
        "--json",
        "--crowd",
        "--clients",
        "200",
        "--source-addrs",
        "2",
        "--storm",
        "restart",
        "--storm-rate",
        "50",
        "--storm-timeout",
        "15",
    ]);
    let mut bench = Spawned::new(&mut cmd);
    bench
        .stderr
        .wait_for("saying storm: ready", |l| l.starts_with("storm: ready"));
    let server = server.restart();
    let out = bench.finish().expect_code(0);
    let r = report(&out);
    assert_eq!(r["source_addrs"], 2, "{r}");
    assert_eq!(r["storm"]["how"], "restart", "{r}");
    assert_storm_lost_nothing(&r, 200);
    // The publisher's messages during the storm are in the check: more than the two
    // messages it sends either side of the storm.
    let check = &r["check"];
    assert!(
        check["last_seqs"][0].as_u64() > check["first_seqs"][0].as_u64().map(|s| s + 1),
        "{r}"
    );
    drop(server);
}

/// Without a restart: every client drops its own connection and rejoins, spread over
/// three rooms.
#[test]
fn a_drop_storm_over_rooms_loses_nothing() {
    let server = Server::start_with(CONFIG, 0);
    let out = server
        .chat(
            "crowd",
            &[
                "bench",
                "--json",
                "--crowd",
                "--clients",
                "60",
                "--rooms",
                "3",
                "--storm",
                "drop",
                "--storm-rate",
                "50",
                "--storm-timeout",
                "15",
            ],
        )
        .expect_code(0);
    let r = report(&out);
    assert_eq!(r["storm"]["how"], "drop", "{r}");
    assert_eq!(
        r["check"]["first_seqs"].as_array().map(Vec::len),
        Some(3),
        "{r}"
    );
    assert_storm_lost_nothing(&r, 60);
}
