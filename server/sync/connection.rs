//! One websocket connection: frames in, decoded and handed to the room;
//! frames out, written in order; a close code and reason when it ends.
//!
//! Written over any `Sink + Stream` of axum websocket messages, so tests can
//! drive it with channels.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use axum::extract::ws::{CloseFrame, Message};
use bytes::Bytes;
use futures_util::{Sink, SinkExt, Stream, StreamExt};
use tokio::sync::{mpsc, oneshot};

use super::Metrics;
use super::awareness::stamp_identity;
use super::crdt::{decode_state_vector, decode_update};
use super::outbound::{self, Outbound};
use super::protocol::{self, FrameError};
use super::room::Identity;
use super::room::{CloseReason, Inbound, Membership, RoomLink, close};

/// Tunables of every connection.
#[derive(Debug, Clone)]
pub struct ConnectionConfig {
    /// Largest frame accepted (a larger one closes with 1009).
    pub max_frame_bytes: usize,
    /// Close a connection from which nothing (not even a pong) arrived for this long.
    pub idle_timeout: Duration,
    /// How often to ping the client.
    pub ping_interval: Duration,
}

impl Default for ConnectionConfig {
    fn default() -> Self {
        Self {
            max_frame_bytes: 16 * 1024 * 1024,
            idle_timeout: Duration::from_secs(90),
            ping_interval: Duration::from_secs(30),
        }
    }
}

/// Limits on how fast one connection (and its account, across all its
/// connections) may send. A client over the limit is slowed down, not cut
/// off: its frames wait, so TCP pushes back on it.
#[derive(Debug, Default)]
pub struct RateLimits {
    /// This connection's budget.
    pub connection: Option<governor::DefaultDirectRateLimiter>,
    /// The account's budget, shared by its connections.
    pub account: Option<(
        Arc<governor::DefaultKeyedRateLimiter<crate::ids::AccountId>>,
        crate::ids::AccountId,
    )>,
}

impl RateLimits {
    async fn wait(&self) {
        if let Some(limiter) = &self.connection {
            limiter.until_ready().await;
        }
        if let Some((limiter, account)) = &self.account {
            limiter.until_key_ready(account).await;
        }
    }
}

/// Frames written before one flush: enough to batch a burst, few enough to
/// keep latency low.
const WRITE_BATCH: usize = 64;

/// How long a closing connection waits for its close frame to be written.
const CLOSE_GRACE: Duration = Duration::from_secs(5);

/// What a connection needs beside its socket. It is handed over in one box:
/// a future keeps what it was given for its whole life, beside what it moves
/// that into, so every layer between the upgrade and the loop below held a
/// copy of these (the task of a socket was 2,856 bytes; see
/// docs/performance/README.md, "Memory per socket").
#[derive(Debug)]
pub struct Connection {
    /// Its place in the room.
    pub membership: Membership,
    /// Who is connected, stamped on their awareness states.
    pub identity: Option<Arc<Identity>>,
    /// How fast it may send.
    pub limits: RateLimits,
    /// Its tunables.
    pub config: ConnectionConfig,
    /// Where it counts.
    pub metrics: Arc<Metrics>,
}

/// Serves one websocket, its two halves, until it closes, then leaves the room.
pub async fn run<W, R>(mut sink: W, mut stream: R, connection: Box<Connection>)
where
    W: Sink<Message, Error = axum::Error> + Unpin,
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    let Connection {
        membership,
        identity,
        limits,
        config,
        metrics,
    } = *connection;
    let Membership {
        room,
        mut outbound,
        mut kill,
    } = membership;
    metrics.connections.fetch_add(1, Ordering::Relaxed);
    tracing::trace!(connection = %room.connection(), "websocket open");
    let reason = {
        let writer = write_frames(&mut sink, &mut outbound, &mut kill, config.ping_interval);
        let reader = read_frames(&mut stream, &room, identity.as_deref(), &limits, &config);
        tokio::select! {
            reason = writer => reason,
            reason = reader => reason,
        }
    };
    // A reason the room gave on the kill channel (a failed commit) wins over
    // what either side saw of the room going away just after it.
    let reason = kill.try_recv().ok().or(reason);
    if let Some(reason) = reason {
        if matches!(
            reason.code,
            close::PROTOCOL_ERROR
                | close::UNSUPPORTED_DATA
                | close::INVALID_PAYLOAD
                | close::POLICY_VIOLATION
                | close::TOO_BIG
        ) {
            metrics.protocol_errors.fetch_add(1, Ordering::Relaxed);
        }
        tracing::debug!(connection = %room.connection(), code = reason.code, reason = %reason.reason, "closing");
        let frame = CloseFrame {
            code: reason.code,
            reason: reason.reason.as_ref().into(),
        };
        // A client that stopped reading would hold this send (and the
        // connection's memory) for ever: it gets a few seconds.
        let _ = tokio::time::timeout(CLOSE_GRACE, sink.send(Message::Close(Some(frame)))).await;
    }
    let _ = tokio::time::timeout(CLOSE_GRACE, sink.close()).await;
    room.leave().await;
    metrics.connections.fetch_sub(1, Ordering::Relaxed);
}

