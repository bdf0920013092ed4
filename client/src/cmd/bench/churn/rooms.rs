//! One connection of a rooms run: registered once, it takes rooms from the shared counter
//! and, for each, joins, says one line, waits for the echo and parts, one request at a
//! time, so that every room is really made, written to and left before the next.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chat_proto::validate::room_key;
use chat_proto::{Backlog, ClientFrame, ServerFrame};

use super::conn::Conn;
use super::{churn_room, Shared};
use crate::cmd::bench::layout::receiver_name;
use crate::error::ClientError;

/// Connection `k` (`NAME-rk`) makes rooms until none are left or its connection fails;
/// every outcome goes into `shared`.
pub async fn churn(addr: SocketAddr, k: usize, shared: Arc<Shared>) {
    let name = receiver_name(&shared.prefix, k);
    let outcome = async {
        let mut conn = Conn::hello(addr, None, &name, shared.wait).await?;
        while let Some(i) = shared.take() {
            one_room(&mut conn, i, &shared).await?;
        }
        conn.bye().await
    }
    .await;
    if let Err(err) = outcome {
        shared.failed.fetch_add(1, Ordering::SeqCst);
        shared.note(format!("{name}: {err}"));
    }
}

/// Room `i`: join, one line, its echo, part. A refusal of any step is counted and the room
/// given up (parted when it was joined); a broken connection is the caller's.
async fn one_room(conn: &mut Conn, i: u64, shared: &Shared) -> Result<(), ClientError> {
    let room = churn_room(&shared.prefix, i);
    let key = room_key(&room);
    let join = ClientFrame::Join {
        room: room.clone(),
        backlog: Backlog::None,
    };
    let joined = |frame: &ServerFrame| matches!(frame, ServerFrame::Joined { room, .. } if room_key(room) == key);
    if !step(conn, shared, join, joined, &shared.started, "join", &room).await? {
        return Ok(());
    }
    let text = format!("churn {i}");
    let say = ClientFrame::Msg {
        room: room.clone(),
        text: text.clone(),
    };
    let echoed = |frame: &ServerFrame| {
        matches!(frame, ServerFrame::Msg { room, text: said, .. }
            if room_key(room) == key && *said == text)
    };
    step(conn, shared, say, echoed, &shared.echoed, "say in", &room).await?;
    let part = ClientFrame::Part { room: room.clone() };
    let parted = |frame: &ServerFrame| matches!(frame, ServerFrame::Parted { room } if room_key(room) == key);
    step(conn, shared, part, parted, &shared.finished, "part", &room).await?;
    Ok(())
}

/// Sends `request` and reads its answer: `wanted` counts in `done` and gives `true`; a
/// refusal counts in `shared.refused`, is noted as `what` `room`, and gives `false`.
async fn step(
    conn: &mut Conn,
    shared: &Shared,
    request: ClientFrame,
    wanted: impl Fn(&ServerFrame) -> bool,
    done: &AtomicU64,
    what: &str,
    room: &str,
) -> Result<bool, ClientError> {
    conn.send(&request).await?;
    match reply(conn, wanted).await? {
        Ok(()) => {
            done.fetch_add(1, Ordering::SeqCst);
            Ok(true)
        }
        Err(why) => {
            shared.refused.fetch_add(1, Ordering::SeqCst);
            shared.note(format!("{what} {room}: {why}"));
            Ok(false)
        }
    }
}

/// Reads until the frame `wanted` picks out (`Ok(Ok(()))`) or an `Error` frame (its text,
/// `Ok(Err(..))`); join and leave notices pass by, anything else is unexpected.
async fn reply(
    conn: &mut Conn,
    wanted: impl Fn(&ServerFrame) -> bool,
) -> Result<Result<(), String>, ClientError> {
    loop {
        let frame = conn.next().await?;
        if wanted(&frame) {
            return Ok(Ok(()));
        }
        match frame {
            ServerFrame::Error { kind, detail } => return Ok(Err(format!("{kind:?}: {detail}"))),
            ServerFrame::UserJoined { .. } | ServerFrame::UserLeft { .. } => {}
            other => return Err(conn.unexpected(&other)),
        }
    }
}
