//! The server's clock: the only source of the `at` of every message and notice, so that a
//! client can never date its own words. A leaf that everything may use.

/// Milliseconds since the Unix epoch, now.
pub fn now_millis() -> chat_proto::Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as chat_proto::Millis)
}
