//! `chat-client passwd`: change the account's password, signed in with the session kept;
//! every other device is signed out.

use chat_proto::ClientFrame;

use super::account::{read_passwords, PasswordSource};
use super::signed_in;
use crate::reply::Reply;
use crate::settings::Settings;

/// Change your account's password (signs out every other device)
#[derive(Debug, clap::Args)]
pub struct Passwd {
    /// Where the passwords come from.
    #[command(flatten)]
    source: PasswordSource,
}

impl Passwd {
    /// Asks for the current and the new password, changes it, says `Bye`.
    pub async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        // Asked first: a connection opened before the prompt would go unanswered while
        // the person types.
        let mut passwords = read_passwords(self.source, &["Current password: ", "New password: "])?;
        let mut session = signed_in(settings).await?;
        let (old, new) = (passwords.remove(0), passwords.remove(0));
        let reply = session
            .request(&ClientFrame::ChangePassword { old, new })
            .await?;
        session.bye().await?;
        if let Reply::PasswordChanged(ended) = reply {
            println!("password changed; {ended} other device(s) signed out");
        }
        Ok(())
    }
}