/// Writes what the room sends until it says to close. Returns the close
/// reason, or `None` if the socket failed.
async fn write_frames<W>(
    sink: &mut W,
    outbound: &mut outbound::Receiver,
    kill: &mut oneshot::Receiver<CloseReason>,
    ping_interval: Duration,
) -> Option<CloseReason>
where
    W: Sink<Message, Error = axum::Error> + Unpin,
{
    let mut ping =
        tokio::time::interval_at(tokio::time::Instant::now() + ping_interval, ping_interval);
    let mut kill_armed = true;
    loop {
        tokio::select! {
            biased;
            reason = &mut *kill, if kill_armed => match reason {
                Ok(reason) => return Some(reason),
                // The room let go of the connection without a reason; the
                // outbound channel closes next and says so.
                Err(_) => kill_armed = false,
            },
            next = outbound.recv() => {
                // Up to WRITE_BATCH frames, then one flush. A frame taken
                // from the queue is always written: the batch ends before
                // taking the next one, never after.
                let mut next = next;
                let mut fed = 0;
                loop {
                    match next {
                        Some(Outbound::Frame(frame)) => {
                            if sink.feed(Message::Binary(frame)).await.is_err() {
                                return None;
                            }
                            fed += 1;
                        }
                        Some(Outbound::Close(reason)) => {
                            let _ = sink.flush().await;
                            return Some(reason);
                        }
                        None => {
                            let _ = sink.flush().await;
                            return Some(CloseReason::new(
                                close::INTERNAL_ERROR,
                                "the document closed; reconnect",
                            ));
                        }
                    }
                    if fed == WRITE_BATCH {
                        break;
                    }
                    match outbound.try_recv() {
                        Ok(more) => next = Some(more),
                        Err(mpsc::error::TryRecvError::Empty) => break,
                        Err(mpsc::error::TryRecvError::Disconnected) => next = None,
                    }
                }
                if sink.flush().await.is_err() {
                    return None;
                }
            }
            _ = ping.tick() => {
                if sink.send(Message::Ping(Bytes::new())).await.is_err() {
                    return None;
                }
            }
        }
    }
}

/// Reads frames, decodes them fully, and hands them to the room. Returns the
/// reason to close with, or `None` when the client closed or went away.
async fn read_frames<R>(
    stream: &mut R,
    room: &RoomLink,
    identity: Option<&Identity>,
    limits: &RateLimits,
    config: &ConnectionConfig,
) -> Option<CloseReason>
where
    R: Stream<Item = Result<Message, axum::Error>> + Unpin,
{
    loop {
        let message = match tokio::time::timeout(config.idle_timeout, stream.next()).await {
            Err(_) => {
                return Some(CloseReason::new(
                    close::GOING_AWAY,
                    "nothing received for too long",
                ));
            }
            Ok(None) => return None,
            Ok(Some(Err(error))) => return read_error(error, config),
            Ok(Some(Ok(message))) => message,
        };
        match message {
            Message::Binary(frame) => {
                limits.wait().await;
                let inbound = match decode(&frame, identity) {
                    Ok(inbound) => inbound,
                    Err(reason) => {
                        tracing::info!(connection = %room.connection(), document = %room.document(), code = reason.code, reason = %reason.reason, "malformed frame");
                        return Some(reason);
                    }
                };
                if !inbound.is_empty() && room.send(inbound).await.is_err() {
                    return Some(CloseReason::new(
                        close::INTERNAL_ERROR,
                        "the document closed; reconnect",
                    ));
                }
            }
            Message::Text(_) => {
                return Some(CloseReason::new(
                    close::UNSUPPORTED_DATA,
                    "text frames are not part of the protocol; send binary frames",
                ));
            }
            Message::Ping(_) | Message::Pong(_) => {}
            Message::Close(_) => return None,
        }
    }
}

