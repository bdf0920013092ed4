//! The HTTP side of the web listener: its accept loop, the routes, and the answers to
//! `/healthz`, `/metrics` and `GET /ws`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use hyper::upgrade::OnUpgrade;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_tungstenite::tungstenite::protocol::{Role, WebSocketConfig};
use tokio_tungstenite::WebSocketStream;
use tokio_util::sync::CancellationToken;

use super::batched::{self, Batched};
use super::settings::HttpConfig;
use super::{page, session, socket, upgrade};
use crate::config::Config;
use crate::connection::Shared;
use crate::listener;
use crate::metrics::{self, Transport};

/// How long a client may take to send a request's headers: a browser sends them at once,
/// and a bound keeps half-open sockets from piling up (as `handshake_timeout` does on TCP).
pub const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// HTTP connections served at once, before any upgrade: far more than the page's few
/// requests need, and a bound on what a flood of idle sockets can hold. A WebSocket, once
/// upgraded, counts under `[limits] max_clients` instead.
pub const MAX_HTTP_CONNECTIONS: usize = 1024;

/// The smallest limit the WebSocket library enforces on a message, above our own
/// `buffsize` check: a message a little over `buffsize` gets the typed `FrameTooLarge`
/// from our check, and only one far over it is cut off by the library, unread.
const LIBRARY_MESSAGE_LIMIT: usize = 64 << 10;

/// The WebSocket library's read buffer per socket: a few client frames. It is held by every
/// idle connection, about a quarter of what a WebSocket costs beyond a TCP client.
const READ_BUFFER: usize = 256;

/// What every request handler shares.
#[derive(Debug)]
struct Web {
    /// The chat: what a WebSocket connection is served with, and the settings in force.
    shared: Shared,
    /// Cancelled when the server begins to shut down: `/healthz` then answers 503.
    stopping: CancellationToken,
}

impl Web {
    /// `[http]` in force now: a reload changes `allowed_origins` and `metrics_token` for the
    /// next request.
    fn http(&self) -> HttpConfig {
        self.shared.config.get().http.clone().unwrap_or_default()
    }
}

/// Serves the web client, `/healthz` and `/metrics` on `listener` until the task is
/// dropped; `stopping` is cancelled when the server begins to shut down.
///
/// Logs `Web client at http(s)://<ip>:<port>/` first, so that a script (or a test) that
/// asked for port 0 can find it.
pub async fn serve(listener: TcpListener, shared: Shared, stopping: CancellationToken) {
    let scheme = scheme(&shared.config.get());
    match listener.local_addr() {
        Ok(addr) => tracing::info!("Web client at {scheme}://{addr}/"),
        Err(err) => tracing::error!("The web listener has no address: {err}"),
    }
    let web = Arc::new(Web { shared, stopping });
    let router = router(web.clone());
    // Dropped with this task, which aborts every HTTP connection still open; upgraded
    // WebSockets live on in the connection tracker until the chat's own shutdown.
    let mut connections = JoinSet::new();
    loop {
        while connections.try_join_next().is_some() {}
        let (stream, peer) = listener::accept(&listener, "Web accept").await;
        if connections.len() >= MAX_HTTP_CONNECTIONS {
            tracing::warn!(%peer, "Refused HTTP connection: {MAX_HTTP_CONNECTIONS} already open");
            continue;
        }
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let web = web.clone();
        connections.spawn(async move {
            // The certificate in force as the handshake starts (a reload changes it).
            let config = web.shared.config.get();
            match &config.tls {
                None => serve_http(stream, peer, router).await,
                Some(tls) => {
                    let limit = listener::tls_limit(&web.shared, true);
                    let shutdown = &web.shared.shutdown;
                    if let Some(stream) = tls.handshake(stream, peer, limit, shutdown).await {
                        serve_http(stream, peer, router).await;
                    }
                }
            }
        });
    }
}

