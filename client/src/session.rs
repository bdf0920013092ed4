//! [`Session`]: a registered connection, its typed requests and the raw frame stream.
//!
//! After `Welcome` a session is in no room: [`Session::join`] enters one (the command line
//! joins [`chat_proto::validate::DEFAULT_ROOM`] unless told others). The session keeps
//! track of the rooms it is in from the server's `Joined` and `Parted` answers, whichever
//! way they were asked for, so [`Session::rooms_joined`] is always what the server thinks.
//!
//! When a silent server is due a `Ping`, and when it is given up on, is [`crate::keepalive`]'s;
//! the session only writes the `Ping` and ends with [`ClientError::Timeout`] when told.

use std::time::Duration;

use chat_proto::validate::{self, room_key};
use chat_proto::{
    codec, Backlog, ClientConnection, ClientFrame, CodecError, Cursor, RoomSummary, ServerFrame,
    SessionToken,
};
use tokio::time::{sleep_until, timeout_at, Instant};

use crate::error::ClientError;
use crate::keepalive::{Alarm, Keepalive};
use crate::reply::{reply_of, Page, Reply, Room};
use crate::transport::Stream;

/// A registered connection: everything after `Welcome`.
///
/// The server answers each client's frames in the order sent, so the n-th [`Reply`] answers
/// the n-th request; [`Session::reply_of`] recognises replies among the room's traffic.
#[derive(Debug)]
pub struct Session {
    /// The framed connection, plain or TLS.
    conn: ClientConnection<Stream>,
    /// `host:port`, for error messages.
    addr: String,
    /// The name as the server registered it (the spelling in `from` fields).
    name: String,
    /// Users online when we registered, us included.
    online: u32,
    /// The server's `buffsize`: from `Welcome`, else what the configuration said.
    max_body: usize,
    /// How many rooms the server lets us be in at once; `0`: no limit.
    rooms_per_user: u32,
    /// The most messages one history page holds; `0`: the server keeps no history.
    history: u32,
    /// The rooms we are in, as the server names them, in the order joined.
    rooms: Vec<String>,
    /// How long a request waits for its reply.
    timeout: Duration,
    /// A `Ping` was read and its `Pong` is not yet written; written before anything else, so
    /// cancelling a read never loses it.
    pong_owed: bool,
    /// When our `Ping` is due and when a silent server is given up on.
    keepalive: Keepalive,
    /// The server has been silent for the keepalive interval: our `Ping` is due (written
    /// like `Pong`).
    ping_owed: bool,
    /// The device session we signed in with, from `SignedIn`; `None` for a guest.
    signed_in: Option<SignedIn>,
}

/// What `SignedIn` said: the device session, and its new token after a password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// The session's id, as `sessions` lists it.
    pub session: u64,
    /// The new token, to keep; `None` after signing in with a token.
    pub token: Option<SessionToken>,
}

impl Session {
    /// A session over `conn`, registered as `name` once `Welcome` arrives.
    pub(crate) fn new(
        conn: ClientConnection<Stream>,
        addr: String,
        name: &str,
        max_body: usize,
        timeout: Duration,
        keepalive: Duration,
    ) -> Session {
        Session {
            conn,
            addr,
            name: name.to_owned(),
            online: 0,
            max_body,
            rooms_per_user: 0,
            history: 0,
            rooms: Vec::new(),
            timeout,
            pong_owed: false,
            keepalive: Keepalive::new(keepalive, timeout, Instant::now()),
            ping_owed: false,
            signed_in: None,
        }
    }

    /// Says `hello` and waits for `Welcome`, taking the name as registered and the
    /// server's limits from it. A refusal is [`ClientError::Refused`].
    pub(crate) async fn register(&mut self, hello: &ClientFrame) -> Result<(), ClientError> {
        self.write(hello).await?;
        let deadline = Instant::now() + self.timeout;
        let mut frame = self.next_frame_until(deadline).await?;
        if let ServerFrame::SignedIn { session, token } = frame {
            self.signed_in = Some(SignedIn { session, token });
            if let ClientFrame::SignIn { online: false, .. } = hello {
                // Managing the account only: no `Welcome` follows.
                return Ok(());
            }
            frame = self.next_frame_until(deadline).await?;
        }
        match frame {
            ServerFrame::Welcome {
                username,
                online,
                buffsize,
                rooms_per_user,
                history,
                ..
            } => {
                self.name = username;
                self.online = online;
                if buffsize > 0 {
                    self.max_body = buffsize as usize;
                }
                self.rooms_per_user = rooms_per_user;
                self.history = history;
                Ok(())
            }
            ServerFrame::Error { kind, detail } => Err(ClientError::Refused { kind, detail }),
            other => Err(self.unexpected(&other)),
        }
    }

