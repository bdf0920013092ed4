//! `chat-client send TEXT` and `send -`: deliver messages to a room and exit 0 only once
//! the server has confirmed each one.
//!
//! The room is `--room` (default `lobby`); `send` joins it before the first message and
//! leaves with `Bye` after the last, so the room sees it come and go. A command that needs
//! no room (`/whisper`, `/list_users`, `/rooms`, `/members`, `/history`) joins none;
//! `/history N` prints the room's latest N messages (one page) as `history` does.
//!
//! A message is confirmed by its echo (the server broadcasts it to its sender too), a
//! whisper by the sender's copy, a request by its answer. `send -` keeps reading replies
//! while it writes, with at most [`WINDOW`] lines unconfirmed: a client that only wrote
//! would fill its own queue on the server with echoes and be dropped as a slow consumer.
//! In `send -`, `/join ROOM` joins and makes it the room of the lines after it, `/switch
//! ROOM` goes back to a room joined before, and `/part` leaves, as in the REPL.

use std::collections::VecDeque;
use std::time::Duration;

use anyhow::Context;
use chat_proto::input::{self, Input, InputError};
use chat_proto::validate::{room_key, DEFAULT_ROOM};
use chat_proto::{ClientFrame, ServerFrame};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::time::{sleep_until, Instant};

use crate::cmd::UsageError;
use crate::error::ClientError;
use crate::render::{print_line, print_page, print_rooms, print_users};
use crate::reply::Reply;
use crate::session::{checked_room, room_position, Session};
use crate::settings::Settings;

/// Lines sent but not yet confirmed, at most. Far below any server queue, and enough to keep
/// the connection busy while echoes come back.
pub const WINDOW: usize = 32;

/// Send a message to a room (lobby unless --room); exits 0 once the server has delivered it.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Text starting with / is a command (/whisper bob hi, /list_users, /rooms, \
                        /members, /history N); start it with // to send a leading /."
)]
pub struct Send {
    /// The room to send to, with or without '#' [default: lobby]
    #[arg(long, value_name = "ROOM")]
    room: Option<String>,
    /// The message (several words are joined with spaces), or `-` to send each line of
    /// stdin as its own message, in order
    #[arg(required = true, value_name = "TEXT")]
    text: Vec<String>,
}

impl Send {
    /// Connects, sends, waits for the confirmation(s), says `Bye`.
    pub async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        let room = checked_room(self.room.as_deref().unwrap_or(DEFAULT_ROOM))?.to_owned();
        let text = self.text.join(" ");
        if text == "-" {
            let mut session = settings.client().connect(&settings.name).await?;
            let outcome = send_stdin(&mut session, &room).await;
            let bye = session.bye().await;
            outcome?;
            return Ok(bye?);
        }
        let input = match input::parse(&text) {
            Ok(input) => input,
            // A room name is refused like one given to --room: at run time, exit 1.
            Err(InputError::Room(source)) => {
                return Err(ClientError::BadRoom {
                    // Every room command takes the room as its one argument.
                    room: text
                        .split_whitespace()
                        .nth(1)
                        .unwrap_or_default()
                        .to_owned(),
                    source,
                }
                .into());
            }
            Err(e) => return Err(UsageError(e.to_string()).into()),
        };
        match input {
            Input::Help => {
                println!("{}", input::help_text());
                return Ok(());
            }
            Input::Quit => return Ok(()),
            Input::Switch { .. } => {
                return Err(UsageError(
                    "/switch changes the room of the lines after it: use it in `send -` or \
                     the repl, or pass --room ROOM"
                        .into(),
                )
                .into())
            }
            _ => {}
        }
        let frame = without_backlog(
            input
                .into_frame(&room)
                .expect("Switch, Help and Quit were handled above"),
        );
        let client = settings.client();
        client.check_fits(&frame)?;
        let mut session = client.connect(&settings.name).await?;
        let reply = match frame {
            ClientFrame::Msg { .. } => match session.join(&room).await {
                Ok(_) => session.request(&frame).await,
                Err(e) => Err(e),
            },
            _ => session.request(&frame).await,
        };
        // Leave cleanly even after a refusal, so the name is free at once.
        let bye = session.bye().await;
        match reply? {
            Reply::Users(users) => print_users(&users, &settings.name)?,
            Reply::Members(room) => print_users(&room.members, &settings.name)?,
            Reply::Rooms(rooms) => print_rooms(rooms, false)?,
            Reply::Page(page) => print_page(&page)?,
            Reply::Found(hits, _) => super::search::print_hits(&hits, false)?,
            Reply::Echo { .. }
            | Reply::Changed(_)
            | Reply::WhisperCopy { .. }
            | Reply::Joined(_)
            | Reply::Parted { .. }
            | Reply::Sessions(_)
            | Reply::Revoked(_)
            | Reply::PasswordChanged(_)
            | Reply::AccountDeleted
            | Reply::Disconnected(_)
            | Reply::RoomInfo(_)
            | Reply::ModLog(_)
            | Reply::Enforced(_)
            | Reply::Removed { .. }
            | Reply::Refused { .. } => {}
        }
        bye?;
        Ok(())
    }
}

