//! Bytes ⇄ frames: a 4-byte big-endian length prefix around a bincode body.
//!
//! ```text
//! ┌──────────────┬───────────────────────────────┐
//! │ len: u32 BE  │ body: bincode (varint, LE)    │   len = body length, prefix excluded
//! └──────────────┴───────────────────────────────┘
//! ```
//!
//! Framing and deserialising are two separate steps on purpose. [`FrameCodec`] only cuts
//! the stream into bodies and refuses an oversize length *before* reading or buffering its
//! body; [`decode_body`] then turns one body into a typed frame. A body that is garbage is
//! therefore a recoverable [`CodecError::Malformed`] (the next frame is still readable),
//! while a broken length prefix ends the stream, because nothing after it can be trusted.
//!
//! Every encode and decode takes its bincode settings from [`bincode_options`]: the crate's
//! free functions use another integer encoding and the two do not mix.

use bincode::Options;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use serde::{de::DeserializeOwned, Serialize};
use tokio_util::codec::{Decoder, Encoder};

/// Bytes in the length prefix.
pub const PREFIX_LEN: usize = 4;

/// The frame limit a client applies to what the server sends it.
///
/// Much larger than a server's `buffsize` (1 KiB by default) so that a `UserList` of
/// 10,000 names of 32 characters (about 330 KB) always fits.
pub const CLIENT_MAX_FRAME: usize = 1024 * 1024;

/// The largest body [`encode`] will produce; bigger frames are refused rather than sent
/// to a peer that would refuse them anyway.
pub const MAX_ENCODED_BODY: usize = 16 * 1024 * 1024;

