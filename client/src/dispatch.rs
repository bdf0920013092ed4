//! Runs a parsed command line: resolves the settings, sets up logging and the runtime the
//! subcommand needs, and hands over to it. What each subcommand does is [`crate::cmd`]'s;
//! how a failure is told and which exit status it gets is [`crate::cmd::error_line`]'s and
//! [`crate::cmd::exit_code`]'s.
//!
//! One-shot commands and `listen` run on a current-thread runtime and log to stderr (or
//! `--log-file`); `repl` owns its threads and logs only to a file; `bench` builds its own
//! multi-threaded runtime.

use std::fs::OpenOptions;
use std::sync::Mutex;

use anyhow::Context;

use crate::cli::{Cli, Command};
use crate::cmd::UsageError;
use crate::settings::Settings;

/// Runs the command line: resolves the settings, sets up logging, runs the subcommand.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::resolve(&cli.args)?;
    if let Command::Repl(repl) = cli.command {
        if settings.log_file.is_some() {
            init_logging(&settings)?;
        }
        return repl.run(&settings);
    }
    if let Command::Bench(bench) = cli.command {
        // Thousands of connections: it builds its own multi-threaded runtime.
        init_logging(&settings)?;
        return bench.run(&settings);
    }
    init_logging(&settings)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::Send(send) => send.run(&settings).await,
            Command::Whisper(whisper) => whisper.run(&settings).await,
            Command::Users(users) => users.run(&settings).await,
            Command::Rooms(rooms) => rooms.run(&settings).await,
            Command::Listen(listen) => listen.run(&settings).await,
            Command::History(history) => history.run(&settings).await,
            Command::Register(register) => register.run(&settings).await,
            Command::Login(login) => login.run(&settings).await,
            Command::Passwd(passwd) => passwd.run(&settings).await,
            Command::Logout(logout) => logout.run(&settings).await,
            Command::Sessions(sessions) => sessions.run(&settings).await,
            Command::Mod(action) => action.run(&settings).await,
            Command::Modlog(log) => log.run(&settings).await,
            Command::Search(search) => search.run(&settings).await,
            Command::Repl(_) | Command::Bench(_) => {
                unreachable!("handled above, before the runtime starts")
            }
        }
    });
    // A read of stdin may still be blocked in tokio's thread pool (`send -` stopped early);
    // waiting for it would hang the exit.
    runtime.shutdown_background();
    outcome
}

/// Logs in the house format to `--log-file` (appended) or stderr; `warn` unless
/// `--log-level` or `RUST_LOG` say otherwise.
fn init_logging(settings: &Settings) -> anyhow::Result<()> {
    let env_filter = std::env::var("RUST_LOG").ok();
    let level = settings
        .log_level
        .as_deref()
        .or(env_filter.as_deref())
        .unwrap_or("warn");
    match &settings.log_file {
        Some(path) => {
            let file = OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("cannot open log file {}", path.display()))?;
            chat_proto::logging::init(Some(level), Mutex::new(file))
        }
        None => chat_proto::logging::init(Some(level), std::io::stderr),
    }
    .map_err(|e| UsageError(e.to_string()))?;
    Ok(())
}
