//! What a connection needs of the other nodes of a cluster, and nothing more: names unique
//! across the nodes ([`Names`]), whispers to the people of other nodes ([`Whispers`]) and an
//! operator's removals of people there ([`Removals`]).
//!
//! Two narrow handles that the cluster plugs in ([`crate::cluster`], behind the `cluster`
//! feature); a server that is not a node of a cluster has neither, and its commands go by
//! the hub alone. Each call returns a boxed future that borrows nothing, so a command can
//! run it in a task of its own and its connection waits for the answer, not the others.

use std::sync::Arc;

use chat_proto::Millis;
use futures::future::BoxFuture;

/// Why a name could not be claimed across the nodes.
#[derive(Debug, thiserror::Error)]
pub enum ClaimError {
    /// Someone on some node holds it.
    #[error("the name is held in the cluster")]
    Taken,
    /// The cluster did not answer, so nobody can say whether the name is free.
    #[error("{0}")]
    Unavailable(String),
}

/// The cluster did not answer.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Unreachable(pub String);

/// Who holds a name across the nodes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Holder {
    /// The node its owner is connected to.
    pub node: String,
    /// The name as its owner typed it.
    pub name: String,
}

/// A whisper on its way to another node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Whisper {
    /// The sender, as registered.
    pub from: String,
    /// The target, as registered.
    pub to: String,
    /// What was said, already valid.
    pub text: String,
    /// When it was sent.
    pub at: Millis,
}

/// Names unique across the nodes: a `Hello` claims its name here before the hub registers
/// it, and a leaving client gives it back.
pub trait Names: Send + Sync + std::fmt::Debug {
    /// Claims `name` for a client of this node.
    fn claim(&self, name: Arc<str>) -> BoxFuture<'static, Result<(), ClaimError>>;

    /// Gives `name` back, once its client has left.
    fn release(&self, name: Arc<str>) -> BoxFuture<'static, ()>;

    /// Who holds `name` (any case), if anyone.
    fn holder(&self, name: String) -> BoxFuture<'static, Result<Option<Holder>, Unreachable>>;
}

/// Whispers to the people of other nodes.
pub trait Whispers: Send + Sync + std::fmt::Debug {
    /// This node's name, as [`Holder::node`] names it.
    fn node(&self) -> &str;

    /// Sends `whisper` to the node `node`, which delivers it to its target there.
    fn send(&self, node: String, whisper: Whisper) -> BoxFuture<'static, Result<(), Unreachable>>;
}

/// An operator's removals of people on other nodes.
pub trait Removals: Send + Sync + std::fmt::Debug {
    /// Asks the node `node` to remove `user` (any case), telling them `detail`; the name
    /// as registered once removed, `None` when nobody of that name is there.
    fn remove(
        &self,
        node: String,
        user: String,
        detail: String,
    ) -> BoxFuture<'static, Result<Option<String>, Unreachable>>;
}

/// The handles of a server that is a node of a cluster.
#[derive(Debug, Clone)]
pub struct Peers {
    /// Names across the nodes.
    pub names: Arc<dyn Names>,
    /// Whispers to other nodes.
    pub whispers: Arc<dyn Whispers>,
    /// Removals on other nodes.
    pub removals: Arc<dyn Removals>,
}
