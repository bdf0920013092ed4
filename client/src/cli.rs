//! The `chat-client` command line as clap parses it: the shared flags and one subcommand.
//! The doc comments are the `--help` text.
//!
//! This module only composes: the flags shared by every subcommand are
//! [`crate::settings::Args`] (they may come before or after the subcommand, and
//! [`crate::settings`] resolves them against `config.ini`), each subcommand's own flags
//! live beside its code in [`crate::cmd`], and [`crate::dispatch`] runs what was parsed.

use clap::{Parser, Subcommand};

use crate::cmd;
use crate::settings::Args;

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
    /// Make an account for your name and stay signed in on this device
    Register(cmd::register::Register),
    /// Sign in to your account on this device (the other subcommands then need no password)
    Login(cmd::login::Login),
    /// Change your account's password (signs out every other device)
    Passwd(cmd::passwd::Passwd),
    /// Sign out on this device
    Logout(cmd::logout::Logout),
    /// List your account's signed-in devices, or sign some out
    Sessions(cmd::sessions::Sessions),
    /// Moderate: claim and run a room (kick, ban, mute, topic, settings, remove a message),
    /// or, as a server operator, disconnect, ban and suspend
    Mod(cmd::moderate::Mod),
    /// Read the moderation log
    Modlog(cmd::moderate::ModLog),
    /// Find the messages of a room (lobby unless --room) that hold every word, newest first
    Search(cmd::search::Search),
    /// Measure the server: deliveries/s, loss and latency with many clients, idle memory,
    /// or rooms and guests that come and go
    Bench(cmd::bench::Bench),
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

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
