//! What the server does with each client frame: one file per command, reached through one
//! exhaustive `match` in [`dispatch`].
//!
//! The frame enum is already the parsed command, so there is no table of handlers keyed by
//! strings: a new [`ClientFrame`] variant does not compile until it has an arm here, and
//! adding a command is one new file and one arm.
//!
//! A handler returns `Result<Flow, CommandError>`. [`dispatch`] turns an error into
//! `ServerFrame::Error { kind, detail }` on the sender's own queue; the connection goes on
//! unless the kind is fatal ([`ErrorKind::is_fatal`]).

mod account;
mod bye;
mod change;
mod change_password;
mod claim;
mod delete_account;
mod disconnect;
mod edit;
mod handshake;
mod hello;
mod history;
mod join;
mod list_members;
mod list_rooms;
mod list_sessions;
mod list_users;
mod mod_log;
mod moderate;
mod msg;
mod operate;
mod part;
mod ping;
mod pong;
mod react;
mod register;
mod remove_message;
mod reply;
mod revoke;
mod room_info;
mod search;
mod sign_in;
mod typing;
mod whisper;

use std::cell::RefCell;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use chat_proto::codec::encode;
use chat_proto::validate::{self, MessageError, NameError};
use chat_proto::{ClientFrame, ErrorKind, ServerFrame, SessionToken};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use crate::accounts::{Accounts, AccountsError, SignedIn};
use crate::current::Current;
use crate::hub::Hub;
use crate::log::{page, Burst, PageRead, RoomLog, Said};
use crate::login_backoff::LoginBackoff;
use crate::moderation::{Actor, ModError, Moderation};
use crate::outbox::Outbox;
use crate::peers::{ClaimError, Peers};
use crate::registry::LeaveReason;
use crate::room::{JoinedRoom, RoomError};

/// Where a connection stands: the only state a command may change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Session {
    /// Connected, no `Hello` accepted yet: only `Hello` is allowed.
    Handshake,
    /// Registered under this name (as typed), in these rooms.
    Registered {
        /// The name as registered.
        name: Arc<str>,
        /// The rooms joined, as the hub confirmed them, sorted by key. A copy of what the
        /// hub knows, kept here so that a message finds its room without taking the hub's
        /// lock: only this connection's own `Join` and `Part` change it. A sorted list
        /// rather than a map: one entry costs 32 bytes where a map's smallest table costs
        /// about 200, and most people are in a room or two; a binary search keeps a
        /// client in a thousand rooms (a bridge, a bot) as fast.
        rooms: Vec<JoinedRoom>,
        /// The account and device session it signed in with; `None` for a guest.
        account: Option<SignedIn>,
    },
    /// Signed in to manage the account only (`SignIn{online: false}`): no name taken, in
    /// no list; only account requests, `Ping`, `Pong` and `Bye`.
    Managing {
        /// The account's name as registered.
        name: Arc<str>,
        /// The account and device session it signed in with.
        account: SignedIn,
    },
}

/// What a handler needs: the room, the sender's own queue, and the session it may advance.
#[derive(Debug)]
pub struct Context<'a> {
    /// The rooms and who is online.
    pub hub: &'a Hub,
    /// The sender's own queue, for replies.
    pub outbox: &'a Outbox,
    /// The sender's address, for log lines.
    pub peer: SocketAddr,
    /// Handshake or registered; `Hello` moves it forward.
    pub session: &'a mut Session,
    /// The settings in force, read when a handshake is checked: `[server] password`,
    /// which `Hello` must carry when set, is the one in force then (a reload changes it).
    pub settings: &'a Current,
    /// Failed passwords per address and per account, shared by every connection: slows
    /// guessing.
    pub login_backoff: &'a LoginBackoff,
    /// The accounts, where the server keeps any (`None`: everyone is a guest).
    pub accounts: Option<&'a Arc<Accounts>>,
    /// Room roles, settings, bans and the audit log (`None` where there are no accounts).
    pub moderation: Option<&'a Arc<Moderation>>,
    /// The session token the browser's cookie carried with the WebSocket's handshake, for
    /// `SignIn{credential: Cookie}`; `None` over TCP.
    pub cookie: Option<&'a SessionToken>,
    /// When the handshake must be over (`None`: never): a password check whose turn comes
    /// later is refused at once rather than held until the connection times out.
    pub handshake_deadline: Option<Instant>,
    /// This client's messages not yet queued to the room: the connection sends them once
    /// it has handled every frame it had read ([`Context::flush`]).
    pub burst: RefCell<Burst>,
    /// The room log every message goes through, whether history is off, on disk or in a
    /// cluster.
    pub log: &'a dyn RoomLog,
    /// Completes once the last burst sent to the room log was delivered: anything else this
    /// client causes waits for it ([`Context::flush_to_confirm`]), so its messages come first.
    pub unconfirmed: RefCell<Option<oneshot::Receiver<()>>>,
    /// An answer the handler left for the connection to wait for ([`complete`]).
    pub waiting: Option<Waiting>,
    /// On a node of a cluster, where `Hello` claims its name before the hub registers it
    /// and a whisper finds its target's node; `None` on a server alone.
    pub peers: Option<&'a Peers>,
    /// When this client's typing was last passed on, per room ([`typing`]).
    pub typed: typing::Typed,
}

