//! `chat-client whisper USER TEXT`: a private message; exits 0 once it reached USER.

use chat_proto::validate;

use crate::cmd::UsageError;
use crate::settings::Settings;

/// Send a private message to one user; exits 1 when they are not online.
#[derive(Debug, clap::Args)]
pub struct Whisper {
    /// Who gets it (any case)
    user: String,
    /// The message (several words are joined with spaces)
    #[arg(required = true, value_name = "TEXT")]
    text: Vec<String>,
}

impl Whisper {
    /// Connects, whispers, waits for our copy (or the server's refusal), says `Bye`.
    pub async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        let text = self.text.join(" ");
        validate::username(&self.user)
            .map_err(|e| UsageError(format!("cannot whisper to {:?}: {e}", self.user)))?;
        validate::message(&text).map_err(|e| UsageError(e.to_string()))?;
        let mut session = settings.client().connect(&settings.name).await?;
        let outcome = session.whisper(&self.user, &text).await;
        // Leave cleanly even when refused, so the name is free at once.
        let bye = session.bye().await;
        outcome?;
        bye?;
        Ok(())
    }
}
