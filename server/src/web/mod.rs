//! The web listener (`[http]`): the browser client's page, its WebSocket, `/healthz` and
//! `/metrics`, on a port of its own beside the chat port.
//!
//! `GET /ws` upgrades to a WebSocket whose binary messages carry the same frames as TCP
//! ([`socket`]); once upgraded, the connection is served by [`crate::connection::serve`]
//! like any other, under the same limits, flood control, keepalive, password and
//! connection counts, and tracked by the same shutdown. Before upgrading, the page's
//! `Origin` is checked ([`settings::AllowedOrigins`]) and the connection limits are applied
//! (a refused client still gets its typed error, over the WebSocket).
//!
//! Each accepted socket gets its own task: with `[tls]` the TLS handshake first (HTTPS and
//! WSS with the chat port's certificate), then HTTP/1.1 through hyper, whose request
//! headers must arrive within [`HEADER_TIMEOUT`].
//!
//! `[http]` is read by every build ([`settings`]); the listener itself is the `web` cargo
//! feature, on by default, so that a build without it (the fuzz targets') has no HTTP stack.

pub mod settings;

#[cfg(feature = "web")]
pub mod batched;
#[cfg(feature = "web")]
mod http;
#[cfg(feature = "web")]
pub mod page;
#[cfg(feature = "web")]
pub mod session;
#[cfg(feature = "web")]
pub mod socket;
#[cfg(feature = "web")]
pub mod upgrade;

#[cfg(feature = "web")]
pub use http::{serve, HEADER_TIMEOUT, MAX_HTTP_CONNECTIONS};
