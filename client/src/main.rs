//! `chat-client`: parse the command line, run the subcommand, turn the outcome into an exit
//! status and, on failure, one line on stderr.

use std::process::ExitCode;

use clap::Parser;

use chat_client::cli::Cli;
use chat_client::{cmd, dispatch};

fn main() -> ExitCode {
    // Whatever happens, the user sees one line, not a backtrace.
    std::panic::set_hook(Box::new(|info| {
        let what = info
            .payload()
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| info.payload().downcast_ref::<String>().cloned())
            .unwrap_or_default();
        let place = info
            .location()
            .map(|l| format!(" at {}:{}", l.file(), l.line()))
            .unwrap_or_default();
        eprintln!("error: internal error{place}: {what}; please report it");
    }));
    match run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", cmd::error_line(&err));
            cmd::exit_code(&err)
        }
    }
}

fn run() -> anyhow::Result<ExitCode> {
    // clap prints its own usage errors and exits 2.
    dispatch::run(Cli::parse())?;
    Ok(ExitCode::SUCCESS)
}
