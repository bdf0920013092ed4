//! Typed frames over any byte stream: the one connection type both ends use.
//!
//! [`Connection`] reads `In` frames and writes `Out` frames over a whole stream (a client's
//! socket, TLS or plain, or one end of a test's duplex pipe). [`FrameReader`] is its read
//! half alone, for a server that gives the write half to a separate writer task.
//! Both return `Ok(None)` on a clean end of stream, between frames.

use std::marker::PhantomData;

use bytes::BytesMut;
use futures::{SinkExt, Stream, StreamExt};
use serde::{de::DeserializeOwned, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio_util::codec::{Decoder, Framed};

use crate::codec::{decode_body, encode, CodecError, EncodedFrame, FrameCodec, PREFIX_LEN};
use crate::{ClientFrame, ServerFrame};

/// A client's connection: reads [`ServerFrame`]s, writes [`ClientFrame`]s.
pub type ClientConnection<S> = Connection<S, ServerFrame, ClientFrame>;

/// The server's side of a connection, whole: reads [`ClientFrame`]s, writes [`ServerFrame`]s.
pub type ServerConnection<S> = Connection<S, ClientFrame, ServerFrame>;

/// Reads frames of type `In` and writes frames of type `Out` over the stream `S`.
#[derive(Debug)]
pub struct Connection<S, In, Out> {
    /// The stream, cut into bodies by the shared codec.
    framed: Framed<S, FrameCodec>,
    /// The frame types are fixed per direction so one side cannot send the other's frames.
    types: PhantomData<fn(Out) -> In>,
}

impl<S, In, Out> Connection<S, In, Out>
where
    S: AsyncRead + AsyncWrite + Unpin,
    In: DeserializeOwned,
    Out: Serialize,
{
    /// Wraps `stream`, accepting incoming bodies of at most `max_frame` bytes.
    pub fn new(stream: S, max_frame: usize) -> Self {
        Connection {
            framed: Framed::new(stream, FrameCodec::new(max_frame)),
            types: PhantomData,
        }
    }

    /// The next frame; `Ok(None)` when the peer closed cleanly between frames.
    ///
    /// After a [`CodecError::Malformed`] the next call reads the following frame; after
    /// any other error the stream is over.
    pub async fn read_frame(&mut self) -> Result<Option<In>, CodecError> {
        next_frame(&mut self.framed).await
    }

    /// Encodes, writes and flushes one frame.
    pub async fn write_frame(&mut self, frame: &Out) -> Result<(), CodecError> {
        self.framed.send(encode(frame)?).await
    }

    /// Writes and flushes a frame encoded earlier (for example, once for many receivers).
    pub async fn write_encoded(&mut self, frame: EncodedFrame) -> Result<(), CodecError> {
        self.framed.send(frame).await
    }

    /// Queues a frame without flushing, so that several go out in one write; follow with
    /// [`Connection::flush`].
    pub async fn feed_frame(&mut self, frame: &Out) -> Result<(), CodecError> {
        self.framed.feed(encode(frame)?).await
    }

    /// Writes out everything queued by [`Connection::feed_frame`].
    pub async fn flush(&mut self) -> Result<(), CodecError> {
        SinkExt::<EncodedFrame>::flush(&mut self.framed).await
    }

    /// Flushes and shuts down the write side, telling the peer no more frames will come.
    pub async fn shutdown(&mut self) -> Result<(), CodecError> {
        SinkExt::<EncodedFrame>::close(&mut self.framed).await
    }

    /// Changes the incoming frame limit for the frames still to come.
    pub fn set_max_frame(&mut self, max_frame: usize) {
        self.framed.codec_mut().set_max_frame(max_frame);
    }

    /// The underlying stream, for its addresses or TLS state.
    pub fn get_ref(&self) -> &S {
        self.framed.get_ref()
    }

    /// The stream itself, mutably: to send what no frame is (a test's raw bytes). Bytes
    /// written past the codec land between its frames, so this is for tests of bad input.
    pub fn get_mut(&mut self) -> &mut S {
        self.framed.get_mut()
    }

    /// Sends raw bytes, bypassing the encoder: for tests that play a hostile peer.
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), CodecError> {
        use tokio::io::AsyncWriteExt;
        let stream = self.framed.get_mut();
        stream.write_all(bytes).await?;
        stream.flush().await?;
        Ok(())
    }
}

/// The smallest read a [`FrameReader`] makes: enough for a typical chat frame (a `Hello`
/// and a `Join` together, or a line of text), and all an idle connection holds while it
/// waits. Idle connections are most of a server's connections, so every byte here counts
/// once per person online; a sender that needs more has its reads doubled at once.
pub const MIN_READ: usize = 128;

/// The largest read a [`FrameReader`] makes: a client sending as fast as it can has its
/// frames taken dozens per system call.
pub const MAX_READ: usize = 16 * 1024;

/// The read half of a connection: frames of type `In` from the reader `R`.
///
/// It reads with a size that adapts to the peer: a read that fills the room it was given
/// doubles the next one (up to [`MAX_READ`]), one that does not halves it (down to
/// [`MIN_READ`]), and a buffer left empty after a burst is given back. A busy sender's
/// frames thus arrive dozens per read, so a server can handle them as one batch, while an
/// idle connection holds [`MIN_READ`] bytes at most.
#[derive(Debug)]
pub struct FrameReader<R, In> {
    /// The read half.
    reader: R,
    /// Bytes received and not yet decoded.
    buf: BytesMut,
    /// Cuts `buf` into bodies, refusing oversize ones.
    codec: FrameCodec,
    /// Room to make for the next read.
    read_size: usize,
    /// The reader reported end of stream.
    eof: bool,
    /// Fixes the frame type read.
    types: PhantomData<fn() -> In>,
}

