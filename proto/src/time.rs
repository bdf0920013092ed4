//! Time on the wire.

/// Milliseconds since the Unix epoch, as the server's clock saw them.
///
/// An integer rather than a formatted string so that every client can render it in its own
/// local time and the frame stays small.
pub type Millis = i64;
