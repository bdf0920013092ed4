//! `chat-client mod ...`: what a server operator does to others, signed in with this
//! device's session (`chat-client login` first).

use chat_proto::ClientFrame;

use super::signed_in;
use crate::reply::Reply;
use crate::settings::Settings;

/// Act as a server operator (an account the server's `[accounts] operators` names)
#[derive(Debug, clap::Args)]
pub struct Mod {
    /// What to do
    #[command(subcommand)]
    action: Action,
}

/// The operator's actions.
#[derive(Debug, clap::Subcommand)]
enum Action {
    /// Disconnect a person from the server; they are told the reason
    Disconnect {
        /// Who (any case)
        #[arg(value_name = "NAME")]
        user: String,
        /// Why, told to them and kept in the server's log
        #[arg(long, default_value = "")]
        reason: String,
    },
}

impl Mod {
    /// Carries out the action and says `Bye`; a refusal is exit status 1 with the server's
    /// words.
    pub async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        let mut session = signed_in(settings).await?;
        let Action::Disconnect { user, reason } = self.action;
        let reply = session
            .request(&ClientFrame::Disconnect { user, reason })
            .await?;
        session.bye().await?;
        if let Reply::Disconnected(user) = reply {
            println!("disconnected {}", crate::render::clean(&user));
        }
        Ok(())
    }
}
