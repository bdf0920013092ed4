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
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_util::codec::{Framed, FramedRead};

use crate::codec::{decode_body, encode, CodecError, EncodedFrame, FrameCodec};
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

    /// Sends raw bytes, bypassing the encoder: for tests that play a hostile peer.
    pub async fn write_raw(&mut self, bytes: &[u8]) -> Result<(), CodecError> {
        use tokio::io::AsyncWriteExt;
        let stream = self.framed.get_mut();
        stream.write_all(bytes).await?;
        stream.flush().await?;
        Ok(())
    }
}

/// The read half of a connection: frames of type `In` from the reader `R`.
#[derive(Debug)]
pub struct FrameReader<R, In> {
    /// The read half, cut into bodies by the shared codec.
    framed: FramedRead<R, FrameCodec>,
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
    /// The read buffer starts small and grows only as far as the frame being read needs,
    /// so an idle connection holds little memory.
    pub fn new(reader: R, max_frame: usize) -> Self {
        FrameReader {
            framed: FramedRead::with_capacity(reader, FrameCodec::new(max_frame), 0),
            types: PhantomData,
        }
    }

    /// The next frame; `Ok(None)` on a clean end of stream. See [`Connection::read_frame`].
    pub async fn read_frame(&mut self) -> Result<Option<In>, CodecError> {
        next_frame(&mut self.framed).await
    }

    /// Changes the frame limit for the frames still to come.
    pub fn set_max_frame(&mut self, max_frame: usize) {
        self.framed.decoder_mut().set_max_frame(max_frame);
    }

    /// Bytes received but not yet decoded; what a slow sender costs this reader.
    pub fn buffered(&self) -> &BytesMut {
        self.framed.read_buffer()
    }

    /// The reader back, dropping whatever was received but not decoded: for a server that
    /// reads and discards a peer's last bytes before closing, so that closing with unread
    /// input does not reset the connection and destroy the final frame sent to it.
    pub fn into_inner(self) -> R {
        self.framed.into_inner()
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
