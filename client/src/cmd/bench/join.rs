//! A benchmark connection registering and joining its rooms, speaking the protocol
//! directly (`chat_proto` frames over a bare socket) rather than through
//! [`crate::Session`], so that one process can hold tens of thousands of them. What a
//! joined connection then does is [`super::receive`]'s and [`super::publish`]'s.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::BytesMut;
use chat_proto::codec::{decode_body, encode, FrameCodec, CLIENT_MAX_FRAME};
use chat_proto::validate::room_key;
use chat_proto::{Backlog, ClientFrame, CodecError, ErrorKind, ServerFrame, PROTOCOL_VERSION};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpSocket, TcpStream};
use tokio::time::timeout;
use tokio_util::codec::Decoder;

use crate::error::ClientError;

/// `Join`s a connection has sent and not yet had answered, at most: a publisher joining a
/// thousand rooms reads the answers as they come instead of letting them pile up in its
/// queue on the server.
const JOINS_IN_FLIGHT: usize = 32;

/// A registered connection in its rooms: the socket and whatever arrived behind the last
/// `Joined`.
#[derive(Debug)]
pub struct Joined {
    /// The socket, after the handshake.
    stream: TcpStream,
    /// Bytes read but not yet decoded.
    buf: BytesMut,
    /// How much the read buffer grows by when it runs short.
    chunk: usize,
    /// The rooms joined, as the server names them, in the order asked for.
    pub(super) rooms: Vec<String>,
}

/// Why a connection could not register and join its rooms.
#[derive(Debug, thiserror::Error)]
pub enum JoinError {
    /// Connecting or registering failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The server refused one of the rooms.
    #[error("the server refused to let it join room {room:?}: {detail}")]
    Room {
        /// The room, as asked for.
        room: String,
        /// The server's reason, for the advice the benchmark gives.
        kind: ErrorKind,
        /// What it said.
        detail: String,
    },
    /// It must join more rooms than the server lets one client be in (its `Welcome` says).
    #[error("it must join {wanted} rooms and the server lets one client be in {allowed}")]
    TooManyRooms {
        /// Rooms asked for.
        wanted: usize,
        /// `rooms_per_user` from `Welcome`.
        allowed: u32,
    },
}

/// Connects to `addr`, registers as `name` and joins `rooms`, within `wait`.
///
/// The joins are pipelined, at most [`JOINS_IN_FLIGHT`] unanswered. `chunk` is how much
/// room the read buffer makes for each read: small for idle clients, which should cost the
/// benchmark little; large (tens of kB) for receivers under load, so one read takes
/// everything the server wrote since the last.
pub async fn join(
    addr: SocketAddr,
    name: &str,
    rooms: &[String],
    chunk: usize,
    wait: Duration,
) -> Result<Joined, JoinError> {
    join_from(addr, None, name, rooms, Backlog::None, chunk, wait).await
}