/// `https` with `[tls]`, else `http`: what the web listener serves, and so the scheme of
/// its own pages' origin.
fn scheme(config: &Config) -> &'static str {
    if config.tls.is_some() {
        "https"
    } else {
        "http"
    }
}

/// Serves HTTP/1.1 on one connection, upgrades included, until the peer closes it.
async fn serve_http<S>(stream: S, peer: SocketAddr, router: Router)
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |mut request| {
        request.extensions_mut().insert(ConnectInfo(peer));
        tower_service::Service::call(&mut router.clone(), request)
    });
    let served = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades()
        .await;
    if let Err(err) = served {
        tracing::debug!(%peer, "HTTP connection ended: {err}");
    }
}

/// The routes: the page's files, `/ws`, `/healthz`, `/metrics`.
fn router(web: Arc<Web>) -> Router {
    let mut router = Router::new()
        .route("/ws", get(websocket))
        .route("/session", post(session_post).delete(session_delete))
        .route("/healthz", get(healthz))
        .route("/metrics", get(metrics_page));
    for &(path, content_type, body) in page::FILES {
        router = router.route(
            path,
            get(move || async move { page::serve(content_type, body) }),
        );
    }
    router.with_state(web)
}

/// `GET /healthz`: 200 while the server serves, 503 once it began to shut down, so that a
/// load balancer stops sending people to a node that is going away.
async fn healthz(State(web): State<Arc<Web>>) -> Response {
    let (status, body) = if web.stopping.is_cancelled() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            r#"{"status":"shutting down"}"#,
        )
    } else {
        (StatusCode::OK, r#"{"status":"ok"}"#)
    };
    (
        status,
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        ],
        body,
    )
        .into_response()
}

/// `GET /metrics`: OpenMetrics for a scraper that asks for it (Prometheus does), the
/// classic Prometheus text format for anyone else; with `[http] metrics_token`, only for a
/// request that carries it as a bearer token.
async fn metrics_page(State(web): State<Arc<Web>>, headers: HeaderMap) -> Response {
    if let Some(token) = &web.http().metrics_token {
        let given = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        if !given.is_some_and(|given| token.matches(given)) {
            return (
                StatusCode::UNAUTHORIZED,
                [(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))],
                "a bearer token is required\n",
            )
                .into_response();
        }
    }
    let format = metrics::Format::negotiate(
        headers
            .get(header::ACCEPT)
            .and_then(|accept| accept.to_str().ok()),
    );
    let (users, rooms) = web.shared.hub.counts();
    match web.shared.hub.metrics().render(users, rooms, format) {
        Ok(text) => (
            StatusCode::OK,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static(format.content_type()),
            )],
            text,
        )
            .into_response(),
        Err(err) => {
            tracing::error!("Cannot render /metrics: {err}");
            StatusCode::INTERNAL_SERVER_ERROR.into_response()
        }
    }
}

/// The refusal of a request from a page of an origin `[http] allowed_origins` does not
/// allow; `None` for the server's own pages and for clients that send no `Origin`.
fn foreign(web: &Web, headers: &HeaderMap, peer: SocketAddr, what: &str) -> Option<Response> {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let own = format!("{}://{host}", scheme(&web.shared.config.get()));
    if web.http().allowed_origins.allows(origin, &own) {
        return None;
    }
    let origin = origin.unwrap_or_default();
    tracing::warn!(%peer, origin, "Refused {what}: a page of another origin");
    web.shared.hub.metrics().refused_origin();
    Some(
        (
            StatusCode::FORBIDDEN,
            format!("pages of {origin} may not connect to this server\n"),
        )
            .into_response(),
    )
}

