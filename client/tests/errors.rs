//! Failures: one line on stderr saying what went wrong and what to try, the right exit
//! status, never a panic.

mod common;

use common::{dead_port, listener, run, Server, CLIENT};
use std::process::Command;

#[test]
fn server_down_exits_1_with_a_clear_message_for_every_subcommand() {
    let port = dead_port().to_string();
    for args in [
        &["send", "hi"][..],
        &["send", "-"],
        &["whisper", "bob", "hi"],
        &["users"],
        &["listen"],
        &["repl"],
    ] {
        let out = run(
            Command::new(CLIENT)
                .args(["--host", "127.0.0.1", "--port", &port, "--name", "alice"])
                .args(args),
            "",
        )
        .expect_code(1)
        .expect_one_error_line();
        assert!(
            out.stderr
                .starts_with(&format!("error: cannot connect to 127.0.0.1:{port}: ")),
            "{args:?}: {out:#?}"
        );
        assert!(out.stderr.contains("is chat-server running?"), "{out:#?}");
    }
}

#[test]
fn a_taken_name_exits_1_and_says_how_to_pick_another() {
    let server = Server::start();
    let _bob = listener(&server, "bob", &[]);
    let out = server
        .chat("Bob", &["send", "hi"])
        .expect_code(1)
        .expect_one_error_line();
    assert!(out.stderr.contains("taken"), "{out:#?}");
    assert!(out.stderr.contains("--name"), "{out:#?}");
}

#[test]
fn usage_errors_exit_2() {
    let server = Server::start();
    // No text: clap's own usage error.
    let out = server.chat("alice", &["send"]).expect_code(2);
    assert!(out.stderr.contains("Usage"), "{out:#?}");
    // A misused command inside the text.
    let out = server
        .chat("alice", &["send", "/whisper bob"])
        .expect_code(2)
        .expect_one_error_line();
    assert_eq!(out.stderr, "error: usage: /whisper <user> <message>\n");
    // A name the server would refuse.
    let out = server
        .chat("no spaces", &["users"])
        .expect_code(2)
        .expect_one_error_line();
    assert!(out.stderr.contains("\"no spaces\""), "{out:#?}");
}

#[test]
fn without_any_name_the_error_says_how_to_give_one() {
    let out = run(
        Command::new(CLIENT)
            .args(["--port", &dead_port().to_string(), "users"])
            .env_remove("CHAT_NAME")
            .env_remove("USER")
            .env_remove("LOGNAME"),
        "",
    )
    .expect_code(2)
    .expect_one_error_line();
    assert_eq!(
        out.stderr,
        "error: no name to chat under: pass --name NAME or set CHAT_NAME\n"
    );
}

#[test]
fn a_bad_config_file_is_named_in_the_error() {
    let server = Server::start();
    std::fs::write(server.dir().join("bad.ini"), "[server]\nport = lots\n").unwrap();
    let out = run(
        Command::new(CLIENT)
            .current_dir(server.dir())
            .args(["--config", "bad.ini", "--name", "alice", "users"]),
        "",
    )
    .expect_code(2)
    .expect_one_error_line();
    assert_eq!(
        out.stderr,
        "error: bad.ini: [server] port = \"lots\": expected a port number (0-65535)\n"
    );
}

#[test]
fn host_and_port_come_from_config_ini_when_no_flag_is_given() {
    let server = Server::start();
    std::fs::write(
        server.dir().join("client.ini"),
        format!("[server]\nhost = 127.0.0.1\nport = {}\n", server.port),
    )
    .unwrap();
    let bob = listener(&server, "bob", &["--count", "1"]);
    run(
        Command::new(CLIENT)
            .current_dir(server.dir())
            .env("CHAT_NAME", "alice")
            .args(["--config", "client.ini", "send", "via config"]),
        "",
    )
    .expect_code(0);
    assert!(bob.finish().stdout.contains("#lobby alice: via config\n"));
}

