//! `chat-client history`: a room's past, read from the server's log page by page.

mod common;

use common::Server;

/// `m1`, `m2`, ... `m{n}`.
fn numbered(n: u64) -> Vec<String> {
    (1..=n).map(|i| format!("m{i}")).collect()
}

/// The seq and text of each `[SEQ] HH:MM from: text` line, checking its shape.
fn seqs_and_texts(stdout: &str, from: &str) -> Vec<(u64, String)> {
    stdout
        .lines()
        .map(|line| {
            let (seq, rest) = line
                .strip_prefix('[')
                .and_then(|l| l.split_once("] "))
                .unwrap_or_else(|| panic!("no [SEQ] in {line:?}"));
            let (clock, rest) = rest.split_at(5);
            assert!(
                clock.as_bytes()[2] == b':'
                    && clock.bytes().filter(u8::is_ascii_digit).count() == 4,
                "no HH:MM in {line:?}"
            );
            let text = rest
                .strip_prefix(&format!(" {from}: "))
                .unwrap_or_else(|| panic!("not from {from}: {line:?}"));
            (seq.parse().expect("a numeric seq"), text.to_owned())
        })
        .collect()
}

/// `(seq, "m{seq}")` for each seq in `seqs`.
fn expected(seqs: std::ops::RangeInclusive<u64>) -> Vec<(u64, String)> {
    seqs.map(|i| (i, format!("m{i}"))).collect()
}

/// 1200 messages, more than two of the server's 500-message pages: `history` pages by
/// itself, backwards and forwards, and prints exactly the messages asked for, oldest first.
#[test]
fn history_pages_past_the_servers_cap_backwards_and_forwards() {
    let server = Server::start_with_history();
    server.send_all("alice", "lobby", &numbered(1200));

    let latest = server
        .chat("bob", &["history", "--limit", "1100"])
        .expect_code(0);
    assert_eq!(
        seqs_and_texts(&latest.stdout, "alice"),
        expected(101..=1200)
    );

    let before = server
        .chat("bob", &["history", "--before", "101", "--limit", "3"])
        .expect_code(0);
    assert_eq!(seqs_and_texts(&before.stdout, "alice"), expected(98..=100));

    let after = server
        .chat("bob", &["history", "--after", "100", "--limit", "600"])
        .expect_code(0);
    assert_eq!(seqs_and_texts(&after.stdout, "alice"), expected(101..=700));

    // Past the end: only what there is.
    let tail = server
        .chat("bob", &["history", "--after", "1197", "--limit", "100000"])
        .expect_code(0);
    assert_eq!(seqs_and_texts(&tail.stdout, "alice"), expected(1198..=1200));

    // Without --limit: the latest 50.
    let default = server.chat("bob", &["history"]).expect_code(0);
    assert_eq!(
        seqs_and_texts(&default.stdout, "alice"),
        expected(1151..=1200)
    );
}

/// `--json` lines carry the keys of `listen --json`, the seq among them, and say they come
/// from the log; the text line's clock is the message's time (here in UTC). Nobody is in
/// the room any more, so it is named as asked.
#[test]
fn history_json_has_every_listen_key_and_the_seq() {
    let server = Server::start_with_history();
    server.send_all("alice", "Rust", &numbered(3));
    let json = server
        .chat(
            "bob",
            &["history", "--room", "#rust", "--limit", "2", "--json"],
        )
        .expect_code(0);
    let events = common::parse_json_lines(&json.stdout);
    assert_eq!(events.len(), 2, "{json:#?}");
    for (event, seq) in events.iter().zip([2, 3]) {
        assert_eq!(
            common::sorted_keys(event),
            [
                "backlog",
                "edited",
                "emoji",
                "from",
                "reactions",
                "reason",
                "reply_to",
                "room",
                "seq",
                "target",
                "text",
                "time",
                "to",
                "type",
                "user",
                "users"
            ]
        );
        assert_eq!(
            (
                &event["type"],
                &event["room"],
                &event["from"],
                &event["text"],
                &event["seq"],
                &event["backlog"]
            ),
            (
                &"msg".into(),
                &"rust".into(),
                &"alice".into(),
                &format!("m{seq}").into(),
                &seq.into(),
                &true.into()
            )
        );
    }
    let text = common::run(
        server
            .client("bob")
            .args(["history", "--room", "rust", "--limit", "1"])
            .env("TZ", "UTC"),
        "",
    )
    .expect_code(0);
    let time = events[1]["time"].as_str().expect("a time");
    let hh_mm = &time[11..16];
    assert_eq!(text.stdout, format!("[3] {hh_mm} alice: m3\n"));
    // `send` understands `/history N` as the REPL does, and prints the page the same way.
    let sent = common::run(
        server
            .client("bob")
            .args(["send", "--room", "rust", "/history 1"])
            .env("TZ", "UTC"),
        "",
    )
    .expect_code(0);
    assert_eq!(sent.stdout, text.stdout);
}

/// A server that keeps no history refuses, and `history` says so on one line, exit 1; an
/// empty room prints nothing and succeeds.
#[test]
fn history_without_history_on_the_server_exits_1_with_one_line() {
    let server = Server::start_with(
        "[server]\nhost = 127.0.0.1\nport = 0\n[limits]\nmessages_per_second = 0\n\
         [store]\npath = off\n",
        0,
    );
    let out = server
        .chat("bob", &["history"])
        .expect_code(1)
        .expect_one_error_line();
    assert!(out.stderr.contains("no history"), "{out:#?}");
    assert!(out.stdout.is_empty(), "{out:#?}");

    let server = Server::start_with_history();
    let empty = server
        .chat("bob", &["history", "--room", "quiet"])
        .expect_code(0);
    assert_eq!(empty.stdout, "");
}
