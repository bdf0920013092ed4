//! `chat-client register`: make an account for `--name` and sign in on this device.

use super::account::{default_device, keep_token, read_passwords, PasswordSource};
use crate::settings::Settings;

/// Make an account for your name and stay signed in on this device; the password is read
/// from a prompt without echo (or --password-stdin, or CHAT_ACCOUNT_PASSWORD)
#[derive(Debug, clap::Args)]
pub struct Register {
    /// Where the password comes from.
    #[command(flatten)]
    source: PasswordSource,
    /// What to call this device in `chat-client sessions` [default: chat-client on HOST]
    #[arg(long, value_name = "LABEL")]
    device: Option<String>,
}

impl Register {
    /// Registers, keeps the token, says `Bye`.
    pub async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        let mut passwords = read_passwords(self.source, &["New password: "])?;
        let password = passwords.remove(0);
        let device = self.device.unwrap_or_else(default_device);
        let session = settings
            .client()
            .register(&settings.name, password, &device)
            .await?;
        keep_token(settings, &session)?;
        let name = session.name().to_owned();
        session.bye().await?;
        println!("registered {name}; signed in on this device");
        Ok(())
    }
}
