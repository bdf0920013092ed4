//! One file per subcommand, each a clap `Args` struct with a `run` method, and what they
//! share: the rooms of `--room`, the usage error, and how a failure is told ([`error_line`],
//! which adds what to try for the failures people hit, and [`exit_code`]).
//!
//! Which subcommand runs, on which runtime and with which logging, is
//! [`crate::dispatch`]'s; how frames and lists look on stdout is [`crate::render`]'s.

pub mod account;
pub mod bench;
pub mod history;
pub mod listen;
pub mod login;
pub mod logout;
pub mod moderate;
pub mod passwd;
pub mod register;
pub mod repl;
pub mod rooms;
pub mod search;
pub mod send;
pub mod sessions;
pub mod users;
pub mod whisper;

use std::process::ExitCode;

use chat_proto::validate::{room_key, DEFAULT_ROOM};
use chat_proto::ErrorKind;

use crate::error::ClientError;
use crate::session::checked_room;
use crate::settings::SettingsError;

/// A connection signed in with the token kept for `settings.name`, to manage the account
/// (it does not go online, so it works while the account chats on another device): what the
/// account subcommands need. Without a token kept here, nothing is asked.
pub async fn signed_in(settings: &crate::settings::Settings) -> anyhow::Result<crate::Session> {
    match settings.client().manage(&settings.name).await? {
        Some(session) => Ok(session),
        None => anyhow::bail!(
            "not signed in as {} on this device: chat-client login first",
            settings.name
        ),
    }
}

/// What to try after a room name the server refuses, or would.
const ROOM_RULES: &str =
    "room names are 1-32 letters, digits, '_', '-' or '.' (#rust and rust are one room)";

/// An error in what the user asked for (a bad message line, a bad flag value found late):
/// exit status 2, like clap's own usage errors.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UsageError(pub String);

/// The exit status for a failed run: 2 when the user must change the command or the
/// config, 1 for everything that went wrong at run time.
pub fn exit_code(err: &anyhow::Error) -> ExitCode {
    if err.is::<SettingsError>() || err.is::<UsageError>() {
        ExitCode::from(2)
    } else {
        ExitCode::FAILURE
    }
}

/// The one line printed for a failed run: what went wrong (every cause, `{:#}`), then what
/// to try, when we know.
pub fn error_line(err: &anyhow::Error) -> String {
    let hint = err
        .chain()
        .find_map(|e| e.downcast_ref::<ClientError>())
        .and_then(hint);
    match hint {
        Some(hint) => format!("{err:#} — {hint}"),
        None => format!("{err:#}"),
    }
}

