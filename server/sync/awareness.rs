//! The presence states of one document, held by its room.
//!
//! We keep our own registry instead of `yrs::sync::Awareness`, because the
//! server must do what a client's awareness does not: bind every client id to
//! the connection that introduced it, expire states on a timer (yrs has none),
//! and remove a connection's states when it closes. The rules for applying an
//! entry are those of y-protocols `applyAwarenessUpdate`
//! (<https://github.com/yjs/y-protocols/blob/master/awareness.js>).

use std::collections::HashMap;
use std::time::Duration;

use bytes::Bytes;
use tokio::time::Instant;

use crate::ids::ConnectionId;
use crate::sync::protocol::{self, AwarenessEntry};
use crate::sync::room::Identity;

/// How long a state lives without renewal (y-protocols `outdatedTimeout`).
pub const OUTDATED_TIMEOUT: Duration = Duration::from_secs(30);

/// Bounds on what one connection may put in the registry.
#[derive(Debug, Clone, Copy)]
pub struct AwarenessLimits {
    /// Client ids one connection may introduce.
    pub clients_per_connection: usize,
    /// Largest state, in bytes of JSON.
    pub state_bytes: usize,
}

/// Why an awareness message was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwarenessError {
    /// The connection introduced more client ids than allowed.
    #[error("too many awareness client ids on one connection")]
    TooManyClients,
    /// A state larger than allowed.
    #[error("awareness state too large")]
    StateTooLarge,
}

#[derive(Debug)]
struct ClientState {
    owner: ConnectionId,
    clock: u64,
    state: Option<String>,
    renewed: Instant,
}

/// Every client's presence in one document.
#[derive(Debug, Default)]
pub struct Awareness {
    clients: HashMap<u64, ClientState>,
}

impl Awareness {
    /// Applies what `connection` sent and returns the entries to relay (to
    /// every connection, the sender included: the echo of a renewal is what
    /// keeps a y-websocket client's idle timer from firing).
    ///
    /// Entries for a client id that another connection introduced are
    /// dropped: a connection may only speak for its own clients.
    pub fn apply(
        &mut self,
        connection: ConnectionId,
        entries: Vec<AwarenessEntry>,
        now: Instant,
        limits: AwarenessLimits,
    ) -> Result<Vec<AwarenessEntry>, AwarenessError> {
        if entries
            .iter()
            .filter_map(|entry| entry.state.as_ref())
            .any(|state| state.len() > limits.state_bytes)
        {
            return Err(AwarenessError::StateTooLarge);
        }
        let mut owned = self.owned_by(connection);
        let mut relayed = Vec::with_capacity(entries.len());
        for entry in entries {
            match self.clients.get_mut(&entry.client) {
                Some(current) if current.owner != connection => {
                    tracing::debug!(%connection, client = entry.client, "awareness for a client id owned elsewhere ignored");
                }
                Some(current) => {
                    let newer = current.clock < entry.clock
                        || (current.clock == entry.clock
                            && entry.state.is_none()
                            && current.state.is_some());
                    if newer {
                        current.clock = entry.clock;
                        current.state.clone_from(&entry.state);
                        current.renewed = now;
                        relayed.push(entry);
                    }
                }
                None => {
                    if owned >= limits.clients_per_connection {
                        return Err(AwarenessError::TooManyClients);
                    }
                    owned += 1;
                    self.clients.insert(
                        entry.client,
                        ClientState {
                            owner: connection,
                            clock: entry.clock,
                            state: entry.state.clone(),
                            renewed: now,
                        },
                    );
                    relayed.push(entry);
                }
            }
        }
        Ok(relayed)
    }

    fn owned_by(&self, connection: ConnectionId) -> usize {
        self.clients
            .values()
            .filter(|client| client.owner == connection)
            .count()
    }

    /// Forgets every client of a closed connection and returns the removals
    /// to relay (the last clock with a `null` state, as y-websocket's server
    /// sends them).
    pub fn remove_connection(&mut self, connection: ConnectionId) -> Vec<AwarenessEntry> {
        let mut removed = Vec::new();
        self.clients.retain(|&client, state| {
            if state.owner != connection {
                return true;
            }
            if state.state.is_some() {
                removed.push(AwarenessEntry {
                    client,
                    clock: state.clock,
                    state: None,
                });
            }
            false
        });
        removed
    }

    /// Clears the states not renewed within [`OUTDATED_TIMEOUT`] and returns
    /// the removals to relay. The client id stays bound to its connection.
    pub fn expire(&mut self, now: Instant) -> Vec<AwarenessEntry> {
        let mut removed = Vec::new();
        for (&client, state) in &mut self.clients {
            if state.state.is_some() && now.duration_since(state.renewed) >= OUTDATED_TIMEOUT {
                state.state = None;
                removed.push(AwarenessEntry {
                    client,
                    clock: state.clock,
                    state: None,
                });
            }
        }
        removed
    }

