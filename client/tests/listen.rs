//! `chat-client listen`: what a person or a script following rooms sees.

mod common;

use common::{chat_lines, listener, parse_json_lines, Server};
use serde_json::Value;

#[test]
fn listen_count_2_sees_two_sends_and_their_comings_and_goings_then_exits_0() {
    let server = Server::start();
    let bob = listener(&server, "bob", &["--count", "2"]);
    server.chat("alice", &["send", "first"]).expect_code(0);
    server
        .chat("alice", &["send", "second", "message"])
        .expect_code(0);
    let out = bob.finish().expect_code(0);
    // `send` joins lobby, speaks, and says Bye: the room hears each step, with the reason.
    assert_eq!(
        out.stdout,
        "#lobby * alice joined\n\
         #lobby alice: first\n\
         #lobby * alice left (quit)\n\
         #lobby * alice joined\n\
         #lobby alice: second message\n"
    );
}

#[test]
fn listen_room_alpha_hears_alpha_and_not_lobby() {
    let server = Server::start();
    let bob = listener(&server, "bob", &["--room", "alpha", "--count", "1"]);
    let carol = listener(&server, "carol", &["--count", "1"]);
    // Lobby first: if bob heard lobby, this would be his one message.
    server.chat("alice", &["send", "to lobby"]).expect_code(0);
    server
        .chat("alice", &["send", "--room", "#alpha", "to alpha"])
        .expect_code(0);
    let bob = bob.finish().expect_code(0);
    assert_eq!(
        bob.stdout,
        "#alpha * alice joined\n#alpha alice: to alpha\n"
    );
    let carol = carol.finish().expect_code(0);
    assert_eq!(
        carol.stdout,
        "#lobby * alice joined\n#lobby alice: to lobby\n"
    );
}

#[test]
fn listen_to_several_rooms_tags_each_line_with_the_room_as_its_first_member_typed_it() {
    let server = Server::start();
    let bob = listener(
        &server,
        "bob",
        &["--room", "alpha", "--room", "#Beta", "--count", "2"],
    );
    server
        .chat("alice", &["send", "--room", "BETA", "b"])
        .expect_code(0);
    server
        .chat("alice", &["send", "--room", "alpha", "a"])
        .expect_code(0);
    let out = bob.finish().expect_code(0);
    assert_eq!(
        chat_lines(&out.stdout),
        ["#Beta alice: b", "#alpha alice: a"]
    );
}

#[test]
fn listen_prints_whispers_without_a_room() {
    let server = Server::start();
    let bob = listener(&server, "bob", &["--count", "1"]);
    server
        .chat("alice", &["whisper", "bob", "psst"])
        .expect_code(0);
    let out = bob.finish().expect_code(0);
    // A whisper joins no room, so lobby hears no one come or go.
    assert_eq!(out.stdout, "[whisper] alice -> bob: psst\n");
}

/// The keys of every `--json` line, in order.
const KEYS: [&str; 16] = [
    "type",
    "room",
    "from",
    "to",
    "user",
    "reason",
    "users",
    "text",
    "time",
    "seq",
    "backlog",
    "target",
    "reply_to",
    "edited",
    "emoji",
    "reactions",
];

