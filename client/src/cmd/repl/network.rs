//! The REPL's network thread: the one task that owns the connection, prints what arrives
//! and sends what the keyboard asks, reconnecting (and rejoining every room) when the
//! server goes away.
//!
//! The server answers each frame in the order sent, so the task keeps what it sent in a
//! queue ([`Pending`]) and matches each answer ([`Session::reply_of`]) to the oldest: a
//! refusal is then shown with what it refused (`! not sent: you are not in #rust — /join
//! rust first`), an answer to `/join` makes the room current, and the editor, waiting to draw
//! the next prompt, learns that the room has changed.

use std::collections::VecDeque;
use std::sync::mpsc::SyncSender;
use std::time::Duration;

use chat_proto::{ClientFrame, ErrorKind, ServerFrame};
use rustyline::ExternalPrinter;
use tokio::sync::mpsc;
use tokio::time::{sleep_until, timeout_at, Instant};

use super::known::Known;
use crate::cmd::describe;
use crate::render::Style;
use crate::{Client, ClientError, Session};

/// First wait before reconnecting; doubled after each failed attempt.
const FIRST_BACKOFF: Duration = Duration::from_millis(500);

/// Longest wait between reconnection attempts: a restarted server is found within this.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// What the keyboard asks of the connection.
#[derive(Debug)]
pub enum Request {
    /// Send this frame; tell `done` (by sending or by dropping it) once it is answered,
    /// refused or lost.
    Send {
        /// The frame.
        frame: ClientFrame,
        /// Who waits for the answer: the editor, after a line that changes the prompt.
        done: Option<SyncSender<()>>,
    },
    /// Say `Bye` and stop.
    Quit,
}

/// Where the network thread's lines go.
pub enum Output {
    /// Above the prompt, through the line editor.
    Editor(Box<dyn ExternalPrinter + Send>),
    /// Plain stdout, when there is no terminal to edit on.
    Stdout,
}

impl std::fmt::Debug for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Output::Editor(_) => "Output::Editor",
            Output::Stdout => "Output::Stdout",
        })
    }
}

