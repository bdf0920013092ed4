//! The `chat-client` command line. The doc comments are the `--help` text.
//!
//! Flags shared by every subcommand live in [`Args`] and may come before or after the
//! subcommand; [`crate::settings`] resolves them against `config.ini`. Each subcommand's own
//! flags live beside its code in [`crate::cmd`].

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::cmd;

/// Chat from the terminal or from scripts.
///
/// Exit status: 0 success, 1 failure at run time (server unreachable, name taken, no such
/// user or room, bad room name, timeout), 2 usage error (bad flag, bad config.ini, no
/// usable name).
#[derive(Debug, Parser)]
#[command(name = "chat-client", version, about, long_about)]
pub struct Cli {
    /// Flags every subcommand takes.
    #[command(flatten)]
    pub args: Args,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Where the server is, who we are, and how to log.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// Read [server] host, port and buffsize from this file [default: ./config.ini when it
    /// exists, else built-in defaults: localhost, 6969, 1024]
    #[arg(long, value_name = "PATH", global = true)]
    pub config: Option<PathBuf>,
    /// Server host name or address [default: [server] host]
    #[arg(long, global = true)]
    pub host: Option<String>,
    /// Server port [default: [server] port]
    #[arg(long, global = true)]
    pub port: Option<u16>,
    /// Name to chat under [default: your login name]
    #[arg(long, env = "CHAT_NAME", global = true)]
    pub name: Option<String>,
    /// Connect over TLS, trusting the CAs this system trusts [default: [client] tls in the
    /// config file, else off]
    #[arg(long, global = true)]
    pub tls: bool,
    /// Connect over TLS, trusting only the CA certificate(s) in this PEM file: for a server
    /// whose certificate comes from a private CA [default: [client] ca]
    #[arg(long, value_name = "FILE", global = true)]
    pub ca: Option<PathBuf>,
    /// The server's password, for a server with [server] password (prefer CHAT_PASSWORD:
    /// other users can see command lines)
    #[arg(long, env = "CHAT_PASSWORD", hide_env_values = true, global = true)]
    pub password: Option<String>,
    /// Seconds to wait for the server to connect or to answer
    #[arg(long, value_name = "SECS", default_value = "10", value_parser = parse_seconds, global = true)]
    pub timeout: Duration,
    /// Log filter: error, warn, info, debug, trace, or RUST_LOG syntax [default: $RUST_LOG,
    /// else warn]
    #[arg(long, value_name = "FILTER", global = true)]
    pub log_level: Option<String>,
    /// Append logs to this file instead of stderr (the repl logs nothing without it)
    #[arg(long, value_name = "PATH", global = true)]
    pub log_file: Option<PathBuf>,
}

/// The subcommands, one file each under `src/cmd/`.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Send a message to a room (lobby unless --room); exits 0 once the server has
    /// delivered it
    Send(cmd::send::Send),
    /// Send a private message to one user; exits 1 when they are not online
    Whisper(cmd::whisper::Whisper),
    /// List who is online (or in one room, with --room), one name per line
    Users(cmd::users::Users),
    /// List the rooms, one `NAME MEMBERS` line each, sorted by name
    Rooms(cmd::rooms::Rooms),
    /// Stay in rooms (lobby unless --room) and print every message and notice, one line each
    Listen(cmd::listen::Listen),
    /// Print a room's past messages (lobby unless --room), oldest first
    History(cmd::history::History),
    /// Chat interactively: line editing, history, Tab completion
    Repl(cmd::repl::Repl),
    /// Measure the server: deliveries/s, loss and latency with many clients, or idle memory
    Bench(cmd::bench::Bench),
}

/// A positive number of seconds, fractions allowed (`0.5`).
fn parse_seconds(text: &str) -> Result<Duration, String> {
    match text.parse::<f64>() {
        Ok(secs) if secs > 0.0 && secs.is_finite() => Ok(Duration::from_secs_f64(secs)),
        _ => Err(format!("{text:?} is not a positive number of seconds")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_definition_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn history_flags_default_and_exclude_each_other() {
        let parse = |args: &[&str]| {
            Cli::try_parse_from(["chat-client", "history"].iter().chain(args).copied())
        };
        assert!(parse(&[]).is_ok());
        assert!(parse(&["--limit", "100000", "--after", "7", "--json"]).is_ok());
        assert!(parse(&["--before", "3", "--after", "7"]).is_err());
        assert!(parse(&["--limit", "0"]).is_err());
    }

    #[test]
    fn shared_flags_work_after_the_subcommand() {
        let cli = Cli::try_parse_from([
            "chat-client",
            "send",
            "--port",
            "7000",
            "--timeout",
            "0.5",
            "hello",
            "world",
        ])
        .unwrap();
        assert_eq!(cli.args.port, Some(7000));
        assert_eq!(cli.args.timeout, Duration::from_millis(500));
        assert!(matches!(cli.command, Command::Send(_)));
        assert!(Cli::try_parse_from(["chat-client", "send", "--timeout", "0", "x"]).is_err());
    }
}
