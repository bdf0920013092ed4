//! `chat-client users`: who is online, one name per line.

use chat_proto::validate::name_key;

use crate::cmd::print_line;
use crate::settings::Settings;

/// List who is online, one name per line.
///
/// Asking takes a registered connection, so the room briefly sees us join and leave; the
/// name of that short-lived connection is not printed.
#[derive(Debug, clap::Args)]
pub struct Users {}

impl Users {
    /// Connects, asks for the list, prints it, says `Bye`.
    pub async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        let mut session = settings.client().connect(&settings.name).await?;
        let users = session.users().await;
        let me = session.name().to_owned();
        session.bye().await?;
        print_users(&users?, &me)?;
        Ok(())
    }
}

/// Prints `users` one per line, leaving out `me`: the short-lived connection that asked.
pub fn print_users(users: &[String], me: &str) -> anyhow::Result<()> {
    let me = name_key(me);
    let mut out = std::io::stdout().lock();
    for user in users.iter().filter(|u| name_key(u) != me) {
        if !print_line(&mut out, user)? {
            break;
        }
    }
    Ok(())
}