/// A sent line not yet confirmed.
#[derive(Debug)]
struct Pending {
    /// 1-based line number in stdin, for error messages.
    line: usize,
    /// Which frame was sent.
    frame: ClientFrame,
}

/// The state of `send -`: what stdin has given, what is unconfirmed, what failed.
#[derive(Debug)]
struct Pipeline {
    /// Where plain lines go: `--room`, or the last room `/join`ed or `/switch`ed to.
    current: String,
    /// The rooms we are in or have asked to join (a refused join is taken back), so that
    /// `/switch` can be checked before the server answers the joins in flight.
    rooms: Vec<String>,
    /// Sent lines in the order their replies will come.
    pending: VecDeque<Pending>,
    /// Lines read so far.
    line_no: usize,
    /// Stdin ended (or said `/quit`).
    eof: bool,
    /// Lines refused here or by the server.
    failed: usize,
    /// When the oldest pending line is overdue.
    deadline: Instant,
    /// How long a line may wait for its reply.
    timeout: Duration,
}

/// Joins `room`, sends every stdin line; fails at the end if any line was not delivered.
async fn send_stdin(session: &mut Session, room: &str) -> anyhow::Result<()> {
    let joined = session.join(room).await?;
    let mut lines = BufReader::new(tokio::io::stdin()).lines();
    let mut pipe = Pipeline {
        current: joined.name.clone(),
        rooms: vec![joined.name],
        pending: VecDeque::new(),
        line_no: 0,
        eof: false,
        failed: 0,
        deadline: Instant::now(),
        timeout: session.timeout(),
    };
    while !(pipe.eof && pipe.pending.is_empty()) {
        tokio::select! {
            line = lines.next_line(), if !pipe.eof && pipe.pending.len() < WINDOW => {
                let line = line.with_context(|| {
                    format!("cannot read line {} of stdin", pipe.line_no + 1)
                })?;
                pipe.on_line(session, line).await?;
            }
            frame = session.next_frame() => {
                let frame = frame?.ok_or_else(|| ClientError::Closed {
                    addr: session.addr().to_owned(),
                })?;
                pipe.on_frame(session, &frame)?;
            }
            () = sleep_until(pipe.deadline), if !pipe.pending.is_empty() => {
                let err = ClientError::Timeout {
                    addr: session.addr().to_owned(),
                    waited: pipe.timeout,
                };
                return Err(err).context(format!("line {} was not confirmed", pipe.pending[0].line));
            }
        }
    }
    if pipe.failed > 0 {
        anyhow::bail!(
            "{} of {} lines were not delivered (see above)",
            pipe.failed,
            pipe.line_no
        );
    }
    Ok(())
}

