//! How a connection ends: the writer gets its time to flush, and a peer that may still be
//! sending is read (and ignored) for a moment, so that its unread input does not reset the
//! connection and destroy the last frame; a refused peer is turned away the same way.

use std::io;
use std::net::SocketAddr;

use chat_proto::codec::encode;
use chat_proto::{ErrorKind, ServerFrame};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::task::JoinHandle;
use tokio::time::{timeout_at, Instant};

use super::{FLUSH_TIMEOUT, LINGER, LINGER_BYTES};
use crate::registry::LeaveReason;

/// Lets the writer flush and shut the stream down, then, where the peer may still be
/// sending, reads and discards its last bytes for a moment: closing a socket with unread
/// input resets the connection, which can destroy the final frame before the peer reads it.
/// The whole close takes at most [`FLUSH_TIMEOUT`].
pub(super) async fn close<R>(
    mut reader: R,
    mut writer: JoinHandle<io::Result<()>>,
    peer: SocketAddr,
    reason: &LeaveReason,
) where
    R: AsyncRead + Unpin,
{
    let deadline = Instant::now() + FLUSH_TIMEOUT;
    let flushed = match timeout_at(deadline, &mut writer).await {
        Ok(Ok(Ok(()))) => true,
        Ok(Ok(Err(err))) => {
            tracing::debug!(%peer, "Write failed: {err}");
            false
        }
        Ok(Err(err)) => {
            tracing::error!(%peer, "Writer task failed: {err}");
            false
        }
        Err(_) => {
            tracing::warn!(%peer, "Gave up writing to the client after {FLUSH_TIMEOUT:?}");
            writer.abort();
            false
        }
    };
    // After a refusal the peer is likely still sending; after `Bye` a client is waiting
    // for the close and answers it with its own. At shutdown nobody waits for anyone.
    let peer_may_still_send = matches!(
        reason,
        LeaveReason::Bye
            | LeaveReason::Refused(_)
            | LeaveReason::Flooding(_)
            | LeaveReason::Removed
    );
    if flushed && peer_may_still_send {
        linger(&mut reader, deadline).await;
    }
}

/// Reads and discards what the peer still sends, until it closes, [`LINGER`] passes, or
/// `deadline`, whichever is first: closing with unread input would reset the connection.
async fn linger<R>(reader: &mut R, deadline: Instant)
where
    R: AsyncRead + Unpin,
{
    let until = deadline.min(Instant::now() + LINGER);
    let mut rest = reader.take(LINGER_BYTES);
    let _ = timeout_at(until, tokio::io::copy(&mut rest, &mut tokio::io::sink())).await;
}

/// Answers a connection the server will not serve (full, too many from one address) with
/// `Error{kind}` and closes it, all within [`FLUSH_TIMEOUT`]. No tasks, no queue, no reader
/// buffer: a refused peer costs one small write.
pub async fn turn_away<R, W>(mut reader: R, mut writer: W, kind: ErrorKind, detail: String)
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let deadline = Instant::now() + FLUSH_TIMEOUT;
    let Ok(frame) = encode(&ServerFrame::Error { kind, detail }) else {
        return;
    };
    let sent = timeout_at(deadline, async {
        writer.write_all(frame.as_bytes()).await?;
        writer.shutdown().await
    })
    .await;
    // A client sends `Hello` right after connecting; without this the unread `Hello` would
    // reset the connection and could destroy the error before it is read.
    if matches!(sent, Ok(Ok(()))) {
        linger(&mut reader, deadline).await;
    }
}
