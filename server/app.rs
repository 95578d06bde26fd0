//! The application: its shared state, its router, and `serve`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::Config;
use crate::error::ApiError;
use crate::ids::{ConnectionId, DocumentId};
use crate::store::DynStore;
use crate::sync::room::{Access, JoinError, Rooms};
use crate::sync::{Metrics, connection};

/// The state every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<AppInner>,
}

struct AppInner {
    config: Config,
    store: DynStore,
    rooms: Rooms,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    /// Live websocket tasks, so shutdown can wait for their close frames.
    connections: TaskTracker,
    next_connection: AtomicU64,
}

impl AppState {
    /// Builds the application over an opened store. Cancelling `shutdown`
    /// makes every room commit, close its sockets with 1001 and stop.
    pub fn new(config: Config, store: DynStore, shutdown: CancellationToken) -> Self {
        let metrics = Arc::new(Metrics::default());
        let rooms = Rooms::new(
            store.clone(),
            config.room.clone(),
            shutdown.clone(),
            metrics.clone(),
        );
        Self {
            inner: Arc::new(AppInner {
                config,
                store,
                rooms,
                metrics,
                shutdown,
                connections: TaskTracker::new(),
                next_connection: AtomicU64::new(1),
            }),
        }
    }

    /// The open documents.
    pub fn rooms(&self) -> &Rooms {
        &self.inner.rooms
    }

    /// The store.
    pub fn store(&self) -> &DynStore {
        &self.inner.store
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }
}

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/sync/{document}", get(sync_document))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(state)
}

/// Serves on `listener` until `shutdown` is cancelled; then stops accepting,
/// lets every room commit what it holds and close its sockets with 1001, and
/// returns.
pub async fn serve(listener: TcpListener, state: AppState) -> std::io::Result<()> {
    let shutdown = state.inner.shutdown.clone();
    axum::serve(
        listener,
        router(state.clone()).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.cancelled_owned())
    .await?;
    state.inner.rooms.wait_closed().await;
    state.inner.connections.close();
    // The close frames are queued; give slow clients a moment to take them.
    if tokio::time::timeout(Duration::from_secs(10), state.inner.connections.wait())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not close within 10 s");
    }
    Ok(())
}

async fn sync_document(
    State(state): State<AppState>,
    Path(name): Path<String>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let document = DocumentId::parse(&name).map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let connection = ConnectionId(state.inner.next_connection.fetch_add(1, Ordering::Relaxed));
    let membership = state
        .inner
        .rooms
        .join(&document, connection, Access::ReadWrite)
        .await
        .map_err(|error| match error {
            JoinError::LoadFailed => {
                ApiError::Unavailable("the document could not be loaded; try again".into())
            }
            JoinError::ShuttingDown | JoinError::Busy => ApiError::Unavailable(error.to_string()),
        })?;
    let config = state.inner.config.connection.clone();
    let metrics = state.inner.metrics.clone();
    let token = state.inner.connections.token();
    Ok(upgrade
        // tungstenite reads in 128 KiB chunks by default, and keeps that much
        // per socket: with thousands of mostly idle sockets it dominated our
        // memory. Keystrokes and awareness are tens of bytes.
        .read_buffer_size(8 * 1024)
        .max_message_size(config.max_frame_bytes)
        .max_frame_size(config.max_frame_bytes)
        .on_upgrade(move |socket| async move {
            let _token = token;
            connection::run(socket, membership, config, metrics).await;
        }))
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state
        .inner
        .store
        .ping()
        .await
        .map_err(|e| ApiError::Unavailable(format!("database unreachable: {e}")))?;
    Ok("ready\n")
}

async fn metrics(State(state): State<AppState>) -> Response {
    let body = state
        .inner
        .metrics
        .render(state.inner.rooms.open_documents());
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        body,
    )
        .into_response()
}