/// An answer that takes the room log's time: the connection waits for it before it reads
/// the client's next frame, so that every request is answered in order.
#[derive(Debug)]
pub enum Waiting {
    /// A join the room log performs in its order, with the backlog.
    Join(oneshot::Receiver<Result<JoinedRoom, RoomError>>),
    /// A page of history being read.
    Page(PageRead),
    /// A name being claimed across the cluster, for a `Hello`; registered once claimed.
    Claim {
        /// The name as typed (a guest's) or as registered (an account's), already valid.
        name: Arc<str>,
        /// The claim, in its own task: this connection reads nothing more until it ends,
        /// as for any answer it waits for; other connections do not wait for it at all.
        claim: JoinHandle<Result<(), ClaimError>>,
        /// The account signed in to, if this is no guest.
        welcome: Option<Box<crate::accounts::service::Welcome>>,
    },
    /// A guest's name being checked against the accounts, or a sign-in or a registration
    /// being checked.
    SignIn(Box<sign_in::Pending>),
    /// An account request of a signed-in client.
    Account(Box<account::Pending>),
    /// A whisper whose target is not here, waiting to learn which node holds the name.
    Whisper(Box<whisper::Pending>),
    /// An operator's removal of someone not here, asked of the node that holds the name.
    Disconnect(Box<disconnect::Pending>),
    /// A moderation action being kept in the store: the frame to answer with, if any.
    Moderation(JoinHandle<Result<Option<ServerFrame>, ModError>>),
    /// A change of a message (removal, reply, edit, reaction) the room log makes in the
    /// room's order.
    Change(Box<change::Pending>),
}

/// Runs a moderation request in its own task and has the connection wait for its answer.
fn moderation_task(
    ctx: &mut Context<'_>,
    request: impl std::future::Future<Output = Result<Option<ServerFrame>, ModError>> + Send + 'static,
) -> Result<Flow, CommandError> {
    ctx.waiting = Some(Waiting::Moderation(tokio::spawn(request)));
    Ok(Flow::Continue)
}