    /// The device session we signed in with; `None` for a guest.
    pub fn signed_in(&self) -> Option<&SignedIn> {
        self.signed_in.as_ref()
    }

    /// The name we are registered under, as the server spells it.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How many users were online when we registered, us included.
    pub fn online(&self) -> u32 {
        self.online
    }

    /// The largest frame body the server accepts (its `buffsize`, as `Welcome` stated it):
    /// bigger messages are refused here rather than getting us disconnected.
    pub fn buffsize(&self) -> usize {
        self.max_body
    }

    /// How many rooms the server lets one person be in at once; `None`: no limit.
    pub fn rooms_per_user(&self) -> Option<u32> {
        (self.rooms_per_user > 0).then_some(self.rooms_per_user)
    }

    /// The most messages the server puts in one history page (`Welcome`'s `history`), so
    /// that a longer read knows to page; `0`: the server keeps no history at all.
    pub fn history_cap(&self) -> u32 {
        self.history
    }

    /// The rooms we are in, as the server names them, in the order joined.
    pub fn rooms_joined(&self) -> &[String] {
        &self.rooms
    }

    /// Whether we are in `room` (any case, with or without `#`).
    pub fn is_in(&self, room: &str) -> bool {
        self.position_of(room).is_some()
    }

    /// `host:port` of the server.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// How long a request waits for its reply.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Fails with [`ClientError::TooLarge`] when the server would refuse `frame` for its size.
    pub fn check_fits(&self, frame: &ClientFrame) -> Result<(), ClientError> {
        check_fits(frame, self.max_body)
    }

    /// Sends one frame without waiting for an answer (see [`Session::request`] for that).
    pub async fn send(&mut self, frame: &ClientFrame) -> Result<(), ClientError> {
        self.check_fits(frame)?;
        self.write(frame).await
    }

    /// The next frame from the server; `Ok(None)` when it closed the connection cleanly.
    ///
    /// Answers `Ping` itself. A fatal `Error` frame (shutting down, slow consumer, ...)
    /// becomes [`ClientError::Refused`], since the connection is over after it.
    /// Keeps the connection honest the way the server does: after [`crate::DEFAULT_KEEPALIVE`] of
    /// silence it sends `Ping` (the answer, `Pong`, is returned like any frame), and a server
    /// that then stays silent for the session's timeout ends it with
    /// [`ClientError::Timeout`]. Cancel-safe: dropping the future loses no frame.
    pub async fn next_frame(&mut self) -> Result<Option<ServerFrame>, ClientError> {
        loop {
            for (owed, frame) in [
                (self.pong_owed, ClientFrame::Pong),
                (self.ping_owed, ClientFrame::Ping),
            ] {
                if !owed {
                    continue;
                }
                self.conn
                    .feed_frame(&frame)
                    .await
                    .map_err(|e| self.transport(e))?;
                if frame == ClientFrame::Pong {
                    self.pong_owed = false;
                } else {
                    self.ping_owed = false;
                    self.keepalive.pinged(Instant::now());
                }
                self.conn.flush().await.map_err(|e| self.transport(e))?;
            }
            let (deadline, alarm) = self.keepalive.next();
            let read = tokio::select! {
                read = self.conn.read_frame() => Some(read),
                () = sleep_until(deadline) => None,
            };
            let Some(read) = read else {
                match alarm {
                    Alarm::PingDue => self.ping_owed = true,
                    Alarm::PingUnanswered(waited) => {
                        return Err(ClientError::Timeout {
                            addr: self.addr.clone(),
                            waited,
                        })
                    }
                }
                continue;
            };
            let frame = match read {
                Ok(frame) => frame,
                Err(e) => return Err(self.transport(e)),
            };
            self.keepalive.heard(Instant::now());
            match frame {
                Some(ServerFrame::Ping) => self.pong_owed = true,
                Some(ServerFrame::Joined { ref room, .. }) => {
                    if !self.is_in(room) {
                        self.rooms.push(room.clone());
                    }
                    return Ok(frame);
                }
                Some(ServerFrame::Parted { ref room }) => {
                    if let Some(at) = self.position_of(room) {
                        self.rooms.remove(at);
                    }
                    return Ok(frame);
                }
                Some(ServerFrame::Error { kind, detail }) if kind.is_fatal() => {
                    return Err(ClientError::Refused { kind, detail })
                }
                other => return Ok(other),
            }
        }
    }

