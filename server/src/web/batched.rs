//! The socket under a WebSocket: writes are gathered in memory and reach the socket at a
//! flush, in one syscall where the kernel takes them, and the memory is let go once written.
//!
//! The WebSocket library writes every frame it is given at once (its own write buffer is
//! set to nothing, because that buffer keeps its largest size for as long as the connection
//! lives). Without this layer each fragment the server sends ([`super::socket`]) would be a
//! syscall of its own; with it a burst costs what it costs over TCP, and an idle connection
//! holds no write buffer at all.

use std::io;
use std::pin::Pin;
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Bytes gathered before a write waits for the socket to take them: two of the largest
/// messages the server sends, so that a stalled reader costs a bounded amount here, and the
/// connection's send queue (which counts a batch until it is written) holds the rest.
pub const HIGH_WATER: usize = 2 * super::socket::MAX_MESSAGE;

/// A stream whose writes wait in memory until a flush, or until [`HIGH_WATER`] bytes do.
#[derive(Debug)]
pub struct Batched<S> {
    /// The socket.
    io: S,
    /// Written to us, not yet all taken by the socket.
    out: Vec<u8>,
    /// How much of `out` the socket has taken.
    taken: usize,
}

impl<S> Batched<S> {
    /// Wraps `io`; nothing is allocated until something is written.
    pub fn new(io: S) -> Self {
        Batched {
            io,
            out: Vec::new(),
            taken: 0,
        }
    }
}

impl<S: AsyncWrite + Unpin> Batched<S> {
    /// Hands everything gathered to the socket, then lets the buffer go: a connection that
    /// goes quiet after a burst keeps none of it.
    fn poll_drain(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.taken < self.out.len() {
            let n = ready!(Pin::new(&mut self.io).poll_write(cx, &self.out[self.taken..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.taken += n;
        }
        self.out = Vec::new();
        self.taken = 0;
        Poll::Ready(Ok(()))
    }

    /// Waits for room: only when [`HIGH_WATER`] bytes are waiting already.
    fn poll_room(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.out.len() - self.taken >= HIGH_WATER {
            ready!(self.poll_drain(cx))?;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Batched<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Batched<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_room(cx))?;
        self.out.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        ready!(self.poll_room(cx))?;
        let mut written = 0;
        for buf in bufs {
            self.out.extend_from_slice(buf);
            written += buf.len();
        }
        Poll::Ready(Ok(written))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        ready!(self.poll_drain(cx))?;
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    #[tokio::test]
    async fn writes_wait_for_the_flush_and_arrive_in_order() {
        let (near, mut far) = tokio::io::duplex(1 << 20);
        let mut batched = Batched::new(near);
        batched.write_all(b"one ").await.unwrap();
        batched.write_all(b"two").await.unwrap();
        let mut buf = [0u8; 16];
        let nothing_yet = tokio::time::timeout(std::time::Duration::ZERO, far.read(&mut buf)).await;
        assert!(
            nothing_yet.is_err(),
            "bytes reached the socket before a flush"
        );
        batched.flush().await.unwrap();
        assert_eq!(batched.out.capacity(), 0, "the buffer outlived its bytes");
        let n = far.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"one two");
    }

    #[tokio::test]
    async fn a_stalled_socket_stops_the_writer_near_the_high_water_mark() {
        let (near, mut far) = tokio::io::duplex(1024);
        let mut batched = Batched::new(near);
        let chunk = [7u8; 1024];
        // The socket takes 1 KiB and stalls: writes must come to a stop, not grow the buffer.
        let mut accepted = 0;
        while tokio::time::timeout(
            std::time::Duration::from_millis(50),
            batched.write_all(&chunk),
        )
        .await
        .is_ok()
        {
            accepted += chunk.len();
            assert!(
                accepted <= HIGH_WATER + 2 * chunk.len(),
                "{accepted} bytes taken from a writer whose socket stalled"
            );
        }
        assert!(batched.out.len() - batched.taken <= HIGH_WATER + chunk.len());
        let reader = tokio::spawn(async move {
            let mut all = Vec::new();
            far.read_to_end(&mut all).await.unwrap();
            all
        });
        batched.write_all(b"x").await.unwrap();
        batched.shutdown().await.unwrap();
        let all = reader.await.unwrap();
        assert_eq!(all.len(), accepted + 1, "bytes were lost or repeated");
        assert_eq!(all.last(), Some(&b'x'));
    }
}
