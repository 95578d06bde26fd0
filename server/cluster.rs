//! Several nodes on one PostgreSQL: what one node tells the others.
//!
//! After a commit a node sends `NOTIFY plenary` with (document, sequence);
//! every other node that holds the document reads the rows it misses from
//! the log, by sequence, and applies and relays them. Awareness, phase
//! changes (re-authorization), ended sessions and record changes (for the
//! server-sent events) travel the same way. A notice is only a hint: a node
//! that misses some (its listening connection dropped, the payload was too
//! big) still catches up from the log, by sequence, at its next poll or
//! when its listener reconnects; nothing depends on a notice arriving.
//!
//! PostgreSQL: <https://www.postgresql.org/docs/current/sql-notify.html>
//! (payloads under 8000 bytes; delivered after the sender's commit).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

use crate::ids::{AccountId, DocumentId, Seq, SessionId};
use crate::sync::protocol::{AwarenessEntry, encode_awareness};

/// The channel every node listens on.
pub const CHANNEL: &str = "plenary";

/// NOTIFY payloads must stay under 8000 bytes.
const MAX_PAYLOAD: usize = 7000;

/// What a node tells the others.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Notice {
    /// A document's log now reaches `seq`.
    Committed {
        /// The document.
        document: String,
        /// Its last committed update.
        seq: i64,
    },
    /// Awareness states changed on a node (the awareness message, base64).
    Awareness {
        /// The document.
        document: String,
        /// `[1, update]` as sent to clients, base64.
        frame: String,
    },
    /// A resolution's phase or sponsors changed: re-apply its access rules.
    Reauthorize {
        /// The resolution.
        resolution: String,
    },
    /// These sessions ended: close their sockets.
    CloseSessions {
        /// The sessions.
        sessions: Vec<SessionId>,
    },
    /// This account changed: its sockets reconnect.
    ReconnectAccount {
        /// The account.
        account: AccountId,
    },
    /// A resolution's records changed (for server-sent events).
    Event {
        /// The resolution.
        resolution: String,
        /// The topic, as in `events::Topic`.
        topic: crate::events::Topic,
        /// What changed.
        id: Option<String>,
    },
    /// This node's listener (re)connected: it may have missed notices, so
    /// every open document catches up. Local only, never sent.
    Resync,
}

#[derive(Debug, Serialize, Deserialize)]
struct Envelope {
    node: String,
    notice: Notice,
}

/// Sends notices to the other nodes. Cheap to clone.
#[derive(Debug, Clone)]
pub struct Cluster {
    node: Arc<str>,
    outgoing: mpsc::Sender<Notice>,
}

impl Cluster {
    /// This node's name.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// Tells the other nodes (best effort: a notice that cannot be queued
    /// is dropped, and the others catch up by polling).
    pub fn publish(&self, notice: Notice) {
        if self.outgoing.try_send(notice).is_err() {
            tracing::warn!("cluster notice queue full; the other nodes will catch up by polling");
        }
    }

    /// Tells the others of a change they must not miss (a session ended, an
    /// account or a resolution's rules changed): waits for room in the
    /// queue rather than dropping it when the queue is full of presence.
    pub async fn publish_reliably(&self, notice: Notice) {
        if self.outgoing.send(notice).await.is_err() {
            tracing::warn!("cluster notices stopped (shutting down); the others were not told");
        }
    }

    /// Tells the others that `document`'s log reaches `seq`.
    pub fn committed(&self, document: &DocumentId, seq: Seq) {
        self.publish(Notice::Committed {
            document: document.to_string(),
            seq: seq.0,
        });
    }

    /// Relays awareness entries to the other nodes, in as many notices as
    /// their payload limit needs (a room sends the entries of many clients
    /// at once).
    pub fn awareness(&self, document: &DocumentId, entries: &[AwarenessEntry]) {
        // What one notice may carry before base64 (4/3) and its envelope.
        let budget = (MAX_PAYLOAD - ENVELOPE_BYTES - document.as_str().len()) / 4 * 3;
        let mut start = 0;
        let mut size = 0;
        for (index, entry) in entries.iter().enumerate() {
            let entry_size = AWARENESS_ENTRY_OVERHEAD + entry.state.as_ref().map_or(4, String::len);
            if entry_size > budget {
                // Presence is ephemeral and expires anyway: an oversized
                // state is simply not relayed across nodes.
                self.publish_awareness(document, &entries[start..index]);
                start = index + 1;
                size = 0;
                continue;
            }
            if size + entry_size > budget {
                self.publish_awareness(document, &entries[start..index]);
                start = index;
                size = 0;
            }
            size += entry_size;
        }
        self.publish_awareness(document, &entries[start..]);
    }

