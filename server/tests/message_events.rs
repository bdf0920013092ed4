//! Replies, edits, reactions and typing over real TCP, with history in a real SQLite file:
//! each event reaches every member live, history gives each message as it stands, a join's
//! backlog and a catch-up after a reconnect replay the events, and what may not be done is
//! refused with a typed error while the room goes on.

mod common;

use std::time::Duration;

use chat_proto::{Backlog, ClientFrame, Cursor, ErrorKind, Past, PastKind, ServerFrame};
use common::{error_of, history_config, scratch_dir, start_with, TestClient};

/// The next frame that is not presence.
async fn next(client: &mut TestClient) -> ServerFrame {
    client.recv_skipping_notices().await
}

/// The entry of the next `Event` `client` gets, failing on anything else.
async fn event(client: &mut TestClient) -> Past {
    match next(client).await {
        ServerFrame::Event { entry, .. } => entry,
        other => panic!("expected an Event, got {other:?}"),
    }
}

/// The `messages` of a `History` frame.
fn messages(frame: ServerFrame) -> Vec<Past> {
    match frame {
        ServerFrame::History { messages, .. } => messages,
        other => panic!("expected History, got {other:?}"),
    }
}

fn react(seq: u64, emoji: &str, on: bool) -> ClientFrame {
    ClientFrame::React {
        room: "den".into(),
        seq,
        emoji: emoji.into(),
        on,
    }
}

