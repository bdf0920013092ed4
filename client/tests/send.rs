//! `chat-client send`: a zero exit means the server delivered the message to the room.

mod common;

use common::{chat_lines, listener, run, Server};

#[test]
fn send_stdin_delivers_100_lines_in_order() {
    let server = Server::start();
    let bob = listener(&server, "bob", &["--count", "100"]);
    let input: String = (1..=100).map(|i| format!("line {i}\n")).collect();
    let out = run(server.client("alice").args(["send", "-"]), &input).expect_code(0);
    assert_eq!(out.stderr, "", "{out:#?}");
    let seen = bob.finish().expect_code(0);
    let expected: Vec<String> = (1..=100)
        .map(|i| format!("#lobby alice: line {i}"))
        .collect();
    assert_eq!(chat_lines(&seen.stdout), expected);
}

#[test]
fn send_room_delivers_to_that_room_only() {
    let server = Server::start();
    let bob = listener(&server, "bob", &["--room", "alpha", "--count", "2"]);
    let carol = listener(&server, "carol", &["--count", "1"]);
    server
        .chat("alice", &["send", "--room", "alpha", "one"])
        .expect_code(0);
    run(
        server
            .client("alice")
            .args(["send", "--room", "#ALPHA", "-"]),
        "two\n",
    )
    .expect_code(0);
    server.chat("alice", &["send", "lobby"]).expect_code(0);
    let bob = bob.finish().expect_code(0);
    assert_eq!(
        chat_lines(&bob.stdout),
        ["#alpha alice: one", "#alpha alice: two"]
    );
    let carol = carol.finish().expect_code(0);
    assert_eq!(chat_lines(&carol.stdout), ["#lobby alice: lobby"]);
}

#[test]
fn send_stdin_joins_and_switches_rooms_as_the_repl_does() {
    let server = Server::start();
    let bob = listener(
        &server,
        "bob",
        &["--room", "alpha", "--room", "beta", "--count", "4"],
    );
    let input = "one\n/join beta\ntwo\n/switch alpha\nthree\n/switch nowhere\n/part\nfour\n";
    let out = run(
        server
            .client("alice")
            .args(["send", "--room", "alpha", "-"]),
        input,
    )
    .expect_code(1);
    // `/switch nowhere` is refused here; after `/part` of alpha, lines go to beta.
    assert_eq!(
        out.stderr,
        "line 6 not sent: not in #nowhere; /join nowhere first\n\
         error: 1 of 8 lines were not delivered (see above)\n"
    );
    let seen = bob.finish().expect_code(0);
    assert_eq!(
        chat_lines(&seen.stdout),
        [
            "#alpha alice: one",
            "#beta alice: two",
            "#alpha alice: three",
            "#beta alice: four"
        ]
    );
}

#[test]
fn back_to_back_sends_under_one_name_both_succeed() {
    let server = Server::start();
    let bob = listener(&server, "bob", &["--count", "2"]);
    // The first `send` has freed the name when it exits, so the second can take it.
    server.chat("alice", &["send", "a"]).expect_code(0);
    server.chat("alice", &["send", "b"]).expect_code(0);
    let seen = bob.finish().expect_code(0);
    assert_eq!(
        chat_lines(&seen.stdout),
        ["#lobby alice: a", "#lobby alice: b"]
    );
}

#[test]
fn text_starting_with_a_slash_is_a_command_and_double_slash_escapes_it() {
    let server = Server::start();
    let bob = listener(&server, "bob", &["--count", "2"]);
    let out = server
        .chat("alice", &["send", "/list_users"])
        .expect_code(0);
    assert_eq!(out.stdout, "bob\n");
    let out = server.chat("alice", &["send", "/rooms"]).expect_code(0);
    assert_eq!(out.stdout, "lobby 1\n", "a command joins no room");
    let out = server
        .chat("alice", &["send", "/members #lobby"])
        .expect_code(0);
    assert_eq!(out.stdout, "bob\n");
    server.chat("alice", &["send", "//shrug"]).expect_code(0);
    server
        .chat("alice", &["send", "/whisper bob psst"])
        .expect_code(0);
    let seen = bob.finish().expect_code(0);
    assert_eq!(
        chat_lines(&seen.stdout),
        ["#lobby alice: /shrug", "[whisper] alice -> bob: psst"]
    );
}

#[test]
fn send_stdin_reports_each_refused_line_and_delivers_the_others() {
    let server = Server::start();
    let bob = listener(&server, "bob", &["--count", "3"]);
    let long = "x".repeat(2000);
    let input = format!("one\n/dance\n{long}\n\ntwo\n/whisper nobody hi\nthree\n");
    let out = run(server.client("alice").args(["send", "-"]), &input).expect_code(1);
    let errors: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(errors.len(), 4, "{out:#?}");
    assert!(
        errors[0].starts_with("line 2 not sent: unknown command /dance"),
        "{out:#?}"
    );
    assert!(
        errors[1].starts_with("line 3 not sent: the message is 20"),
        "{out:#?}"
    );
    assert!(errors[2].starts_with("line 6 not delivered: "), "{out:#?}");
    assert!(errors[2].contains("nobody"), "{out:#?}");
    assert_eq!(
        errors[3], "error: 3 of 7 lines were not delivered (see above)",
        "{out:#?}"
    );
    let seen = bob.finish().expect_code(0);
    assert_eq!(
        chat_lines(&seen.stdout),
        [
            "#lobby alice: one",
            "#lobby alice: two",
            "#lobby alice: three"
        ]
    );
}

#[test]
fn an_oversize_message_is_refused_before_connecting() {
    let mut server = Server::start();
    let long = "x".repeat(1100);
    let out = server
        .chat("alice", &["send", &long])
        .expect_code(1)
        .expect_one_error_line();
    assert!(
        out.stderr.contains("over the server's limit of 1024 bytes"),
        "{out:#?}"
    );
    // The server never saw alice: the next registration it logs is bob's.
    let _bob = listener(&server, "bob", &[]);
    server.wait_registered("bob");
    assert!(
        !server.log_so_far().iter().any(|l| l.contains("alice")),
        "{:#?}",
        server.log_so_far()
    );
}
