//! Times as scripts and logs read them: RFC 3339, UTC, to the millisecond.

use chat_proto::Millis;

/// Server milliseconds as `2021-10-15T14:30:00.123Z`.
pub fn rfc3339(at: Millis) -> String {
    chrono::DateTime::from_timestamp_millis(at)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}
