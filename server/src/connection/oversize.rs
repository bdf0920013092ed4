//! How a transport says that a client sent more than one largest frame in a piece it cannot
//! cut (a WebSocket message): the read fails with an `io::Error` carrying
//! [`MessageTooLarge`], which the reader loop answers with `FrameTooLarge` and a close, as
//! it answers an oversize length prefix over TCP. Defined here, beneath the transports, so
//! that the connection needs none of them.

use std::io;

/// A client's message was longer than one largest frame.
#[derive(Debug, thiserror::Error)]
#[error("WebSocket message of {len} bytes is over the limit of {max} bytes")]
pub struct MessageTooLarge {
    /// The message's length.
    pub len: usize,
    /// `buffsize` plus the length prefix.
    pub max: usize,
}

/// Whether a read failed because the client's message was over the size limit, and so is
/// answered with `FrameTooLarge` rather than dropped as a broken stream.
pub fn too_large(err: &io::Error) -> Option<&MessageTooLarge> {
    err.get_ref()?.downcast_ref()
}
