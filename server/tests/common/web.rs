//! The web listener from a test: a WebSocket client that is a [`TestClient`] like any other
//! (its stream carries each written frame as one binary message), and plain HTTP requests
//! for `/healthz` and `/metrics`.

use std::io;
use std::net::SocketAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;

use chat_server::web::settings::HttpConfig;
use chat_server::Config;

pub use super::ws_stream::WsStream;
use super::{test_config, TestClient, TIMEOUT};

/// `[http]` on a free port: how every test runs the web listener.
pub fn on_free_port() -> Option<HttpConfig> {
    Some(HttpConfig {
        port: 0,
        ..HttpConfig::default()
    })
}

/// [`test_config`] with the web listener on a free port.
pub fn web_config() -> Config {
    Config {
        http: on_free_port(),
        ..test_config()
    }
}

/// `/metrics` now, as text: answered 200, in the classic Prometheus text format, as a
/// client that asks for no format gets it.
pub async fn metrics(web: SocketAddr) -> String {
    let answer = get(web, "/metrics", &[]).await.expect("GET /metrics");
    assert_eq!(answer.status, 200, "{}", answer.body);
    let kind = answer.header("content-type").unwrap_or_default();
    assert_eq!(kind, "text/plain; version=0.0.4; charset=utf-8");
    answer.body
}

/// Opens `/ws` at `web`, as a page of `origin` would (`None`: no `Origin`, as a script).
pub async fn try_connect(
    web: SocketAddr,
    origin: Option<&str>,
) -> Result<TestClient<WsStream>, tungstenite::Error> {
    let headers: Vec<(&str, &str)> = origin.iter().map(|o| ("origin", *o)).collect();
    try_connect_with(web, &headers).await
}

/// Opens `/ws` at `web` with `headers` (`origin`, `cookie`, ...) on the handshake.
pub async fn try_connect_with(
    web: SocketAddr,
    headers: &[(&'static str, &str)],
) -> Result<TestClient<WsStream>, tungstenite::Error> {
    let mut request = format!("ws://{web}/ws").into_client_request()?;
    for (name, value) in headers {
        request
            .headers_mut()
            .append(*name, HeaderValue::from_str(value).unwrap());
    }
    let stream = tokio::time::timeout(TIMEOUT, TcpStream::connect(web))
        .await
        .expect("connect in time")
        .expect("connect");
    let (socket, _) =
        tokio::time::timeout(TIMEOUT, tokio_tungstenite::client_async(request, stream))
            .await
            .expect("WebSocket handshake in time")?;
    Ok(TestClient::over(WsStream::new(socket)))
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
    request(web, "HTTP/1.1", path, headers).await
}

/// `METHOD path` at `web` with `headers` and the binary `body`, over a connection closed
/// after the answer: its status, headers (names lowercased) and binary body.
pub async fn send_bytes(
    web: SocketAddr,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<(u16, Vec<(String, String)>, Vec<u8>)> {
    exchange(web, method, "HTTP/1.1", path, headers, body).await
}

/// `METHOD path` at `web` in HTTP `version` with `headers` and `body`, over a connection
/// closed after the answer.
async fn exchange(
    web: SocketAddr,
    method: &str,
    version: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> io::Result<(u16, Vec<(String, String)>, Vec<u8>)> {
    let mut stream = TcpStream::connect(web).await?;
    let mut request = format!("{method} {path} {version}\r\nHost: {web}\r\nConnection: close\r\n");
    if !body.is_empty() {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).await?;
    stream.write_all(body).await?;
    let mut raw = Vec::new();
    tokio::time::timeout(TIMEOUT, stream.read_to_end(&mut raw))
        .await
        .map_err(|_| io::Error::other("no answer in time"))??;
    let end = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| io::Error::other(format!("not an HTTP answer: {raw:?}")))?;
    let head = String::from_utf8_lossy(&raw[..end]).into_owned();
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
    Ok((status, headers, raw[end + 4..].to_vec()))
}

/// `GET path` at `addr` in HTTP/1.0, so that a server that would send a large answer in
/// chunks (Go's, Prometheus's) sends it whole and closes.
pub async fn get_http10(addr: SocketAddr, path: &str) -> io::Result<Answer> {
    request(addr, "HTTP/1.0", path, &[]).await
}

/// `GET path` at `web` in HTTP `version` with `headers` added, over a connection closed
/// after the answer.
async fn request(
    web: SocketAddr,
    version: &str,
    path: &str,
    headers: &[(&str, &str)],
) -> io::Result<Answer> {
    let (status, headers, body) = exchange(web, "GET", version, path, headers, &[]).await?;
    Ok(Answer {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// The value of the sample `series` (the whole name with labels, as the text format writes
/// it) in the `/metrics` text `text`; 0 when absent.
pub fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}