    /// Whether `frame` answers something this session sent, and how.
    ///
    /// A `History` with `backlog` set is not a reply of its own: it completes the answer to
    /// a `Join` that asked for a backlog, whose `Joined` came just before it.
    pub fn reply_of(&self, frame: &ServerFrame) -> Option<Reply> {
        reply_of(&self.name, frame)
    }

    /// Sends `frame` and waits for its reply, skipping the room's other traffic.
    ///
    /// A refusal is [`ClientError::Refused`]; any other reply is returned.
    pub async fn request(&mut self, frame: &ClientFrame) -> Result<Reply, ClientError> {
        self.send(frame).await?;
        let deadline = Instant::now() + self.timeout;
        loop {
            let frame = self.next_frame_until(deadline).await?;
            match self.reply_of(&frame) {
                Some(Reply::Refused { kind, detail }) => {
                    return Err(ClientError::Refused { kind, detail })
                }
                Some(reply) => return Ok(reply),
                None => {}
            }
        }
    }

    /// Enters `room` (any case, with or without `#`), creating it if nobody is in it;
    /// returns the room as the server names it, with everyone in it (us included). Asks for
    /// no backlog: what follows is the room's live traffic only.
    ///
    /// A name the server would refuse is [`ClientError::BadRoom`], before anything is sent.
    pub async fn join(&mut self, room: &str) -> Result<Room, ClientError> {
        let frame = ClientFrame::Join {
            room: checked_room(room)?.to_owned(),
            backlog: Backlog::None,
        };
        match self.request(&frame).await? {
            Reply::Joined(room) => Ok(room),
            other => Err(self.unexpected(&other)),
        }
    }

    /// Leaves `room`; returns once the server confirms that nothing more comes from it.
    pub async fn part(&mut self, room: &str) -> Result<(), ClientError> {
        let frame = ClientFrame::Part {
            room: checked_room(room)?.to_owned(),
        };
        match self.request(&frame).await? {
            Reply::Parted { .. } => Ok(()),
            other => Err(self.unexpected(&other)),
        }
    }

    /// Sends a message to everyone in `room`, which we must be in; returns once the
    /// server has broadcast it back to us.
    pub async fn say(&mut self, room: &str, text: &str) -> Result<(), ClientError> {
        let frame = ClientFrame::Msg {
            room: checked_room(room)?.to_owned(),
            text: text.into(),
        };
        match self.request(&frame).await? {
            Reply::Echo { .. } => Ok(()),
            other => Err(self.unexpected(&other)),
        }
    }

    /// One page of `room`'s log (we need not be in it): at most `limit` messages from
    /// `from`, fewer when the server's cap ([`Session::history_cap`]) or its frame size
    /// says so; the page says where the next one starts. A server without history refuses
    /// with [`chat_proto::ErrorKind::HistoryOff`].
    pub async fn page(
        &mut self,
        room: &str,
        from: Cursor,
        limit: u32,
    ) -> Result<Page, ClientError> {
        let frame = ClientFrame::History {
            room: checked_room(room)?.to_owned(),
            from,
            limit,
        };
        match self.request(&frame).await? {
            Reply::Page(page) => Ok(page),
            other => Err(self.unexpected(&other)),
        }
    }

    /// Every room on the server with its member count, sorted by name.
    pub async fn rooms(&mut self) -> Result<Vec<RoomSummary>, ClientError> {
        match self.request(&ClientFrame::ListRooms).await? {
            Reply::Rooms(rooms) => Ok(rooms),
            other => Err(self.unexpected(&other)),
        }
    }

    /// Who is in `room` (we need not be); [`chat_proto::ErrorKind::NoSuchRoom`] when nobody is.
    pub async fn members(&mut self, room: &str) -> Result<Room, ClientError> {
        let frame = ClientFrame::ListMembers {
            room: checked_room(room)?.to_owned(),
        };
        match self.request(&frame).await? {
            Reply::Members(room) => Ok(room),
            other => Err(self.unexpected(&other)),
        }
    }

