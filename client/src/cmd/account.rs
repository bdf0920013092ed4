//! What the account subcommands share (`register`, `login`, `passwd`, `logout`,
//! `sessions`): reading a password without it ever reaching a command line, and keeping the
//! token a sign-in gave back.

use std::io::BufRead;

use anyhow::Context;
use chat_proto::Secret;

use crate::session::Session;
use crate::settings::Settings;
use crate::tokens::Tokens;

/// The environment variable an account password may come from, for scripts: not
/// `CHAT_PASSWORD`, which is the server's own password (`--password`).
pub const PASSWORD_ENV: &str = "CHAT_ACCOUNT_PASSWORD";

/// Where a password comes from.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct PasswordSource {
    /// Read the password from the first line of stdin (for `passwd`: the current one, then
    /// the new one on the next line) instead of a prompt or CHAT_ACCOUNT_PASSWORD
    #[arg(long)]
    pub password_stdin: bool,
}

/// Reads passwords for `prompts`, in order: from stdin's lines with `--password-stdin`,
/// else the first from `CHAT_ACCOUNT_PASSWORD` if set, else from prompts on the terminal
/// without echo.
pub fn read_passwords(source: PasswordSource, prompts: &[&str]) -> anyhow::Result<Vec<Secret>> {
    let mut passwords = Vec::with_capacity(prompts.len());
    let mut stdin = std::io::stdin().lock();
    for (i, prompt) in prompts.iter().enumerate() {
        let text = if source.password_stdin {
            let mut line = String::new();
            stdin
                .read_line(&mut line)
                .context("cannot read a password from stdin")?;
            let line = line.trim_end_matches(['\r', '\n']).to_owned();
            if line.is_empty() {
                anyhow::bail!("no password on line {} of stdin", i + 1);
            }
            line
        } else if let Some(text) = std::env::var(PASSWORD_ENV).ok().filter(|_| i == 0) {
            text
        } else {
            rpassword::prompt_password(prompt)
                .with_context(|| format!("cannot read a password ({prompt}) from the terminal"))?
        };
        passwords.push(Secret::new(text));
    }
    Ok(passwords)
}

/// Keeps the token `session` was given, for `settings.name` on its server; says where.
pub fn keep_token(settings: &Settings, session: &Session) -> anyhow::Result<()> {
    let Some(token) = session.signed_in().and_then(|s| s.token.as_ref()) else {
        anyhow::bail!("the server sent no session token");
    };
    let tokens = Tokens::locate().context("no home directory to keep the session token in")?;
    let path = tokens
        .save(&settings.host, settings.port, &settings.name, token)
        .context("cannot keep the session token")?;
    tracing::info!("Session token kept in {}", path.display());
    Ok(())
}

/// The label of this device in the account's session list, unless `--device` says.
pub fn default_device() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty());
    match host {
        Some(host) => format!("chat-client on {host}"),
        None => "chat-client".to_owned(),
    }
}
