//! `chat-client rooms`: every room on the server with its member count.

use chat_proto::validate::room_key;
use chat_proto::RoomSummary;

use crate::cmd::print_line;
use crate::render;
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

/// Prints `rooms` sorted by name (case-insensitively, as the server compares them), as
/// `NAME MEMBERS` lines or JSON lines.
pub fn print_rooms(mut rooms: Vec<RoomSummary>, json: bool) -> anyhow::Result<()> {
    rooms.sort_by_cached_key(|r| room_key(&r.name));
    let mut out = std::io::stdout().lock();
    for room in &rooms {
        let line = if json {
            render::room_json(room)
        } else {
            render::room_line(room)
        };
        if !print_line(&mut out, &line)? {
            break;
        }
    }
    Ok(())
}
