//! `chat-client logout`: end this device's session on the server and forget its token.

use chat_proto::{ClientFrame, Revocation};

use crate::error::ClientError;
use crate::settings::Settings;
use crate::tokens::Tokens;

/// Sign out on this device: the server ends its session and the token kept is deleted
#[derive(Debug, clap::Args)]
pub struct Logout {}

impl Logout {
    /// Revokes this session (the server then closes the connection) and forgets the token.
    pub async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        let mut session = super::signed_in(settings).await?;
        let name = session.name().to_owned();
        session
            .send(&ClientFrame::Revoke {
                which: Revocation::This,
            })
            .await?;
        // `Revoked`, then `SessionEnded` and the close: the server has ended it.
        loop {
            match session.next_frame().await {
                Ok(Some(_)) => {}
                Ok(None) | Err(ClientError::Refused { .. }) | Err(ClientError::Closed { .. }) => {
                    break
                }
                Err(err) => return Err(err.into()),
            }
        }
        if let Some(tokens) = Tokens::locate() {
            tokens.remove(&settings.host, settings.port, &name)?;
        }
        println!("signed out {name} on this device");
        Ok(())
    }
}
