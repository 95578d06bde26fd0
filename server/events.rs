//! Live notices about a resolution's records (amendments, comments, votes,
//! phase, versions), for the pages viewing it: they learn what changed and
//! fetch it, without a reload. The body itself travels over `/sync`.

pub mod routes;

use serde::Serialize;
use tokio::sync::broadcast;

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Topic {
    /// An amendment was proposed or changed status.
    Amendment,
    /// A comment was written, edited or deleted.
    Comment,
    /// A vote was cast.
    Vote,
    /// The resolution's record or phase changed.
    Resolution,
    /// A version was recorded.
    Version,
}

/// One notice.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Event {
    /// The resolution concerned.
    pub resolution_id: String,
    /// What changed.
    pub topic: Topic,
    /// The id of the thing that changed (an amendment, a comment…).
    pub id: Option<String>,
}

/// The notices of this server. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Events {
    sender: broadcast::Sender<Event>,
}

impl Default for Events {
    fn default() -> Self {
        // A listener more than this many notices behind is told to refetch
        // everything (see `routes.rs`), never silently left behind.
        let (sender, _) = broadcast::channel(1024);
        Self { sender }
    }
}

impl Events {
    /// Tells every listener of `resolution` that `topic` changed.
    pub fn notify(&self, resolution: &str, topic: Topic, id: Option<&str>) {
        let _ = self.sender.send(Event {
            resolution_id: resolution.to_owned(),
            topic,
            id: id.map(str::to_owned),
        });
    }

    /// Listens to every notice.
    pub fn subscribe(&self) -> broadcast::Receiver<Event> {
        self.sender.subscribe()
    }
}