#[test]
fn listen_json_prints_one_object_per_line_with_every_key() {
    let server = Server::start();
    let mut bob = common::Spawned::new(
        server
            .client("bob")
            .args(["listen", "--json", "--count", "2"]),
    );
    let first = bob
        .stdout
        .wait_for("bob's own join", |l| l.contains(r#""type":"joined""#));
    server.chat("alice", &["send", "say \"hi\""]).expect_code(0);
    server
        .chat("alice", &["whisper", "bob", "psst"])
        .expect_code(0);
    let out = bob.finish().expect_code(0);
    let lines: Vec<&str> = std::iter::once(first.as_str())
        .chain(out.stdout.lines())
        .collect();
    let events = parse_json_lines(&lines.join("\n"));
    let mut sorted_keys = KEYS.to_vec();
    sorted_keys.sort_unstable();
    for (line, event) in lines.iter().zip(&events) {
        assert_eq!(common::sorted_keys(event), sorted_keys, "{line}");
        // In this order on the line, so people can read them too.
        let at = |key: &str| line.find(&format!("\"{key}\":")).expect("the key is there");
        assert!(KEYS.windows(2).all(|w| at(w[0]) < at(w[1])), "{line}");
    }
    let null = Value::Null;
    let [joined, alice_joined, msg, alice_left, whisper] = &events[..] else {
        panic!("five events: {events:#?}");
    };
    assert_eq!(
        (
            &joined["type"],
            &joined["room"],
            &joined["users"],
            &joined["time"]
        ),
        (
            &"joined".into(),
            &"lobby".into(),
            &serde_json::json!(["bob"]),
            &null
        )
    );
    assert_eq!(
        (
            &alice_joined["type"],
            &alice_joined["room"],
            &alice_joined["user"],
            &alice_joined["reason"]
        ),
        (
            &"user_joined".into(),
            &"lobby".into(),
            &"alice".into(),
            &null
        )
    );
    assert_eq!(
        (
            &msg["type"],
            &msg["room"],
            &msg["from"],
            &msg["to"],
            &msg["text"]
        ),
        (
            &"msg".into(),
            &"lobby".into(),
            &"alice".into(),
            &null,
            &"say \"hi\"".into()
        )
    );
    // The room's first message, heard live.
    assert_eq!((&msg["seq"], &msg["backlog"]), (&1.into(), &false.into()));
    for event in [joined, alice_joined, alice_left, whisper] {
        assert_eq!(
            (&event["seq"], &event["backlog"]),
            (&null, &null),
            "{event}"
        );
    }
    assert_eq!(
        (
            &alice_left["type"],
            &alice_left["user"],
            &alice_left["reason"],
            &alice_left["text"]
        ),
        (&"user_left".into(), &"alice".into(), &"quit".into(), &null)
    );
    assert_eq!(
        (
            &whisper["type"],
            &whisper["room"],
            &whisper["from"],
            &whisper["to"],
            &whisper["text"]
        ),
        (
            &"whisper".into(),
            &null,
            &"alice".into(),
            &"bob".into(),
            &"psst".into()
        )
    );
    for event in &events[1..] {
        let time = event["time"].as_str().expect("time is a string");
        chrono::DateTime::parse_from_rfc3339(time)
            .unwrap_or_else(|e| panic!("time {time:?} is not RFC 3339: {e}"));
    }
}

#[test]
fn listen_exits_1_with_a_clear_message_when_the_server_goes_away() {
    let mut server = Server::start();
    let bob = listener(&server, "bob", &[]);
    server.stop();
    let out = bob.finish().expect_code(1).expect_one_error_line();
    assert!(
        out.stderr.contains(&format!("127.0.0.1:{}", server.port)),
        "{out:#?}"
    );
}

/// The shipped flood control lets a client send ten frames at once (its `Hello` and nine
/// joins), then five a second: `listen` with more rooms than that asks again for the
/// rate-limited ones and ends up in all of them, hearing each.
#[test]
fn listen_to_more_rooms_than_the_flood_burst_joins_them_all() {
    let server = Server::start_with(
        "[server]\nhost = 127.0.0.1\nport = 0\n[limits]\nmessages_per_second = 5\nburst = 10\n",
        0,
    );
    let rooms: Vec<String> = (0..14).map(|i| format!("r{i}")).collect();
    let mut args: Vec<&str> = rooms.iter().flat_map(|r| ["--room", r.as_str()]).collect();
    args.extend(["--count", "1"]);
    let bob = listener(&server, "bob", &args);
    server
        .chat("alice", &["send", "--room", "r13", "the last room"])
        .expect_code(0);
    let out = bob.finish().expect_code(0);
    assert_eq!(chat_lines(&out.stdout), ["#r13 alice: the last room"]);
}

/// `m1`, `m2`, ... `m{n}`.
fn numbered(n: u64) -> Vec<String> {
    (1..=n).map(|i| format!("m{i}")).collect()
}

/// `#lobby alice: m{i}` for each `i` in `seqs`.
fn lobby_lines(seqs: std::ops::RangeInclusive<u64>) -> Vec<String> {
    seqs.map(|i| format!("#lobby alice: m{i}")).collect()
}

/// `listen --history 5`: the room's last five messages first, oldest first and looking like
/// live lines, then the live ones; only live messages count towards `--count`.
#[test]
fn listen_history_5_prints_the_last_5_then_live_ones() {
    let server = Server::start_with_history();
    server.send_all("alice", "lobby", &numbered(8));
    let bob = listener(&server, "bob", &["--history", "5", "--count", "1"]);
    server.chat("alice", &["send", "live"]).expect_code(0);
    let out = bob.finish().expect_code(0);
    let mut expected = lobby_lines(4..=8);
    expected.push("#lobby alice: live".into());
    assert_eq!(chat_lines(&out.stdout), expected);
}

/// Past the server's 500-message pages: `--after 50` prints exactly the 650 messages after
/// seq 50 (paging forward), `--history 600` exactly the latest 600 (paging back, marked as
/// backlog in JSON), each followed by the live message, once.
#[test]
fn listen_after_and_history_past_the_cap_print_exactly_the_gap_then_live_ones() {
    let server = Server::start_with_history();
    server.send_all("alice", "lobby", &numbered(700));
    let bob = listener(&server, "bob", &["--after", "50", "--count", "1"]);
    let carol = listener(
        &server,
        "carol",
        &["--history", "600", "--count", "1", "--json"],
    );
    server.chat("alice", &["send", "live"]).expect_code(0);

    let bob = bob.finish().expect_code(0);
    let mut expected = lobby_lines(51..=700);
    expected.push("#lobby alice: live".into());
    assert_eq!(chat_lines(&bob.stdout), expected);

    let carol = carol.finish().expect_code(0);
    let messages: Vec<(u64, String, bool)> = parse_json_lines(&carol.stdout)
        .iter()
        .filter(|e| e["type"] == "msg")
        .map(|e| {
            (
                e["seq"].as_u64().expect("a seq"),
                e["text"].as_str().expect("a text").to_owned(),
                e["backlog"].as_bool().expect("backlog is a bool"),
            )
        })
        .collect();
    let mut expected: Vec<(u64, String, bool)> =
        (101..=700).map(|i| (i, format!("m{i}"), true)).collect();
    expected.push((701, "live".into(), false));
    assert_eq!(messages, expected);
}

/// A catch-up from a seq the room never reached cannot be served: `listen` says that some
/// messages are no longer available, prints the latest instead, then goes on live.
#[test]
fn listen_after_a_seq_the_server_does_not_have_says_messages_are_missing() {
    let server = Server::start_with_history();
    server.send_all("alice", "lobby", &numbered(3));
    let bob = listener(&server, "bob", &["--after", "99", "--count", "1"]);
    server.chat("alice", &["send", "live"]).expect_code(0);
    let out = bob.finish().expect_code(0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    let missed = lines
        .iter()
        .position(|l| *l == "#lobby * some messages are no longer available")
        .unwrap_or_else(|| panic!("no missed line: {out:#?}"));
    let first = lines.iter().position(|l| *l == "#lobby alice: m1");
    assert!(first.is_some_and(|first| missed < first), "{out:#?}");
    let mut expected = lobby_lines(1..=3);
    expected.push("#lobby alice: live".into());
    assert_eq!(chat_lines(&out.stdout), expected);
}

/// Each room numbers its own messages, so `--after` takes one room: two are a usage error.
#[test]
fn listen_after_with_two_rooms_is_a_usage_error() {
    let server = Server::start_with_history();
    server
        .chat(
            "bob",
            &["listen", "--room", "a", "--room", "b", "--after", "3"],
        )
        .expect_code(2)
        .expect_one_error_line();
}
