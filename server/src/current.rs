//! The settings in force: one [`Current`] that every reader takes whole (a connection, when
//! it opens; a handshake, when it is checked) and that a reload ([`crate::reload`])
//! replaces whole, so that no reader sees half of an old file and half of a new one.

use std::sync::{Arc, PoisonError, RwLock};

use crate::config::Config;

/// The settings in force, replaced whole by a reload.
#[derive(Debug)]
pub struct Current(RwLock<Arc<Config>>);

impl Current {
    /// `config` in force.
    pub fn new(config: Config) -> Current {
        Current(RwLock::new(Arc::new(config)))
    }

    /// The settings in force now: a reader keeps them as long as it needs one consistent
    /// view.
    pub fn get(&self) -> Arc<Config> {
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Puts `config` in force.
    pub fn set(&self, config: Config) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = Arc::new(config);
    }
}
