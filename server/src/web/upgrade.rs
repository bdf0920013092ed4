//! The WebSocket opening handshake (RFC 6455 §4.2) on `GET /ws`, answered here rather than by
//! axum's `WebSocket`, which hides the library's socket: [`super::socket`] frames messages
//! into the socket's buffer itself. The protocol itself, after the handshake, is
//! tokio-tungstenite's.

use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;

/// The only WebSocket version there is (RFC 6455 §4.4): a client asking for another is told
/// which one to use.
const VERSION: &str = "13";

/// Checks that `headers` ask for a WebSocket and gives the `101 Switching Protocols` answer
/// that accepts it, or the answer that says what is wrong (any other status).
pub fn accept(headers: &HeaderMap) -> Response {
    match check(headers) {
        Ok(accept) => (
            StatusCode::SWITCHING_PROTOCOLS,
            [
                (header::CONNECTION, HeaderValue::from_static("upgrade")),
                (header::UPGRADE, HeaderValue::from_static("websocket")),
                (header::SEC_WEBSOCKET_ACCEPT, accept),
            ],
        )
            .into_response(),
        Err(refusal) => refusal.into_response(),
    }
}

/// What is wrong with a request for a WebSocket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// It asks for no upgrade to `websocket`.
    NotAnUpgrade,
    /// It asks for a version other than 13.
    Version,
    /// It has no `Sec-WebSocket-Key`.
    NoKey,
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        match self {
            Refusal::NotAnUpgrade => (
                StatusCode::UPGRADE_REQUIRED,
                [(header::UPGRADE, HeaderValue::from_static("websocket"))],
                "this is a WebSocket endpoint: ask for an upgrade to websocket\n",
            )
                .into_response(),
            Refusal::Version => (
                StatusCode::UPGRADE_REQUIRED,
                [(
                    header::SEC_WEBSOCKET_VERSION,
                    HeaderValue::from_static(VERSION),
                )],
                "only WebSocket version 13 is spoken here\n",
            )
                .into_response(),
            Refusal::NoKey => (
                StatusCode::BAD_REQUEST,
                "a WebSocket upgrade needs a Sec-WebSocket-Key\n",
            )
                .into_response(),
        }
    }
}

/// The `Sec-WebSocket-Accept` that answers `headers`, if they ask for a WebSocket.
fn check(headers: &HeaderMap) -> Result<HeaderValue, Refusal> {
    let has_token = |name: header::HeaderName, token: &str| {
        headers.get_all(name).iter().any(|value| {
            value.to_str().is_ok_and(|value| {
                value
                    .split(',')
                    .any(|t| t.trim().eq_ignore_ascii_case(token))
            })
        })
    };
    if !has_token(header::CONNECTION, "upgrade") || !has_token(header::UPGRADE, "websocket") {
        return Err(Refusal::NotAnUpgrade);
    }
    let version = headers.get(header::SEC_WEBSOCKET_VERSION);
    if version.map(HeaderValue::as_bytes) != Some(VERSION.as_bytes()) {
        return Err(Refusal::Version);
    }
    let key = headers
        .get(header::SEC_WEBSOCKET_KEY)
        .ok_or(Refusal::NoKey)?;
    // Base64 of a SHA-1 digest: always a valid header value.
    HeaderValue::try_from(derive_accept_key(key.as_bytes())).map_err(|_| Refusal::NoKey)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for &(name, value) in pairs {
            headers.append(name, HeaderValue::from_static(value));
        }
        headers
    }

    const GOOD: &[(&str, &str)] = &[
        ("connection", "keep-alive, Upgrade"),
        ("upgrade", "WebSocket"),
        ("sec-websocket-version", "13"),
        ("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ=="),
    ];

    #[test]
    fn the_rfc_example_key_gets_the_rfc_example_answer() {
        let response = accept(&request(GOOD));
        assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
        // RFC 6455 §1.3.
        assert_eq!(
            response.headers()[header::SEC_WEBSOCKET_ACCEPT],
            "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
        );
        assert_eq!(response.headers()[header::UPGRADE], "websocket");
    }

    #[test]
    fn a_plain_get_is_told_to_upgrade() {
        let refused = accept(&request(&GOOD[2..]));
        assert_eq!(refused.status(), StatusCode::UPGRADE_REQUIRED);
    }

    #[test]
    fn another_version_is_told_which_one_to_use() {
        let mut headers = request(GOOD);
        headers.insert("sec-websocket-version", HeaderValue::from_static("8"));
        let refused = accept(&headers);
        assert_eq!(refused.status(), StatusCode::UPGRADE_REQUIRED);
        assert_eq!(refused.headers()[header::SEC_WEBSOCKET_VERSION], "13");
    }

    #[test]
    fn a_missing_key_is_a_bad_request() {
        let refused = accept(&request(&GOOD[..3]));
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    }
}
