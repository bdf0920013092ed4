//! The two healthy clients beside the hostile ones: the witness, in the watched rooms from
//! the start, records everything it is sent; the newcomer, after everything, checks that
//! the server still serves a plain session. What they saw is checked in `check.rs`.

use chat_proto::codec::encode;
use chat_proto::validate::DEFAULT_ROOM;
use chat_proto::{Backlog, ClientFrame, RoomSummary, ServerFrame};
use chat_server::connection::Shared;
use tokio::io::AsyncWriteExt;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{next, register, write, HANG, WATCHED, WITNESS};

/// What the witness saw.
pub(crate) struct Witness {
    /// Every frame after its `Joined` replies, pings left out.
    pub(crate) frames: Vec<ServerFrame>,
    /// Whether its stream ended before it said `Bye`: it was dropped.
    pub(crate) ended_early: bool,
}

/// Registers the witness, has it join the rooms it watches and, once it is in them, starts
/// its task: it records every frame, answers pings, and on `finish` says `Bye` and reads
/// until the server closes. The task returns what it saw.
pub(crate) async fn spawn_watcher(shared: &Shared) -> (JoinHandle<Witness>, oneshot::Sender<()>) {
    let (finish, mut finished) = oneshot::channel::<()>();
    let (mut frames, mut tx, conn) = register(shared, WITNESS, 40_000).await;
    match next(&mut frames).await {
        Some(ServerFrame::Welcome { username, .. }) if username == WITNESS => {}
        other => panic!("the witness was not welcomed: {other:?}"),
    }
    for room in WATCHED {
        write(
            &mut tx,
            &ClientFrame::Join {
                room: (*room).to_owned(),
                backlog: Backlog::None,
            },
        )
        .await;
        let joined = next(&mut frames).await;
        assert_eq!(
            joined,
            Some(ServerFrame::Joined {
                room: (*room).to_owned(),
                members: vec![WITNESS.to_owned()],
            }),
            "the witness's join of a new room"
        );
    }
    let task = tokio::spawn(async move {
        let mut seen = Vec::new();
        let mut said_bye = false;
        loop {
            let next = tokio::select! {
                biased;
                next = frames.read_frame() => next,
                _ = &mut finished, if !said_bye => {
                    said_bye = true;
                    let _ = tx.write_all(encode(&ClientFrame::Bye).unwrap().as_bytes()).await;
                    continue;
                }
            };
            match next.expect("the witness receives well-formed frames") {
                Some(ServerFrame::Ping) => {
                    let _ = tx
                        .write_all(encode(&ClientFrame::Pong).unwrap().as_bytes())
                        .await;
                }
                Some(frame) => seen.push(frame),
                None => break,
            }
        }
        conn.await
            .expect("the witness's connection task does not fail");
        Witness {
            frames: seen,
            ended_early: !said_bye,
        }
    });
    (task, finish)
}

/// What the newcomer got.
#[derive(Debug)]
pub(crate) struct Late {
    pub(crate) users: Vec<String>,
    pub(crate) members: Vec<String>,
    pub(crate) rooms: Vec<RoomSummary>,
}

/// After everything: a newcomer registers, lists the users, joins `lobby`, lists the rooms,
/// says something and leaves.
pub(crate) async fn newcomer(shared: &Shared) -> Late {
    let steps = async {
        let (mut frames, mut tx, conn) = register(shared, "late", 40_100).await;
        match next(&mut frames).await {
            Some(ServerFrame::Welcome { username, .. }) => assert_eq!(username, "late"),
            other => panic!("the newcomer was not welcomed: {other:?}"),
        }
        write(&mut tx, &ClientFrame::ListUsers).await;
        let Some(ServerFrame::UserList { users }) = next(&mut frames).await else {
            panic!("the newcomer got no user list");
        };
        write(
            &mut tx,
            &ClientFrame::Join {
                room: DEFAULT_ROOM.to_owned(),
                backlog: Backlog::None,
            },
        )
        .await;
        let members = match next(&mut frames).await {
            Some(ServerFrame::Joined { room, members }) if room == DEFAULT_ROOM => members,
            other => panic!("the newcomer's join of {DEFAULT_ROOM} was not answered: {other:?}"),
        };
        write(&mut tx, &ClientFrame::ListRooms).await;
        let Some(ServerFrame::RoomList { rooms }) = next(&mut frames).await else {
            panic!("the newcomer got no room list");
        };
        write(&mut tx, &late_words()).await;
        match next(&mut frames).await {
            Some(ServerFrame::Msg {
                room, from, text, ..
            }) => {
                assert_eq!(
                    ClientFrame::Msg { room, text },
                    late_words(),
                    "the newcomer's message came back otherwise"
                );
                assert_eq!(from, "late");
            }
            other => panic!("the newcomer's message did not come back: {other:?}"),
        }
        write(&mut tx, &ClientFrame::Bye).await;
        while next(&mut frames).await.is_some() {}
        conn.await
            .expect("the newcomer's connection task does not fail");
        Late {
            users,
            members,
            rooms,
        }
    };
    tokio::time::timeout(HANG, steps)
        .await
        .expect("the server answers a healthy newcomer")
}

/// What the newcomer says.
pub(crate) fn late_words() -> ClientFrame {
    ClientFrame::Msg {
        room: DEFAULT_ROOM.to_owned(),
        text: "still serving".to_owned(),
    }
}
