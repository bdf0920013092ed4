//! One worker of a names run: it takes guest numbers from the shared counter and lets each
//! guest come and go on a connection of its own: connect, register, `Bye`, and wait until
//! the server closes the connection (it has then given the name back).

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::conn::Conn;
use super::{guest_name, Shared};
use crate::error::ClientError;

/// Lets guests come and go until none are left; guest `i` connects from
/// `sources[i mod K]` (the system's choice when there are none). A guest that fails is
/// counted and the worker goes on with the next.
pub async fn churn(addr: SocketAddr, sources: Arc<[IpAddr]>, shared: Arc<Shared>) {
    while let Some(i) = shared.take() {
        let name = guest_name(&shared.prefix, i);
        let from = (!sources.is_empty()).then(|| sources[(i % sources.len() as u64) as usize]);
        let conn = match Conn::hello(addr, from, &name, shared.wait).await {
            Ok(conn) => conn,
            Err(ClientError::Refused { kind, detail }) => {
                shared.refused.fetch_add(1, Ordering::SeqCst);
                shared.note(format!("{name}: {kind:?}: {detail}"));
                continue;
            }
            Err(err) => {
                shared.failed.fetch_add(1, Ordering::SeqCst);
                shared.note(format!("{name}: {err}"));
                continue;
            }
        };
        shared.started.fetch_add(1, Ordering::SeqCst);
        match conn.bye().await {
            Ok(()) => {
                shared.finished.fetch_add(1, Ordering::SeqCst);
            }
            Err(err) => {
                shared.failed.fetch_add(1, Ordering::SeqCst);
                shared.note(format!("{name}: {err}"));
            }
        }
    }
}