#[tokio::test]
async fn replies_edits_and_reactions_reach_everyone_and_history_gives_messages_as_they_stand() {
    let dir = scratch_dir("message_events");
    let mut config = history_config(&dir);
    config.messages.emoji_per_message = 2;
    let server = start_with(config).await;
    let mut ann = server.register_only("ann").await;
    let mut bob = server.register_only("bob").await;
    ann.join("den").await;
    bob.join("den").await;
    ann.say_in("den", "helo, anyone?").await;
    assert_eq!(ann.next_message().await.1, "helo, anyone?");
    assert_eq!(bob.next_message().await.1, "helo, anyone?");

    // A reply names the message it answers, for both.
    bob.send(ClientFrame::Reply {
        room: "den".into(),
        to: 1,
        text: "hi ann".into(),
    })
    .await;
    for client in [&mut ann, &mut bob] {
        let reply = event(client).await;
        assert_eq!(
            (reply.seq, reply.reply_to, reply.text.as_str()),
            (2, Some(1), "hi ann")
        );
    }

    // One's own message is edited; the edit is an entry of its own.
    ann.send(ClientFrame::Edit {
        room: "den".into(),
        seq: 1,
        text: "hello, anyone?".into(),
    })
    .await;
    for client in [&mut ann, &mut bob] {
        let edit = event(client).await;
        assert_eq!(edit.seq, 3);
        assert_eq!(edit.kind, PastKind::Edit { target: 1 });
        assert_eq!(edit.text, "hello, anyone?");
    }

    // Reactions given and taken back.
    bob.send(react(1, "👍🏽", true)).await;
    ann.send(react(1, "🎉", true)).await;
    bob.send(react(1, "👍🏽", false)).await;
    bob.send(react(1, "🎉", true)).await;
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let entry = event(&mut ann).await;
        seen.push((entry.seq, entry.from, entry.kind));
    }
    let kind = |on: bool, emoji: &str| {
        let (target, emoji) = (1, emoji.to_owned());
        if on {
            PastKind::React { target, emoji }
        } else {
            PastKind::Unreact { target, emoji }
        }
    };
    assert_eq!(
        seen,
        [
            (4, "bob".to_owned(), kind(true, "👍🏽")),
            (5, "ann".to_owned(), kind(true, "🎉")),
            (6, "bob".to_owned(), kind(false, "👍🏽")),
            (7, "bob".to_owned(), kind(true, "🎉")),
        ]
    );
    for _ in 0..4 {
        event(&mut bob).await;
    }
    // A second emoji on the message: as many different ones as this server allows.
    ann.send(react(1, "👍🏽", true)).await;
    for client in [&mut ann, &mut bob] {
        assert_eq!(event(client).await.seq, 8);
    }

    // What may not be done is refused, and changes nothing.
    let refusals = [
        (
            ClientFrame::Edit {
                room: "den".into(),
                seq: 1,
                text: "mine now".into(),
            },
            ErrorKind::NotPermitted,
        ),
        (react(1, "ok", true), ErrorKind::InvalidEmoji),
        (react(1, "🎉", true), ErrorKind::InvalidAction),
        (react(1, "😀", true), ErrorKind::TooManyReactions),
        (react(99, "🎉", true), ErrorKind::NoSuchMessage),
        (react(3, "🎉", true), ErrorKind::NoSuchMessage),
        (
            ClientFrame::Reply {
                room: "den".into(),
                to: 99,
                text: "to nothing".into(),
            },
            ErrorKind::NoSuchMessage,
        ),
        (
            ClientFrame::Edit {
                room: "elsewhere".into(),
                seq: 1,
                text: "x".into(),
            },
            ErrorKind::NotInRoom,
        ),
    ];
    for (frame, kind) in refusals {
        bob.send(frame.clone()).await;
        assert_eq!(error_of(next(&mut bob).await).0, kind, "{frame:?}");
    }

    // History: the message with its new text, when it was edited, and its reactions.
    let page = messages(carol_history(&server).await);
    let first = &page[0];
    assert_eq!((first.seq, first.text.as_str()), (1, "hello, anyone?"));
    assert!(first.edited.is_some_and(|at| at >= first.at));
    let reactions: Vec<(&str, Vec<&str>)> = first
        .reactions
        .iter()
        .map(|r| (r.emoji.as_str(), r.by.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(reactions, [("🎉", vec!["ann", "bob"]), ("👍🏽", vec!["ann"])]);
    assert_eq!(page[1].reply_to, Some(1));
    assert_eq!(page.len(), 8);

    // A catch-up after a reconnect replays the events exactly.
    let mut dave = server.register_only("dave").await;
    let (_, backlog) = dave.join_with("den", Backlog::After(1)).await;
    let replayed: Vec<u64> = messages(backlog).iter().map(|m| m.seq).collect();
    assert_eq!(replayed, [2, 3, 4, 5, 6, 7, 8]);

    // Removing the message takes its reactions, and its edit's text, along.
    ann.send(ClientFrame::RemoveMessage {
        room: "den".into(),
        seq: 1,
    })
    .await;
    assert!(matches!(
        next(&mut ann).await,
        ServerFrame::MessageRemoved { target: 1, .. }
    ));
    let page = messages(ann.history("den", Cursor::After(0), 3).await);
    assert_eq!(page[0].kind, PastKind::Removed { by: "ann".into() });
    assert!(page[0].reactions.is_empty() && page[0].text.is_empty());
    assert_eq!(page[2].kind, PastKind::Edit { target: 1 });
    assert!(page[2].text.is_empty(), "the edit's text is gone too");
    server.shutdown().await;
}

/// A page of `den` as someone who just came reads it.
async fn carol_history(server: &common::TestServer) -> ServerFrame {
    let mut carol = server.register_only("carol").await;
    carol.join("den").await;
    carol.history("den", Cursor::Latest, 50).await
}

#[tokio::test]
async fn an_edit_after_the_window_is_refused() {
    let dir = scratch_dir("message_events_window");
    let mut config = history_config(&dir);
    config.messages.edit_window = Some(Duration::ZERO);
    let server = start_with(config).await;
    let mut ann = server.register_only("ann").await;
    ann.join("den").await;
    ann.say_in("den", "typo").await;
    ann.next_message().await;
    ann.send(ClientFrame::Edit {
        room: "den".into(),
        seq: 1,
        text: "fixed".into(),
    })
    .await;
    assert_eq!(
        error_of(next(&mut ann).await).0,
        ErrorKind::EditWindowPassed
    );
    let page = messages(ann.history("den", Cursor::Latest, 5).await);
    assert_eq!((page.len(), page[0].text.as_str()), (1, "typo"));
    server.shutdown().await;
}

#[tokio::test]
async fn typing_reaches_the_others_once_per_few_seconds_and_is_never_stored() {
    let dir = scratch_dir("message_events_typing");
    let server = start_with(history_config(&dir)).await;
    let mut ann = server.register_only("ann").await;
    let mut bob = server.register_only("bob").await;
    ann.join("den").await;
    bob.join("den").await;
    for _ in 0..3 {
        bob.send(ClientFrame::Typing { room: "den".into() }).await;
    }
    bob.say_in("den", "there").await;
    let typing = loop {
        match ann.recv().await {
            ServerFrame::UserJoined { .. } => continue,
            frame => break frame,
        }
    };
    assert_eq!(
        typing,
        ServerFrame::Typing {
            room: "den".into(),
            user: "bob".into()
        }
    );
    // The next two were dropped: the message comes next. The typer hears nothing of it.
    assert!(matches!(ann.recv().await, ServerFrame::Msg { text, .. } if text == "there"));
    assert!(matches!(bob.recv().await, ServerFrame::Msg { text, .. } if text == "there"));
    bob.send(ClientFrame::Typing {
        room: "elsewhere".into(),
    })
    .await;
    assert_eq!(error_of(next(&mut bob).await).0, ErrorKind::NotInRoom);
    let page = messages(ann.history("den", Cursor::Latest, 5).await);
    assert_eq!(page.len(), 1, "typing is not stored");
    server.shutdown().await;
}
