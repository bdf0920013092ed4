//! `chat-client users`: who is online, or who is in one room, one name per line.

use crate::render::print_users;
use crate::session::checked_room;
use crate::settings::Settings;

/// List who is online (or in one room, with --room), one name per line.
///
/// Asking takes a registered connection; it joins no room, so no room sees it come and go,
/// and its name is left out of the list of everyone online.
#[derive(Debug, clap::Args)]
pub struct Users {
    /// List the members of this room instead (with or without '#'); exits 1 when nobody
    /// is in it
    #[arg(long, value_name = "ROOM")]
    room: Option<String>,
}

impl Users {
    /// Connects, asks for the list, prints it, says `Bye`.
    pub async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        let room = self.room.as_deref().map(checked_room).transpose()?;
        let mut session = settings.client().connect(&settings.name).await?;
        let users = match room {
            None => session.users().await,
            Some(room) => session.members(room).await.map(|room| room.members),
        };
        let me = session.name().to_owned();
        session.bye().await?;
        print_users(&users?, &me)?;
        Ok(())
    }
}