/// What to try after `err`.
pub fn hint(err: &ClientError) -> Option<&'static str> {
    Some(match err {
        ClientError::Connect { .. } => "is chat-server running? (try --host/--port)",
        ClientError::Tls { source, .. } if crate::transport::is_untrusted_certificate(source) => {
            "the server's certificate is not signed by a CA trusted here, or does not name \
             --host: pass --ca FILE with the CA that signed it"
        }
        ClientError::Tls { .. } => "does the server speak TLS? (drop --tls for a plain server)",
        ClientError::Timeout { .. } => {
            "is the server overloaded or the address wrong? (try --timeout)"
        }
        ClientError::Closed { .. } => "the server may be restarting; try again",
        ClientError::TooLarge { .. } => {
            "split it into shorter messages (the limit is [server] buffsize in config.ini)"
        }
        ClientError::BadName { .. } => "pass another with --name NAME or CHAT_NAME",
        ClientError::BadRoom { .. } => ROOM_RULES,
        ClientError::Refused { kind, .. } => match kind {
            ErrorKind::NameTaken | ErrorKind::InvalidName => {
                "pick another name with --name NAME or CHAT_NAME"
            }
            ErrorKind::NoSuchUser => "`chat-client users` lists who is online",
            ErrorKind::RateLimited => "slow down and try again",
            ErrorKind::VersionMismatch => "use a chat-client of the same version as the server",
            ErrorKind::ServerFull | ErrorKind::TooManyConnections | ErrorKind::ShuttingDown => {
                "try again later"
            }
            ErrorKind::AuthFailed => "check the server password",
            ErrorKind::InvalidRoom => ROOM_RULES,
            ErrorKind::NotInRoom => "join the room first (--room ROOM; /join ROOM in the repl)",
            ErrorKind::TooManyRooms => "join fewer rooms (the server's [limits] rooms_per_user)",
            ErrorKind::RoomsFull => "`chat-client rooms` lists the rooms there are",
            ErrorKind::NoSuchRoom => {
                "a room exists while someone is in it; `chat-client rooms` lists them"
            }
            ErrorKind::HistoryOff => {
                "this server keeps no history (its config.ini has [store] path = off)"
            }
            ErrorKind::StoreFailed => "the server's disk is full or failing; try again later",
            ErrorKind::ClusterUnavailable => {
                "the server cannot reach the rest of its cluster; try again later"
            }
            ErrorKind::NameRegistered => "sign in first: chat-client login (or pick another name)",
            ErrorKind::WrongPassword => "check the name and the password",
            ErrorKind::SessionEnded | ErrorKind::NotSignedIn => {
                "sign in again on this device: chat-client login"
            }
            ErrorKind::WeakPassword => {
                "use at least 8 characters, not a common password nor your name"
            }
            ErrorKind::RegistrationClosed => "ask the server's operator for an account",
            ErrorKind::GuestsOff => "this server is for accounts: chat-client register or login",
            ErrorKind::AccountsOff => "this server keeps no accounts: connect as a guest",
            ErrorKind::NotPermitted => "only the server's operators ([accounts] operators) may",
            ErrorKind::Removed => "an operator disconnected you",
            _ => return None,
        },
        ClientError::Unexpected { .. } | ClientError::Transport { .. } => {
            "is that address a chat-server, and does it want --tls? (check --host/--port)"
        }
    })
}

/// The rooms of a `--room` flag (repeatable), checked before connecting: without `#`, each
/// once (compared as the server compares them), in the order given; `lobby` when none.
pub fn resolve_rooms(given: &[String]) -> Result<Vec<String>, ClientError> {
    if given.is_empty() {
        return Ok(vec![DEFAULT_ROOM.to_owned()]);
    }
    let mut rooms: Vec<String> = Vec::with_capacity(given.len());
    for room in given {
        let room = checked_room(room)?;
        if !rooms.iter().any(|r| room_key(r) == room_key(room)) {
            rooms.push(room.to_owned());
        }
    }
    Ok(rooms)
}

/// `err` and its causes on one line, the way `{:#}` prints an `anyhow::Error`.
pub fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_print_as_one_line_with_cause_and_hint() {
        let err = anyhow::Error::from(ClientError::Connect {
            addr: "localhost:6969".into(),
            source: std::io::Error::from(std::io::ErrorKind::ConnectionRefused),
        });
        let line = error_line(&err);
        assert_eq!(
            line,
            "cannot connect to localhost:6969: connection refused — is chat-server running? (try --host/--port)"
        );
        assert_eq!(exit_code(&err), ExitCode::FAILURE);
        let usage = anyhow::Error::from(SettingsError::NoName);
        assert_eq!(exit_code(&usage), ExitCode::from(2));
    }

    #[test]
    fn room_flags_are_checked_deduplicated_and_default_to_lobby() {
        assert_eq!(resolve_rooms(&[]).unwrap(), ["lobby"]);
        let given = ["#Rust", "ops", "rust"].map(String::from);
        assert_eq!(resolve_rooms(&given).unwrap(), ["Rust", "ops"]);
        let bad = anyhow::Error::from(resolve_rooms(&["b@d".to_owned()]).unwrap_err());
        assert_eq!(
            error_line(&bad),
            format!(
                "cannot use room \"b@d\": a room name may only use letters, digits, '_', '-' \
                 and '.', not '@' — {ROOM_RULES}"
            )
        );
        assert_eq!(exit_code(&bad), ExitCode::FAILURE);
    }
}
