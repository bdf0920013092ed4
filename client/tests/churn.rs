//! `chat-client bench --churn-rooms` and `--churn-names` against a real chat-server, at a
//! small scale: every room made, spoken in (its line echoed) and left, every guest
//! registered and let go, and afterwards nobody online and no room left, as anyone asking
//! the server would see.

mod common;

use common::Server;
use serde_json::Value;

/// History on, as a node keeps it; flood control, the connection caps and the room caps
/// off, since the churn makes rooms and guests as fast as the server answers.
const CONFIG: &str = "[server]\nhost = 127.0.0.1\nport = 0\nbuffsize = 1024\n\
                      [limits]\nmessages_per_second = 0\nflood_disconnect_after = 0\n\
                      max_clients = 0\nmax_per_ip = 0\nrooms_per_user = 0\nmax_rooms = 0\n\
                      [store]\npath = chat.db\n";

fn report(out: &common::Outcome) -> Value {
    serde_json::from_str(out.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {out:#?}"))
}

/// 50 rooms over two connections: each joined, its line echoed, parted; then the server
/// lists no room and everyone can still read each room's line in its history.
#[test]
fn every_churned_room_is_joined_echoed_and_left() {
    let server = Server::start_with(CONFIG, 0);
    let pid = server.pid().to_string();
    let out = server
        .chat(
            "churn",
            &[
                "bench",
                "--json",
                "--churn-rooms",
                "50",
                "--churn-concurrency",
                "2",
                "--server-pid",
                &pid,
            ],
        )
        .expect_code(0);
    let r = report(&out);
    assert_eq!(r["mode"], "churn_rooms", "{r}");
    for key in ["rooms", "joined", "echoed", "parted"] {
        assert_eq!(r[key], 50, "{key}: {r}");
    }
    assert_eq!(r["refused"], 0, "{r}");
    assert_eq!(r["failed_connections"], 0, "{r}");
    assert!(r["server_rss_kb_after"].as_u64().is_some(), "{r}");

    let rooms = server.chat("look", &["rooms"]).expect_code(0);
    assert_eq!(rooms.stdout, "", "no room is left: {rooms:#?}");
    let history = server
        .chat("look", &["history", "--room", "churn-49"])
        .expect_code(0);
    assert!(history.stdout.contains("churn 49"), "{history:#?}");
}

/// 200 guests, 16 at a time: each registered under its own name and let go; then nobody
/// is online, and a guest's name can be taken again at once.
#[test]
fn every_churned_guest_registers_and_goes() {
    let server = Server::start_with(CONFIG, 0);
    let out = server
        .chat(
            "churn",
            &[
                "bench",
                "--json",
                "--churn-names",
                "200",
                "--churn-concurrency",
                "16",
            ],
        )
        .expect_code(0);
    let r = report(&out);
    assert_eq!(r["mode"], "churn_names", "{r}");
    assert_eq!(r["names"], 200, "{r}");
    assert_eq!(r["registered"], 200, "{r}");
    assert_eq!(r["quit"], 200, "{r}");
    assert_eq!(r["refused"], 0, "{r}");
    assert_eq!(r["failed_connections"], 0, "{r}");

    let users = server.chat("look", &["users"]).expect_code(0);
    assert_eq!(users.stdout, "", "nobody is online: {users:#?}");
    server
        .chat("churn-g199", &["send", "back again"])
        .expect_code(0);
}

/// A churn run refuses flags of another run.
#[test]
fn churn_flags_exclude_the_other_runs() {
    let server = Server::start_with(CONFIG, 0);
    for extra in [
        &["--churn-names", "2"][..],
        &["--idle"][..],
        &["--crowd"][..],
    ] {
        let mut args = vec!["bench", "--churn-rooms", "2"];
        args.extend_from_slice(extra);
        server.chat("churn", &args).expect_code(2);
    }
}
