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
//! flushes whenever its queue is empty), cut at a frame boundary once [`MAX_MESSAGE`] bytes
//! are in it, so a burst costs one message as it costs one TCP write. A message travels as
//! WebSocket fragments of at most [`FRAGMENT`] bytes: the library copies each fragment into a
//! buffer that keeps its largest size for the life of the connection, so whole messages would
//! leave every client that was once sent a large one (a backlog, a user list) holding that
//! much while idle. The socket under the library ([`super::batched`]) gathers the fragments
//! into one write.
//!
//! Closing: the close message carries why, where a browser can see it: 1009 after a message
//! over the limit, 1003 after a text message or a frame the library refused, 1000 otherwise.

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

use bytes::{Bytes, BytesMut};
use futures::stream::{SplitSink, SplitStream};
use futures::{Sink, Stream, StreamExt as _};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::frame::{CloseFrame, Frame};
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;
use tokio_util::io::StreamReader;

/// The most bytes the server puts in one WebSocket message before it ends the message at the
/// next frame boundary: large enough that a burst of frames is one message, small enough that
/// a browser is never handed megabytes at once. (A single frame larger than this is one
/// message by itself.)
pub const MAX_MESSAGE: usize = 64 << 10;

/// The largest fragment the server sends, and so the most the library's write buffer grows
/// to: an idle connection keeps this much, however large the messages it was sent.
pub const FRAGMENT: usize = 256;

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
pub fn split<S>(
    socket: WebSocketStream<S>,
    max_message: usize,
) -> (impl AsyncRead + Unpin + Send + 'static, SocketWriter<S>)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (sink, stream) = socket.split();
    let close = Arc::new(AtomicU16::new(CloseCode::Normal.into()));
    let reader = StreamReader::new(Payloads {
        stream,
        max: max_message,
        close: close.clone(),
    });
    let writer = SocketWriter {
        sink,
        pending: BytesMut::new(),
        sent: 0,
        cut: false,
        close,
        closing: false,
    };
    (reader, writer)
}

/// The client's binary messages as chunks of one byte stream.
struct Payloads<S> {
    /// The socket's reading half.
    stream: SplitStream<WebSocketStream<S>>,
    /// Largest message accepted.
    max: usize,
    /// The close code the writer sends: set here when the client broke a rule.
    close: Arc<AtomicU16>,
}

impl<S> Payloads<S> {
    /// Fails the read with `err`, and has the close say `code`.
    fn fail(&self, code: CloseCode, err: io::Error) -> Option<io::Result<Bytes>> {
        self.close.store(code.into(), Ordering::Relaxed);
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

/// The writing half: what is written goes out in fragments of [`FRAGMENT`] bytes, the last
/// of a message at a flush (or once [`MAX_MESSAGE`] bytes are in it); shutting down sends
/// the close message with its code.
pub struct SocketWriter<S> {
    /// The socket's writing half.
    sink: SplitSink<WebSocketStream<S>, Message>,
    /// The open message's last bytes, not yet sent: at most [`FRAGMENT`].
    pending: BytesMut,
    /// Bytes of the open message already sent as fragments; 0 when none was.
    sent: usize,
    /// The open message is due to end with `pending`: it reached [`MAX_MESSAGE`] at a frame
    /// boundary, and the socket could not take the last fragment yet.
    cut: bool,
    /// The close code to send, which the reading half may have set.
    close: Arc<AtomicU16>,
    /// The close message was handed to the library.
    closing: bool,
}

impl<S> std::fmt::Debug for SocketWriter<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SocketWriter")
            .field("pending", &self.pending.len())
            .field("sent", &self.sent)
            .finish_non_exhaustive()
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> SocketWriter<S> {
    /// Sends `pending` as the open message's next fragment (its last with `fin`), once the
    /// socket can take one.
    fn poll_send(&mut self, cx: &mut Context<'_>, fin: bool) -> Poll<io::Result<()>> {
        ready!(Pin::new(&mut self.sink).poll_ready(cx)).map_err(io::Error::other)?;
        // Taken whole, not split: a split would leave the rest of the allocation here, held
        // by an idle connection for as long as it lives.
        let payload = std::mem::take(&mut self.pending).freeze();
        let opcode = if self.sent == 0 {
            OpCode::Data(Data::Binary)
        } else {
            OpCode::Data(Data::Continue)
        };
        self.sent = if fin { 0 } else { self.sent + payload.len() };
        self.cut = false;
        let fragment = Message::Frame(Frame::message(payload, opcode, fin));
        Pin::new(&mut self.sink)
            .start_send(fragment)
            .map_err(io::Error::other)?;
        Poll::Ready(Ok(()))
    }

    /// Ends the open message, if one is open.
    fn poll_end_message(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.pending.is_empty() && self.sent == 0 {
            return Poll::Ready(Ok(()));
        }
        self.poll_send(cx, true)
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

    /// Takes as much as the socket has room for. Each buffer is taken to end at a frame
    /// boundary (the writer task hands over whole frames, or the rest of one), which is where
    /// a long message may be cut.
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        if this.cut {
            ready!(this.poll_send(cx, true))?;
        }
        let mut taken = 0;
        for buf in bufs.iter().filter(|buf| !buf.is_empty()) {
            let mut rest = &buf[..];
            while !rest.is_empty() {
                if this.pending.len() == FRAGMENT {
                    match this.poll_send(cx, false) {
                        Poll::Ready(Ok(())) => {}
                        Poll::Pending if taken > 0 => return Poll::Ready(Ok(taken)),
                        other => return other.map_ok(|()| taken),
                    }
                }
                let n = rest.len().min(FRAGMENT - this.pending.len());
                if this.pending.capacity() == 0 {
                    // One allocation per fragment, not one per growth.
                    this.pending.reserve(FRAGMENT);
                }
                this.pending.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
                taken += n;
            }
            if this.sent + this.pending.len() >= MAX_MESSAGE {
                this.cut = true;
                match this.poll_send(cx, true) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Pending => return Poll::Ready(Ok(taken)),
                    Poll::Ready(Err(err)) => return Poll::Ready(Err(err)),
                }
            }
        }
        Poll::Ready(Ok(taken))
    }

    /// Cutting into fragments is a copy either way; saying so lets the writer hand over a
    /// whole batch in one call.
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
            let code = CloseCode::from(this.close.load(Ordering::Relaxed));
            let close = Message::Close(Some(CloseFrame {
                code,
                reason: Default::default(),
            }));
            this.closing = true;
            Pin::new(&mut this.sink)
                .start_send(close)
                .map_err(io::Error::other)?;
        }
        Pin::new(&mut this.sink)
            .poll_close(cx)
            .map_err(io::Error::other)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;
    use crate::web::batched::Batched;

