//! Live notices about a resolution's records (amendments, comments, votes,
//! phase, versions), for the pages viewing it: they learn what changed and
//! fetch it, without a reload. The body itself travels over `/sync`.

pub mod routes;

use serde::Serialize;
use tokio::sync::broadcast;

/// What changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize, utoipa::ToSchema)]
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
    /// The other nodes, which tell their own listeners.
    cluster: std::sync::Arc<std::sync::OnceLock<crate::cluster::Cluster>>,
}

impl Default for Events {
    fn default() -> Self {
        // A listener more than this many notices behind is told to refetch
        // everything (see `routes.rs`), never silently left behind.
        let (sender, _) = broadcast::channel(1024);
        Self {
            sender,
            cluster: Default::default(),
        }
    }
}

impl Events {
    /// Also tells the other nodes from now on.
    pub fn set_cluster(&self, cluster: crate::cluster::Cluster) {
        let _ = self.cluster.set(cluster);
    }

    /// Tells every listener of `resolution`, on every node, that `topic` changed.
    pub fn notify(&self, resolution: &str, topic: Topic, id: Option<&str>) {
        if let Some(cluster) = self.cluster.get() {
            cluster.publish(crate::cluster::Notice::Event {
                resolution: resolution.to_owned(),
                topic,
                id: id.map(str::to_owned),
            });
        }
        self.notify_here(resolution, topic, id);
    }

    /// Tells this node's listeners only.
    pub fn notify_here(&self, resolution: &str, topic: Topic, id: Option<&str>) {
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
