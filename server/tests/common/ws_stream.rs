//! A client's WebSocket as a byte stream, so that the frame code written for TCP reads and
//! writes it unchanged: reads are the server's binary messages back to back, each write is
//! sent as one binary message. Shared by the tests (`common::web`) and the `ws_load`
//! example, which includes this file by path.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use futures::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

/// A WebSocket as a byte stream: reads are the server's binary messages back to back,
/// each write is sent as one binary message.
#[derive(Debug)]
pub struct WsStream<S = TcpStream> {
    /// The socket.
    socket: WebSocketStream<S>,
    /// What is left of the last message read.
    unread: Bytes,
    /// The close message the server sent, once it has.
    close: Option<Option<CloseFrame>>,
    /// The payloads of the pongs the server sent, in order.
    pongs: Vec<Bytes>,
}

impl<S: AsyncRead + AsyncWrite + Unpin> WsStream<S> {
    /// The byte stream of an open `socket` (over TCP, or TLS).
    pub fn new(socket: WebSocketStream<S>) -> WsStream<S> {
        WsStream {
            socket,
            unread: Bytes::new(),
            close: None,
            pongs: Vec::new(),
        }
    }

    /// The payloads of the pongs read so far.
    pub fn pongs(&self) -> &[Bytes] {
        &self.pongs
    }

    /// The code of the server's close message: `None` before it came, `Some(1005)` (no
    /// status, as a browser reports it) for one without a code.
    pub fn close_code(&self) -> Option<u16> {
        let close = self.close.as_ref()?;
        Some(close.as_ref().map_or(1005, |frame| frame.code.into()))
    }

    /// Sends `message` as it is: a text message, an oversize one, garbage.
    pub async fn send_raw(&mut self, message: Message) {
        futures::SinkExt::send(&mut self.socket, message)
            .await
            .expect("send a WebSocket message");
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncRead for WsStream<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        while self.unread.is_empty() {
            match ready!(Pin::new(&mut self.socket).poll_next(cx)) {
                None => return Poll::Ready(Ok(())),
                Some(Ok(Message::Close(frame))) => {
                    self.close = Some(frame);
                    return Poll::Ready(Ok(()));
                }
                Some(Ok(Message::Binary(bytes))) => self.unread = bytes,
                Some(Ok(Message::Text(text))) => {
                    return Poll::Ready(Err(io::Error::other(format!(
                        "the server sent a text message: {text}"
                    ))))
                }
                Some(Ok(Message::Pong(payload))) => self.pongs.push(payload),
                Some(Ok(_)) => {}
                // The server closing without the closing handshake ends the stream too.
                Some(Err(
                    tungstenite::Error::ConnectionClosed
                    | tungstenite::Error::Protocol(
                        tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
                    ),
                )) => return Poll::Ready(Ok(())),
                Some(Err(err)) => return Poll::Ready(Err(io::Error::other(err))),
            }
        }
        let n = self.unread.len().min(buf.remaining());
        buf.put_slice(&self.unread[..n]);
        self.unread.advance(n);
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for WsStream<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let socket = Pin::new(&mut self.socket);
        ready!(socket.poll_ready(cx)).map_err(io::Error::other)?;
        Pin::new(&mut self.socket)
            .start_send(Message::Binary(Bytes::copy_from_slice(buf)))
            .map_err(io::Error::other)?;
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.socket)
            .poll_flush(cx)
            .map_err(io::Error::other)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.socket)
            .poll_close(cx)
            .map_err(io::Error::other)
    }
}
