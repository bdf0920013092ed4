//! `chat-client listen`: what a person or a script following the room sees.

mod common;

use common::{chat_lines, listener, Server};

#[test]
fn listen_count_2_sees_two_sends_from_another_process_and_exits_0() {
    let mut server = Server::start();
    let bob = listener(&mut server, "bob", &["--count", "2"]);
    server.chat("alice", &["send", "first"]).expect_code(0);
    server
        .chat("alice", &["send", "second", "message"])
        .expect_code(0);
    let out = bob.finish().expect_code(0);
    assert_eq!(
        chat_lines(&out.stdout),
        ["alice: first", "alice: second message"]
    );
    assert!(out.stdout.starts_with("* alice joined\n"), "{out:#?}");
}

#[test]
fn listen_prints_whispers_and_notices_in_the_documented_shapes() {
    let mut server = Server::start();
    let bob = listener(&mut server, "bob", &["--count", "1"]);
    server
        .chat("alice", &["whisper", "bob", "psst"])
        .expect_code(0);
    let out = bob.finish().expect_code(0);
    assert_eq!(out.stdout, "* alice joined\n[whisper] alice -> bob: psst\n");
}

#[test]
fn listen_json_prints_one_object_per_line_with_every_key() {
    let mut server = Server::start();
    let bob = listener(&mut server, "bob", &["--count", "2", "--json"]);
    server.chat("alice", &["send", "say \"hi\""]).expect_code(0);
    server
        .chat("alice", &["whisper", "bob", "psst"])
        .expect_code(0);
    let out = bob.finish().expect_code(0);
    let events: Vec<serde_json::Value> = out
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{l:?}: {e}")))
        .collect();
    let chat: Vec<_> = events.iter().filter(|e| e["type"] != "system").collect();
    assert_eq!(chat.len(), 2, "{events:#?}");
    assert_eq!(
        (
            &chat[0]["type"],
            &chat[0]["from"],
            &chat[0]["to"],
            &chat[0]["text"]
        ),
        (
            &"msg".into(),
            &"alice".into(),
            &serde_json::Value::Null,
            &"say \"hi\"".into()
        )
    );
    assert_eq!(
        (
            &chat[1]["type"],
            &chat[1]["from"],
            &chat[1]["to"],
            &chat[1]["text"]
        ),
        (
            &"whisper".into(),
            &"alice".into(),
            &"bob".into(),
            &"psst".into()
        )
    );
    assert_eq!(events[0]["type"], "system");
    assert_eq!(events[0]["text"], "alice joined");
    assert_eq!(events[0]["from"], serde_json::Value::Null);
    for event in &events {
        let time = event["time"].as_str().expect("time is a string");
        chrono::DateTime::parse_from_rfc3339(time)
            .unwrap_or_else(|e| panic!("time {time:?} is not RFC 3339: {e}"));
    }
}

#[test]
fn listen_exits_1_with_a_clear_message_when_the_server_goes_away() {
    let mut server = Server::start();
    let bob = listener(&mut server, "bob", &[]);
    server.stop();
    let out = bob.finish().expect_code(1).expect_one_error_line();
    assert!(
        out.stderr.contains(&format!("127.0.0.1:{}", server.port)),
        "{out:#?}"
    );
}
