//! `chat-client users`: who is online.

mod common;

use common::{listener, Server};

#[test]
fn users_lists_everyone_online_one_per_line() {
    let mut server = Server::start();
    let _bob = listener(&mut server, "bob", &[]);
    let _alice = listener(&mut server, "Alice", &[]);
    let out = server.chat("carol", &["users"]).expect_code(0);
    // Sorted case-insensitively, spelled as registered; the asking connection left out.
    assert_eq!(out.stdout, "Alice\nbob\n");
    assert_eq!(out.stderr, "");
}

#[test]
fn users_on_an_empty_server_prints_nothing() {
    let server = Server::start();
    let out = server.chat("carol", &["users"]).expect_code(0);
    assert_eq!(out.stdout, "");
}