/// [`join`] from the local address `from` (any port; the system's choice when `None`),
/// asking each room for `backlog`: whatever the server sends after the last `Joined`
/// (the `History` of a backlog) is left in the buffer for the reader.
pub async fn join_from(
    addr: SocketAddr,
    from: Option<IpAddr>,
    name: &str,
    rooms: &[String],
    backlog: Backlog,
    chunk: usize,
    wait: Duration,
) -> Result<Joined, JoinError> {
    let addr_text = addr.to_string();
    let handshake = async {
        let mut stream = dial(addr, from)
            .await
            .map_err(|source| ClientError::Connect {
                addr: addr_text.clone(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        let transport = |source: CodecError| ClientError::Transport {
            addr: addr_text.clone(),
            source,
        };
        let hello = encode(&ClientFrame::Hello {
            version: PROTOCOL_VERSION,
            username: name.to_owned(),
            password: None,
        })
        .map_err(transport)?;
        stream
            .write_all(hello.as_bytes())
            .await
            .map_err(|e| transport(e.into()))?;
        let mut buf = BytesMut::with_capacity(chunk);
        let mut codec = FrameCodec::new(CLIENT_MAX_FRAME);
        let mut welcomed = false;
        // Joins sent so far, and the rooms they were answered with (in the same order:
        // the server answers a client's requests in turn).
        let mut asked = 0;
        let mut joined: Vec<String> = Vec::with_capacity(rooms.len());
        let mut out = Vec::new();
        loop {
            while let Some(body) = codec.decode(&mut buf).map_err(transport)? {
                match decode_body::<ServerFrame>(&body).map_err(transport)? {
                    ServerFrame::Welcome { rooms_per_user, .. } if !welcomed => {
                        welcomed = true;
                        if rooms_per_user != 0 && rooms.len() > rooms_per_user as usize {
                            return Err(JoinError::TooManyRooms {
                                wanted: rooms.len(),
                                allowed: rooms_per_user,
                            });
                        }
                    }
                    ServerFrame::Joined { room, .. } if asked > joined.len() => {
                        let wanted = &rooms[joined.len()];
                        if room_key(&room) != room_key(wanted) {
                            return Err(ClientError::Unexpected {
                                addr: addr_text.clone(),
                                frame: format!("Joined {{ room: {room:?} }} for {wanted:?}"),
                            }
                            .into());
                        }
                        joined.push(room);
                        if joined.len() == rooms.len() {
                            return Ok(Joined {
                                stream,
                                buf,
                                chunk,
                                rooms: joined,
                            });
                        }
                    }
                    ServerFrame::Error { kind, detail } if asked > joined.len() => {
                        return Err(JoinError::Room {
                            room: rooms[joined.len()].clone(),
                            kind,
                            detail,
                        })
                    }
                    ServerFrame::Error { kind, detail } => {
                        return Err(ClientError::Refused { kind, detail }.into())
                    }
                    ServerFrame::Ping => answer_pings(&mut stream, 1)
                        .await
                        .map_err(|e| transport(e.into()))?,
                    // Others coming and going in the rooms while we join.
                    ServerFrame::UserJoined { .. } | ServerFrame::UserLeft { .. } if welcomed => {}
                    other => {
                        return Err(ClientError::Unexpected {
                            addr: addr_text.clone(),
                            frame: format!("{other:?}"),
                        }
                        .into())
                    }
                }
            }
            if welcomed && asked < rooms.len() && asked - joined.len() < JOINS_IN_FLIGHT / 2 {
                out.clear();
                let until = rooms.len().min(joined.len() + JOINS_IN_FLIGHT);
                for room in &rooms[asked..until] {
                    let frame = encode(&ClientFrame::Join {
                        room: room.clone(),
                        backlog,
                    });
                    out.extend_from_slice(frame.map_err(transport)?.as_bytes());
                }
                asked = until;
                stream
                    .write_all(&out)
                    .await
                    .map_err(|e| transport(e.into()))?;
            }
            if stream
                .read_buf(&mut buf)
                .await
                .map_err(|e| transport(e.into()))?
                == 0
            {
                return Err(ClientError::Closed {
                    addr: addr_text.clone(),
                }
                .into());
            }
        }
    };
    timeout(wait, handshake).await.unwrap_or_else(|_| {
        Err(ClientError::Timeout {
            addr: addr.to_string(),
            waited: wait,
        }
        .into())
    })
}

/// A connection to `addr`, bound first to `from` when given: one process reaches past the
/// ephemeral ports of one source address by spreading its connections over several.
pub(super) async fn dial(addr: SocketAddr, from: Option<IpAddr>) -> std::io::Result<TcpStream> {
    let Some(from) = from else {
        return TcpStream::connect(addr).await;
    };
    let socket = match from {
        IpAddr::V4(_) => TcpSocket::new_v4()?,
        IpAddr::V6(_) => TcpSocket::new_v6()?,
    };
    socket.bind(SocketAddr::new(from, 0))?;
    socket.connect(addr).await
}

impl Joined {
    /// The reading side (socket half and buffer) and the writing side.
    pub(super) fn split(self) -> (Reader, OwnedWriteHalf) {
        let (read, write) = self.stream.into_split();
        let reader = Reader {
            read,
            buf: self.buf,
            chunk: self.chunk,
            room: self.rooms.first().cloned().unwrap_or_default(),
        };
        (reader, write)
    }
}

/// The reading side of a registered connection.
#[derive(Debug)]
pub struct Reader {
    /// The socket's read half.
    pub(super) read: OwnedReadHalf,
    /// Bytes read but not yet decoded.
    pub(super) buf: BytesMut,
    /// How much the buffer grows by when it runs short.
    pub(super) chunk: usize,
    /// The first room joined as the server names it: a receiver's only room.
    pub(super) room: String,
}

/// Writes `n` `Pong` frames.
pub async fn answer_pings(
    write: &mut (impl AsyncWriteExt + Unpin),
    n: usize,
) -> std::io::Result<()> {
    let pong = encode(&ClientFrame::Pong).expect("a Pong is far below any frame limit");
    for _ in 0..n {
        write.write_all(pong.as_bytes()).await?;
    }
    Ok(())
}