/// What the network thread shows, and what it learns for the prompt and for Tab.
#[derive(Debug)]
pub struct Screen {
    /// Where lines go.
    pub output: Output,
    /// How they look.
    pub style: Style,
    /// People and rooms, shared with the editor.
    pub known: Known,
}

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
    let mut first = Some((rooms, settled));
    loop {
        let (rooms, settled) = match first.take() {
            Some((rooms, settled)) => (rooms, Some(settled)),
            None => (screen.known.take_joined(), None),
        };
        match converse(&mut session, rooms, settled, &mut requests, &mut screen).await {
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

/// Why [`converse`] stopped.
enum End {
    /// The user left.
    Quit,
    /// The connection is gone.
    Lost(ClientError),
}

/// A frame sent and not yet answered.
#[derive(Debug)]
struct Pending {
    /// What was sent.
    frame: ClientFrame,
    /// The user's `/join`: its answer makes the room current.
    make_current: bool,
    /// Told once answered, to wake whoever waits.
    done: Option<SyncSender<()>>,
}

/// Joins `rooms`, then relays frames to the screen and requests to the server until one
/// side ends. `settled` is told once the joins are answered.
async fn converse(
    session: &mut Session,
    rooms: Vec<String>,
    settled: Option<SyncSender<()>>,
    requests: &mut mpsc::Receiver<Request>,
    screen: &mut Screen,
) -> End {
    let mut pending = VecDeque::new();
    // Fills the names for Tab and shows who is here.
    let mut opening = vec![ClientFrame::ListUsers];
    opening.extend(rooms.into_iter().map(|room| ClientFrame::Join { room }));
    let last = opening.len() - 1;
    let mut settled = settled;
    for (i, frame) in opening.into_iter().enumerate() {
        if let Err(e) = session.send(&frame).await {
            return End::Lost(e);
        }
        pending.push_back(Pending {
            frame,
            make_current: false,
            done: if i == last { settled.take() } else { None },
        });
    }
    loop {
        tokio::select! {
            frame = session.next_frame() => match frame {
                Ok(Some(frame)) => {
                    let answered = session
                        .reply_of(&frame)
                        .and_then(|_| pending.pop_front());
                    screen.frame(&frame, answered.as_ref());
                    if let Some(done) = answered.and_then(|sent| sent.done) {
                        // The editor may have given up waiting; nothing to do then.
                        let _ = done.send(());
                    }
                }
                Ok(None) => return End::Lost(ClientError::Closed { addr: session.addr().to_owned() }),
                Err(e) => return End::Lost(e),
            },
            request = requests.recv() => match request {
                None | Some(Request::Quit) => {
                    drain(session, &mut pending, screen).await;
                    return End::Quit;
                }
                Some(Request::Send { frame, done }) => match session.send(&frame).await {
                    Ok(()) => pending.push_back(Pending {
                        make_current: matches!(frame, ClientFrame::Join { .. }),
                        frame,
                        done,
                    }),
                    Err(e @ ClientError::TooLarge { .. }) => {
                        screen.error(&format!("not sent: {e}; split it into shorter messages"));
                    }
                    Err(e) => return End::Lost(e),
                },
            },
        }
    }
}

/// Shows the answers still due before leaving, so that the last lines' outcomes are seen
/// (`repl < script` ends as soon as the script does); waits at most the session's timeout.
async fn drain(session: &mut Session, pending: &mut VecDeque<Pending>, screen: &mut Screen) {
    let deadline = Instant::now() + session.timeout();
    while !pending.is_empty() {
        let Ok(Ok(Some(frame))) = timeout_at(deadline, session.next_frame()).await else {
            return;
        };
        let answered = session.reply_of(&frame).and_then(|_| pending.pop_front());
        screen.frame(&frame, answered.as_ref());
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
                    Some(Request::Send { .. }) => screen.error(
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

impl Screen {
    /// Learns from `frame` and shows it; `answered` is what it answers, if anything.
    fn frame(&mut self, frame: &ServerFrame, answered: Option<&Pending>) {
        self.known.track(frame);
        match (frame, answered) {
            (ServerFrame::Joined { room, .. }, Some(sent)) if sent.make_current => {
                self.known.set_current(room);
            }
            (ServerFrame::Error { kind, detail }, Some(sent)) => {
                if let ClientFrame::Join { room } = &sent.frame {
                    // A refused rejoin after a reconnection: we are not there any more.
                    self.known.forget(room);
                }
                self.error(&refusal(&sent.frame, *kind, detail));
                return;
            }
            _ => {}
        }
        let here = self.known.current();
        if let Some(line) = self.style.line_in(frame, here.as_deref()) {
            self.print(line);
        }
    }

    /// A notice from this program: `* text`.
    pub fn notice(&mut self, text: &str) {
        let line = self.style.notice(text);
        self.print(line);
    }

    /// Something that went wrong: `! text`.
    pub fn error(&mut self, text: &str) {
        let line = self.style.error(text);
        self.print(line);
    }

    fn print(&mut self, mut line: String) {
        // Outside raw mode the printer writes the text as is.
        line.push('\n');
        match &mut self.output {
            Output::Editor(printer) => {
                if printer.print(line).is_err() {
                    tracing::warn!("Cannot print above the prompt");
                }
            }
            Output::Stdout => {
                use std::io::Write;
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(line.as_bytes()).and_then(|()| out.flush());
            }
        }
    }
}

/// One line for a refusal: what was refused, the server's words, what to try.
fn refusal(sent: &ClientFrame, kind: ErrorKind, detail: &str) -> String {
    let detail = crate::render::clean(detail);
    let what = match sent {
        ClientFrame::Msg { .. } | ClientFrame::Whisper { .. } => "not sent".to_owned(),
        ClientFrame::Join { room } => format!("cannot join #{room}"),
        ClientFrame::Part { .. } => "cannot leave".to_owned(),
        ClientFrame::ListMembers { .. } => "no member list".to_owned(),
        _ => "refused".to_owned(),
    };
    let room = match sent {
        ClientFrame::Msg { room, .. }
        | ClientFrame::Join { room }
        | ClientFrame::Part { room }
        | ClientFrame::ListMembers { room } => room.as_str(),
        _ => "ROOM",
    };
    // The server's words say what the limit is; these say what to type next.
    let hint = match kind {
        ErrorKind::NotInRoom => Some(format!("/join {room} first")),
        ErrorKind::NoSuchRoom | ErrorKind::RoomsFull => Some("/rooms lists the rooms".to_owned()),
        ErrorKind::TooManyRooms => Some("/part ROOM leaves one".to_owned()),
        ErrorKind::InvalidRoom => {
            Some("room names are 1-32 letters, digits, '_', '-' or '.'".to_owned())
        }
        ErrorKind::NoSuchUser => Some("/list_users shows who is online".to_owned()),
        ErrorKind::RateLimited => Some("slow down".to_owned()),
        _ => None,
    };
    match hint {
        Some(hint) => format!("{what}: {detail} — {hint}"),
        None => format!("{what}: {detail}"),
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

    #[test]
    fn a_refusal_says_what_it_refused_and_what_to_try() {
        let msg = ClientFrame::Msg {
            room: "rust".into(),
            text: "hi".into(),
        };
        assert_eq!(
            refusal(&msg, ErrorKind::NotInRoom, "you are not in #rust"),
            "not sent: you are not in #rust — /join rust first"
        );
        let join = ClientFrame::Join { room: "ops".into() };
        assert_eq!(
            refusal(&join, ErrorKind::TooManyRooms, "at most 2 rooms"),
            "cannot join #ops: at most 2 rooms — /part ROOM leaves one"
        );
    }
}