    /// One WebSocket frame as the server sent it: FIN, opcode, payload (never masked).
    fn parse_frames(mut wire: &[u8]) -> Vec<(bool, u8, Vec<u8>)> {
        let mut frames = Vec::new();
        while !wire.is_empty() {
            let (fin, opcode) = (wire[0] & 0x80 != 0, wire[0] & 0x0F);
            assert_eq!(wire[1] & 0x80, 0, "a server frame is never masked");
            let (len, header) = match wire[1] & 0x7F {
                126 => (usize::from(u16::from_be_bytes([wire[2], wire[3]])), 4),
                127 => panic!("a fragment of more than 64 KiB"),
                len => (usize::from(len), 2),
            };
            frames.push((fin, opcode, wire[header..header + len].to_vec()));
            wire = &wire[header + len..];
        }
        frames
    }

    /// Writes `batches` (each flushed) through a server socket; returns the raw bytes sent.
    async fn send(batches: &[Vec<Vec<u8>>]) -> Vec<u8> {
        let (near, mut far) = tokio::io::duplex(1 << 22);
        let socket = WebSocketStream::from_raw_socket(
            Batched::new(near),
            tungstenite::protocol::Role::Server,
            Some(tungstenite::protocol::WebSocketConfig::default().write_buffer_size(0)),
        )
        .await;
        let (reader, mut writer) = split(socket, 1 << 20);
        for batch in batches {
            let frames: Vec<crate::outbox::Wire> = batch
                .iter()
                .map(|bytes| Bytes::copy_from_slice(bytes).into())
                .collect();
            crate::connection::write_batch(&mut writer, &frames, true)
                .await
                .unwrap();
            writer.flush().await.unwrap();
        }
        drop(writer);
        drop(reader);
        let mut wire = Vec::new();
        far.read_to_end(&mut wire).await.unwrap();
        wire
    }

    #[tokio::test]
    async fn each_flush_is_one_message_sent_in_small_fragments() {
        let first: Vec<Vec<u8>> = (0..3u8).map(|i| vec![i; 300]).collect();
        let second = vec![vec![9u8; 10]];
        let wire = send(&[first.clone(), second.clone()]).await;
        let frames = parse_frames(&wire);
        assert!(
            frames.iter().all(|(_, _, p)| p.len() <= FRAGMENT),
            "{frames:?}"
        );
        // 900 bytes: four fragments, binary then continuations, FIN on the last.
        let opcodes: Vec<(bool, u8)> = frames.iter().map(|(f, o, _)| (*f, *o)).collect();
        assert_eq!(
            opcodes,
            [(false, 2), (false, 0), (false, 0), (true, 0), (true, 2)]
        );
        let message: Vec<u8> = frames[..4].iter().flat_map(|(_, _, p)| p.clone()).collect();
        assert_eq!(message, first.concat());
        assert_eq!(frames[4].2, second.concat());
    }

    #[tokio::test]
    async fn a_long_burst_is_cut_into_messages_at_frame_boundaries() {
        let frame_len = 1000;
        let burst: Vec<Vec<u8>> = (0..200u8).map(|i| vec![i; frame_len]).collect();
        let wire = send(std::slice::from_ref(&burst)).await;
        let mut messages = vec![Vec::new()];
        for (fin, _, payload) in parse_frames(&wire) {
            messages.last_mut().unwrap().extend(payload);
            if fin {
                messages.push(Vec::new());
            }
        }
        assert_eq!(
            messages.pop(),
            Some(Vec::new()),
            "the last message was ended"
        );
        assert!(messages.len() >= 3, "{} messages", messages.len());
        for message in &messages {
            assert_eq!(message.len() % frame_len, 0, "a message ends mid-frame");
            assert!(message.len() < MAX_MESSAGE + frame_len, "{}", message.len());
        }
        assert_eq!(messages.concat(), burst.concat());
    }
}
