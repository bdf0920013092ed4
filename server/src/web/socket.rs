//! A WebSocket as the byte streams [`crate::connection::serve`] reads and writes, so that a
//! browser is served by exactly the code that serves TCP.
//!
//! Reading: each binary message's bytes are appended to the stream; the frames inside are
//! found by the same [`chat_proto::FrameReader`], under the same `buffsize`. A message longer
//! than one largest frame (`buffsize` + its 4-byte prefix) fails the read with
//! [`MessageTooLarge`], which the connection answers with `FrameTooLarge` and a close, as it
//! answers an oversize length prefix over TCP. A text message is no frame at all: the read
//! fails and the connection closes with that reason. Ping and pong are the library's.
//!
//! Writing: the writer task's batches are gathered and sent as one binary message when it
//! flushes (it does whenever its queue is empty) or once [`MAX_MESSAGE`] bytes wait, so a
//! burst of frames costs one WebSocket message, as it costs one TCP write.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use axum::extract::ws::{Message, WebSocket};
use bytes::{Bytes, BytesMut};
use futures::stream::{SplitSink, SplitStream};
use futures::{Sink, Stream, StreamExt as _};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::io::StreamReader;

/// The most bytes the server puts in one WebSocket message: large enough that a burst of
/// frames is one message, small enough that a browser is never handed megabytes at once.
pub const MAX_MESSAGE: usize = 64 << 10;

/// A client's WebSocket message was longer than one largest frame.
#[derive(Debug, thiserror::Error)]
#[error("WebSocket message of {len} bytes is over the limit of {max} bytes")]
pub struct MessageTooLarge {
    /// The message's length.
    pub len: usize,
    /// `buffsize` plus the length prefix.
    pub max: usize,
}

/// Whether a read failed because the client's message was over the size limit, and so is
/// answered with `FrameTooLarge` rather than dropped as a broken stream.
pub fn too_large(err: &io::Error) -> Option<&MessageTooLarge> {
    err.get_ref()?.downcast_ref()
}

/// Splits `socket` into the reading and writing halves of one connection; `max_message` is
/// the largest message a client may send.
pub fn split(
    socket: WebSocket,
    max_message: usize,
) -> (impl AsyncRead + Unpin + Send + 'static, SocketWriter) {
    let (sink, stream) = socket.split();
    let reader = StreamReader::new(Payloads {
        stream,
        max: max_message,
    });
    let writer = SocketWriter {
        sink,
        pending: BytesMut::new(),
    };
    (reader, writer)
}

/// The client's binary messages as chunks of one byte stream.
struct Payloads {
    /// The socket's reading half.
    stream: SplitStream<WebSocket>,
    /// Largest message accepted.
    max: usize,
}

impl Stream for Payloads {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let message = match ready!(self.stream.poll_next_unpin(cx)) {
                None => return Poll::Ready(None),
                Some(Err(err)) => return Poll::Ready(Some(Err(io::Error::other(err)))),
                Some(Ok(message)) => message,
            };
            return Poll::Ready(match message {
                Message::Binary(bytes) if bytes.len() > self.max => {
                    let err = MessageTooLarge {
                        len: bytes.len(),
                        max: self.max,
                    };
                    Some(Err(io::Error::new(io::ErrorKind::InvalidData, err)))
                }
                // An empty message would read as the end of the stream.
                Message::Binary(bytes) if bytes.is_empty() => continue,
                Message::Binary(bytes) => Some(Ok(bytes)),
                Message::Text(_) => Some(Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "a text WebSocket message: frames travel in binary messages",
                ))),
                Message::Close(_) => None,
                Message::Ping(_) | Message::Pong(_) => continue,
            });
        }
    }
}

/// The writing half: bytes written are held until a flush (or [`MAX_MESSAGE`] of them),
/// then sent as one binary message; shutting down sends the close message.
pub struct SocketWriter {
    /// The socket's writing half.
    sink: SplitSink<WebSocket, Message>,
    /// Written, not yet sent.
    pending: BytesMut,
}

impl std::fmt::Debug for SocketWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketWriter")
            .field("pending", &self.pending.len())
            .finish_non_exhaustive()
    }
}

impl SocketWriter {
    /// Hands what is pending to the socket as one message, once it can take one.
    fn poll_send_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.pending.is_empty() {
            return Poll::Ready(Ok(()));
        }
        ready!(Pin::new(&mut self.sink).poll_ready(cx)).map_err(io::Error::other)?;
        // Taken whole, not split: a split would leave the rest of the allocation here,
        // held by an idle connection for as long as it lives.
        let message = Message::Binary(std::mem::take(&mut self.pending).freeze());
        Pin::new(&mut self.sink)
            .start_send(message)
            .map_err(io::Error::other)?;
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for SocketWriter {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if self.pending.len() >= MAX_MESSAGE {
            ready!(self.poll_send_pending(cx))?;
        }
        self.pending.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if self.pending.len() >= MAX_MESSAGE {
            ready!(self.poll_send_pending(cx))?;
        }
        let mut written = 0;
        for buf in bufs {
            self.pending.extend_from_slice(buf);
            written += buf.len();
        }
        Poll::Ready(Ok(written))
    }

    /// Gathering is a copy into one buffer either way; saying so lets the writer hand over
    /// a whole batch in one call.
    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_send_pending(cx))?;
        Pin::new(&mut self.sink)
            .poll_flush(cx)
            .map_err(io::Error::other)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        Pin::new(&mut self.sink)
            .poll_close(cx)
            .map_err(io::Error::other)
    }
}