    /// Sends a private message; returns once our copy arrives, i.e. `to` received it.
    pub async fn whisper(&mut self, to: &str, text: &str) -> Result<(), ClientError> {
        let frame = ClientFrame::Whisper {
            to: to.into(),
            text: text.into(),
        };
        match self.request(&frame).await? {
            Reply::WhisperCopy { .. } => Ok(()),
            other => Err(self.unexpected(&other)),
        }
    }

    /// Who is online (us included), as the server sorts them.
    pub async fn users(&mut self) -> Result<Vec<String>, ClientError> {
        match self.request(&ClientFrame::ListUsers).await? {
            Reply::Users(users) => Ok(users),
            other => Err(self.unexpected(&other)),
        }
    }

    /// Says `Bye` and waits until the server closes the connection, so that the name is
    /// free again when this returns (`send a; send b` under one name works back to back).
    pub async fn bye(mut self) -> Result<(), ClientError> {
        self.write(&ClientFrame::Bye).await?;
        let deadline = Instant::now() + self.timeout;
        loop {
            match timeout_at(deadline, self.conn.read_frame()).await {
                Err(_) => {
                    return Err(ClientError::Timeout {
                        addr: self.addr.clone(),
                        waited: self.timeout,
                    })
                }
                // Closed: cleanly, or with a reset that races our own close.
                Ok(Ok(None)) | Ok(Err(_)) => return Ok(()),
                Ok(Ok(Some(_))) => {}
            }
        }
    }

    /// The next frame, or [`ClientError::Timeout`] at `deadline`, or
    /// [`ClientError::Closed`] when the server hangs up first.
    pub(crate) async fn next_frame_until(
        &mut self,
        deadline: Instant,
    ) -> Result<ServerFrame, ClientError> {
        match timeout_at(deadline, self.next_frame()).await {
            Err(_) => Err(ClientError::Timeout {
                addr: self.addr.clone(),
                waited: self.timeout,
            }),
            Ok(Ok(Some(frame))) => Ok(frame),
            Ok(Ok(None)) => Err(ClientError::Closed {
                addr: self.addr.clone(),
            }),
            Ok(Err(e)) => Err(e),
        }
    }

    /// Writes one frame, no size check (the handshake and `Bye` are always small).
    pub(crate) async fn write(&mut self, frame: &ClientFrame) -> Result<(), ClientError> {
        self.conn
            .write_frame(frame)
            .await
            .map_err(|e| self.transport(e))
    }

    /// Where `room` is in [`Session::rooms_joined`], compared as the server compares rooms.
    fn position_of(&self, room: &str) -> Option<usize> {
        room_position(&self.rooms, room)
    }

    fn transport(&self, source: CodecError) -> ClientError {
        ClientError::Transport {
            addr: self.addr.clone(),
            source,
        }
    }

    pub(crate) fn unexpected(&self, what: &dyn std::fmt::Debug) -> ClientError {
        ClientError::Unexpected {
            addr: self.addr.clone(),
            frame: format!("{what:?}"),
        }
    }
}

/// Where `room` (any case, with or without `#`) is in `rooms`, a list of room names as
/// the server shows them, compared as the server compares rooms. Every list of joined rooms
/// on this side (the session's, `send -`'s, the REPL's) looks rooms up this way.
pub fn room_position(rooms: &[String], room: &str) -> Option<usize> {
    let key = room_key(room.strip_prefix('#').unwrap_or(room));
    rooms.iter().position(|r| room_key(r) == key)
}

/// `room` without its `#`, or [`ClientError::BadRoom`] for a name the server would refuse.
pub fn checked_room(room: &str) -> Result<&str, ClientError> {
    validate::room(room).map_err(|source| ClientError::BadRoom {
        room: room.to_owned(),
        source,
    })
}