/// Why bytes could not become a frame, or a frame bytes.
#[derive(Debug, thiserror::Error)]
pub enum CodecError {
    /// The length prefix announced more than the reader accepts. The body was not read; the
    /// stream cannot continue.
    #[error("frame of {len} bytes is over the limit of {max} bytes")]
    FrameTooLarge {
        /// The length the prefix claimed (or, when encoding, the body's real length).
        len: u64,
        /// The limit in force.
        max: usize,
    },
    /// The stream ended part-way through a frame.
    #[error("connection closed in the middle of a frame ({buffered} bytes of it received)")]
    Truncated {
        /// How many bytes of the unfinished frame had arrived, prefix included.
        buffered: usize,
    },
    /// A complete body that is not a valid frame: unknown variant, bad UTF-8, a length inside
    /// it that overruns the body, or trailing bytes. The stream itself is still in step.
    #[error("malformed frame: {0}")]
    Malformed(#[source] bincode::Error),
    /// The transport failed.
    #[error("i/o error: {0}")]
    Io(#[from] std::io::Error),
}

impl CodecError {
    /// Whether the stream is unusable after this error.
    ///
    /// Only [`CodecError::Malformed`] leaves the framing intact, so a reader may answer it
    /// and go on to the next frame.
    pub fn is_fatal(&self) -> bool {
        !matches!(self, CodecError::Malformed(_))
    }
}

/// The one bincode configuration of the protocol, for both directions.
///
/// Varint integers, little-endian, trailing bytes rejected, and a byte limit so that no
/// length inside a body can make the decoder allocate more than `limit` bytes.
pub fn bincode_options(limit: usize) -> impl Options + Copy {
    bincode::DefaultOptions::new().with_limit(limit as u64)
}

/// A frame already encoded, length prefix included, ready to be written to any number of
/// sockets.
///
/// Cloning shares the bytes (a reference count), so a broadcast is serialised once however
/// many clients receive it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncodedFrame(Bytes);

impl EncodedFrame {
    /// The wire bytes: prefix and body.
    pub fn as_bytes(&self) -> &Bytes {
        &self.0
    }

    /// The wire bytes, for a writer that takes ownership.
    pub fn into_bytes(self) -> Bytes {
        self.0
    }

    /// Wire length, prefix included; what the frame costs in a send queue.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Never true for a real frame; present because `len` is.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The body without its prefix, as [`decode_body`] takes it.
    pub fn body(&self) -> &[u8] {
        &self.0[PREFIX_LEN..]
    }
}

/// Encodes `frame` once into length-prefixed bytes.
///
/// Fails only when the body would exceed [`MAX_ENCODED_BODY`].
pub fn encode<T: Serialize>(frame: &T) -> Result<EncodedFrame, CodecError> {
    let opts = bincode_options(MAX_ENCODED_BODY);
    let len = opts
        .serialized_size(frame)
        .map_err(|_| CodecError::FrameTooLarge {
            len: MAX_ENCODED_BODY as u64 + 1,
            max: MAX_ENCODED_BODY,
        })?;
    // Bounded by `MAX_ENCODED_BODY` above, so it fits a u32 and a usize.
    let len = len as usize;
    let mut buf = BytesMut::with_capacity(PREFIX_LEN + len);
    buf.put_u32(len as u32);
    opts.serialize_into((&mut buf).writer(), frame)
        .map_err(CodecError::Malformed)?;
    Ok(EncodedFrame(buf.freeze()))
}

/// The body length `frame` encodes to, prefix excluded: what a reader's limit is compared
/// with. Lets a client refuse a message locally instead of being disconnected for it.
pub fn body_len<T: Serialize>(frame: &T) -> u64 {
    bincode_options(usize::MAX)
        .serialized_size(frame)
        .unwrap_or(u64::MAX)
}

/// Decodes one body (prefix already removed) into a frame.
///
/// The byte limit is the body's own length: a string that claims more than what is left
/// fails at once, without allocating.
pub fn decode_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, CodecError> {
    bincode_options(body.len())
        .deserialize(body)
        .map_err(CodecError::Malformed)
}

/// Cuts a byte stream into frame bodies, refusing oversize ones up front.
///
/// A `tokio_util` codec, so it works under `FramedRead`/`Framed` and in plain loops
/// ([`decode_chunks`]). Written out rather than wrapping `LengthDelimitedCodec` so that the
/// oversize error carries the claimed length and the limit can change after the handshake.
#[derive(Debug, Clone)]
pub struct FrameCodec {
    /// Largest body accepted, in bytes.
    max_frame: usize,
}

impl FrameCodec {
    /// A codec that accepts bodies of at most `max_frame` bytes.
    pub fn new(max_frame: usize) -> Self {
        FrameCodec { max_frame }
    }

    /// The limit in force.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Changes the limit for the frames still to come.
    pub fn set_max_frame(&mut self, max_frame: usize) {
        self.max_frame = max_frame;
    }
}

impl Decoder for FrameCodec {
    type Item = BytesMut;
    type Error = CodecError;

    fn decode(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, CodecError> {
        let Some(prefix) = src.first_chunk::<PREFIX_LEN>() else {
            return Ok(None);
        };
        let len = u32::from_be_bytes(*prefix) as usize;
        if len > self.max_frame {
            return Err(CodecError::FrameTooLarge {
                len: len as u64,
                max: self.max_frame,
            });
        }
        let total = PREFIX_LEN + len;
        if src.len() < total {
            // Bounded by the limit checked above.
            src.reserve(total - src.len());
            return Ok(None);
        }
        src.advance(PREFIX_LEN);
        Ok(Some(src.split_to(len)))
    }

    fn decode_eof(&mut self, src: &mut BytesMut) -> Result<Option<BytesMut>, CodecError> {
        match self.decode(src)? {
            Some(body) => Ok(Some(body)),
            None if src.is_empty() => Ok(None),
            None => Err(CodecError::Truncated {
                buffered: src.len(),
            }),
        }
    }
}

impl Encoder<EncodedFrame> for FrameCodec {
    type Error = CodecError;

    fn encode(&mut self, frame: EncodedFrame, dst: &mut BytesMut) -> Result<(), CodecError> {
        dst.extend_from_slice(frame.as_bytes());
        Ok(())
    }
}

/// Decodes a whole byte stream delivered in `chunks`, as a socket would deliver it.
///
/// Yields every frame or recoverable error in order and stops after the first fatal error
/// or at the end of the input (a partial last frame is [`CodecError::Truncated`]). Used by
/// the property tests, the fuzz target and the benchmarks, so they exercise the same
/// [`FrameCodec`] the connections use.
pub fn decode_chunks<'a, T: DeserializeOwned>(
    chunks: impl IntoIterator<Item = &'a [u8]>,
    max_frame: usize,
) -> Vec<Result<T, CodecError>> {
    let mut codec = FrameCodec::new(max_frame);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    let mut drain = |buf: &mut BytesMut, out: &mut Vec<_>, eof: bool| -> bool {
        loop {
            let next = if eof {
                codec.decode_eof(buf)
            } else {
                codec.decode(buf)
            };
            match next {
                Ok(Some(body)) => out.push(decode_body(&body)),
                Ok(None) => return true,
                Err(e) => {
                    out.push(Err(e));
                    return false;
                }
            }
        }
    };
    for chunk in chunks {
        buf.extend_from_slice(chunk);
        if !drain(&mut buf, &mut out, false) {
            return out;
        }
    }
    drain(&mut buf, &mut out, true);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ClientFrame, ServerFrame};

    #[test]
    fn hello_has_the_documented_wire_bytes() {
        let frame = ClientFrame::Hello {
            version: 1,
            username: "ann".into(),
            password: None,
        };
        // Prefix 7; variant 0, version 1, "ann" as length 3 + bytes, `None` as 0.
        let expected: &[u8] = &[0, 0, 0, 7, 0, 1, 3, b'a', b'n', b'n', 0];
        assert_eq!(encode(&frame).unwrap().as_bytes().as_ref(), expected);
    }

    #[test]
    fn clones_of_an_encoded_frame_share_one_buffer() {
        let frame = encode(&ServerFrame::Pong).unwrap();
        let copy = frame.clone();
        assert_eq!(frame.as_bytes().as_ptr(), copy.as_bytes().as_ptr());
    }
}