    fn publish_awareness(&self, document: &DocumentId, entries: &[AwarenessEntry]) {
        if entries.is_empty() {
            return;
        }
        self.publish(Notice::Awareness {
            document: document.to_string(),
            frame: STANDARD.encode(encode_awareness(entries)),
        });
    }
}

/// A notice's JSON besides its document and frame: the node's id, the keys.
const ENVELOPE_BYTES: usize = 160;

/// An awareness entry's bytes besides its state: client id, clock and the
/// state's length (varints of at most 8, 10 and 5 bytes), and the frame's
/// own header shared out generously.
const AWARENESS_ENTRY_OVERHEAD: usize = 32;

/// Decodes the frame of an [`Notice::Awareness`].
pub fn awareness_frame(frame: &str) -> Option<Vec<u8>> {
    STANDARD.decode(frame).ok()
}

/// Starts the cluster on PostgreSQL: returns the handle to publish with and
/// the receiver of the other nodes' notices (and of local `Resync`s). The
/// two tasks stop when `shutdown` is cancelled.
pub fn start_postgres(
    pool: sqlx::PgPool,
    tracker: &tokio_util::task::TaskTracker,
    shutdown: CancellationToken,
) -> (Cluster, mpsc::Receiver<Notice>) {
    let node: Arc<str> = crate::ids::random_id().into();
    let (outgoing_tx, outgoing_rx) = mpsc::channel(4096);
    let (incoming_tx, incoming_rx) = mpsc::channel(4096);
    tracker.spawn(publish(
        pool.clone(),
        node.clone(),
        outgoing_rx,
        shutdown.clone(),
    ));
    tracker.spawn(listen(pool, node.clone(), incoming_tx, shutdown));
    (
        Cluster {
            node,
            outgoing: outgoing_tx,
        },
        incoming_rx,
    )
}

/// Notices sent in one statement, at most.
const NOTICES_PER_STATEMENT: usize = 256;

/// Sends the queued notices, every notice waiting in one statement (one
/// transaction; under load a commit per room per edit was a transaction
/// per notice too).
async fn publish(
    pool: sqlx::PgPool,
    node: Arc<str>,
    mut outgoing: mpsc::Receiver<Notice>,
    shutdown: CancellationToken,
) {
    let mut notices = Vec::with_capacity(NOTICES_PER_STATEMENT);
    let mut connection = None;
    loop {
        let received = tokio::select! {
            received = outgoing.recv_many(&mut notices, NOTICES_PER_STATEMENT) => received,
            () = shutdown.cancelled() => 0,
        };
        if received == 0 {
            break;
        }
        let payloads: Vec<String> = notices
            .drain(..)
            .filter_map(|notice| {
                let envelope = Envelope {
                    node: node.to_string(),
                    notice,
                };
                let payload = serde_json::to_string(&envelope).ok()?;
                if payload.len() >= MAX_PAYLOAD {
                    tracing::debug!("cluster notice too large to send; the others will poll");
                    return None;
                }
                Some(payload)
            })
            .collect();
        if payloads.is_empty() {
            continue;
        }
        if let Err(error) = notify(&pool, &mut connection, &payloads).await {
            // Once more on a fresh connection (the held one may have been
            // cut): some notices (a session ended) cannot be caught up by
            // polling.
            connection = None;
            tracing::warn!(%error, "could not notify the other nodes; trying again");
            if let Err(error) = notify(&pool, &mut connection, &payloads).await {
                connection = None;
                tracing::warn!(%error, "could not notify the other nodes; they will catch up by polling");
            }
        }
    }
    if let Some(held) = connection {
        let _ = sqlx::Connection::close(held).await;
    }
}

/// Sends `payloads` on the publisher's own connection, opened when there is
/// none. It is taken out of the pool for good: notices are hints (a node
/// catches up from the log anyway), so their transactions do not wait for
/// the write-ahead log to reach the disk, a session setting no append may
/// inherit.
async fn notify(
    pool: &sqlx::PgPool,
    connection: &mut Option<sqlx::PgConnection>,
    payloads: &[String],
) -> Result<(), sqlx::Error> {
    let held = match connection {
        Some(held) => held,
        None => {
            let mut fresh = pool.acquire().await?.detach();
            sqlx::query("set synchronous_commit = off")
                .execute(&mut fresh)
                .await?;
            connection.insert(fresh)
        }
    };
    sqlx::query("select pg_notify($1, payload) from unnest($2::text[]) as payload")
        .bind(CHANNEL)
        .bind(payloads)
        .execute(held)
        .await?;
    Ok(())
}

