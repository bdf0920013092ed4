//! `chat-client sessions`: the account's devices, one line each; or end one, every other,
//! or all of them.

use chat_proto::{ClientFrame, Revocation};

use super::signed_in;
use crate::render::rfc3339;
use crate::reply::Reply;
use crate::settings::Settings;
use crate::tokens::Tokens;

/// List your account's signed-in devices (`ID CREATED LAST-USED DEVICE`, * for this one),
/// or sign some out
#[derive(Debug, clap::Args)]
pub struct Sessions {
    /// Sign out the device with this ID
    #[arg(long, value_name = "ID", conflicts_with_all = ["revoke_others", "revoke_all"])]
    revoke: Option<u64>,
    /// Sign out every other device
    #[arg(long, conflicts_with = "revoke_all")]
    revoke_others: bool,
    /// Sign out everywhere, this device included
    #[arg(long)]
    revoke_all: bool,
}

impl Sessions {
    /// Lists or revokes, then says `Bye` (or is closed, when this session ended).
    pub async fn run(self, settings: &Settings) -> anyhow::Result<()> {
        let mut session = signed_in(settings).await?;
        let which = match (self.revoke, self.revoke_others, self.revoke_all) {
            (Some(id), _, _) => Some(Revocation::One(id)),
            (None, true, _) => Some(Revocation::Others),
            (None, false, true) => Some(Revocation::All),
            (None, false, false) => None,
        };
        let Some(which) = which else {
            let reply = session.request(&ClientFrame::ListSessions).await?;
            session.bye().await?;
            if let Reply::Sessions(sessions) = reply {
                for s in sessions {
                    let mark = if s.current { "*" } else { " " };
                    println!(
                        "{mark}{} {} {} {}",
                        s.id,
                        rfc3339(s.created),
                        rfc3339(s.last_used),
                        crate::render::clean(&s.device)
                    );
                }
            }
            return Ok(());
        };
        let own = session.signed_in().map(|s| s.session);
        let name = session.name().to_owned();
        let reply = session.request(&ClientFrame::Revoke { which }).await?;
        let ended_here =
            matches!(which, Revocation::All) || (which == Revocation::One(own.unwrap_or(0)));
        if ended_here {
            if let Some(tokens) = Tokens::locate() {
                tokens.remove(&settings.host, settings.port, &name)?;
            }
        } else {
            session.bye().await?;
        }
        if let Reply::Revoked(count) = reply {
            println!("{count} session(s) ended");
        }
        Ok(())
    }
}
