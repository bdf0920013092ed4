//! `chat-client listen`: follow the room, one line per event, for people and for pipes.

use chat_proto::ServerFrame;

use crate::cmd::print_line;
use crate::render::{self, Style};
use crate::settings::Settings;
use crate::ClientError;

/// Stay connected and print every message and notice, one line each.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Lines: `alice: hi`, `[whisper] alice -> bob: psst`, `* bob joined`.\n\
                        JSON: {\"type\": \"msg\"|\"whisper\"|\"system\", \"from\", \"to\", \"text\", \"time\"},\n\
                        null where a key does not apply; time is RFC 3339 in UTC with milliseconds."
)]
pub struct Listen {
    /// Exit 0 after N chat messages (messages and whispers; notices do not count)
    #[arg(long, value_name = "N")]
    count: Option<u64>,
    /// Print one JSON object per line instead of text
    #[arg(long)]
    json: bool,
}

impl Listen {
    /// Connects and prints events until `--count` is reached, stdout closes, or the server
    /// goes away (exit 1).
    pub async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        let mut session = settings.client().connect(&settings.name).await?;
        tracing::info!(
            "Connected to {} as {} ({} online)",
            session.addr(),
            session.name(),
            session.online()
        );
        let style = Style::plain().with_me(session.name());
        let mut out = std::io::stdout().lock();
        let mut seen = 0;
        while self.count.is_none_or(|n| seen < n) {
            let frame = session
                .next_frame()
                .await?
                .ok_or_else(|| ClientError::Closed {
                    addr: session.addr().to_owned(),
                })?;
            if let ServerFrame::Error { detail, .. } = &frame {
                // A refusal of something we never sent; worth a note, not an exit.
                tracing::warn!("Server error: {detail}");
                continue;
            }
            if matches!(frame, ServerFrame::Msg { .. } | ServerFrame::Whisper { .. }) {
                seen += 1;
            }
            let line = if self.json {
                render::json(&frame)
            } else {
                style.line(&frame)
            };
            if let Some(line) = line {
                if !print_line(&mut out, &line)? {
                    break;
                }
            }
        }
        session.bye().await?;
        Ok(())
    }
}
