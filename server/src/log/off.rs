//! History off: the room log that keeps nothing. A room numbers its messages in memory
//! (under the hub's lock, so the numbering is the order everyone receives), a join's
//! backlog is empty, and history cannot be paged.

use std::sync::Arc;

use tokio::sync::oneshot;

use super::{
    page, Change, ChangeRefusal, Changing, Deliveries, InFlight, Join, Joining, PageRead, RoomLog,
    Spoken,
};
use crate::outbox::Outbox;
use chat_proto::{Backlog, Cursor};

/// The log of a server started with `[store] path = off`.
#[derive(Debug)]
pub struct NoHistory {
    /// Where every burst goes at once.
    hub: Arc<dyn Deliveries>,
    /// Always empty: nothing ever waits for a disk.
    in_flight: InFlight,
}

impl NoHistory {
    /// A log that hands everything straight to `hub`.
    pub fn new(hub: Arc<dyn Deliveries>) -> NoHistory {
        NoHistory {
            hub,
            in_flight: InFlight::default(),
        }
    }
}

impl RoomLog for NoHistory {
    fn append(&self, spoken: Spoken, _sender: &Outbox) -> Option<oneshot::Receiver<()>> {
        self.hub.deliver_unstored(spoken);
        None
    }

    fn join(&self, join: Join) -> Joining {
        let backlog = match join.backlog {
            Backlog::None => None,
            _ => Some(page::empty_backlog(&join.room)),
        };
        Joining::Done(self.hub.join(&join.name, &join.room, join.at, backlog))
    }

    fn page(&self, _key: String, _shown: String, _from: Cursor, _limit: u32) -> Option<PageRead> {
        None
    }

    fn in_flight(&self) -> &InFlight {
        &self.in_flight
    }

    fn search(&self, _search: super::search::SearchRequest) -> Option<PageRead> {
        None
    }

    /// Without history no message can be found to change or answer.
    fn change(&self, _change: Change) -> Changing {
        let (answer, changing) = oneshot::channel();
        let _ = answer.send(Err(ChangeRefusal::HistoryOff));
        changing
    }
}
