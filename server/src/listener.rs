//! Where connections come in, for the chat port and the web port alike: the accept with its
//! backoff, the TLS handshake under its limit, and the step from an accepted socket to a
//! served connection (or a refused one turned away), counted in `/metrics` while it lasts.
//!
//! The chat port runs [`accept_loop`]; the web listener ([`crate::web`]) accepts HTTP with
//! [`accept`] and hands each upgraded WebSocket to [`serve_or_refuse`], so both ports share
//! one path into [`crate::connection`].

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use chat_proto::SessionToken;
use futures::future::Either;
use futures::FutureExt;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};

use crate::admission::{Refusal, Ticket};
use crate::connection::{self, Shared, FLUSH_TIMEOUT};
use crate::metrics::Transport;

/// Pause after a failed `accept` (out of file descriptors, most often) before the next try,
/// so a persistent failure does not spin a core while connections close and free some.
pub const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// The next connection on `listener`. A failed accept (out of file descriptors, most often)
/// is logged at ERROR as `{what} failed` and retried after [`ACCEPT_BACKOFF`].
pub async fn accept(listener: &TcpListener, what: &str) -> (TcpStream, SocketAddr) {
    loop {
        match listener.accept().await {
            Ok(accepted) => return accepted,
            Err(err) => {
                tracing::error!("{what} failed: {err}; retrying in {ACCEPT_BACKOFF:?}");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
            }
        }
    }
}

/// How long an accepted peer may take over its TLS handshake: what `[limits]
/// handshake_timeout` allows an admitted one ([`crate::tls::handshake_limit`]), and no
/// more than [`FLUSH_TIMEOUT`] for one that is only to be told why it is refused.
pub fn tls_limit(shared: &Shared, admitted: bool) -> Duration {
    if admitted {
        crate::tls::handshake_limit(shared.config.get().handshake_timeout)
    } else {
        FLUSH_TIMEOUT
    }
}

/// Accepts connections forever, each served by its own task while it holds a place under
/// the connection limits; one over them is answered with an error and closed at once.
pub async fn accept_loop(listener: &TcpListener, shared: &Shared) {
    loop {
        let (stream, peer) = accept(listener, "Accept").await;
        tracing::info!("Client connected from {peer}");
        // The writer already batches; Nagle would only add latency to each batch.
        if let Err(err) = stream.set_nodelay(true) {
            tracing::debug!(%peer, "Cannot set TCP_NODELAY: {err}");
        }
        let admitted = shared.admission.admit(peer.ip());
        if let Err(refusal) = &admitted {
            tracing::warn!(%peer, "Refused connection: {refusal}");
        }
        let tracker = &shared.tracker;
        if shared.config.get().tls.is_some() {
            tracker.spawn(open_tls(stream, peer, admitted, shared.clone()));
        } else {
            let (reader, writer) = stream.into_split();
            tracker.spawn(serve_or_refuse(
                reader,
                writer,
                peer,
                admitted,
                shared.clone(),
                Transport::Tcp,
                None,
            ));
        }
    }
}

/// Opens an accepted socket that must speak TLS (`[tls]` is set) in its own task: the
/// handshake here, so that a slow one holds up nobody else, then serves it or turns it away.
///
/// Its own task rather than a branch of a task every connection runs: a task is allocated
/// at the size of its largest state, and the TLS handshake's would more than double what
/// each idle plain-TCP client costs (3.1 kB of task instead of 1.3 kB).
async fn open_tls(
    stream: TcpStream,
    peer: SocketAddr,
    admitted: Result<Ticket, Refusal>,
    shared: Shared,
) {
    // The certificate in force as the handshake starts: a reload changes it for the next.
    let config = shared.config.get();
    let Some(tls) = &config.tls else {
        return;
    };
    // A refused peer only gets its error: not worth a long wait.
    let limit = tls_limit(&shared, admitted.is_ok());
    if let Some(stream) = tls.handshake(stream, peer, limit, &shared.shutdown).await {
        let (reader, writer) = tokio::io::split(stream);
        serve_or_refuse(reader, writer, peer, admitted, shared, Transport::Tcp, None).await;
    }
}

/// Serves an admitted connection, holding its place under the limits until it ends, or
/// turns a refused one away with its error; counted in `/metrics` under `transport` while
/// it lasts.
///
/// A plain function returning the connection's future, not an `async fn` around
/// [`connection::serve`]: an `async fn` keeps its arguments (and the copies its body makes
/// of them) beside the future it awaits, and a connection task is allocated at its largest
/// state for as long as the client stays.
pub fn serve_or_refuse<R, W>(
    reader: R,
    writer: W,
    peer: SocketAddr,
    admitted: Result<Ticket, Refusal>,
    shared: Shared,
    transport: Transport,
    cookie: Option<Box<SessionToken>>,
) -> impl Future<Output = ()> + Send + 'static
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let connected = shared.hub.metrics().connected(transport);
    match admitted {
        Ok(ticket) => Either::Left(
            connection::serve(reader, writer, peer, shared, cookie)
                .map(move |()| drop((ticket, connected))),
        ),
        Err(refusal) => {
            shared.hub.metrics().refused(refusal.kind());
            let turned_away =
                connection::turn_away(reader, writer, refusal.kind(), refusal.to_string());
            Either::Right(turned_away.map(move |()| drop(connected)))
        }
    }
}