impl Pipeline {
    /// Parses and sends one stdin line (`None`: end of input).
    async fn on_line(&mut self, session: &mut Session, line: Option<String>) -> anyhow::Result<()> {
        let Some(line) = line else {
            self.eof = true;
            return Ok(());
        };
        self.line_no += 1;
        let frame = match input::parse(&line) {
            Err(InputError::Blank) => return Ok(()),
            Err(e) => {
                self.refused_here(&e);
                return Ok(());
            }
            Ok(Input::Quit) => {
                self.eof = true;
                return Ok(());
            }
            Ok(Input::Help) => {
                print_line(&mut std::io::stdout().lock(), &input::help_text())?;
                return Ok(());
            }
            Ok(Input::Switch { room }) => {
                match self.position_of(&room) {
                    Some(at) => self.current = self.rooms[at].clone(),
                    None => self.refused_here(&format!("not in #{room}; /join {room} first")),
                }
                return Ok(());
            }
            Ok(input) => without_backlog(
                input
                    .into_frame(&self.current)
                    .expect("Switch, Help and Quit were handled above"),
            ),
        };
        match session.send(&frame).await {
            Err(e @ ClientError::TooLarge { .. }) => {
                self.refused_here(&e);
                return Ok(());
            }
            other => other?,
        }
        match &frame {
            ClientFrame::Join { room, .. } => {
                if self.position_of(room).is_none() {
                    self.rooms.push(room.clone());
                }
                self.current = room.clone();
            }
            ClientFrame::Part { room } => self.forget(room),
            _ => {}
        }
        if self.pending.is_empty() {
            self.deadline = Instant::now() + self.timeout;
        }
        self.pending.push_back(Pending {
            line: self.line_no,
            frame,
        });
        Ok(())
    }

    /// Matches a server frame against the oldest pending line.
    fn on_frame(&mut self, session: &Session, frame: &ServerFrame) -> anyhow::Result<()> {
        let Some(reply) = session.reply_of(frame) else {
            return Ok(());
        };
        let Some(sent) = self.pending.pop_front() else {
            return Ok(());
        };
        self.deadline = Instant::now() + self.timeout;
        match reply {
            Reply::Refused { detail, .. } => {
                self.failed += 1;
                eprintln!("line {} not delivered: {detail}", sent.line);
                if let ClientFrame::Join { room, .. } = &sent.frame {
                    self.forget(room);
                }
            }
            Reply::Users(users) => print_users(&users, session.name())?,
            Reply::Members(room) => print_users(&room.members, session.name())?,
            Reply::Rooms(rooms) => print_rooms(rooms, false)?,
            Reply::Page(page) => print_page(&page)?,
            Reply::Found(hits, _) => super::search::print_hits(&hits, false)?,
            Reply::Echo { .. }
            | Reply::Changed(_)
            | Reply::WhisperCopy { .. }
            | Reply::Joined(_)
            | Reply::Parted { .. }
            | Reply::Sessions(_)
            | Reply::Revoked(_)
            | Reply::PasswordChanged(_)
            | Reply::AccountDeleted
            | Reply::Disconnected(_)
            | Reply::RoomInfo(_)
            | Reply::ModLog(_)
            | Reply::Enforced(_)
            | Reply::Removed { .. } => {
                tracing::debug!(line = sent.line, frame = ?sent.frame, "Delivered");
            }
        }
        Ok(())
    }

    /// Where `room` is among the rooms we are in, compared as the server compares them.
    fn position_of(&self, room: &str) -> Option<usize> {
        room_position(&self.rooms, room)
    }

    /// We left `room` (or never got in): plain lines go to the room joined last, if any.
    fn forget(&mut self, room: &str) {
        if let Some(at) = self.position_of(room) {
            self.rooms.remove(at);
        }
        if room_key(room) == room_key(&self.current) {
            if let Some(last) = self.rooms.last() {
                self.current = last.clone();
            }
        }
    }

    /// A line refused before it reached the server.
    fn refused_here(&mut self, err: &dyn std::fmt::Display) {
        self.failed += 1;
        eprintln!("line {} not sent: {err}", self.line_no);
    }
}

/// `frame`, but a `Join` asks for no backlog: `send` shows no room's traffic, so the past
/// would only be read to be dropped.
fn without_backlog(frame: ClientFrame) -> ClientFrame {
    match frame {
        ClientFrame::Join { room, .. } => ClientFrame::Join {
            room,
            backlog: chat_proto::Backlog::None,
        },
        other => other,
    }
}