/// A server whose limits the room errors need, flood control off.
fn server_with_limits(limits: &str) -> Server {
    Server::start_with(
        &format!(
            "[server]\nhost = 127.0.0.1\nport = 0\nbuffsize = 1024\n\
             [limits]\nmessages_per_second = 0\n{limits}"
        ),
        0,
    )
}

#[test]
fn invalid_room_names_exit_1_with_one_line_before_connecting() {
    // Nothing listens on the port: an error about the room proves nothing was tried.
    let port = dead_port().to_string();
    let long = "r".repeat(33);
    for args in [
        &["send", "--room", "b@d", "hi"][..],
        &["send", "--room", "", "-"],
        &["send", "/join b@d"],
        &["send", "/members #no#"],
        &["listen", "--room", "lobby", "--room", "a b"],
        &["users", "--room", "#"],
        &["repl", "--room", &long],
    ] {
        let out = run(
            Command::new(CLIENT)
                .args(["--host", "127.0.0.1", "--port", &port, "--name", "alice"])
                .args(args),
            "",
        )
        .expect_code(1)
        .expect_one_error_line();
        assert!(
            out.stderr.starts_with("error: cannot use room "),
            "{args:?}: {out:#?}"
        );
        assert!(
            out.stderr
                .contains("room names are 1-32 letters, digits, '_', '-' or '.'"),
            "{args:?}: {out:#?}"
        );
    }
}

#[test]
fn an_unknown_room_exits_1_and_says_where_the_rooms_are_listed() {
    let server = Server::start();
    let out = server
        .chat("alice", &["users", "--room", "nowhere"])
        .expect_code(1)
        .expect_one_error_line();
    assert_eq!(
        out.stderr,
        "error: there is no room #nowhere — a room exists while someone is in it; \
         `chat-client rooms` lists them\n"
    );
}

#[test]
fn too_many_rooms_exits_1_naming_the_room_refused() {
    let server = server_with_limits("rooms_per_user = 2\n");
    let out = server
        .chat(
            "alice",
            &["listen", "--room", "a", "--room", "b", "--room", "c"],
        )
        .expect_code(1)
        .expect_one_error_line();
    assert!(
        out.stderr.starts_with("error: cannot listen to #c: "),
        "{out:#?}"
    );
    assert!(out.stderr.contains("rooms_per_user"), "{out:#?}");
    // alice left cleanly: her name is free at once.
    server
        .chat("alice", &["send", "--room", "a", "hi"])
        .expect_code(0);
}

#[test]
fn a_full_server_refuses_a_new_room_and_nothing_else_is_disturbed() {
    let server = server_with_limits("max_rooms = 1\n");
    let bob = listener(&server, "bob", &["--count", "1"]);
    let out = server
        .chat("alice", &["send", "--room", "other", "hi"])
        .expect_code(1)
        .expect_one_error_line();
    assert!(out.stderr.contains("join an existing room"), "{out:#?}");
    assert!(out.stderr.contains("`chat-client rooms` lists"), "{out:#?}");
    server.chat("alice", &["send", "still here"]).expect_code(0);
    let seen = bob.finish().expect_code(0);
    assert_eq!(
        common::chat_lines(&seen.stdout),
        ["#lobby alice: still here"]
    );
}

#[test]
fn leaving_or_speaking_in_a_room_one_is_not_in_exits_1() {
    let server = Server::start();
    let out = server
        .chat("alice", &["send", "/part #lobby"])
        .expect_code(1)
        .expect_one_error_line();
    assert_eq!(
        out.stderr,
        "error: you are not in #lobby — join the room first (--room ROOM; /join ROOM in the repl)\n"
    );
    let out = run(server.client("alice").args(["send", "-"]), "/part\nhello\n").expect_code(1);
    assert_eq!(
        out.stderr,
        "line 2 not delivered: you are not in #lobby\n\
         error: 1 of 2 lines were not delivered (see above)\n"
    );
}
