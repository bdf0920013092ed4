//! One client: a reader loop in the connection's task and a writer task.
//!
//! ```text
//!  socket read half ──► FrameReader (≤ buffsize) ──► commands::dispatch ──► hub / own queue
//!  socket write half ◄── writer task ◄── bounded queue of wire bytes ◄──┘
//! ```
//!
//! The stream is taken as two halves, so the same code serves plain TCP (`into_split`, no
//! lock) and, later, TLS (`tokio::io::split`). The writer owns the write half and drains the
//! queue in batches: all frames waiting go out in one vectored write (or one buffer for a
//! stream without vectored writes), and the stream is flushed only when the queue is empty.
//!
//! Beside the socket, the reader loop waits on the connection's [`Watchdog`] (handshake
//! timeout, keepalive pings) and charges frames to its [`FloodControl`].
//!
//! The files: [`shared`] (what every connection shares with the server), `reader.rs` (the
//! reader loop), `writer.rs` (the writer task), `close.rs` (the close, the linger, and
//! turning a refused peer away), [`oversize`] (how a transport reports a message over the
//! limit). Connections are accepted by [`crate::listener`], for the chat port and the web
//! port alike.
//!
//! A connection ends in one of these ways, always logged with the peer and the reason: `Bye`,
//! end of stream, a fatal refusal (wrong version, oversize frame, wrong password, flooding),
//! a broken stream, a deadline (no `Hello` in time, no answer to a ping), the queue
//! overflowing (slow consumer), or server shutdown. It then leaves its rooms, and the writer
//! gets [`FLUSH_TIMEOUT`] to write what is still queued before the socket is closed.

mod close;
pub mod oversize;
mod reader;
pub mod shared;
mod writer;

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use chat_proto::codec::encode;
use chat_proto::{ClientFrame, ErrorKind, FrameReader, ServerFrame, SessionToken};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::time::Instant;

use crate::commands::{Context, Session};
use crate::counted::Counted;
use crate::flood::FloodControl;
use crate::hub::Hub;
use crate::outbox::{self, Outbox};
use crate::registry::LeaveReason;
use crate::wakes;
use crate::watchdog::Watchdog;
use close::close;
pub use close::turn_away;
use reader::{read_loop, Guards};
pub use shared::Shared;
pub use writer::write_batch;
use writer::write_loop;

/// How long a closing connection may spend writing what is still queued for its client.
/// Bounds a shutdown as well: every connection is closing then.
pub const FLUSH_TIMEOUT: Duration = Duration::from_secs(2);

/// The most frames one write takes. Well under the system's `IOV_MAX` (1024 on Linux), and
/// enough that a busy client costs one syscall per hundreds of messages.
pub const MAX_BATCH: usize = 256;

/// How long a closed connection keeps reading (and discarding) what its peer still sends,
/// waiting for the peer to see the close; a well-behaved client closes at once.
pub const LINGER: Duration = Duration::from_secs(1);

/// The most a closed connection reads while lingering; a peer still sending more is cut off.
pub const LINGER_BYTES: u64 = 64 * 1024;

/// How long a slow consumer's writer may keep trying to finish its current write and send
/// the `SlowConsumer` error before the socket is closed. A client that stopped reading will
/// not take it; one that is merely slow gets told why.
pub const SLOW_CONSUMER_GRACE: Duration = Duration::from_millis(500);

/// Serves one client until it leaves, then flushes and closes.
///
/// A plain function returning the connection's future rather than an `async fn`: its
/// setup (the queue, the writer task, the reader) happens here, at once, and the future
/// keeps only what it still needs. An `async fn` would keep its arguments for the
/// connection's whole life beside the copies its body makes of them, and every idle client
/// pays for the task's largest state.
pub fn serve<R, W>(
    reader: R,
    writer: W,
    peer: SocketAddr,
    shared: Shared,
    cookie: Option<Box<SessionToken>>,
) -> impl Future<Output = ()> + Send + 'static
where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    // The settings in force as it opens are the connection's for its life: a reload
    // changes them for the connections opened after it.
    let config = shared.config.get();
    let bound = outbox::Bound {
        frames: config.send_queue,
        bytes: config.send_queue_bytes,
    };
    let (outbox, outgoing) = outbox::bounded(bound, Some(shared.queued.clone()));
    let metrics = shared.hub.metrics();
    let writer = Counted::new(writer, metrics.clone());
    let reader = Counted::new(reader, metrics.clone());
    let writer = shared.tracker.spawn(write_loop(writer, outgoing));
    let mut frames = FrameReader::<_, ClientFrame>::new(reader, config.buffsize);
    let now = Instant::now();
    let mut guards = Guards {
        watchdog: Watchdog::new(&config, now),
        flood: FloodControl::new(&config, now),
    };
    async move {
        let mut session = Session::Handshake;
        let mut ctx = Context {
            hub: &shared.hub,
            outbox: &outbox,
            peer,
            session: &mut session,
            settings: &shared.config,
            login_backoff: &shared.login_backoff,
            accounts: shared.accounts.as_ref(),
            moderation: shared.moderation.as_ref(),
            cookie: cookie.as_deref(),
            handshake_deadline: guards.watchdog.handshake_deadline(),
            burst: Default::default(),
            log: &*shared.log,
            unconfirmed: Default::default(),
            waiting: None,
            peers: shared.peers.as_ref(),
            typed: Default::default(),
        };
        // What one read of this client delivers wakes each recipient's writer once.
        let reason = wakes::batched(read_loop(
            &mut frames,
            &mut ctx,
            &mut guards,
            &shared.shutdown,
        ))
        .await;
        shared.hub.metrics().disconnected(&reason);
        // Its last messages reach its rooms before its leaving does.
        if let Some(delivered) = ctx.flush_to_confirm() {
            let _ = delivered.await;
        }
        leave(&shared.hub, &session, &outbox, peer, &reason);
        if let (
            Session::Registered {
                account: Some(me), ..
            }
            | Session::Managing { account: me, .. },
            Some(accounts),
        ) = (&session, &shared.accounts)
        {
            accounts.forget(me.session, &outbox);
        }
        if let (Session::Registered { name, .. }, Some(peers)) = (&session, &shared.peers) {
            // Before the close, so that a client that waits for it finds its name free on
            // every node.
            peers.names.release(name.clone()).await;
        }
        // The registry's copy of the sender is gone; dropping ours lets the writer see the
        // end of the queue once it has written everything in it.
        drop(outbox);
        close(frames.into_inner(), writer, peer, &reason).await;
    }
}

/// Leaves the room (a registered client) or logs the end of a handshake that never finished.
fn leave(hub: &Hub, session: &Session, outbox: &Outbox, peer: SocketAddr, reason: &LeaveReason) {
    match session {
        Session::Registered { name, .. } => hub.leave(name, reason, crate::clock::now_millis()),
        Session::Managing { name, .. } => {
            tracing::info!(%peer, %reason, "{name} stopped managing the account");
        }
        Session::Handshake => {
            if *reason == LeaveReason::ShuttingDown {
                hub.metrics().refused(ErrorKind::ShuttingDown);
                if let Ok(frame) = encode(&ServerFrame::Error {
                    kind: ErrorKind::ShuttingDown,
                    detail: "the server is shutting down".to_owned(),
                }) {
                    outbox.offer(frame);
                }
            }
            if reason.is_fault() {
                tracing::warn!(%peer, %reason, "Connection closed before registering");
            } else {
                tracing::info!(%peer, %reason, "Connection closed before registering");
            }
        }
    }
}