impl Context<'_> {
    /// The account the sender signed in to, or `NotSignedIn` for a guest.
    pub fn signed_in(&self) -> Result<(Arc<str>, SignedIn, &Arc<Accounts>), CommandError> {
        match (&*self.session, self.accounts) {
            (
                Session::Registered {
                    name,
                    account: Some(me),
                    ..
                }
                | Session::Managing { name, account: me },
                Some(accounts),
            ) => Ok((name.clone(), *me, accounts)),
            (Session::Handshake, _) => Err(CommandError::NotRegistered),
            _ => Err(CommandError::NotSignedIn),
        }
    }

    /// The sender as moderation sees them, and the moderation: `AccountsOff` where the
    /// server keeps no accounts (nobody can moderate anything).
    pub fn actor(&self) -> Result<(Actor, &Arc<Moderation>), CommandError> {
        let (name, account) = match &*self.session {
            Session::Registered { name, account, .. } => {
                (name.clone(), account.map(|me| me.account))
            }
            Session::Handshake => return Err(CommandError::NotRegistered),
            Session::Managing { .. } => return Err(CommandError::NotOnline),
        };
        let Some(moderation) = self.moderation else {
            return Err(CommandError::AccountsOff);
        };
        let operator = account.is_some() && self.accounts.is_some_and(|a| a.is_operator(&name));
        let actor = Actor {
            name: name.to_string(),
            account,
            ip: self.peer.ip(),
            operator,
        };
        Ok((actor, moderation))
    }

    /// The room `room` (valid, without `#`) as shown: as the hub shows it while it has
    /// members, else as typed.
    pub fn shown(&self, room: &str) -> String {
        let key = validate::room_key(room);
        match self.hub.room_name(&key) {
            Some(shown) => shown.to_string(),
            None => room.to_owned(),
        }
    }

    /// Takes the rooms a moderator put this client out of off its own list, so that it
    /// can no longer speak there.
    pub fn sync_rooms(&mut self) {
        let put_out = self.outbox.take_put_out();
        if put_out.is_empty() {
            return;
        }
        if let Session::Registered { rooms, .. } = &mut *self.session {
            rooms.retain(|room| !put_out.contains(&room.key));
        }
    }

    /// Whether the handshake is over (online, or signed in to manage the account): what a
    /// keepalive needs.
    pub fn past_handshake(&self) -> Result<(), CommandError> {
        match &*self.session {
            Session::Handshake => Err(CommandError::NotRegistered),
            Session::Registered { .. } | Session::Managing { .. } => Ok(()),
        }
    }

    /// The sender's registered name, or `NotRegistered` before the handshake.
    pub fn name(&self) -> Result<Arc<str>, CommandError> {
        match &*self.session {
            Session::Registered { name, .. } => Ok(name.clone()),
            Session::Handshake => Err(CommandError::NotRegistered),
            Session::Managing { .. } => Err(CommandError::NotOnline),
        }
    }

    /// The rooms the sender is in, to change after the hub confirmed a join or a part.
    pub fn rooms_mut(&mut self) -> Result<&mut Vec<JoinedRoom>, CommandError> {
        match &mut *self.session {
            Session::Registered { rooms, .. } => Ok(rooms),
            Session::Handshake => Err(CommandError::NotRegistered),
            Session::Managing { .. } => Err(CommandError::NotOnline),
        }
    }

    /// The joined room a client named as `typed` (any case, `#` or not): `InvalidRoom` for
    /// a name no room can have, `NotInRoom` for a room the sender is not in.
    pub fn joined(&self, typed: &str) -> Result<JoinedRoom, CommandError> {
        let room = room_name(typed)?;
        let rooms = match &*self.session {
            Session::Registered { rooms, .. } => rooms,
            Session::Handshake => return Err(CommandError::NotRegistered),
            Session::Managing { .. } => return Err(CommandError::NotOnline),
        };
        match find_room(rooms, room) {
            Ok(at) => Ok(rooms[at].clone()),
            Err(_) => Err(CommandError::Room(RoomError::NotInRoom(room.to_owned()))),
        }
    }

    /// Holds a message from `from` for every member of `room`, the sender included, in the
    /// burst until [`Context::flush`] (or until the burst is full, or a message for another
    /// room comes).
    pub fn say(&self, room: &JoinedRoom, from: &Arc<str>, said: Said) {
        let mut burst = self.burst.borrow_mut();
        if !burst.accepts(&room.key) {
            self.send(&mut burst);
        }
        burst.push(room, from, said);
        if burst.is_full() {
            self.send(&mut burst);
        }
    }

    /// Sends the held messages to the room log, which delivers them once they have their
    /// seqs (and are stored, where history is kept).
    fn send(&self, burst: &mut Burst) {
        if let Some(spoken) = burst.take() {
            if let Some(confirmed) = self.log.append(spoken, self.outbox) {
                *self.unconfirmed.borrow_mut() = Some(confirmed);
            }
        }
    }

    /// Sends the held messages. Called before anything else reaches any queue on this
    /// client's behalf, so nothing overtakes them.
    pub fn flush(&self) {
        self.send(&mut self.burst.borrow_mut());
    }

    /// Sends the held messages and returns what completes once the room log has delivered
    /// them, if any are on their way (never without history): what the client causes next
    /// waits for it, so it comes after its messages. A receiver rather than an `async fn`,
    /// so that the common case, nothing to wait for, costs no future and no allocation.
    pub fn flush_to_confirm(&self) -> Option<oneshot::Receiver<()>> {
        self.flush();
        self.unconfirmed.borrow_mut().take()
    }

    /// Queues `frame` for the sender only, after the broadcasts it sent before.
    pub fn reply(&self, frame: &ServerFrame) {
        self.flush();
        if let ServerFrame::Error { kind, .. } = frame {
            self.hub.metrics().refused(*kind);
        }
        match encode(frame) {
            Ok(frame) => {
                self.outbox.offer(frame);
            }
            Err(err) => tracing::error!(peer = %self.peer, "Cannot encode a reply: {err}"),
        }
    }
}

