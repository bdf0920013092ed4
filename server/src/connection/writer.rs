//! The writer task: the only owner of the socket's write half, draining the client's
//! bounded queue in batches, flushing only when it is empty, and telling a slow consumer
//! why it is dropped.

use std::io::{self, IoSlice};

use bytes::BytesMut;
use chat_proto::codec::encode;
use chat_proto::{ErrorKind, ServerFrame};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::time::{timeout_at, Instant};

use super::{MAX_BATCH, SLOW_CONSUMER_GRACE};
use crate::outbox::{Next, Outgoing, Wire};

/// The writer task: drains the queue in batches until every sender is gone, then shuts the
/// stream down. Stops early, after a best-effort `SlowConsumer` error, once the queue
/// overflowed.
///
/// The rare ends (a slow consumer's farewell, the grace for a write under way) are boxed,
/// so that the task every idle client keeps is sized for the common loop only.
pub(super) async fn write_loop<W>(mut out: W, mut queue: Outgoing) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    let vectored = out.is_write_vectored();
    loop {
        // A fresh batch each round: an idle client holds no batch memory.
        let mut batch = Vec::new();
        match queue.next(&mut batch, MAX_BATCH).await {
            Next::Frames(_) => {}
            Next::Closed => return out.shutdown().await,
            Next::Overflowed => {
                Box::pin(farewell(&mut out, Instant::now() + SLOW_CONSUMER_GRACE)).await;
                return Ok(());
            }
        }
        let stopped_mid_write = {
            let write = async {
                write_batch(&mut out, &batch, vectored).await?;
                if queue.is_empty() {
                    out.flush().await?;
                }
                io::Result::Ok(())
            };
            tokio::pin!(write);
            tokio::select! {
                biased;
                written = &mut write => {
                    written?;
                    None
                }
                () = queue.overflowed() => {
                    let deadline = Instant::now() + SLOW_CONSUMER_GRACE;
                    let finished = matches!(
                        Box::pin(timeout_at(deadline, write)).await,
                        Ok(Ok(()))
                    );
                    Some((finished, deadline))
                }
            }
        };
        queue.written();
        if let Some((finished, deadline)) = stopped_mid_write {
            // Only a stream that is between frames can carry one more.
            if finished {
                Box::pin(farewell(&mut out, deadline)).await;
            }
            return Ok(());
        }
    }
}

/// Writes every frame of `batch`, with as few syscalls as the stream allows. Public for the
/// benchmarks (`benches/fanout.rs`).
pub async fn write_batch<W>(out: &mut W, batch: &[Wire], vectored: bool) -> io::Result<()>
where
    W: AsyncWrite + Unpin,
{
    match batch {
        [] => Ok(()),
        [one] => out.write_all(&one[..]).await,
        _ if vectored => {
            let mut slices: Vec<IoSlice<'_>> = batch.iter().map(|f| IoSlice::new(&f[..])).collect();
            let mut rest = &mut slices[..];
            while !rest.is_empty() {
                let written = out.write_vectored(rest).await?;
                if written == 0 {
                    return Err(io::ErrorKind::WriteZero.into());
                }
                IoSlice::advance_slices(&mut rest, written);
            }
            Ok(())
        }
        _ => {
            let mut buf = BytesMut::with_capacity(batch.iter().map(|f| f.len()).sum());
            for frame in batch {
                buf.extend_from_slice(&frame[..]);
            }
            out.write_all(&buf).await
        }
    }
}

