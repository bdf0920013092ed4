//! `POST /session` and `DELETE /session`: the page signs in (or registers) over HTTP, so
//! that the device session's token can be handed to the browser as an `HttpOnly` cookie that
//! no script on the page can read; the WebSocket then signs in with
//! `SignIn{credential: Cookie}`, and the browser sends the cookie with its handshake.
//!
//! The request body is one client frame exactly as the page sends it over the WebSocket
//! (length prefix and bincode body): a `SignIn` with a password, or a `Register`. The answer
//! is one server frame the same way: `SignedIn` (its `token` always `None`: the token is in
//! the cookie only) with the cookies, or the `Error` a connection would have got. So the page
//! needs no other encoding than the one it already speaks.
//!
//! Cookies: `chat_session` holds the token, `HttpOnly; SameSite=Strict; Path=/`, `Secure`
//! under TLS, for `[accounts] session_max_age`; `chat_account` holds the account's name,
//! readable by the page (it says which name to sign in as after a reload; it proves nothing).
//! `SameSite=Strict` keeps the browser from sending them with another site's requests, and
//! the page's `Origin` is checked as for `/ws`, so a foreign page can neither sign in for
//! someone nor use their session.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use chat_proto::codec::{decode_body, encode, PREFIX_LEN};
use chat_proto::validate::name_key;
use chat_proto::{
    ClientFrame, Credential, ErrorKind, Secret, ServerFrame, SessionToken, PROTOCOL_VERSION,
};
use tokio::time::Instant;

use crate::accounts::service::Welcome;
use crate::accounts::{Accounts, AccountsError};
use crate::clock::now_millis;
use crate::commands::CommandError;
use crate::connection::Shared;
use crate::login_backoff::Attempt;

/// The cookie that holds the session's token.
pub const SESSION_COOKIE: &str = "chat_session";

/// The cookie that holds the signed-in account's name, for the page.
pub const ACCOUNT_COOKIE: &str = "chat_account";

/// The token in `headers`' `chat_session` cookie, if there is a well-formed one.
pub fn session_cookie(headers: &HeaderMap) -> Option<SessionToken> {
    cookie_value(headers, SESSION_COOKIE).and_then(|value| SessionToken::from_hex(&value))
}

/// The value of the cookie `wanted` the request carries, if any.
fn cookie_value(headers: &HeaderMap, wanted: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == wanted)
        .map(|(_, value)| value.trim().to_owned())
}

/// What a sign-in over HTTP asked for, once decoded.
enum Asked {
    /// `SignIn` with a password.
    SignIn {
        name: String,
        password: Secret,
        device: String,
    },
    /// `Register`.
    Register {
        name: String,
        password: Secret,
        device: String,
    },
}

/// `POST /session`: signs in or registers with the frame in `body`; sets the cookies.
pub async fn sign_in(shared: &Shared, peer: SocketAddr, body: &[u8]) -> Response {
    let Some(accounts) = shared.accounts.clone() else {
        return refusal(
            StatusCode::NOT_FOUND,
            ErrorKind::AccountsOff,
            "this server keeps no accounts: connect as a guest",
        );
    };
    let (asked, server_password) = match decode(body) {
        Ok(decoded) => decoded,
        Err((status, kind, detail)) => return refusal(status, kind, &detail),
    };
    if let Some(refused) = check_server_password(shared, peer, server_password.as_deref()) {
        return refused;
    }
    let (Asked::Register { name, .. } | Asked::SignIn { name, .. }) = &asked;
    // Before anything else sees it: a name is also a log field and a backoff key.
    if let Err(err) = chat_proto::validate::username(name) {
        return refusal(
            StatusCode::BAD_REQUEST,
            ErrorKind::InvalidName,
            &format!("invalid name: {err}"),
        );
    }
    // A banned address or name, or a suspended account, gets no session here either.
    if let Some(moderation) = &shared.moderation {
        let (Asked::Register { name, .. } | Asked::SignIn { name, .. }) = &asked;
        if let Err(err) = moderation.check_registration(name, peer.ip()) {
            return refusal(StatusCode::FORBIDDEN, err.kind(), &err.to_string());
        }
    }
    let at = now_millis();
    let welcomed = match asked {
        Asked::Register {
            name,
            password,
            device,
        } => {
            if shared.hub.is_online(&name) {
                return refusal(
                    StatusCode::CONFLICT,
                    ErrorKind::NameTaken,
                    &format!("the name {name:?} is taken"),
                );
            }
            accounts.register(&name, &password, &device, at).await
        }
        Asked::SignIn {
            name,
            password,
            device,
        } => {
            let backoff = &shared.login_backoff;
            let charged = match backoff.charge(peer.ip(), Some(&name_key(&name)), Instant::now()) {
                Ok(charged) => charged,
                Err(turn) => {
                    let slowed = CommandError::LoginsSlowed {
                        retry_in: turn.saturating_duration_since(Instant::now()),
                        account: true,
                    };
                    return refusal(
                        StatusCode::TOO_MANY_REQUESTS,
                        slowed.kind(),
                        &slowed.to_string(),
                    );
                }
            };
            let signed_in = accounts.sign_in(&name, &password, &device, at).await;
            let wrong = matches!(signed_in, Err(AccountsError::WrongPassword));
            backoff.settle(charged, wrong, peer, &name);
            signed_in
        }
    };
    match welcomed {
        Ok(welcome) => signed_in(shared, &accounts, welcome),
        Err(err) => {
            let status = match err.kind() {
                ErrorKind::WrongPassword => StatusCode::UNAUTHORIZED,
                ErrorKind::RegistrationClosed => StatusCode::FORBIDDEN,
                ErrorKind::StoreFailed => {
                    tracing::error!(%peer, "Cannot sign in over HTTP: {err}");
                    StatusCode::SERVICE_UNAVAILABLE
                }
                _ => StatusCode::BAD_REQUEST,
            };
            refusal(status, err.kind(), &err.to_string())
        }
    }
}

