//! The command-line flags. Each one that overrides `config.ini` is an `Option` with no
//! default, so that [`crate::config`] can tell "not given" from "given".

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::web::settings::HttpPort;

/// chat-server: a chat room over a typed binary protocol.
///
/// Settings come from --config PATH, else ./config.ini when present, else built-in defaults
/// equal to the shipped config.ini; the flags below override them.
#[derive(Debug, Clone, Parser)]
#[command(name = "chat-server", version, about, long_about)]
pub struct Cli {
    /// Read settings from this file; it must exist (default: ./config.ini when present).
    #[arg(long, value_name = "PATH")]
    pub config: Option<PathBuf>,

    /// Host name or IP address to listen on (overrides [server] host).
    #[arg(long, value_name = "HOST")]
    pub host: Option<String>,

    /// TCP port to listen on; 0 picks a free one, logged as "Listening on" (overrides [server] port).
    #[arg(long, value_name = "PORT")]
    pub port: Option<u16>,

    /// Port of the web client, /healthz and /metrics on the same host; 0 picks a free one,
    /// logged as "Web client at"; off: no web listener (overrides [http] port).
    #[arg(long, value_name = "PORT|off")]
    pub http_port: Option<HttpPort>,

    /// Log filter, e.g. "debug" or "chat_server=debug,warn" (default: RUST_LOG, else "info").
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,

    /// Instead of serving: manage the accounts in [store] path (the server may be running).
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// What `chat-server` can do besides serving.
#[derive(Debug, Clone, Subcommand)]
pub enum Command {
    /// Make, delete or list accounts (with `[accounts] registration = closed`, the only way
    /// accounts are made)
    Account {
        /// What to do.
        #[command(subcommand)]
        action: AccountAction,
    },
}

/// `chat-server account ...`.
#[derive(Debug, Clone, Subcommand)]
pub enum AccountAction {
    /// Make an account for NAME; the password is read from a prompt without echo, or from
    /// the first line of stdin with --password-stdin
    Add {
        /// The name, as it should be shown.
        name: String,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Delete the account NAME: its name is free again and its devices' sessions end (a
    /// running server's open connections of it stay until they close)
    Delete {
        /// The name, in any case.
        name: String,
    },
    /// List the accounts, one `NAME CREATED SESSIONS` line each, sorted by name
    List,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    #[test]
    fn the_flag_definitions_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn absent_flags_stay_absent_so_the_file_wins() {
        let cli = Cli::try_parse_from(["chat-server"]).unwrap();
        assert_eq!((cli.host, cli.port, cli.config), (None, None, None));
        let cli =
            Cli::try_parse_from(["chat-server", "--port", "0", "--host", "127.0.0.1"]).unwrap();
        assert_eq!(cli.port, Some(0));
        assert_eq!(cli.host.as_deref(), Some("127.0.0.1"));
        assert!(Cli::try_parse_from(["chat-server", "--port", "abc"]).is_err());
        let off = Cli::try_parse_from(["chat-server", "--http-port", "off"]).unwrap();
        assert_eq!(off.http_port, Some(HttpPort(None)));
        assert!(Cli::try_parse_from(["chat-server", "--http-port", "on"]).is_err());
        assert!(cli.command.is_none(), "no subcommand: serve");
        let add = Cli::try_parse_from(["chat-server", "account", "add", "ann"]).unwrap();
        assert!(matches!(
            add.command,
            Some(Command::Account {
                action: AccountAction::Add { name, password_stdin: false }
            }) if name == "ann"
        ));
    }
}