/// Best effort: tells a slow consumer why it is dropped, then closes, by `deadline`.
async fn farewell<W>(out: &mut W, deadline: Instant)
where
    W: AsyncWrite + Unpin,
{
    let Ok(frame) = encode(&ServerFrame::Error {
        kind: ErrorKind::SlowConsumer,
        detail: "your outbound queue is full: you are not reading fast enough".to_owned(),
    }) else {
        return;
    };
    let _ = timeout_at(deadline, async {
        out.write_all(frame.as_bytes()).await?;
        out.shutdown().await
    })
    .await;
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use super::*;
    use crate::outbox;

    /// A write half that takes at most `max` bytes per call and records each call, so a test
    /// can see partial writes handled and count the syscalls a real socket would get.
    #[derive(Debug, Default)]
    struct Recorder {
        vectored: bool,
        max: usize,
        bytes: Vec<u8>,
        calls: usize,
        flushed: bool,
        shut: bool,
    }

    impl AsyncWrite for Recorder {
        fn poll_write(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &[u8],
        ) -> Poll<io::Result<usize>> {
            let n = buf.len().min(self.max);
            self.bytes.extend_from_slice(&buf[..n]);
            self.calls += 1;
            Poll::Ready(Ok(n))
        }

        fn poll_write_vectored(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            bufs: &[IoSlice<'_>],
        ) -> Poll<io::Result<usize>> {
            let mut left = self.max;
            for buf in bufs {
                let n = buf.len().min(left);
                self.bytes.extend_from_slice(&buf[..n]);
                left -= n;
            }
            self.calls += 1;
            Poll::Ready(Ok(self.max - left))
        }

        fn is_write_vectored(&self) -> bool {
            self.vectored
        }

        fn poll_flush(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.flushed = true;
            Poll::Ready(Ok(()))
        }

        fn poll_shutdown(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
            self.shut = true;
            Poll::Ready(Ok(()))
        }
    }

    fn frames(n: usize) -> Vec<Wire> {
        (0..n)
            .map(|i| {
                encode(&ServerFrame::System {
                    text: format!("notice {i}"),
                    at: i as i64,
                })
                .unwrap()
                .into_bytes()
                .into()
            })
            .collect()
    }

    fn wire(frames: &[Wire]) -> Vec<u8> {
        frames.iter().flat_map(|f| f.to_vec()).collect()
    }

    /// Whatever a write call accepts, a batch reaches the stream whole and in order, with
    /// vectored writes or without.
    #[tokio::test]
    async fn a_batch_survives_partial_writes() {
        let batch = frames(5);
        for vectored in [true, false] {
            for max in [1, 7, 23, 1 << 20] {
                let mut out = Recorder {
                    vectored,
                    max,
                    ..Recorder::default()
                };
                write_batch(&mut out, &batch, vectored).await.unwrap();
                assert_eq!(out.bytes, wire(&batch), "vectored {vectored}, max {max}");
            }
        }
    }

    /// Frames waiting in the queue go out in one write call, then one flush; when every
    /// sender is gone the stream is shut down.
    #[tokio::test]
    async fn the_writer_sends_everything_queued_in_one_call_and_shuts_down_at_the_end() {
        let batch = frames(40);
        for vectored in [true, false] {
            let (tx, rx) = outbox::channel(64);
            for frame in &batch {
                tx.offer_wire(frame.clone());
            }
            drop(tx);
            let mut out = Recorder {
                vectored,
                max: usize::MAX,
                ..Recorder::default()
            };
            write_loop(&mut out, rx).await.unwrap();
            assert_eq!(out.bytes, wire(&batch));
            assert_eq!(out.calls, 1, "vectored {vectored}");
            assert!(out.flushed && out.shut);
        }
    }

    /// Once the queue overflowed, the writer stops writing what was queued and, since the
    /// stream is between frames, tells the client why before closing.
    #[tokio::test]
    async fn an_overflowed_writer_sends_the_slow_consumer_error_and_stops() {
        let (tx, rx) = outbox::channel(3);
        for frame in frames(4) {
            tx.offer_wire(frame);
        }
        let mut out = Recorder {
            vectored: true,
            max: usize::MAX,
            ..Recorder::default()
        };
        write_loop(&mut out, rx).await.unwrap();
        let sent: Vec<Result<ServerFrame, _>> =
            chat_proto::codec::decode_chunks([out.bytes.as_slice()], 1 << 20);
        assert!(
            matches!(
                sent.as_slice(),
                [Ok(ServerFrame::Error {
                    kind: ErrorKind::SlowConsumer,
                    ..
                })]
            ),
            "{sent:?}"
        );
        assert!(out.shut);
        drop(tx);
    }
}