fn read_error(error: axum::Error, config: &ConnectionConfig) -> Option<CloseReason> {
    let inner = error.into_inner();
    match inner.downcast_ref::<tungstenite::Error>() {
        Some(tungstenite::Error::Capacity(_)) => Some(CloseReason::new(
            close::TOO_BIG,
            format!("frame larger than {} bytes", config.max_frame_bytes),
        )),
        // A peer that vanished is not a protocol error; there is nobody to tell.
        Some(tungstenite::Error::Protocol(
            tungstenite::error::ProtocolError::ResetWithoutClosingHandshake,
        )) => None,
        Some(tungstenite::Error::Protocol(error)) => Some(CloseReason::new(
            close::PROTOCOL_ERROR,
            format!("websocket protocol error: {error}"),
        )),
        _ => None,
    }
}

/// Decodes a frame into what the room needs, refusing it whole if any part
/// of it is malformed.
/// With an identity, awareness states carry it (see [`stamp_identity`]).
pub fn decode(frame: &Bytes, identity: Option<&Identity>) -> Result<Vec<Inbound>, CloseReason> {
    let messages = protocol::decode_frame(frame).map_err(|error| match error {
        FrameError::AwarenessJson => CloseReason::new(close::INVALID_PAYLOAD, error.to_string()),
        _ => CloseReason::new(close::PROTOCOL_ERROR, error.to_string()),
    })?;
    let invalid = |error: super::crdt::InvalidUpdate| {
        CloseReason::new(close::INVALID_PAYLOAD, format!("invalid update: {error}"))
    };
    let mut inbound = Vec::with_capacity(messages.len());
    for message in messages {
        match message {
            protocol::Message::SyncStep1(state_vector) => {
                inbound.push(Inbound::SyncStep1(
                    decode_state_vector(&state_vector).map_err(invalid)?,
                ));
            }
            protocol::Message::SyncStep2(raw) | protocol::Message::Update(raw) => {
                let update = decode_update(&raw).map_err(invalid)?;
                inbound.push(Inbound::Update { raw, update });
            }
            protocol::Message::Awareness(entries) => {
                let entries = match identity {
                    Some(identity) => stamp_identity(entries, identity),
                    None => entries,
                };
                inbound.push(Inbound::Awareness(entries));
            }
            protocol::Message::QueryAwareness => inbound.push(Inbound::QueryAwareness),
            protocol::Message::Auth { .. } => {}
        }
    }
    Ok(inbound)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every frame the room queues reaches the socket, in order, however
    /// many are queued at once (a frame taken from the queue at the end of a
    /// batch was once dropped: a reconnect storm lost sync answers to it).
    #[tokio::test]
    async fn every_queued_frame_is_written_in_order() {
        let total = WRITE_BATCH * 3 + 5;
        let (outbound_tx, mut outbound) = outbound::channel(total + 1, usize::MAX);
        for index in 0..total {
            let frame = Bytes::from((index as u32).to_be_bytes().to_vec());
            outbound_tx
                .try_send_frame(frame)
                .expect("the queue has room");
        }
        outbound_tx
            .try_close(CloseReason::new(close::GOING_AWAY, "done"))
            .expect("the queue has room");
        let (_kill_tx, mut kill) = oneshot::channel();
        let mut sink = Vec::<Message>::new()
            .sink_map_err(|never: std::convert::Infallible| -> axum::Error { match never {} });
        let reason =
            write_frames(&mut sink, &mut outbound, &mut kill, Duration::from_secs(60)).await;
        assert_eq!(reason.map(|r| r.code), Some(close::GOING_AWAY));
        let written: Vec<u32> = sink
            .get_ref()
            .iter()
            .filter_map(|message| match message {
                Message::Binary(frame) => Some(u32::from_be_bytes(frame.as_ref().try_into().ok()?)),
                _ => None,
            })
            .collect();
        assert_eq!(written, (0..total as u32).collect::<Vec<_>>());
    }
}