/// `POST /session`: the page signs in or registers; see [`session`]. The body is read
/// within [`HEADER_TIMEOUT`] and at most one frame's worth (`buffsize` and its prefix).
async fn session_post(
    State(web): State<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    if let Some(refused) = foreign(&web, request.headers(), peer, "a sign-in") {
        return refused;
    }
    let limit = web.shared.config.get().buffsize.saturating_add(4);
    let read = tokio::time::timeout(
        HEADER_TIMEOUT,
        axum::body::to_bytes(request.into_body(), limit),
    )
    .await;
    match read {
        Ok(Ok(body)) => session::sign_in(&web.shared, peer, &body).await,
        Ok(Err(_)) => StatusCode::PAYLOAD_TOO_LARGE.into_response(),
        Err(_) => StatusCode::REQUEST_TIMEOUT.into_response(),
    }
}

/// `DELETE /session` (`?everywhere`: every session of the account): the page signs out;
/// see [`session`].
async fn session_delete(
    State(web): State<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    uri: axum::http::Uri,
    headers: HeaderMap,
) -> Response {
    if let Some(refused) = foreign(&web, &headers, peer, "a sign-out") {
        return refused;
    }
    let everywhere = uri
        .query()
        .is_some_and(|query| query.split('&').any(|pair| pair == "everywhere"));
    session::sign_out(&web.shared, &headers, everywhere).await
}

/// `GET /ws`: checks the page's origin and the connection limits, then serves the
/// upgraded socket as a chat connection, with the session cookie it came with.
async fn websocket(
    State(web): State<Arc<Web>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    mut request: Request,
) -> Response {
    let headers = request.headers();
    if let Some(refused) = foreign(&web, headers, peer, "WebSocket") {
        return refused;
    }
    let cookie = session::session_cookie(headers).map(Box::new);
    let response = upgrade::accept(headers);
    if response.status() != StatusCode::SWITCHING_PROTOCOLS {
        return response;
    }
    let Some(on_upgrade) = request.extensions_mut().remove::<OnUpgrade>() else {
        // Only a connection served without upgrades (none of ours) lacks it.
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    tracing::info!("Client connected from {peer} over WebSocket");
    let shared = web.shared.clone();
    let admitted = shared.admission.admit(peer.ip());
    if let Err(refusal) = &admitted {
        tracing::warn!(%peer, "Refused connection: {refusal}");
    }
    let max_message = shared.config.get().buffsize.saturating_add(4);
    let library_limit = max_message.saturating_mul(2).max(LIBRARY_MESSAGE_LIMIT);
    let config = WebSocketConfig::default()
        // Allocated for every socket up front, and what a client sends is small: the
        // default 128 KiB would be forty times what an idle TCP client costs in all.
        .read_buffer_size(READ_BUFFER)
        // The library writes only control frames, each at once, to the socket's buffer.
        .write_buffer_size(0)
        // Its pongs wait there while the socket is stalled: beyond this, a newer one
        // replaces the one waiting, so a client that pings and never reads costs no more.
        .max_write_buffer_size(1024)
        .max_message_size(Some(library_limit))
        .max_frame_size(Some(library_limit));
    let tracker = shared.tracker.clone();
    tracker.spawn(async move {
        let upgraded = match on_upgrade.await {
            Ok(upgraded) => upgraded,
            Err(err) => {
                tracing::warn!(%peer, "WebSocket upgrade failed: {err}");
                return;
            }
        };
        let out = batched::shared();
        let io = Batched::new(TokioIo::new(upgraded), out.clone());
        let socket = WebSocketStream::from_raw_socket(io, Role::Server, Some(config)).await;
        let (reader, writer) = socket::split(socket, out, max_message);
        // A task of its own, sized for serving alone: this one, which waited for the
        // upgrade, would otherwise carry its own state beside it for as long as the client
        // stays. The writer is boxed: it is large, and a task's arguments are kept for its
        // whole life.
        let tracker = shared.tracker.clone();
        tracker.spawn(listener::serve_or_refuse(
            reader,
            Box::new(writer),
            peer,
            admitted,
            shared,
            Transport::WebSocket,
            cookie,
        ));
    });
    response
}
