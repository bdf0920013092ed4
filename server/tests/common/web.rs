//! The web listener from a test: a WebSocket client that is a [`TestClient`] like any other
//! (its stream carries each written frame as one binary message), and plain HTTP requests
//! for `/healthz` and `/metrics`.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use bytes::{Buf, Bytes};
use futures::{Sink, Stream};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::{self, Message};
use tokio_tungstenite::WebSocketStream;

use super::{TestClient, TIMEOUT};

/// A WebSocket as a byte stream: reads are the server's binary messages back to back,
/// each write is sent as one binary message.
#[derive(Debug)]
pub struct WsStream {
    /// The socket.
    socket: WebSocketStream<TcpStream>,
    /// What is left of the last message read.
    unread: Bytes,
}

impl WsStream {
    /// Sends `message` as it is: a text message, an oversize one, garbage.
    pub async fn send_raw(&mut self, message: Message) {
        futures::SinkExt::send(&mut self.socket, message)
            .await
            .expect("send a WebSocket message");
    }
}

impl AsyncRead for WsStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        while self.unread.is_empty() {
            match ready!(Pin::new(&mut self.socket).poll_next(cx)) {
                None | Some(Ok(Message::Close(_))) => return Poll::Ready(Ok(())),
                Some(Ok(Message::Binary(bytes))) => self.unread = bytes,
                Some(Ok(Message::Text(text))) => {
                    return Poll::Ready(Err(io::Error::other(format!(
                        "the server sent a text message: {text}"
                    ))))
                }
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

impl AsyncWrite for WsStream {
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

/// Opens `/ws` at `web`, as a page of `origin` would (`None`: no `Origin`, as a script).
pub async fn try_connect(
    web: SocketAddr,
    origin: Option<&str>,
) -> Result<TestClient<WsStream>, tungstenite::Error> {
    let mut request = format!("ws://{web}/ws").into_client_request()?;
    if let Some(origin) = origin {
        request
            .headers_mut()
            .insert("origin", HeaderValue::from_str(origin).unwrap());
    }
    let stream = tokio::time::timeout(TIMEOUT, TcpStream::connect(web))
        .await
        .expect("connect in time")
        .expect("connect");
    let (socket, _) =
        tokio::time::timeout(TIMEOUT, tokio_tungstenite::client_async(request, stream))
            .await
            .expect("WebSocket handshake in time")?;
    Ok(TestClient::over(WsStream {
        socket,
        unread: Bytes::new(),
    }))
}

/// Opens `/ws` at `web` as the server's own page does.
pub async fn connect(web: SocketAddr) -> TestClient<WsStream> {
    try_connect(web, Some(&format!("http://{web}")))
        .await
        .expect("the WebSocket handshake succeeds")
}

/// A WebSocket client registered as `name` and in `lobby`.
pub async fn register(web: SocketAddr, name: &str) -> TestClient<WsStream> {
    let mut client = connect(web).await;
    match client.hello(name).await {
        chat_proto::ServerFrame::Welcome { .. } => {}
        other => panic!("{name}: expected Welcome, got {other:?}"),
    }
    client.join(super::LOBBY).await;
    client
}

/// An HTTP answer: its status code, headers (lowercased names) and body.
#[derive(Debug)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// `(name, value)`, names lowercased.
    pub headers: Vec<(String, String)>,
    /// The body as text.
    pub body: String,
}

impl Answer {
    /// The value of header `name` (lowercase), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// `GET path` at `web` with `headers` added, over a connection closed after the answer.
pub async fn get(web: SocketAddr, path: &str, headers: &[(&str, &str)]) -> io::Result<Answer> {
    let mut stream = TcpStream::connect(web).await?;
    let mut request = format!("GET {path} HTTP/1.1\r\nHost: {web}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    tokio::time::timeout(TIMEOUT, stream.read_to_end(&mut raw))
        .await
        .map_err(|_| io::Error::other("no answer in time"))??;
    let raw = String::from_utf8_lossy(&raw);
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .ok_or_else(|| io::Error::other(format!("not an HTTP answer: {raw:?}")))?;
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| io::Error::other(format!("no status line in {head:?}")))?;
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    Ok(Answer {
        status,
        headers,
        body: body.to_owned(),
    })
}

/// The value of the sample `series` (the whole name with labels, as the text format writes
/// it) in the `/metrics` text `text`; 0 when absent.
pub fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}
