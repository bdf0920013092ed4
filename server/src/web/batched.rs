//! The socket under a WebSocket, and the one buffer every byte for it goes through.
//!
//! Two writers share the socket: the connection's writer task, whose binary messages are
//! framed here ([`Gathered::push_message`]) without passing through the WebSocket library,
//! and the library itself, which writes its pongs and its close message through
//! [`Batched`]. Both add whole WebSocket frames to one [`Gathered`] buffer, which reaches
//! the socket at a flush (one syscall where the kernel takes it all) and is let go once
//! written: an idle connection holds no write buffer at all.
//!
//! The library would keep a write buffer of its own, sized for the largest message it was
//! ever given, for the life of the connection: an idle browser that was once sent a backlog
//! or a user list would hold that much for good. Only its control frames (125 bytes of
//! payload at most) pass through it here.

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{ready, Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// The most bytes the server puts in one WebSocket message before it ends the message at the
/// next frame boundary: large enough that a burst of frames is one message, small enough that
/// a browser is never handed megabytes at once. (A single frame larger than this is one
/// message by itself.)
pub const MAX_MESSAGE: usize = 64 << 10;

/// Bytes waiting for the socket before a writer must wait for it to take them: two of the
/// largest messages the server sends, so that a stalled reader costs a bounded amount
/// here, and the connection's send queue (which counts a batch until it is written) holds
/// the rest.
pub const HIGH_WATER: usize = 2 * MAX_MESSAGE;

/// The opcode of a close frame (RFC 6455 §5.5.1).
const OP_CLOSE: u8 = 0x8;

/// The bytes on their way to one socket, shared by its two writers.
#[derive(Debug)]
pub struct Gathered {
    /// Whole WebSocket frames, back to back.
    bytes: Vec<u8>,
    /// How much of `bytes` the socket has taken.
    taken: usize,
    /// A close frame is among them (or was sent): nothing may follow it.
    closed: bool,
    /// The status code of the close the server sends: set by the reading half when the
    /// client broke a rule, so that the close says why.
    close_code: CloseCode,
}

/// [`Gathered`] as its two writers (and the reading half, for the close code) hold it.
pub type Shared = Arc<Mutex<Gathered>>;

/// An empty buffer for one socket.
pub fn shared() -> Shared {
    Arc::new(Mutex::new(Gathered {
        bytes: Vec::new(),
        taken: 0,
        closed: false,
        close_code: CloseCode::Normal,
    }))
}

/// The buffer, even if a thread panicked while holding it: its bytes are still whole
/// frames, since each is added in one call.
pub fn lock(shared: &Shared) -> MutexGuard<'_, Gathered> {
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Gathered {
    /// Whether writers must wait for the socket before adding more.
    pub fn is_full(&self) -> bool {
        self.bytes.len() - self.taken >= HIGH_WATER
    }

    /// Adds `payload` as one binary message (a single frame, FIN set, unmasked as a
    /// server's frames are); dropped once a close frame went ahead of it.
    pub fn push_message(&mut self, payload: &[u8]) {
        if self.closed || payload.is_empty() {
            return;
        }
        self.bytes.reserve(payload.len() + 10);
        self.bytes.push(0x80 | 0x2);
        match payload.len() {
            len @ 0..=125 => self.bytes.push(len as u8),
            len @ 126..=0xFFFF => {
                self.bytes.push(126);
                self.bytes.extend_from_slice(&(len as u16).to_be_bytes());
            }
            len => {
                self.bytes.push(127);
                self.bytes.extend_from_slice(&(len as u64).to_be_bytes());
            }
        }
        self.bytes.extend_from_slice(payload);
    }

    /// Bytes held, written or not: what an idle connection keeps here (nothing).
    #[cfg(test)]
    pub fn bytes_held(&self) -> usize {
        self.bytes.capacity()
    }

    /// The code the close frame should carry.
    pub fn close_code(&self) -> CloseCode {
        self.close_code
    }

    /// Has the close say `code`, unless a rule broken earlier already set one.
    pub fn set_close_code(&mut self, code: CloseCode) {
        if self.close_code == CloseCode::Normal {
            self.close_code = code;
        }
    }

    /// Adds frames the library wrote (whole, as it always writes them), noting a close.
    fn push_frames(&mut self, frames: &[u8]) {
        self.closed |= holds_close(frames);
        self.bytes.extend_from_slice(frames);
    }

    /// Hands everything gathered to `io`, then lets the buffer go: a connection that goes
    /// quiet after a burst keeps none of it.
    fn poll_drain<S>(&mut self, io: Pin<&mut S>, cx: &mut Context<'_>) -> Poll<io::Result<()>>
    where
        S: AsyncWrite,
    {
        let mut io = io;
        while self.taken < self.bytes.len() {
            let n = ready!(io.as_mut().poll_write(cx, &self.bytes[self.taken..]))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            self.taken += n;
        }
        self.bytes = Vec::new();
        self.taken = 0;
        Poll::Ready(Ok(()))
    }
}

/// The first of the server frames (unmasked) in `wire`: its first byte (FIN and opcode), its
/// payload, and what follows it; `None` at the end or where a frame is cut short.
pub fn next_frame(wire: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let [first, second, rest @ ..] = wire else {
        return None;
    };
    let (len, rest) = match second & 0x7F {
        126 => {
            let (len, rest) = rest.split_first_chunk::<2>()?;
            (usize::from(u16::from_be_bytes(*len)), rest)
        }
        127 => {
            let (len, rest) = rest.split_first_chunk::<8>()?;
            (usize::try_from(u64::from_be_bytes(*len)).ok()?, rest)
        }
        len => (usize::from(len), rest),
    };
    (rest.len() >= len).then(|| (*first, &rest[..len], &rest[len..]))
}

/// Whether the server frames in `frames` (whole, unmasked) include a close frame.
fn holds_close(mut frames: &[u8]) -> bool {
    while let [first, _, ..] = frames {
        if first & 0x0F == OP_CLOSE {
            return true;
        }
        let Some((_, _, rest)) = next_frame(frames) else {
            return false;
        };
        frames = rest;
    }
    false
}

/// The socket as the WebSocket library sees it: its writes join the shared buffer, and
/// reach the socket at its flushes or the writer task's.
#[derive(Debug)]
pub struct Batched<S> {
    /// The socket.
    io: S,
    /// Shared with the connection's writer.
    out: Shared,
}

impl<S> Batched<S> {
    /// Wraps `io`, whose bytes all go through `out`.
    pub fn new(io: S, out: Shared) -> Self {
        Batched { io, out }
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
    /// Takes all of `buf` or none of it, so that the frames in the buffer stay whole.
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        let mut out = lock(&this.out);
        if out.is_full() {
            ready!(out.poll_drain(Pin::new(&mut this.io), cx))?;
        }
        out.push_frames(buf);
        if out.closed {
            // The library may end the connection right after writing its close, without a
            // flush: what is gathered goes out now, as far as the socket takes it.
            let _ = out.poll_drain(Pin::new(&mut this.io), cx);
        }
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(lock(&this.out).poll_drain(Pin::new(&mut this.io), cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        ready!(lock(&this.out).poll_drain(Pin::new(&mut this.io), cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    use super::*;

    #[test]
    fn messages_are_framed_with_the_shortest_length_that_fits() {
        let out = shared();
        let mut out = lock(&out);
        out.push_message(&[1; 125]);
        out.push_message(&[2; 126]);
        out.push_message(&[3; 70_000]);
        let b = &out.bytes;
        assert_eq!(b[..2], [0x82, 125]);
        let second = 2 + 125;
        assert_eq!(b[second..second + 4], [0x82, 126, 0, 126]);
        let third = second + 4 + 126;
        assert_eq!(b[third..third + 2], [0x82, 127]);
        assert_eq!(b[third + 2..third + 10], 70_000u64.to_be_bytes());
        assert_eq!(b.len(), third + 10 + 70_000);
        assert!(!holds_close(b));
    }

    #[test]
    fn nothing_follows_a_close_the_library_wrote() {
        let out = shared();
        let mut out = lock(&out);
        out.push_message(b"before");
        // A pong, then a close with code 1000, as the library writes them.
        out.push_frames(&[0x8A, 0x01, 0x2A, 0x88, 0x02, 0x03, 0xE8]);
        let len = out.bytes.len();
        out.push_message(b"after the close");
        assert_eq!(out.bytes.len(), len, "a message went out after the close");
    }

    #[tokio::test]
    async fn writes_wait_for_the_flush_and_arrive_in_order() {
        let (near, mut far) = tokio::io::duplex(1 << 20);
        let out = shared();
        let mut batched = Batched::new(near, out.clone());
        lock(&out).push_message(b"one");
        batched.write_all(&[0x89, 0x00]).await.unwrap();
        lock(&out).push_message(b"two");
        let mut buf = [0u8; 16];
        let nothing_yet = tokio::time::timeout(std::time::Duration::ZERO, far.read(&mut buf)).await;
        assert!(
            nothing_yet.is_err(),
            "bytes reached the socket before a flush"
        );
        batched.flush().await.unwrap();
        assert_eq!(
            lock(&out).bytes.capacity(),
            0,
            "the buffer outlived its bytes"
        );
        let n = far.read(&mut buf).await.unwrap();
        assert_eq!(&buf[..n], b"\x82\x03one\x89\x00\x82\x03two");
    }

    #[tokio::test]
    async fn a_stalled_socket_stops_the_library_near_the_high_water_mark() {
        let (near, mut far) = tokio::io::duplex(1024);
        let out = shared();
        let mut batched = Batched::new(near, out.clone());
        let pong = [0x8A, 0x7D]
            .into_iter()
            .chain([0u8; 125])
            .collect::<Vec<_>>();
        // The socket takes 1 KiB and stalls: writes must come to a stop (past what the socket
        // took), not grow the buffer.
        let mut accepted = 0;
        while tokio::time::timeout(
            std::time::Duration::from_millis(50),
            batched.write_all(&pong),
        )
        .await
        .is_ok()
        {
            accepted += pong.len();
            assert!(
                accepted <= HIGH_WATER + 1024 + 2 * pong.len(),
                "{accepted} bytes taken from a writer whose socket stalled"
            );
        }
        let reader = tokio::spawn(async move {
            let mut all = Vec::new();
            far.read_to_end(&mut all).await.unwrap();
            all
        });
        batched.shutdown().await.unwrap();
        let all = reader.await.unwrap();
        assert_eq!(all.len(), accepted, "bytes were lost or repeated");
        assert!(
            all.chunks(pong.len()).all(|frame| frame == pong),
            "a frame was torn"
        );
    }
}
