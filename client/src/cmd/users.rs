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
        let me = name_key(session.name());
        session.bye().await?;
        let mut out = std::io::stdout().lock();
        for user in users?.iter().filter(|u| name_key(u) != me) {
            if !print_line(&mut out, user)? {
                break;
            }
        }
        Ok(())
    }
}
