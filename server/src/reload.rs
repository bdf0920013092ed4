//! Settings changed while the server runs (SIGHUP): what can change in place does, for
//! everyone, and nobody is disconnected.
//!
//! The binary reads `config.ini` again on SIGHUP and hands the result here
//! ([`crate::run`]'s `reloads`); a file that does not parse never gets here (it is refused
//! whole, with an ERROR naming file, section and key, and nothing changes). Of a file that
//! parses:
//! - **in place**, at once: `[limits]` (`max_clients` and `max_per_ip` for the next
//!   connection, `rooms_per_user`, `max_rooms` and `announce_up_to` for the next join,
//!   `max_queued_bytes` for the next check of the ceiling; the per-connection limits,
//!   flood control, deadlines and queue bounds for connections opened from then on), the
//!   server password (for the next handshake), `[accounts] registration`, `guests`,
//!   `session_max_age` and `operators` (for the next request), `[http] allowed_origins` and
//!   `metrics_token` (for the next request), and the TLS certificate and key (read again
//!   from their files even when the paths are the same: new handshakes use the new pair,
//!   live connections keep theirs);
//! - **at the next start only**: where the server listens (`[server] host`, `port`,
//!   `[http] port`), `[store]` and `[cluster]`. A change to one of them is
//!   named in a WARN line and the running value is kept.
//!
//! The settings in force are one [`crate::current::Current`]: every reader takes the whole of them at once
//! (a connection, when it opens), so that no reader sees half of an old file and half of a
//! new one.

use crate::config::Config;
use crate::connection::Shared;
use crate::hub::Limits;

/// What a reload did: the settings it changed, and those it kept that only a restart changes.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Reloaded {
    /// Settings now in force with their new values, as `[section] key`.
    pub changed: Vec<&'static str>,
    /// Settings that differ in the file but wait for a restart, as `[section] key`.
    pub kept: Vec<&'static str>,
}

/// Puts `next` (a file read again) in force for everyone sharing `shared`, but the settings
/// only a restart changes, which keep their running values; logs what changed at INFO and
/// what waits for a restart at WARN.
pub fn apply(shared: &Shared, mut next: Config) -> Reloaded {
    let now = shared.config.get();
    let mut reloaded = Reloaded::default();
    keep_restart_settings(&now, &mut next, &mut reloaded.kept);
    reloaded.changed = changed(&now, &next);
    shared
        .admission
        .set_limits(next.max_clients, next.max_per_ip);
    shared.queued.set_max(next.max_queued_bytes);
    shared.hub.set_limits(Limits {
        history: shared.hub.limits().history,
        ..Limits::from_config(&next)
    });
    if let Some(accounts) = &shared.accounts {
        accounts.set_config(next.accounts);
        accounts.set_operators(next.operators.clone());
    }
    shared.config.set(next);
    for key in &reloaded.kept {
        tracing::warn!(
            "Reload: {key} changed in the file, but only a restart applies it: kept as it was"
        );
    }
    if reloaded.changed.is_empty() {
        tracing::info!("Reloaded the settings: nothing changed");
    } else {
        tracing::info!("Reloaded the settings: {}", reloaded.changed.join(", "));
    }
    reloaded
}

/// Sets in `next` the running values of what only a restart changes, naming in `kept` those
/// that differ.
fn keep_restart_settings(now: &Config, next: &mut Config, kept: &mut Vec<&'static str>) {
    let mut keep = |differs: bool, key: &'static str| {
        if differs {
            kept.push(key);
        }
    };
    keep(next.host != now.host, "[server] host");
    next.host.clone_from(&now.host);
    keep(next.port != now.port, "[server] port");
    next.port = now.port;
    keep(next.buffsize != now.buffsize, "[server] buffsize");
    next.buffsize = now.buffsize;
    keep(next.store != now.store, "[store]");
    next.store.clone_from(&now.store);
    keep(next.cluster != now.cluster, "[cluster]");
    next.cluster.clone_from(&now.cluster);
    keep(next.tls.is_some() != now.tls.is_some(), "[tls] (on or off)");
    if next.tls.is_some() != now.tls.is_some() {
        next.tls.clone_from(&now.tls);
    }
    match (&now.http, &mut next.http) {
        (Some(now), Some(next)) => {
            keep(next.port != now.port, "[http] port");
            next.port = now.port;
        }
        (None, None) => {}
        _ => {
            keep(true, "[http] port (on or off)");
            next.http.clone_from(&now.http);
        }
    }
    next.source.clone_from(&now.source);
}