/// The one size rule: a frame body over the server's `buffsize` would get us disconnected.
pub(crate) fn check_fits(frame: &ClientFrame, max_body: usize) -> Result<(), ClientError> {
    let len = codec::body_len(frame);
    if len > max_body as u64 {
        return Err(ClientError::TooLarge { len, max: max_body });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use chat_proto::ServerConnection;
    use tokio::net::TcpListener;
    use tokio::time::timeout;

    use super::*;
    use crate::client::Client;
    use chat_proto::PROTOCOL_VERSION;

    /// Until the server sends pings, a scripted peer plays the server's part of a keepalive:
    /// a `Ping` is answered with `Pong` and never reaches the caller.
    #[tokio::test]
    async fn a_server_ping_is_answered_with_pong_and_not_passed_on() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let peer = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut conn = ServerConnection::new(stream, 1024);
            let hello = conn.read_frame().await.unwrap();
            assert!(
                matches!(hello, Some(ClientFrame::Hello { .. })),
                "{hello:?}"
            );
            for frame in [
                ServerFrame::Welcome {
                    version: PROTOCOL_VERSION,
                    username: "Ann".into(),
                    online: 1,
                    buffsize: 1024,
                    rooms_per_user: 50,
                    history: 500,
                },
                ServerFrame::Ping,
                ServerFrame::System {
                    text: "after the ping".into(),
                    at: 0,
                },
            ] {
                conn.write_frame(&frame).await.unwrap();
            }
            conn.read_frame().await.unwrap()
        });
        let run = async {
            let mut session = Client::new("127.0.0.1", port).connect("ann").await?;
            assert_eq!(session.name(), "Ann", "the registered spelling wins");
            assert_eq!(session.buffsize(), 1024, "the server's limit, from Welcome");
            assert_eq!(session.rooms_per_user(), Some(50));
            assert_eq!(session.history_cap(), 500, "the page cap, from Welcome");
            assert!(
                session.rooms_joined().is_empty(),
                "in no room until one is joined"
            );
            session.next_frame().await
        };
        let frame = timeout(Duration::from_secs(10), run)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            frame,
            Some(ServerFrame::System {
                text: "after the ping".into(),
                at: 0
            })
        );
        let answer = timeout(Duration::from_secs(10), peer)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(answer, Some(ClientFrame::Pong));
    }

    /// The client side of keepalive: a server silent for the keepalive interval is pinged;
    /// one that answers keeps the session, one that stays silent for the timeout ends it
    /// with `Timeout`, naming the server.
    #[tokio::test]
    async fn a_silent_server_is_pinged_and_given_up_on_when_it_stays_silent() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let peer = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let mut conn = ServerConnection::new(stream, 1024);
            assert!(matches!(
                conn.read_frame().await,
                Ok(Some(ClientFrame::Hello { .. }))
            ));
            conn.write_frame(&ServerFrame::Welcome {
                version: PROTOCOL_VERSION,
                username: "ann".into(),
                online: 1,
                buffsize: 1024,
                rooms_per_user: 0,
                history: 0,
            })
            .await
            .unwrap();
            // Answers three pings, then plays dead, keeping the socket open.
            for _ in 0..3 {
                assert_eq!(conn.read_frame().await.unwrap(), Some(ClientFrame::Ping));
                conn.write_frame(&ServerFrame::Pong).await.unwrap();
            }
            assert_eq!(conn.read_frame().await.unwrap(), Some(ClientFrame::Ping));
            conn
        });
        let run = async {
            let mut session = Client::new("127.0.0.1", port)
                .with_keepalive(Duration::from_millis(100))
                .with_timeout(Duration::from_millis(500))
                .connect("ann")
                .await?;
            for _ in 0..3 {
                assert_eq!(session.next_frame().await?, Some(ServerFrame::Pong));
            }
            session.next_frame().await
        };
        let outcome = timeout(Duration::from_secs(10), run).await.unwrap();
        match outcome {
            Err(err @ ClientError::Timeout { .. }) => assert_eq!(
                err.to_string(),
                format!("no answer from 127.0.0.1:{port} within 0.5 s")
            ),
            other => panic!("expected a timeout, got {other:?}"),
        }
        timeout(Duration::from_secs(10), peer)
            .await
            .unwrap()
            .unwrap();
    }

    #[test]
    fn a_message_over_the_servers_buffsize_is_refused_locally() {
        let client = Client::new("localhost", 1).with_max_body(64);
        let fits = ClientFrame::Msg {
            room: "lobby".into(),
            text: "x".repeat(54),
        };
        let too_big = ClientFrame::Msg {
            room: "lobby".into(),
            text: "x".repeat(58),
        };
        assert!(client.check_fits(&fits).is_ok());
        assert!(matches!(
            client.check_fits(&too_big),
            Err(ClientError::TooLarge { max: 64, .. })
        ));
    }
}
