//! Moderation records in the SQLite file of a single server: one row per key, the value
//! as the service wrote it. An edit reads and writes its row in one immediate transaction,
//! so two edits of one room never lose each other's change.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use futures::future::BoxFuture;
use futures::stream::BoxStream;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::super::{schema, StoreError};
use super::{connect, BUSY_TIMEOUT};
use crate::moderation::store::{Changed, Edit, EditError, RulesStore, StoreFailed};

/// The moderation records of one SQLite file.
#[derive(Clone)]
pub struct SqliteRules {
    /// The connection, one edit at a time.
    conn: Arc<Mutex<Connection>>,
}

impl fmt::Debug for SqliteRules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SqliteRules").finish_non_exhaustive()
    }
}

impl SqliteRules {
    /// Opens the records of the message log at `path`, creating or upgrading the file as
    /// [`super::SqliteStore::open`] does.
    pub fn open(path: &Path) -> Result<SqliteRules, StoreError> {
        let mut conn = connect(path, BUSY_TIMEOUT)?;
        schema::prepare(&mut conn, path)?;
        Ok(SqliteRules {
            conn: Arc::new(Mutex::new(conn)),
        })
    }

    /// Runs `query` on a blocking thread with the connection.
    fn blocking<T: Send + 'static, E: From<StoreFailed> + Send + 'static>(
        &self,
        query: impl FnOnce(&mut Connection) -> Result<T, E> + Send + 'static,
    ) -> BoxFuture<'static, Result<T, E>> {
        let conn = Arc::clone(&self.conn);
        Box::pin(async move {
            tokio::task::spawn_blocking(move || query(&mut lock(&conn)))
                .await
                .map_err(|err| E::from(StoreFailed(err.to_string())))?
        })
    }
}

/// The connection; it holds no state a panic could break.
fn lock(conn: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    conn.lock().unwrap_or_else(PoisonError::into_inner)
}

/// What SQLite said, as the service reports it.
fn failed(err: rusqlite::Error) -> StoreFailed {
    StoreFailed(err.to_string())
}

impl RulesStore for SqliteRules {
    fn load(&self) -> BoxFuture<'static, Result<Vec<Changed>, StoreFailed>> {
        self.blocking(|conn| {
            let mut statement = conn
                .prepare("SELECT key, value FROM moderation")
                .map_err(failed)?;
            let rows = statement
                .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
                .map_err(failed)?;
            rows.collect::<Result<Vec<Changed>, _>>().map_err(failed)
        })
    }

    fn edit(&self, key: String, mut edit: Edit) -> BoxFuture<'static, Result<Vec<u8>, EditError>> {
        self.blocking(move |conn| {
            let tx = conn
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(failed)?;
            let now: Option<Vec<u8>> = tx
                .query_row(
                    "SELECT value FROM moderation WHERE key = ?1",
                    [&key],
                    |row| row.get(0),
                )
                .optional()
                .map_err(failed)?;
            let value = edit(now.as_deref())?;
            tx.execute(
                "INSERT INTO moderation (key, value) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                params![key, value],
            )
            .map_err(failed)?;
            tx.commit().map_err(failed)?;
            Ok(value)
        })
    }

    fn changes(
        &self,
    ) -> Option<BoxFuture<'static, Result<BoxStream<'static, Changed>, StoreFailed>>> {
        None
    }
}
