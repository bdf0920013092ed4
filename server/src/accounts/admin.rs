//! `chat-server account add|delete|list`: the operator's hand on the accounts, on the same
//! SQLite file a running server uses (WAL lets both write; a deleted account's devices are
//! refused at their next sign-in, and a running server ends their connections only when it
//! ends their sessions itself).

use chat_proto::Secret;

use super::{Accounts, AccountsError};
use crate::clock::now_millis;

/// What the operator asked for, its password already read.
#[derive(Debug)]
pub enum Action {
    /// Make an account.
    Add {
        /// The name, as it should be shown.
        name: String,
        /// Its password.
        password: Secret,
    },
    /// Delete an account.
    Delete {
        /// The name, in any case.
        name: String,
    },
    /// List the accounts.
    List,
}

/// Carries out `action` on `accounts`; returns the lines to print. A refusal (a name that is
/// an account's, a weak password, no such account) is an error, for exit status 1.
pub async fn run(accounts: &Accounts, action: Action) -> Result<Vec<String>, AdminError> {
    match action {
        Action::Add { name, password } => {
            chat_proto::validate::username(&name)
                .map_err(|err| AdminError::BadName(format!("{name:?}: {err}")))?;
            let account = accounts.create(&name, &password, now_millis()).await?;
            Ok(vec![format!("made the account {}", account.name)])
        }
        Action::Delete { name } => {
            if accounts.delete_by_name(&name).await? {
                Ok(vec![format!(
                    "deleted the account {name}; the name is free"
                )])
            } else {
                Err(AdminError::NoSuchAccount(name))
            }
        }
        Action::List => Ok(accounts
            .list()
            .await?
            .into_iter()
            .map(|(name, created, sessions)| {
                format!("{name} {} {sessions}", crate::clock::utc_date(created))
            })
            .collect()),
    }
}

/// Why an operator's account command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    /// The name breaks the naming rules.
    #[error("invalid name {0}")]
    BadName(String),
    /// `delete` of a name that has no account.
    #[error("no account is named {0:?}")]
    NoSuchAccount(String),
    /// The accounts refused or failed.
    #[error(transparent)]
    Accounts(#[from] AccountsError),
}