/// Whether the connection goes on after a frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Flow {
    /// Read the next frame.
    Continue,
    /// Close the connection, flushing what is queued, for this reason.
    Close(LeaveReason),
    /// Read nothing more for now: handle this frame again at its time. A `Hello` whose
    /// password check must wait its address's turn ([`crate::login_backoff`]). Boxed, so
    /// that what every connection keeps while it waits for a frame stays small.
    Later(Box<Deferred>),
}

/// A frame put off until `at`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deferred {
    /// When to handle it again.
    pub at: Instant,
    /// The frame, as it came.
    pub frame: ClientFrame,
}

/// Why a command was refused; the sender gets it as an `Error` frame.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    /// A command before `Hello`.
    #[error("send Hello first")]
    NotRegistered,
    /// A chat command on a connection signed in to manage the account only.
    #[error("this connection signed in to manage the account only: sign in online to chat")]
    NotOnline,
    /// A second `Hello` after `Welcome`.
    #[error("already registered as {0:?}")]
    AlreadyRegistered(Arc<str>),
    /// `Hello` named a protocol version this server does not speak.
    #[error("this server speaks protocol version {server}, the client speaks version {client}")]
    VersionMismatch {
        /// The version the client sent.
        client: u32,
        /// [`chat_proto::PROTOCOL_VERSION`].
        server: u32,
    },
    /// The requested name breaks the naming rules.
    #[error("invalid name {name:?}: {source}")]
    InvalidName {
        /// The name as sent.
        name: String,
        /// Which rule it breaks.
        #[source]
        source: NameError,
    },
    /// Someone online has the name (compared case-insensitively).
    #[error("the name {0:?} is taken")]
    NameTaken(Arc<str>),
    /// A room name no room can have.
    #[error("invalid room name {room:?}: {source}")]
    InvalidRoom {
        /// The room as sent.
        room: String,
        /// Which rule it breaks.
        #[source]
        source: validate::RoomError,
    },
    /// The hub refused a room request: not in it, too many rooms, no such room.
    #[error(transparent)]
    Room(#[from] RoomError),
    /// A whisper to a name that is not online.
    #[error("no user named {0:?} is online")]
    NoSuchUser(String),
    /// An empty message or one with control characters.
    #[error("invalid message: {0}")]
    InvalidMessage(#[from] MessageError),
    /// The server is stopping and takes no new users.
    #[error("the server is shutting down")]
    ShuttingDown,
    /// A frame too large to send to anyone.
    #[error("message too large to deliver: {0}")]
    TooLarge(#[source] chat_proto::CodecError),
    /// A history request to a server that keeps none.
    #[error("this server keeps no history")]
    HistoryOff,
    /// The room log could not be read.
    #[error("the server could not read its message log: try again later")]
    StoreFailed,
    /// The cluster could not be asked (a name claim or a room message NATS did not
    /// take): nobody can say whether the request would have been allowed, and it was not
    /// carried out.
    #[error("the cluster is unavailable: try again later")]
    ClusterUnavailable,
    /// An account request was refused (a wrong password, a weak one, a name that is an
    /// account's, ...).
    #[error(transparent)]
    Account(#[from] AccountsError),
    /// A guest's `Hello` where only accounts may come in.
    #[error("this server lets only accounts in: sign in, or register (chat-client register)")]
    GuestsOff,
    /// An account request from a guest.
    #[error("sign in first: guests have no account")]
    NotSignedIn,
    /// `SignIn` or `Register` where the server keeps no accounts.
    #[error("this server keeps no accounts: connect as a guest")]
    AccountsOff,
    /// A request the sender's role does not allow.
    #[error("not permitted: {0}")]
    NotPermitted(&'static str),
    /// A moderation request or check refused.
    #[error(transparent)]
    Moderation(#[from] ModError),
    /// A change of a message (removal, reply, edit, reaction) refused.
    #[error(transparent)]
    Change(crate::log::ChangeRefusal),
    /// `React` with something that is not one emoji.
    #[error("{0:?} is not one emoji")]
    InvalidEmoji(String),
    /// A `Search` that cannot be searched for.
    #[error(transparent)]
    Search(chat_proto::search::SearchError),
    /// `Hello` lacked the server password or carried another. The detail never quotes it.
    #[error("wrong or missing password")]
    AuthFailed,
    /// The password could not be checked before the handshake deadline: its address (or,
    /// for an account's password, the account) failed too often and must wait this long
    /// for its next check.
    #[error(
        "too many failed passwords {}: try again in {} s",
        if *.account { "for this account or from your address" } else { "from your address" },
        .retry_in.as_secs_f64().ceil()
    )]
    LoginsSlowed {
        /// How long until the next check.
        retry_in: Duration,
        /// An account's password (slowed by account and address), not the server's.
        account: bool,
    },
}

impl CommandError {
    /// The kind on the wire, which decides whether the connection survives.
    pub fn kind(&self) -> ErrorKind {
        match self {
            CommandError::NotRegistered | CommandError::NotOnline => ErrorKind::NotRegistered,
            CommandError::AlreadyRegistered(_) => ErrorKind::AlreadyRegistered,
            CommandError::VersionMismatch { .. } => ErrorKind::VersionMismatch,
            CommandError::InvalidName { .. } => ErrorKind::InvalidName,
            CommandError::NameTaken(_) => ErrorKind::NameTaken,
            CommandError::InvalidRoom { .. } => ErrorKind::InvalidRoom,
            CommandError::Room(RoomError::NotInRoom(_)) => ErrorKind::NotInRoom,
            CommandError::Room(RoomError::TooManyRooms(_)) => ErrorKind::TooManyRooms,
            CommandError::Room(RoomError::RoomsFull(_)) => ErrorKind::RoomsFull,
            CommandError::Room(RoomError::NoSuchRoom(_)) => ErrorKind::NoSuchRoom,
            CommandError::Room(RoomError::ShuttingDown) => ErrorKind::ShuttingDown,
            CommandError::Room(RoomError::ClusterUnavailable) => ErrorKind::ClusterUnavailable,
            CommandError::NoSuchUser(_) => ErrorKind::NoSuchUser,
            CommandError::InvalidMessage(_) | CommandError::TooLarge(_) => {
                ErrorKind::InvalidMessage
            }
            CommandError::ShuttingDown => ErrorKind::ShuttingDown,
            CommandError::HistoryOff => ErrorKind::HistoryOff,
            CommandError::StoreFailed => ErrorKind::StoreFailed,
            CommandError::ClusterUnavailable => ErrorKind::ClusterUnavailable,
            CommandError::AuthFailed | CommandError::LoginsSlowed { .. } => ErrorKind::AuthFailed,
            CommandError::Account(err) => err.kind(),
            CommandError::GuestsOff => ErrorKind::GuestsOff,
            CommandError::NotSignedIn => ErrorKind::NotSignedIn,
            CommandError::AccountsOff => ErrorKind::AccountsOff,
            CommandError::NotPermitted(_) => ErrorKind::NotPermitted,
            CommandError::Moderation(err) => err.kind(),
            CommandError::Change(refusal) => {
                use crate::log::ChangeRefusal;
                match refusal {
                    ChangeRefusal::NoSuchMessage { .. } => ErrorKind::NoSuchMessage,
                    ChangeRefusal::NotYours(_) => ErrorKind::NotPermitted,
                    ChangeRefusal::EditWindowPassed { .. } => ErrorKind::EditWindowPassed,
                    ChangeRefusal::TooManyReactions { .. } => ErrorKind::TooManyReactions,
                    ChangeRefusal::Reaction(_) => ErrorKind::InvalidAction,
                    ChangeRefusal::HistoryOff => ErrorKind::HistoryOff,
                    ChangeRefusal::NotInCluster(_) | ChangeRefusal::Failed(_) => {
                        ErrorKind::StoreFailed
                    }
                }
            }
            CommandError::InvalidEmoji(_) => ErrorKind::InvalidEmoji,
            CommandError::Search(_) => ErrorKind::InvalidSearch,
        }
    }
}

/// Runs the handler for `frame` and answers a refusal with an `Error` frame.
pub fn dispatch(frame: ClientFrame, ctx: &mut Context<'_>) -> Flow {
    if !matches!(frame, ClientFrame::Msg { .. }) {
        // Whatever this frame does, the messages sent before it come first.
        ctx.flush();
    }
    ctx.sync_rooms();
    let result = match frame {
        ClientFrame::Hello {
            version,
            username,
            password,
        } => hello::handle(ctx, version, username, password),
        ClientFrame::Msg { room, text } => msg::handle(ctx, room, text),
        ClientFrame::Whisper { to, text } => whisper::handle(ctx, to, text),
        ClientFrame::ListUsers => list_users::handle(ctx),
        ClientFrame::Ping => ping::handle(ctx),
        ClientFrame::Pong => pong::handle(ctx),
        ClientFrame::Bye => bye::handle(ctx),
        ClientFrame::Join { room, backlog } => join::handle(ctx, room, backlog),
        ClientFrame::Part { room } => part::handle(ctx, room),
        ClientFrame::ListRooms => list_rooms::handle(ctx),
        ClientFrame::ListMembers { room } => list_members::handle(ctx, room),
        ClientFrame::History { room, from, limit } => history::handle(ctx, room, from, limit),
        ClientFrame::SignIn {
            version,
            username,
            server_password,
            credential,
            online,
        } => sign_in::handle(ctx, version, username, server_password, credential, online),
        ClientFrame::Register {
            version,
            username,
            server_password,
            password,
            device,
        } => register::handle(ctx, version, username, server_password, password, device),
        ClientFrame::ChangePassword { old, new } => change_password::handle(ctx, old, new),
        ClientFrame::ListSessions => list_sessions::handle(ctx),
        ClientFrame::Revoke { which } => revoke::handle(ctx, which),
        ClientFrame::DeleteAccount { password } => delete_account::handle(ctx, password),
        ClientFrame::Disconnect { user, reason } => disconnect::handle(ctx, &user, &reason),
        ClientFrame::Claim { room } => claim::handle(ctx, room),
        ClientFrame::Moderate { room, action } => moderate::handle(ctx, room, action),
        ClientFrame::RemoveMessage { room, seq } => remove_message::handle(ctx, room, seq),
        ClientFrame::Operate { action } => operate::handle(ctx, action),
        ClientFrame::RoomInfo { room } => room_info::handle(ctx, room),
        ClientFrame::ModLog { room, limit } => mod_log::handle(ctx, room, limit),
        ClientFrame::Reply { room, to, text } => reply::handle(ctx, room, to, text),
        ClientFrame::Edit { room, seq, text } => edit::handle(ctx, room, seq, text),
        ClientFrame::React {
            room,
            seq,
            emoji,
            on,
        } => react::handle(ctx, room, seq, emoji, on),
        ClientFrame::Typing { room } => typing::handle(ctx, room),
        ClientFrame::Search {
            query,
            room,
            before,
            limit,
        } => search::handle(ctx, query, room, before, limit),
    };
    match result {
        Ok(flow) => flow,
        Err(err) => refuse(ctx, &err),
    }
}

/// Waits for the answer a handler left in [`Context::waiting`], and finishes the request:
/// adds a joined room to the session, queues a page, or refuses.
pub async fn complete(ctx: &mut Context<'_>, waiting: Waiting) -> Flow {
    let result = match waiting {
        Waiting::Join(answer) => match answer.await {
            Ok(Ok(joined)) => join::record(ctx, joined),
            Ok(Err(err)) => Err(CommandError::Room(err)),
            Err(_) => Err(CommandError::StoreFailed),
        },
        Waiting::Page(read) => match read.await {
            Ok(Ok(page)) => {
                ctx.reply(&page);
                Ok(Flow::Continue)
            }
            Ok(Err(err)) => {
                tracing::error!(peer = %ctx.peer, "Cannot read the message log: {err}");
                ctx.reply(&page::unreadable());
                Ok(Flow::Continue)
            }
            Err(_) => Err(CommandError::StoreFailed),
        },
        Waiting::Claim {
            name,
            claim,
            welcome,
        } => handshake::claimed(ctx, name, claim.await, welcome).await,
        Waiting::SignIn(pending) => sign_in::checked(ctx, *pending).await,
        Waiting::Account(pending) => account::answered(ctx, *pending).await,
        Waiting::Disconnect(mut pending) => {
            let removal = (&mut pending.removal).await;
            disconnect::answered(ctx, *pending, removal)
        }
        Waiting::Moderation(task) => match task.await {
            Ok(Ok(frame)) => {
                if let Some(frame) = frame {
                    ctx.reply(&frame);
                }
                Ok(Flow::Continue)
            }
            Ok(Err(err)) => {
                if let ModError::Store(failed) = &err {
                    tracing::error!(peer = %ctx.peer, "A moderation request failed: {failed}");
                }
                Err(err.into())
            }
            Err(err) => {
                tracing::error!(peer = %ctx.peer, "A moderation request failed: {err}");
                Err(CommandError::StoreFailed)
            }
        },
        Waiting::Change(pending) => {
            let change::Pending { change, answer } = *pending;
            let answer = answer.await;
            change::answered(ctx, change, answer)
        }
        Waiting::Whisper(mut pending) => {
            let lookup = (&mut pending.lookup).await;
            whisper::looked_up(ctx, *pending, lookup).await
        }
    };
    match result {
        Ok(flow) => flow,
        Err(err) => refuse(ctx, &err),
    }
}

/// Where the room `name` (valid, any case) is in `rooms` (sorted by key), or where it would
/// go: a binary search that folds case as it compares, so a message allocates nothing to
/// find its room. A name typed in lower case, as clients mostly send it, is already its key
/// and compares as plain bytes.
pub fn find_room(rooms: &[JoinedRoom], name: &str) -> Result<usize, usize> {
    if !name.bytes().any(|b| b.is_ascii_uppercase()) {
        return rooms.binary_search_by(|joined| joined.key.as_bytes().cmp(name.as_bytes()));
    }
    rooms.binary_search_by(|joined| {
        joined
            .key
            .bytes()
            .cmp(name.bytes().map(|b| b.to_ascii_lowercase()))
    })
}

/// A room name as typed, checked, without its `#`.
fn room_name(typed: &str) -> Result<&str, CommandError> {
    validate::room(typed).map_err(|source| CommandError::InvalidRoom {
        room: typed.to_owned(),
        source,
    })
}

/// Tells the sender why, logs it, and closes the connection when the kind is fatal.
fn refuse(ctx: &Context<'_>, err: &CommandError) -> Flow {
    let kind = err.kind();
    let who = match &*ctx.session {
        Session::Registered { name, .. } => name.to_string(),
        Session::Managing { name, .. } => format!("{name} (managing the account)"),
        Session::Handshake => "unregistered client".to_owned(),
    };
    // Every refusal is a WARN line, a typo'd whisper target included: one level shows all
    // that a peer had refused (probing for names, say), with its address and the reason.
    tracing::warn!(peer = %ctx.peer, %kind, "Refused from {who}: {err}");
    ctx.reply(&ServerFrame::Error {
        kind,
        detail: err.to_string(),
    });
    if kind.is_fatal() {
        Flow::Close(LeaveReason::Refused(err.to_string()))
    } else {
        Flow::Continue
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rooms kept sorted by key are found in any case, and a missing one is placed where
    /// its key sorts.
    #[test]
    fn a_joined_room_is_found_in_any_case() {
        let mut rooms: Vec<JoinedRoom> = Vec::new();
        for name in ["Rust", "lobby", "a.b", "Zed", "ops-2"] {
            let key: Arc<str> = validate::room_key(name).into();
            let at = find_room(&rooms, &key).unwrap_err();
            rooms.insert(
                at,
                JoinedRoom {
                    key,
                    name: name.into(),
                },
            );
        }
        let keys: Vec<&str> = rooms.iter().map(|r| &*r.key).collect();
        assert_eq!(keys, ["a.b", "lobby", "ops-2", "rust", "zed"]);
        for typed in ["RUST", "rust", "LoBbY", "zED", "A.B", "OPS-2"] {
            let at = find_room(&rooms, typed).unwrap();
            assert!(rooms[at].name.eq_ignore_ascii_case(typed));
        }
        assert_eq!(find_room(&rooms, "m"), Err(2));
        assert_eq!(find_room(&rooms, "ZZZ"), Err(5));
    }
}