/// `DELETE /session`: ends the session of the cookie, or with `everywhere`
/// (`?everywhere`) every session of its account, closing their connections, and clears the
/// cookies.
pub async fn sign_out(shared: &Shared, headers: &HeaderMap, everywhere: bool) -> Response {
    let name = cookie_value(headers, ACCOUNT_COOKIE);
    if let (Some(token), Some(accounts)) = (session_cookie(headers), &shared.accounts) {
        if let Err(err) = accounts
            .end_by_token(name.as_deref(), &token, now_millis(), everywhere)
            .await
        {
            tracing::error!("Cannot end a session over HTTP: {err}");
            return StatusCode::SERVICE_UNAVAILABLE.into_response();
        }
    }
    let secure = shared.config.get().tls.is_some();
    let mut response = StatusCode::NO_CONTENT.into_response();
    for cookie in [
        cookie(SESSION_COOKIE, "", 0, true, secure),
        cookie(ACCOUNT_COOKIE, "", 0, false, secure),
    ] {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// The answer to a sign-in that worked: the cookies and `SignedIn` without the token.
fn signed_in(shared: &Shared, accounts: &Arc<Accounts>, welcome: Welcome) -> Response {
    let Some(token) = &welcome.token else {
        return StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let max_age = accounts.config().session_max_age.as_secs();
    let secure = shared.config.get().tls.is_some();
    let body = frame(&ServerFrame::SignedIn {
        session: u64::try_from(welcome.signed_in.session).unwrap_or(0),
        token: None,
    });
    tracing::info!(
        session = welcome.signed_in.session,
        "{} signed in on a web page",
        welcome.name
    );
    let mut response = (StatusCode::OK, binary(), body).into_response();
    for cookie in [
        cookie(SESSION_COOKIE, &token.to_hex(), max_age, true, secure),
        cookie(ACCOUNT_COOKIE, &welcome.name, max_age, false, secure),
    ] {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

/// A `Set-Cookie` value for the page's path, `SameSite=Strict`.
fn cookie(name: &str, value: &str, max_age: u64, http_only: bool, secure: bool) -> HeaderValue {
    let mut text = format!("{name}={value}; Path=/; Max-Age={max_age}; SameSite=Strict");
    if http_only {
        text.push_str("; HttpOnly");
    }
    if secure {
        text.push_str("; Secure");
    }
    // Names and hex digits only: always a valid header value.
    HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Checks `[server] password`, if the server has one, as a `Hello` would: `Some` refusal.
fn check_server_password(
    shared: &Shared,
    peer: SocketAddr,
    given: Option<&str>,
) -> Option<Response> {
    let config = shared.config.get();
    let expected = config.password.as_ref()?;
    match shared
        .login_backoff
        .check_server_password(expected, given, peer)
    {
        Attempt::Accepted => None,
        Attempt::Refused { .. } | Attempt::NotYet { .. } => Some(refusal(
            StatusCode::FORBIDDEN,
            ErrorKind::AuthFailed,
            "wrong or missing password",
        )),
    }
}

/// Why a body was refused: the status, the kind and the detail of its `Error` frame.
type Refused = (StatusCode, ErrorKind, String);

/// The sign-in a body asks for, with the server password it carries; or the refusal.
fn decode(body: &[u8]) -> Result<(Asked, Option<String>), Refused> {
    let bad = |detail: &str| {
        (
            StatusCode::BAD_REQUEST,
            ErrorKind::BadFrame,
            detail.to_owned(),
        )
    };
    let Some(frame_body) = body.get(PREFIX_LEN..) else {
        return Err(bad("the body is not a frame"));
    };
    let frame: ClientFrame =
        decode_body(frame_body).map_err(|err| bad(&format!("not a valid client frame: {err}")))?;
    let (version, asked, server_password) = match frame {
        ClientFrame::SignIn {
            version,
            username,
            server_password,
            credential: Credential::Password { password, device },
            ..
        } => (
            version,
            Asked::SignIn {
                name: username,
                password,
                device,
            },
            server_password,
        ),
        ClientFrame::Register {
            version,
            username,
            server_password,
            password,
            device,
        } => (
            version,
            Asked::Register {
                name: username,
                password,
                device,
            },
            server_password,
        ),
        _ => {
            return Err(bad(
                "only SignIn with a password, or Register, signs in here",
            ))
        }
    };
    if version != PROTOCOL_VERSION {
        return Err((
            StatusCode::BAD_REQUEST,
            ErrorKind::VersionMismatch,
            format!(
                "this server speaks protocol version {PROTOCOL_VERSION}, the page speaks \
                 version {version}"
            ),
        ));
    }
    Ok((asked, server_password))
}

/// An `Error` frame as the answer, with `status`.
fn refusal(status: StatusCode, kind: ErrorKind, detail: &str) -> Response {
    let body = frame(&ServerFrame::Error {
        kind,
        detail: detail.to_owned(),
    });
    (status, binary(), body).into_response()
}

/// `frame`'s wire bytes.
fn frame(frame: &ServerFrame) -> Bytes {
    encode(frame)
        .map(|wire| Bytes::copy_from_slice(wire.as_bytes()))
        .unwrap_or_default()
}

/// The headers of a binary answer that no cache keeps.
fn binary() -> [(header::HeaderName, HeaderValue); 2] {
    [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
    ]
}
