//! `chat-client rooms`: every room on the server with its member count.

use crate::render::print_rooms;
use crate::settings::Settings;

/// List the rooms, one `NAME MEMBERS` line each, sorted by name.
///
/// Asking takes a registered connection that joins no room, so the counts are the rooms'
/// own.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Lines: `lobby 3`. JSON: {\"room\": \"lobby\", \"members\": 3}, one per line.\n\
                        A room exists while someone is in it; an empty server prints nothing."
)]
pub struct Rooms {
    /// Print one JSON object per line instead of text
    #[arg(long)]
    json: bool,
}

impl Rooms {
    /// Connects, asks for the list, says `Bye`, prints it.
    pub async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        let mut session = settings.client().connect(&settings.name).await?;
        let rooms = session.rooms().await;
        session.bye().await?;
        print_rooms(rooms?, self.json)
    }
}