async fn listen(
    pool: sqlx::PgPool,
    node: Arc<str>,
    incoming: mpsc::Sender<Notice>,
    shutdown: CancellationToken,
) {
    let mut backoff = Duration::from_millis(100);
    while !shutdown.is_cancelled() {
        let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(error) => {
                tracing::warn!(%error, "cannot listen for the other nodes; retrying");
                tokio::select! {
                    () = tokio::time::sleep(backoff) => {}
                    () = shutdown.cancelled() => break,
                }
                backoff = (backoff * 2).min(Duration::from_secs(5));
                continue;
            }
        };
        // Without automatic reconnection, a dropped listener is noticed as
        // an error and re-established here, followed by a resync.
        listener.ignore_pool_close_event(true);
        if let Err(error) = listener.listen(CHANNEL).await {
            tracing::warn!(%error, "LISTEN failed; retrying");
            continue;
        }
        backoff = Duration::from_millis(100);
        tracing::debug!("listening for the other nodes");
        // Anything sent while we were not listening is caught up from the log.
        let _ = incoming.send(Notice::Resync).await;
        loop {
            let received = tokio::select! {
                received = listener.try_recv() => received,
                () = shutdown.cancelled() => return,
            };
            match received {
                Ok(Some(notification)) => {
                    let Ok(envelope) = serde_json::from_str::<Envelope>(notification.payload())
                    else {
                        tracing::debug!("unreadable cluster notice ignored");
                        continue;
                    };
                    if *envelope.node == *node {
                        continue;
                    }
                    if incoming.send(envelope.notice).await.is_err() {
                        return;
                    }
                }
                // The connection dropped: listen again.
                Ok(None) | Err(_) => {
                    tracing::warn!("the listening connection dropped; reconnecting");
                    break;
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notices_travel_as_small_json() {
        let envelope = Envelope {
            node: "n1".into(),
            notice: Notice::Committed {
                document: "abc".into(),
                seq: 42,
            },
        };
        let json = serde_json::to_string(&envelope).expect("serialises");
        assert_eq!(
            json,
            r#"{"node":"n1","notice":{"kind":"committed","document":"abc","seq":42}}"#
        );
        let back: Envelope = serde_json::from_str(&json).expect("parses");
        assert_eq!(back.notice, envelope.notice);
        assert_eq!(
            awareness_frame(&STANDARD.encode([1u8, 2, 3])),
            Some(vec![1, 2, 3])
        );
    }

    #[tokio::test]
    async fn awareness_of_many_clients_is_split_into_notices_that_fit() {
        let (outgoing, mut sent) = mpsc::channel(64);
        let cluster = Cluster {
            node: crate::ids::random_id().into(),
            outgoing,
        };
        let document = DocumentId::parse("r-1").expect("a document id");
        let state = format!("{{\"user\":{{\"name\":\"{}\"}}}}", "x".repeat(180));
        let mut entries: Vec<AwarenessEntry> = (0..300)
            .map(|client| AwarenessEntry {
                client: (1 << 53) - 1 - client,
                clock: (1 << 53) - 1,
                state: Some(state.clone()),
            })
            .collect();
        // One state too large for any notice: left out, the rest still sent.
        entries.insert(
            150,
            AwarenessEntry {
                client: 7,
                clock: 1,
                state: Some("y".repeat(MAX_PAYLOAD)),
            },
        );
        cluster.awareness(&document, &entries);
        drop(cluster);
        let mut relayed = Vec::new();
        let mut notices = 0;
        while let Some(notice) = sent.recv().await {
            notices += 1;
            let envelope = serde_json::to_string(&Envelope {
                node: crate::ids::random_id(),
                notice: notice.clone(),
            })
            .expect("serialises");
            assert!(envelope.len() < MAX_PAYLOAD, "{} bytes", envelope.len());
            let Notice::Awareness { frame, .. } = notice else {
                panic!("not an awareness notice: {notice:?}");
            };
            let frame = awareness_frame(&frame).expect("base64");
            let messages = crate::sync::protocol::decode_frame(&frame.into()).expect("a frame");
            let [crate::sync::protocol::Message::Awareness(decoded)] = &messages[..] else {
                panic!("not one awareness message: {messages:?}");
            };
            relayed.extend(decoded.iter().cloned());
        }
        entries.remove(150);
        assert!(notices > 1);
        assert_eq!(relayed, entries);
    }
}
