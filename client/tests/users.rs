//! `chat-client users`: who is online, or who is in one room.

mod common;

use common::{listener, Server};

#[test]
fn users_lists_everyone_online_one_per_line() {
    let server = Server::start();
    let _bob = listener(&server, "bob", &[]);
    let _alice = listener(&server, "Alice", &["--room", "elsewhere"]);
    let out = server.chat("carol", &["users"]).expect_code(0);
    // Everyone, whatever their rooms; sorted case-insensitively, spelled as registered;
    // the asking connection left out.
    assert_eq!(out.stdout, "Alice\nbob\n");
    assert_eq!(out.stderr, "");
}

#[test]
fn users_room_lists_that_rooms_members_only() {
    let server = Server::start();
    let _bob = listener(&server, "bob", &[]);
    let _alice = listener(&server, "Alice", &["--room", "alpha"]);
    let _dave = listener(&server, "dave", &["--room", "alpha", "--room", "lobby"]);
    let out = server
        .chat("carol", &["users", "--room", "#ALPHA"])
        .expect_code(0);
    assert_eq!(out.stdout, "Alice\ndave\n");
    let out = server
        .chat("carol", &["users", "--room", "lobby"])
        .expect_code(0);
    assert_eq!(out.stdout, "bob\ndave\n");
}

#[test]
fn users_on_an_empty_server_prints_nothing() {
    let server = Server::start();
    let out = server.chat("carol", &["users"]).expect_code(0);
    assert_eq!(out.stdout, "");
}
