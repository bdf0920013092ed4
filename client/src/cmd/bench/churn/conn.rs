//! One churn connection, speaking the protocol directly (`chat_proto` frames over a bare
//! socket) like every benchmark connection: registering, one request at a time, and a
//! clean goodbye. Every wait is bounded by the run's `--timeout`, so a server that stops
//! answering ends the run with an error instead of hanging it.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use bytes::BytesMut;
use chat_proto::codec::{decode_body, encode, FrameCodec, CLIENT_MAX_FRAME};
use chat_proto::{ClientFrame, CodecError, ServerFrame, PROTOCOL_VERSION};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_util::codec::Decoder;

use super::super::join::dial;
use crate::error::ClientError;

/// Read-buffer growth: a churn connection only ever reads short answers.
const CHUNK: usize = 1024;

/// A registered connection.
#[derive(Debug)]
pub struct Conn {
    /// The socket.
    stream: TcpStream,
    /// Bytes read and not yet decoded.
    buf: BytesMut,
    /// Cuts them into frames.
    codec: FrameCodec,
    /// The server's address, for errors.
    addr: String,
    /// The longest any one answer may take.
    wait: Duration,
}

impl Conn {
    /// Connects to `addr` (from the local address `from` when given, so many connections
    /// in a row do not run out of one address's ephemeral ports) and registers as `name`:
    /// returns once the server said `Welcome` under that name.
    pub async fn hello(
        addr: SocketAddr,
        from: Option<IpAddr>,
        name: &str,
        wait: Duration,
    ) -> Result<Conn, ClientError> {
        let addr_text = addr.to_string();
        let stream = timeout(wait, dial(addr, from))
            .await
            .map_err(|_| ClientError::Timeout {
                addr: addr_text.clone(),
                waited: wait,
            })?
            .map_err(|source| ClientError::Connect {
                addr: addr_text.clone(),
                source,
            })?;
        let _ = stream.set_nodelay(true);
        let mut conn = Conn {
            stream,
            buf: BytesMut::with_capacity(CHUNK),
            codec: FrameCodec::new(CLIENT_MAX_FRAME),
            addr: addr_text,
            wait,
        };
        conn.send(&ClientFrame::Hello {
            version: PROTOCOL_VERSION,
            username: name.to_owned(),
            password: None,
        })
        .await?;
        match conn.next().await? {
            ServerFrame::Welcome { username, .. } if username == name => Ok(conn),
            ServerFrame::Error { kind, detail } => Err(ClientError::Refused { kind, detail }),
            other => Err(conn.unexpected(&other)),
        }
    }

    /// Writes one frame.
    pub async fn send(&mut self, frame: &ClientFrame) -> Result<(), ClientError> {
        let frame = encode(frame).map_err(|e| self.transport(e))?;
        self.stream
            .write_all(frame.as_bytes())
            .await
            .map_err(|e| self.transport(e.into()))
    }

    /// The next frame other than a `Ping` (answered here); an error when the connection
    /// closes or nothing comes within the wait.
    pub async fn next(&mut self) -> Result<ServerFrame, ClientError> {
        loop {
            match self.frame().await? {
                Some(ServerFrame::Ping) => self.send(&ClientFrame::Pong).await?,
                Some(frame) => return Ok(frame),
                None => {
                    return Err(ClientError::Closed {
                        addr: self.addr.clone(),
                    })
                }
            }
        }
    }

    /// Says `Bye` and waits until the server closes the connection, which it does once it
    /// has let the name go: the person is gone when this returns.
    pub async fn bye(mut self) -> Result<(), ClientError> {
        self.send(&ClientFrame::Bye).await?;
        while self.frame().await?.is_some() {}
        Ok(())
    }

    /// The next frame, or `None` when the server closed the connection.
    async fn frame(&mut self) -> Result<Option<ServerFrame>, ClientError> {
        loop {
            if let Some(body) = self
                .codec
                .decode(&mut self.buf)
                .map_err(|e| self.transport(e))?
            {
                let frame = decode_body::<ServerFrame>(&body).map_err(|e| self.transport(e))?;
                return Ok(Some(frame));
            }
            self.buf.reserve(CHUNK);
            let read = timeout(self.wait, self.stream.read_buf(&mut self.buf))
                .await
                .map_err(|_| ClientError::Timeout {
                    addr: self.addr.clone(),
                    waited: self.wait,
                })?
                .map_err(|e| self.transport(e.into()))?;
            if read == 0 {
                return Ok(None);
            }
        }
    }

    /// A frame that makes no sense at this point, as an error.
    pub fn unexpected(&self, frame: &ServerFrame) -> ClientError {
        ClientError::Unexpected {
            addr: self.addr.clone(),
            frame: format!("{frame:?}"),
        }
    }

    /// A codec or socket failure, as an error.
    fn transport(&self, source: CodecError) -> ClientError {
        ClientError::Transport {
            addr: self.addr.clone(),
            source,
        }
    }
}