/// The settings that differ between `now` and `next`, as `[section] key`.
fn changed(now: &Config, next: &Config) -> Vec<&'static str> {
    let (now_http, next_http) = (now.http.clone(), next.http.clone());
    [
        (now.send_queue != next.send_queue, "[limits] send_queue"),
        (
            now.send_queue_bytes != next.send_queue_bytes,
            "[limits] send_queue_bytes",
        ),
        (
            now.max_queued_bytes != next.max_queued_bytes,
            "[limits] max_queued_bytes",
        ),
        (
            now.handshake_timeout != next.handshake_timeout,
            "[limits] handshake_timeout",
        ),
        (
            now.messages_per_second != next.messages_per_second,
            "[limits] messages_per_second",
        ),
        (now.burst != next.burst, "[limits] burst"),
        (
            now.flood_disconnect_after != next.flood_disconnect_after,
            "[limits] flood_disconnect_after",
        ),
        (
            now.flood_window != next.flood_window,
            "[limits] flood_window",
        ),
        (
            now.ping_interval != next.ping_interval,
            "[limits] ping_interval",
        ),
        (
            now.ping_timeout != next.ping_timeout,
            "[limits] ping_timeout",
        ),
        (now.max_clients != next.max_clients, "[limits] max_clients"),
        (now.max_per_ip != next.max_per_ip, "[limits] max_per_ip"),
        (
            now.announce_up_to != next.announce_up_to,
            "[limits] announce_up_to",
        ),
        (
            now.rooms_per_user != next.rooms_per_user,
            "[limits] rooms_per_user",
        ),
        (now.max_rooms != next.max_rooms, "[limits] max_rooms"),
        (now.password != next.password, "[server] password"),
        (now.log_level != next.log_level, "[server] log_level"),
        (
            now.accounts.registration != next.accounts.registration,
            "[accounts] registration",
        ),
        (
            now.accounts.guests != next.accounts.guests,
            "[accounts] guests",
        ),
        (now.operators != next.operators, "[accounts] operators"),
        (
            now.accounts.session_max_age != next.accounts.session_max_age,
            "[accounts] session_max_age",
        ),
        (
            now_http.as_ref().map(|h| &h.allowed_origins)
                != next_http.as_ref().map(|h| &h.allowed_origins),
            "[http] allowed_origins",
        ),
        (
            now_http.as_ref().map(|h| &h.metrics_token)
                != next_http.as_ref().map(|h| &h.metrics_token),
            "[http] metrics_token",
        ),
        // Read again from its files even when they are the same files: a renewed
        // certificate is usually written over the old one.
        (next.tls.is_some(), "[tls] cert and key"),
    ]
    .into_iter()
    .filter_map(|(differs, key)| differs.then_some(key))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What can change in place does, at once, for the hub, the admission and the next
    /// connection; what only a restart changes keeps its running value and is named.
    #[tokio::test]
    async fn a_reload_applies_limits_in_place_and_keeps_what_needs_a_restart() {
        let shared = Shared::new(Config::default());
        let next = Config {
            host: "192.0.2.1".to_owned(),
            rooms_per_user: 1,
            max_clients: 1,
            max_queued_bytes: 1 << 20,
            ..Config::default()
        };
        let reloaded = apply(&shared, next);
        assert_eq!(reloaded.kept, ["[server] host"]);
        assert_eq!(
            reloaded.changed,
            [
                "[limits] max_queued_bytes",
                "[limits] max_clients",
                "[limits] rooms_per_user"
            ]
        );
        let now = shared.config.get();
        assert_eq!(now.host, Config::default().host);
        assert_eq!(now.rooms_per_user, 1);
        assert_eq!(shared.hub.limits().rooms_per_user, 1);
        assert_eq!(shared.queued.max(), 1 << 20);
        let ip = std::net::IpAddr::from([127, 0, 0, 1]);
        let _first = shared.admission.admit(ip).unwrap();
        assert!(shared.admission.admit(ip).is_err());
    }
}
