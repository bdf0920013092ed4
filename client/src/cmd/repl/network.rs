//! The REPL's network thread: the one task that owns the connection, prints what arrives
//! and sends what the keyboard asks, reconnecting (and rejoining every room) when the
//! server goes away.
//!
//! Each connection is one [`Talk`]: the first joins every room asking for its latest
//! messages ([`JOIN_BACKLOG`]); after a reconnection each room is rejoined from the last
//! message it showed ([`Catchup::resume`]), so nothing said meanwhile is missed and nothing
//! is shown twice.

use std::sync::mpsc::SyncSender;
use std::time::Duration;

use chat_proto::input::JOIN_BACKLOG;
use chat_proto::{Backlog, ErrorKind};
use tokio::sync::mpsc;
use tokio::time::{sleep_until, Instant};

use super::request::Request;
use super::screen::Screen;
use super::talk::{End, Talk};
use crate::catchup::Catchup;
use crate::client::Client;
use crate::cmd::describe;
use crate::error::ClientError;
use crate::session::Session;

/// First wait before reconnecting; doubled after each failed attempt.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// Longest wait between reconnection attempts: a restarted server is found within this.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Everything the network task needs from the command line.
#[derive(Debug)]
pub struct Start {
    /// Where the server is.
    pub client: Client,
    /// The name to register.
    pub name: String,
    /// The rooms to join on the first connection.
    pub rooms: Vec<String>,
    /// Told whether the first connection worked, so that a refused name or an unreachable
    /// server ends the program before the prompt appears.
    pub ready: SyncSender<Result<(), ClientError>>,
    /// Told once the first rooms are joined (or refused), so that the first prompt shows
    /// the room.
    pub settled: SyncSender<()>,
}

/// The connection's side: connect, then relay until `Quit`, reconnecting when the server
/// goes away.
pub async fn network(
    start: Start,
    mut requests: mpsc::Receiver<Request>,
    mut screen: Screen,
) -> anyhow::Result<()> {
    let Start {
        client,
        name,
        rooms,
        ready,
        settled,
    } = start;
    let mut session = match client.connect(&name).await {
        Ok(session) => session,
        Err(e) => {
            let _ = ready.send(Err(e));
            return Ok(());
        }
    };
    let _ = ready.send(Ok(()));
    screen.notice(&format!(
        "connected to {} as {}; /help lists the commands",
        session.addr(),
        session.name()
    ));
    let mut catchup = Catchup::new(session.history_cap());
    let mut first = Some((rooms, settled));
    loop {
        let (joins, settled) = match first.take() {
            Some((rooms, settled)) => {
                let latest = Backlog::Latest(JOIN_BACKLOG);
                (
                    rooms.into_iter().map(|r| (r, latest)).collect(),
                    Some(settled),
                )
            }
            None => {
                // Each room from the last message shown in it, by the old server's rules.
                let joins: Vec<(String, Backlog)> = screen
                    .known
                    .take_joined()
                    .into_iter()
                    .map(|room| {
                        let backlog = catchup.resume(&room);
                        (room, backlog)
                    })
                    .collect();
                catchup.reconnected(session.history_cap());
                (joins, None)
            }
        };
        let mut talk = Talk::new(&mut session, &mut screen, &mut catchup);
        match talk.converse(joins, settled, &mut requests).await {
            End::Quit => {
                // Best effort: we are leaving either way.
                let _ = session.bye().await;
                return Ok(());
            }
            End::Lost(e) => {
                tracing::warn!("Connection lost: {}", describe(&e));
                screen.error(&format!(
                    "lost the connection to {}: {}; reconnecting",
                    client.addr(),
                    describe(&e)
                ));
                match reconnect(&client, &name, &mut requests, &mut screen).await? {
                    Some(new) => session = new,
                    None => return Ok(()),
                }
            }
        }
    }
}

/// Tries to connect again, waiting 0.5 s, 1 s, 2 s ... up to [`MAX_BACKOFF`] between tries,
/// and keeps answering the keyboard meanwhile. `None` when the user quits first; an error
/// when the server refuses us in a way waiting cannot fix.
async fn reconnect(
    client: &Client,
    name: &str,
    requests: &mut mpsc::Receiver<Request>,
    screen: &mut Screen,
) -> anyhow::Result<Option<Session>> {
    let mut delay = FIRST_BACKOFF;
    loop {
        let wake = Instant::now() + delay;
        loop {
            tokio::select! {
                () = sleep_until(wake) => break,
                request = requests.recv() => match request {
                    None | Some(Request::Quit) => return Ok(None),
                    Some(Request::Send { .. } | Request::Earlier { .. }) => screen.error(
                        "not connected, not sent (reconnecting; Up brings the line back)",
                    ),
                },
            }
        }
        match client.connect(name).await {
            Ok(session) => {
                tracing::info!("Reconnected to {} as {}", session.addr(), session.name());
                screen.notice(&format!(
                    "reconnected to {} as {}",
                    session.addr(),
                    session.name()
                ));
                return Ok(Some(session));
            }
            Err(e) if is_final(&e) => {
                screen.error(&format!(
                    "cannot reconnect: {}; press Enter to leave",
                    describe(&e)
                ));
                return Err(e.into());
            }
            Err(e) => {
                delay = (delay * 2).min(MAX_BACKOFF);
                screen.error(&format!(
                    "still cannot reach {}: {}; next try in {} s",
                    client.addr(),
                    describe(&e),
                    delay.as_secs_f64()
                ));
            }
        }
    }
}

/// Refusals that another attempt would only repeat. A taken name is not one of them: after
/// a network failure the server may still hold our old connection for a while.
fn is_final(err: &ClientError) -> bool {
    match err {
        ClientError::BadName { .. } => true,
        ClientError::Refused { kind, .. } => matches!(
            kind,
            ErrorKind::VersionMismatch | ErrorKind::AuthFailed | ErrorKind::InvalidName
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_refusals_that_cannot_change_stop_reconnecting() {
        let refused = |kind| ClientError::Refused {
            kind,
            detail: String::new(),
        };
        assert!(is_final(&refused(ErrorKind::VersionMismatch)));
        assert!(!is_final(&refused(ErrorKind::NameTaken)));
        assert!(!is_final(&refused(ErrorKind::ShuttingDown)));
        assert!(!is_final(&ClientError::Closed { addr: "x".into() }));
    }
}
