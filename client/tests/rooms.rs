//! `chat-client rooms`: every room with its member count.

mod common;

use common::{listener, Server};

#[test]
fn rooms_prints_name_and_members_sorted_by_name() {
    let server = Server::start();
    let _bob = listener(&server, "bob", &["--room", "alpha"]);
    let _carol = listener(&server, "carol", &["--room", "ALPHA", "--room", "lobby"]);
    let _dave = listener(&server, "dave", &["--room", "#Zeta"]);
    let out = server.chat("erin", &["rooms"]).expect_code(0);
    // Case-insensitive order, each shown as its first member typed it; the asking
    // connection is in none of them.
    assert_eq!(out.stdout, "alpha 2\nlobby 1\nZeta 1\n");
    assert_eq!(out.stderr, "");

    let out = server.chat("erin", &["rooms", "--json"]).expect_code(0);
    assert_eq!(
        out.stdout,
        "{\"room\":\"alpha\",\"members\":2}\n\
         {\"room\":\"lobby\",\"members\":1}\n\
         {\"room\":\"Zeta\",\"members\":1}\n"
    );
}

#[test]
fn a_room_ends_with_its_last_member() {
    let server = Server::start();
    let bob = listener(&server, "bob", &["--room", "alpha"]);
    assert_eq!(
        server.chat("erin", &["rooms"]).expect_code(0).stdout,
        "alpha 1\n"
    );
    drop(bob);
    // bob's connection is closed when his process is killed; wait until the server has
    // seen it go, then the room is gone.
    let mut server = server;
    server
        .log
        .wait_for("bob leaving", |l| l.contains("bob left"));
    let out = server.chat("erin", &["rooms"]).expect_code(0);
    assert_eq!(out.stdout, "");
}
