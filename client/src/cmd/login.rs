//! `chat-client login`: sign in to the account `--name` with its password, once per device;
//! every other subcommand then signs in with the token kept.

use chat_proto::Credential;

use super::account::{default_device, keep_token, read_passwords, PasswordSource};
use crate::settings::Settings;

/// Sign in to your account on this device: the other subcommands then use the session
/// kept, with no password
#[derive(Debug, clap::Args)]
pub struct Login {
    /// Where the password comes from.
    #[command(flatten)]
    source: PasswordSource,
    /// What to call this device in `chat-client sessions` [default: chat-client on HOST]
    #[arg(long, value_name = "LABEL")]
    device: Option<String>,
}

impl Login {
    /// Signs in with the password, keeps the token, says `Bye`.
    pub async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        let mut passwords = read_passwords(self.source, &["Password: "])?;
        let password = passwords.remove(0);
        let device = self.device.unwrap_or_else(default_device);
        let session = settings
            .client()
            .sign_in(&settings.name, Credential::Password { password, device })
            .await?;
        keep_token(settings, &session)?;
        let name = session.name().to_owned();
        session.bye().await?;
        println!("signed in as {name}");
        Ok(())
    }
}