impl<R, In> FrameReader<R, In>
where
    R: AsyncRead + Unpin,
    In: DeserializeOwned,
{
    /// Wraps `reader`, accepting bodies of at most `max_frame` bytes.
    ///
    /// Nothing is allocated until the first read, and an idle connection holds at most
    /// [`MIN_READ`] bytes (more only while a frame larger than that is arriving).
    pub fn new(reader: R, max_frame: usize) -> Self {
        FrameReader {
            reader,
            buf: BytesMut::new(),
            codec: FrameCodec::new(max_frame),
            read_size: MIN_READ,
            eof: false,
            types: PhantomData,
        }
    }

    /// The next frame; `Ok(None)` on a clean end of stream. See [`Connection::read_frame`].
    ///
    /// Cancel-safe: bytes already read stay buffered for the next call.
    pub async fn read_frame(&mut self) -> Result<Option<In>, CodecError> {
        loop {
            let next = if self.eof {
                self.codec.decode_eof(&mut self.buf)?
            } else {
                self.codec.decode(&mut self.buf)?
            };
            if let Some(body) = next {
                return decode_body(&body).map(Some);
            }
            if self.eof {
                return Ok(None);
            }
            if self.buf.is_empty() && self.buf.capacity() > self.read_size {
                // A burst is over: give its buffer back rather than hold it while idle.
                self.buf = BytesMut::new();
            }
            self.buf.reserve(self.read_size);
            let room = self.buf.capacity() - self.buf.len();
            let read = self.reader.read_buf(&mut self.buf).await?;
            if read == 0 {
                self.eof = true;
            } else if read == room {
                self.read_size = (self.read_size * 2).min(MAX_READ);
            } else {
                self.read_size = (self.read_size / 2).max(MIN_READ);
            }
        }
    }

    /// Whether a whole frame is already buffered, so [`FrameReader::read_frame`] returns
    /// without waiting: a server handles everything a client sent together before acting.
    pub fn has_frame(&self) -> bool {
        self.buf.first_chunk::<PREFIX_LEN>().is_some_and(|prefix| {
            self.buf.len() >= PREFIX_LEN + u32::from_be_bytes(*prefix) as usize
        })
    }

    /// Changes the frame limit for the frames still to come.
    pub fn set_max_frame(&mut self, max_frame: usize) {
        self.codec.set_max_frame(max_frame);
    }

    /// Bytes received but not yet decoded; what a slow sender costs this reader.
    pub fn buffered(&self) -> &BytesMut {
        &self.buf
    }

    /// The reader back, dropping whatever was received but not decoded: for a server that
    /// reads and discards a peer's last bytes before closing, so that closing with unread
    /// input does not reset the connection and destroy the final frame sent to it.
    pub fn into_inner(self) -> R {
        self.reader
    }
}

/// One step of every reader: the next body from the codec, decoded.
async fn next_frame<St, In>(stream: &mut St) -> Result<Option<In>, CodecError>
where
    St: Stream<Item = Result<BytesMut, CodecError>> + Unpin,
    In: DeserializeOwned,
{
    match stream.next().await {
        None => Ok(None),
        Some(Ok(body)) => decode_body(&body).map(Some),
        Some(Err(e)) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use tokio::io::ReadBuf;

    use super::*;

    /// A stream holding `data`, counting the reads made of it.
    struct Counted {
        data: Vec<u8>,
        reads: usize,
    }

    impl AsyncRead for Counted {
        fn poll_read(
            mut self: Pin<&mut Self>,
            _: &mut Context<'_>,
            buf: &mut ReadBuf<'_>,
        ) -> Poll<std::io::Result<()>> {
            self.reads += 1;
            let n = buf.remaining().min(self.data.len());
            buf.put_slice(&self.data[..n]);
            self.data.drain(..n);
            Poll::Ready(Ok(()))
        }
    }

    /// A sender's burst is read dozens of frames per read (the read size grows while reads
    /// come back full), every frame intact, and the buffer stays within twice the largest read.
    #[tokio::test]
    async fn a_burst_is_read_many_frames_at_a_time() {
        let frame = ClientFrame::Msg {
            room: "lobby".into(),
            text: "x".repeat(64),
        };
        let wire = encode(&frame).unwrap();
        let data = wire.as_bytes().repeat(1000);
        let total = data.len();
        let mut reader = FrameReader::<_, ClientFrame>::new(Counted { data, reads: 0 }, 1024);
        for _ in 0..1000 {
            assert_eq!(reader.read_frame().await.unwrap(), Some(frame.clone()));
            assert!(
                reader.buffered().capacity() <= 2 * MAX_READ,
                "{}",
                reader.buffered().capacity()
            );
        }
        assert_eq!(reader.read_frame().await.unwrap(), None);
        let reads = reader.into_inner().reads;
        assert!(
            reads < total / MIN_READ,
            "{reads} reads for {total} bytes: the read size did not grow"
        );
    }

    /// An idle connection holds no more than the smallest read once its frame is handled.
    #[tokio::test]
    async fn an_idle_reader_holds_at_most_the_smallest_read() {
        let wire = encode(&ClientFrame::Ping).unwrap();
        let (mut client, server) = tokio::io::duplex(64 * 1024);
        let mut reader = FrameReader::<_, ClientFrame>::new(server, 1024);
        tokio::io::AsyncWriteExt::write_all(&mut client, wire.as_bytes())
            .await
            .unwrap();
        assert_eq!(reader.read_frame().await.unwrap(), Some(ClientFrame::Ping));
        assert!(!reader.has_frame());
        assert!(reader.buffered().capacity() <= MIN_READ);
    }
}
