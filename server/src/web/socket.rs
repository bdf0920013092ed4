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
//! Writing: the frames the writer task hands over go out as one binary message per flush (it
//! flushes whenever its queue is empty), ended at a frame boundary once [`MAX_MESSAGE`] bytes
//! are in it, so a burst costs one message as it costs one TCP write. The messages are framed
//! into the socket's buffer ([`super::batched`]) directly, not through the library, whose own
//! write buffer would keep the size of the largest message for the life of the connection.
//!
//! Closing: the close message carries why, where a browser can see it: 1009 after a message
//! over the limit, 1003 after a text message, 1002 after a broken WebSocket frame, 1000
//! otherwise.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::stream::{SplitSink, SplitStream};
use futures::{Sink, Stream, StreamExt as _};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::frame::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;
use tokio_util::io::StreamReader;

use super::batched::{self, Batched, MAX_MESSAGE};
use crate::connection::oversize::MessageTooLarge;

/// The library's socket, over the shared buffer.
type Socket<S> = WebSocketStream<Batched<S>>;

/// Splits `socket`, whose bytes all go through `out`, into the reading and writing halves of
/// one connection; `max_message` is the largest message a client may send.
pub fn split<S>(
    socket: Socket<S>,
    out: batched::Shared,
    max_message: usize,
) -> (impl AsyncRead + Unpin + Send + 'static, SocketWriter<S>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sink, stream) = socket.split();
    let reader = StreamReader::new(Payloads {
        stream,
        max: max_message,
        out: out.clone(),
    });
    let writer = SocketWriter {
        sink,
        out,
        message: BytesMut::new(),
        closing: false,
    };
    (reader, writer)
}

/// The client's binary messages as chunks of one byte stream.
struct Payloads<S> {
    /// The socket's reading half.
    stream: SplitStream<Socket<S>>,
    /// Largest message accepted.
    max: usize,
    /// Where the close code is kept.
    out: batched::Shared,
}

impl<S> Payloads<S> {
    /// Fails the read with `err`, and has the close say `code`.
    fn fail(&self, code: CloseCode, err: io::Error) -> Option<io::Result<Bytes>> {
        batched::lock(&self.out).set_close_code(code);
        Some(Err(err))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> Stream for Payloads<S> {
    type Item = io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            let message = match ready!(self.stream.poll_next_unpin(cx)) {
                None => return Poll::Ready(None),
                Some(Err(err)) => {
                    let code = match &err {
                        tungstenite::Error::Capacity(_) => CloseCode::Size,
                        tungstenite::Error::Protocol(_) | tungstenite::Error::Utf8(_) => {
                            CloseCode::Protocol
                        }
                        _ => CloseCode::Normal,
                    };
                    return Poll::Ready(self.fail(code, io::Error::other(err)));
                }
                Some(Ok(message)) => message,
            };
            return Poll::Ready(match message {
                Message::Binary(bytes) if bytes.len() > self.max => {
                    let err = MessageTooLarge {
                        len: bytes.len(),
                        max: self.max,
                    };
                    let err = io::Error::new(io::ErrorKind::InvalidData, err);
                    self.fail(CloseCode::Size, err)
                }
                // An empty message would read as the end of the stream.
                Message::Binary(bytes) if bytes.is_empty() => continue,
                Message::Binary(bytes) => Some(Ok(bytes)),
                Message::Text(_) => self.fail(
                    CloseCode::Unsupported,
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        "a text WebSocket message: frames travel in binary messages",
                    ),
                ),
                Message::Close(_) => None,
                Message::Ping(_) | Message::Pong(_) | Message::Frame(_) => continue,
            });
        }
    }
}

/// The writing half: what is written is one binary message until a flush (or until
/// [`MAX_MESSAGE`] bytes are in it); shutting down sends the close message with its code.
pub struct SocketWriter<S> {
    /// The socket's writing half: for flushing the shared buffer, and for the close.
    sink: SplitSink<Socket<S>, Message>,
    /// The socket's buffer, which the message joins when it ends.
    out: batched::Shared,
    /// The open message, not yet in `out`.
    message: BytesMut,
    /// The close message was handed to the library.
    closing: bool,
}