    /// Every live state, copied.
    pub fn states(&self) -> Vec<AwarenessEntry> {
        self.clients
            .iter()
            .filter_map(|(&client, state)| {
                state.state.as_ref().map(|json| AwarenessEntry {
                    client,
                    clock: state.clock,
                    state: Some(json.clone()),
                })
            })
            .collect()
    }

    /// Every live state, in awareness frames of about
    /// [`protocol::AWARENESS_FRAME_BYTES`], encoded from the states held;
    /// none when there is none.
    pub fn encode_states(&self) -> Vec<Bytes> {
        protocol::encode_awareness_frames(self.clients.iter().filter_map(|(&client, state)| {
            state
                .state
                .as_deref()
                .map(|json| (client, state.clock, Some(json)))
        }))
    }

    /// Number of live states.
    pub fn len(&self) -> usize {
        self.clients.values().filter(|c| c.state.is_some()).count()
    }

    /// Whether no client has a live state.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Writes the identity the server knows into each state's `user` field,
/// whatever the client claimed: `{name, delegation, role, account, color}`.
/// The client's `user.color` is kept when it is a CSS hex colour (cosmetic);
/// otherwise one is derived from the account. A state that is not a JSON
/// object is dropped: presence states are objects.
pub fn stamp_identity(entries: Vec<AwarenessEntry>, identity: &Identity) -> Vec<AwarenessEntry> {
    entries
        .into_iter()
        .filter_map(|mut entry| {
            let Some(json) = entry.state.as_deref() else {
                return Some(entry);
            };
            let Ok(serde_json::Value::Object(mut state)) = serde_json::from_str(json) else {
                return None;
            };
            let color = state
                .get("user")
                .and_then(|user| user.get("color"))
                .and_then(|color| color.as_str())
                .filter(|color| is_hex_color(color))
                .map(str::to_owned)
                .unwrap_or_else(|| color_of(identity.account.as_str()));
            state.insert(
                "user".into(),
                serde_json::json!({
                    "name": identity.name,
                    "delegation": identity.delegation_name,
                    "role": identity.role,
                    "account": identity.account,
                    "color": color,
                }),
            );
            entry.state = Some(serde_json::Value::Object(state).to_string());
            Some(entry)
        })
        .collect()
}

fn is_hex_color(color: &str) -> bool {
    color.len() <= 9
        && color.strip_prefix('#').is_some_and(|hex| {
            matches!(hex.len(), 3 | 4 | 6 | 8) && hex.chars().all(|c| c.is_ascii_hexdigit())
        })
}

/// A stable, readable colour for an account (for cursors and presence).
pub fn color_of(account: &str) -> String {
    const PALETTE: [&str; 10] = [
        "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22",
        "#ff7f0e", "#393b79",
    ];
    let hash = account.bytes().fold(0u32, |hash, byte| {
        hash.wrapping_mul(31).wrapping_add(u32::from(byte))
    });
    PALETTE[hash as usize % PALETTE.len()].to_owned()
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn identity() -> Identity {
        Identity {
            account: crate::ids::AccountId("acc1".into()),
            session: crate::ids::SessionId("s1".into()),
            name: "Ana Souza".into(),
            role: crate::auth::Role::Delegate,
            delegation: Some(crate::ids::DelegationId("br".into())),
            delegation_name: Some("Brazil".into()),
            expires_at: i64::MAX,
        }
    }

    #[test]
    fn the_server_writes_who_you_are() {
        let claimed = AwarenessEntry {
            client: 5,
            clock: 1,
            state: Some(r##"{"user":{"name":"The Chair","role":"chair","color":"#abcdef"},"cursor":{"anchor":1}}"##.into()),
        };
        let stamped = stamp_identity(vec![claimed], &identity());
        let state: serde_json::Value =
            serde_json::from_str(stamped[0].state.as_deref().expect("state")).expect("json");
        assert_eq!(state["user"]["name"], "Ana Souza");
        assert_eq!(state["user"]["role"], "delegate");
        assert_eq!(state["user"]["delegation"], "Brazil");
        assert_eq!(state["user"]["color"], "#abcdef");
        assert_eq!(state["cursor"]["anchor"], 1);
        let odd = AwarenessEntry {
            client: 5,
            clock: 2,
            state: Some("[1,2]".into()),
        };
        assert!(stamp_identity(vec![odd], &identity()).is_empty());
        let removed = AwarenessEntry {
            client: 5,
            clock: 3,
            state: None,
        };
        assert_eq!(
            stamp_identity(vec![removed.clone()], &identity()),
            vec![removed]
        );
        let bad_color = AwarenessEntry {
            client: 5,
            clock: 4,
            state: Some(r#"{"user":{"color":"red;x"}}"#.into()),
        };
        let stamped = stamp_identity(vec![bad_color], &identity());
        assert!(
            stamped[0]
                .state
                .as_deref()
                .expect("state")
                .contains(&color_of("acc1"))
        );
    }

    const LIMITS: AwarenessLimits = AwarenessLimits {
        clients_per_connection: 2,
        state_bytes: 64,
    };

    /// An awareness entry (also for the room's tests).
    pub(in crate::sync) fn entry(client: u64, clock: u64, state: Option<&str>) -> AwarenessEntry {
        AwarenessEntry {
            client,
            clock,
            state: state.map(str::to_owned),
        }
    }

    #[test]
    fn newer_clocks_win_and_renewals_are_echoed() {
        let mut awareness = Awareness::default();
        let now = Instant::now();
        let a = ConnectionId(1);
        let relayed = awareness
            .apply(a, vec![entry(10, 1, Some("{}"))], now, LIMITS)
            .expect("accepted");
        assert_eq!(relayed.len(), 1);
        // The same clock again changes nothing.
        let relayed = awareness
            .apply(a, vec![entry(10, 1, Some("{}"))], now, LIMITS)
            .expect("accepted");
        assert!(relayed.is_empty());
        // A renewal (same state, next clock) is relayed, so the sender hears back.
        let relayed = awareness
            .apply(a, vec![entry(10, 2, Some("{}"))], now, LIMITS)
            .expect("accepted");
        assert_eq!(relayed, vec![entry(10, 2, Some("{}"))]);
        // A null state at the same clock removes it.
        let relayed = awareness
            .apply(a, vec![entry(10, 2, None)], now, LIMITS)
            .expect("accepted");
        assert_eq!(relayed, vec![entry(10, 2, None)]);
        assert!(awareness.is_empty());
    }

    #[test]
    fn a_connection_cannot_speak_for_another_connections_client() {
        let mut awareness = Awareness::default();
        let now = Instant::now();
        awareness
            .apply(
                ConnectionId(1),
                vec![entry(10, 1, Some(r#"{"n":"a"}"#))],
                now,
                LIMITS,
            )
            .expect("accepted");
        let relayed = awareness
            .apply(
                ConnectionId(2),
                vec![entry(10, 99, Some(r#"{"n":"b"}"#))],
                now,
                LIMITS,
            )
            .expect("not an error, just ignored");
        assert!(relayed.is_empty());
        assert_eq!(awareness.states(), vec![entry(10, 1, Some(r#"{"n":"a"}"#))]);
    }

    #[test]
    fn a_joiner_gets_every_live_state() {
        let mut awareness = Awareness::default();
        assert!(awareness.encode_states().is_empty(), "nothing to send");
        let now = Instant::now();
        awareness
            .apply(
                ConnectionId(1),
                vec![entry(10, 1, Some(r#"{"n":"a"}"#)), entry(11, 1, Some("{}"))],
                now,
                LIMITS,
            )
            .expect("accepted");
        awareness
            .apply(ConnectionId(1), vec![entry(11, 2, None)], now, LIMITS)
            .expect("a removal");
        let encoded = awareness.encode_states();
        assert_eq!(encoded.len(), 1);
        assert_eq!(
            protocol::decode_frame(&encoded[0]),
            Ok(vec![protocol::Message::Awareness(vec![entry(
                10,
                1,
                Some(r#"{"n":"a"}"#)
            )])])
        );
    }

    #[test]
    fn limits_are_enforced() {
        let mut awareness = Awareness::default();
        let now = Instant::now();
        let a = ConnectionId(1);
        assert_eq!(
            awareness.apply(
                a,
                vec![
                    entry(1, 1, Some("{}")),
                    entry(2, 1, Some("{}")),
                    entry(3, 1, Some("{}"))
                ],
                now,
                LIMITS
            ),
            Err(AwarenessError::TooManyClients)
        );
        let big = format!("\"{}\"", "x".repeat(100));
        assert_eq!(
            awareness.apply(a, vec![entry(4, 1, Some(&big))], now, LIMITS),
            Err(AwarenessError::StateTooLarge)
        );
    }

    #[test]
    fn closing_and_expiry_remove_states() {
        let mut awareness = Awareness::default();
        let start = Instant::now();
        awareness
            .apply(
                ConnectionId(1),
                vec![entry(1, 5, Some("{}"))],
                start,
                LIMITS,
            )
            .expect("accepted");
        awareness
            .apply(
                ConnectionId(2),
                vec![entry(2, 1, Some("{}"))],
                start,
                LIMITS,
            )
            .expect("accepted");
        assert_eq!(
            awareness.remove_connection(ConnectionId(1)),
            vec![entry(1, 5, None)]
        );
        assert!(awareness.expire(start + Duration::from_secs(29)).is_empty());
        assert_eq!(
            awareness.expire(start + OUTDATED_TIMEOUT),
            vec![entry(2, 1, None)]
        );
        assert!(awareness.is_empty());
    }
}