impl<S> std::fmt::Debug for SocketWriter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketWriter")
            .field("message", &self.message.len())
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> SocketWriter<S> {
    /// Ends the open message, if there is one: it joins the socket's buffer, once that has
    /// room.
    fn poll_end_message(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.message.is_empty() {
            return Poll::Ready(Ok(()));
        }
        if batched::lock(&self.out).is_full() {
            ready!(Pin::new(&mut self.sink).poll_flush(cx)).map_err(io::Error::other)?;
        }
        batched::lock(&self.out).push_message(&self.message);
        // Let go, not cleared: an idle connection keeps no message buffer.
        self.message = BytesMut::new();
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for SocketWriter<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[io::IoSlice::new(buf)])
    }

    /// Takes whole buffers while the message has room. Each buffer is taken to end at a
    /// frame boundary (the writer task hands over whole frames, or the rest of one), which is
    /// where a long message is ended.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let mut taken = 0;
        for buf in bufs {
            if this.message.len() >= MAX_MESSAGE {
                match this.poll_end_message(cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Pending if taken > 0 => break,
                    other => return other.map_ok(|()| taken),
                }
            }
            this.message.extend_from_slice(buf);
            taken += buf.len();
        }
        Poll::Ready(Ok(taken))
    }

    /// Gathering is a copy either way; saying so lets the writer hand over a whole batch in
    /// one call.
    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_end_message(cx))?;
        Pin::new(&mut self.sink)
            .poll_flush(cx)
            .map_err(io::Error::other)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.as_mut().poll_flush(cx))?;
        let this = &mut *self;
        if !this.closing {
            ready!(Pin::new(&mut this.sink).poll_ready(cx)).map_err(io::Error::other)?;
            let code = batched::lock(&this.out).close_code();
            let close = Message::Close(Some(CloseFrame {
                code,
                reason: Default::default(),
            }));
            this.closing = true;
            match Pin::new(&mut this.sink).start_send(close) {
                Err(err) if answered_already(&err) => return Poll::Ready(Ok(())),
                sent => sent.map_err(io::Error::other)?,
            }
        }
        match ready!(Pin::new(&mut this.sink).poll_close(cx)) {
            Err(err) if answered_already(&err) => Poll::Ready(Ok(())),
            closed => Poll::Ready(closed.map_err(io::Error::other)),
        }
    }
}

/// Whether closing failed because the client closed first and the library answered it: the
/// close is done, not broken.
fn answered_already(err: &tungstenite::Error) -> bool {
    matches!(
        err,
        tungstenite::Error::AlreadyClosed | tungstenite::Error::ConnectionClosed
    )
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    /// The WebSocket frames the server sent: FIN, opcode, payload (never masked).
    fn parse_frames(mut wire: &[u8]) -> Vec<(bool, u8, Vec<u8>)> {
        let mut frames = Vec::new();
        while !wire.is_empty() {
            assert_eq!(wire[1] & 0x80, 0, "a server frame is never masked");
            let (first, payload, rest) = batched::next_frame(wire).expect("whole frames");
            frames.push((first & 0x80 != 0, first & 0x0F, payload.to_vec()));
            wire = rest;
        }
        frames
    }

    /// Writes `batches` (each flushed) through a server socket, then shuts it down; returns
    /// the frames sent.
    async fn send(batches: &[Vec<Vec<u8>>]) -> Vec<(bool, u8, Vec<u8>)> {
        let (near, mut far) = tokio::io::duplex(1 << 22);
        let out = batched::shared();
        let socket = WebSocketStream::from_raw_socket(
            Batched::new(near, out.clone()),
            tungstenite::protocol::Role::Server,
            None,
        )
        .await;
        let (reader, mut writer) = split(socket, out.clone(), 1 << 20);
        for batch in batches {
            let frames: Vec<crate::outbox::Wire> = batch
                .iter()
                .map(|bytes| Bytes::copy_from_slice(bytes).into())
                .collect();
            crate::connection::write_batch(&mut writer, &frames, true)
                .await
                .unwrap();
            writer.flush().await.unwrap();
            assert_eq!(batched::lock(&out).bytes_held(), 0, "kept after a flush");
        }
        writer.shutdown().await.unwrap();
        drop((reader, writer));
        let mut wire = Vec::new();
        far.read_to_end(&mut wire).await.unwrap();
        parse_frames(&wire)
    }

    #[tokio::test]
    async fn each_flush_is_one_message_and_the_close_comes_last() {
        let first: Vec<Vec<u8>> = (0..3u8).map(|i| vec![i; 300]).collect();
        let second = vec![vec![9u8; 10]];
        let frames = send(&[first.clone(), second.clone()]).await;
        let kinds: Vec<(bool, u8)> = frames.iter().map(|(f, o, _)| (*f, *o)).collect();
        assert_eq!(kinds, [(true, 2), (true, 2), (true, 8)]);
        assert_eq!(frames[0].2, first.concat());
        assert_eq!(frames[1].2, second.concat());
        // The close says 1000: nothing went wrong.
        assert_eq!(frames[2].2, 1000u16.to_be_bytes());
    }

    #[tokio::test]
    async fn a_long_burst_is_cut_into_messages_at_frame_boundaries() {
        let frame_len = 1000;
        let burst: Vec<Vec<u8>> = (0..200u8).map(|i| vec![i; frame_len]).collect();
        let frames = send(std::slice::from_ref(&burst)).await;
        let (close, messages) = frames.split_last().unwrap();
        assert_eq!(close.1, 8, "the close comes last");
        assert!(messages.len() >= 3, "{} messages", messages.len());
        for (fin, opcode, payload) in messages {
            assert_eq!((*fin, *opcode), (true, 2));
            assert_eq!(payload.len() % frame_len, 0, "a message ends mid-frame");
            assert!(payload.len() < MAX_MESSAGE + frame_len, "{}", payload.len());
        }
        let all: Vec<u8> = messages.iter().flat_map(|(_, _, p)| p.clone()).collect();
        assert_eq!(all, burst.concat());
    }
}
