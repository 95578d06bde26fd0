//! The application: its shared state, its router, and `serve`.

use std::collections::{HashMap, HashSet};
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{DefaultBodyLimit, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, get};
use axum::serve::ListenerExt;
use futures_util::StreamExt;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_axum::router::OpenApiRouter;

use crate::audit::NewAuditEvent;
use crate::auth::extract::{TokenSource, token_from_headers};
use crate::auth::{self, LoginThrottle, SignedIn};
use crate::cache::ReadCache;
use crate::config::Config;
use crate::error::ApiError;
use crate::ids::{AccountId, ConnectionId, ResolutionId, SessionId};
use crate::resolutions::{self, Resolution};
use crate::store::directory::Directory;
use crate::store::{Database, DynStore, StoreError, now_millis};
use crate::sync::Metrics;
use crate::sync::connection::{self, RateLimits};
use crate::sync::room::{
    Access, AccessPolicy, CloseReason, Identity, IdentityFilter, JoinError, RoomEvent, Rooms, close,
};

/// `{"id": …}`, the answer to every creation.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Created {
    /// The new thing's id.
    pub id: String,
}

/// The state every handler shares. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<AppInner>,
}

struct AppInner {
    config: Config,
    database: Database,
    rooms: Rooms,
    metrics: Arc<Metrics>,
    shutdown: CancellationToken,
    /// Live websocket tasks and background work, so shutdown can wait for them.
    tasks: TaskTracker,
    next_connection: AtomicU64,
    /// Live sessions by token hash, as last read (see [`AppState::authenticate`]).
    /// Its generation counts the ends of sessions and the changes of
    /// accounts applied on this node (see `sync_document`).
    sessions: ReadCache<Vec<u8>, SignedIn>,
    /// Resolutions as last read, for their documents' access rules only
    /// (phase and sponsors, whose every change goes through `reauthorize`).
    /// Its generation counts the changes of any resolution's rules applied
    /// on this node (see `sync_document`).
    rules: ReadCache<ResolutionId, Resolution>,
    throttle: LoginThrottle,
    api_limiter: DefaultKeyedRateLimiter<AccountId>,
    sync_limiter: Arc<DefaultKeyedRateLimiter<AccountId>>,
    connections_per_account: Mutex<HashMap<AccountId, usize>>,
    /// SHA-256 of the one-time first-run token, while setup is open.
    setup_token: Mutex<Option<Vec<u8>>>,
    events: crate::events::Events,
    /// The other nodes, on PostgreSQL.
    cluster: Option<crate::cluster::Cluster>,
}

/// Sessions kept by [`AppState::authenticate`]: a meeting's delegates and
/// then some (a full cache makes room by dropping its expired entries, or
/// all of them).
const SESSIONS_CACHED: usize = 4096;

/// Resolutions whose access rules are kept for their websockets.
const RULES_CACHED: usize = 1024;

/// Session ids in one notice: 100 of them (about 20 bytes each in JSON)
/// stay well under PostgreSQL's payload limit.
const SESSIONS_PER_NOTICE: usize = 100;

/// How long a read is kept: the longest a node may act on a session or a
/// rule changed on another node whose notice it never received.
const CACHED_FOR: Duration = Duration::from_secs(30);

fn quota(per_second: u32, burst: u32) -> Quota {
    let per_second = NonZeroU32::new(per_second.max(1)).unwrap_or(NonZeroU32::MIN);
    let burst = NonZeroU32::new(burst.max(1)).unwrap_or(NonZeroU32::MIN);
    Quota::per_second(per_second).allow_burst(burst)
}

impl AppState {
    /// Builds the application over an opened database. Cancelling `shutdown`
    /// makes every room commit, close its sockets with 1001 and stop.
    pub fn new(config: Config, database: Database, shutdown: CancellationToken) -> Self {
        let metrics = Arc::new(Metrics::default());
        let (events_tx, events_rx) = mpsc::channel(1024);
        let tasks = TaskTracker::new();
        // On PostgreSQL other nodes may serve the same documents.
        let (cluster, notices) = match &database.postgres {
            Some(pool) => {
                let (cluster, notices) =
                    crate::cluster::start_postgres(pool.clone(), &tasks, shutdown.clone());
                (Some(cluster), Some(notices))
            }
            None => (None, None),
        };
        let rooms = Rooms::new(
            database.documents.clone(),
            config.room.clone(),
            shutdown.clone(),
            metrics.clone(),
            Some(events_tx),
            cluster.clone(),
        );
        let limits = &config.limits;
        let state = Self {
            inner: Arc::new(AppInner {
                api_limiter: RateLimiter::keyed(quota(limits.api_per_second, limits.api_burst)),
                sync_limiter: Arc::new(RateLimiter::keyed(quota(
                    limits.sync_messages_per_second,
                    limits.sync_burst,
                ))),
                config,
                database,
                rooms,
                metrics,
                shutdown,
                tasks,
                cluster,
                next_connection: AtomicU64::new(1),
                sessions: ReadCache::new(SESSIONS_CACHED, CACHED_FOR),
                rules: ReadCache::new(RULES_CACHED, CACHED_FOR),
                throttle: LoginThrottle::default(),
                connections_per_account: Mutex::new(HashMap::new()),
                setup_token: Mutex::new(None),
                events: crate::events::Events::default(),
            }),
        };
        if let Some(cluster) = &state.inner.cluster {
            state.inner.events.set_cluster(cluster.clone());
        }
        if let Some(notices) = notices {
            state
                .inner
                .tasks
                .spawn(handle_notices(state.clone(), notices));
        }
        state
            .inner
            .tasks
            .spawn(record_room_events(state.clone(), events_rx));
        state
    }

    /// The open documents.
    pub fn rooms(&self) -> &Rooms {
        &self.inner.rooms
    }

    /// The documents' store.
    pub fn store(&self) -> &DynStore {
        &self.inner.database.documents
    }

    /// The records.
    pub fn directory(&self) -> &dyn Directory {
        self.inner.database.directory.as_ref()
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.inner.config
    }

    /// The sync layer's counters.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Live notices about resolutions' records.
    pub fn events(&self) -> &crate::events::Events {
        &self.inner.events
    }

    /// Cancelled when the server shuts down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.inner.shutdown.clone()
    }

    /// Failed sign-ins, per account.
    pub fn throttle(&self) -> &LoginThrottle {
        &self.inner.throttle
    }

    /// The session and account of a token, if it is live.
    ///
    /// Every request and every websocket asks, so the answer is kept a
    /// while: a session's end, its account's change and the node's
    /// reconnection to the other nodes forget it (see [`crate::cache`]).
    pub async fn authenticate(&self, token: &str) -> Result<SignedIn, ApiError> {
        if token.is_empty() || token.len() > 128 {
            return Err(ApiError::Unauthorized);
        }
        let hash = auth::token_hash(token);
        let now = now_millis();
        if let Some(found) = self.inner.sessions.get(&hash)
            && found.session.expires_at > now
        {
            return Ok(found);
        }
        let read_at = self.inner.sessions.generation();
        match self.directory().session(&hash, now).await {
            Ok(found) => {
                self.inner.sessions.store(hash, found.clone(), read_at);
                Ok(found)
            }
            Err(StoreError::NotFound) => Err(ApiError::Unauthorized),
            Err(error) => Err(error.into()),
        }
    }

    /// Counts one API request against the account's budget.
    pub fn check_api_rate(&self, account: &AccountId) -> Result<(), ApiError> {
        self.inner
            .api_limiter
            .check_key(account)
            .map_err(|not_until| {
                ApiError::TooManyRequests(
                    not_until.wait_time_from(governor::clock::Clock::now(
                        self.inner.api_limiter.clock(),
                    )),
                )
            })
    }

    /// Appends to the audit log; a failure is logged, never fatal to the request.
    pub async fn record(&self, event: NewAuditEvent) {
        if let Err(error) = self.directory().record(&event, now_millis()).await {
            tracing::error!(%error, action = event.action, "could not write the audit log");
        }
    }

    /// Closes the websockets of these sessions at once (4401: signed out),
    /// on every node.
    pub async fn close_sessions(&self, sessions: &[SessionId]) {
        if sessions.is_empty() {
            return;
        }
        if let Some(cluster) = &self.inner.cluster {
            // In notices that fit the payload limit whatever the count (an
            // account's every session ends at once when it is disabled).
            for part in sessions.chunks(SESSIONS_PER_NOTICE) {
                cluster
                    .publish_reliably(crate::cluster::Notice::CloseSessions {
                        sessions: part.to_vec(),
                    })
                    .await;
            }
        }
        self.close_sessions_here(sessions).await;
    }

    async fn close_sessions_here(&self, sessions: &[SessionId]) {
        // Forgotten (which counts a change) before the sockets are closed:
        // see `sync_document`.
        self.inner
            .sessions
            .forget(|_, found| sessions.contains(&found.session.id));
        let sessions: Arc<[SessionId]> = sessions.into();
        let filter: IdentityFilter =
            Arc::new(move |identity: &Identity| sessions.contains(&identity.session));
        self.inner.rooms.close_where(filter, session_ended()).await;
    }

    /// Makes the account's websockets reconnect, so they come back with its
    /// new role or delegation.
    pub async fn reconnect_account(&self, account: &AccountId) {
        if let Some(cluster) = &self.inner.cluster {
            cluster
                .publish_reliably(crate::cluster::Notice::ReconnectAccount {
                    account: account.clone(),
                })
                .await;
        }
        self.reconnect_account_here(account).await;
    }

    async fn reconnect_account_here(&self, account: &AccountId) {
        self.inner
            .sessions
            .forget(|_, found| found.account.id == *account);
        let account = account.clone();
        let filter: IdentityFilter =
            Arc::new(move |identity: &Identity| identity.account == account);
        self.inner
            .rooms
            .close_where(filter, account_changed())
            .await;
    }

    /// Applies the resolution's current permission rules to every open
    /// connection of its document.
    pub async fn reauthorize(&self, resolution: &Resolution) {
        if let Some(cluster) = &self.inner.cluster {
            cluster
                .publish_reliably(crate::cluster::Notice::Reauthorize {
                    resolution: resolution.id.to_string(),
                })
                .await;
        }
        self.reauthorize_here(resolution).await;
    }

    async fn reauthorize_here(&self, resolution: &Resolution) {
        // Forgotten, which counts a change, before the rooms hear of it: a
        // websocket that joins without seeing the count move is in the room
        // before the change reaches it (see `sync_document`).
        self.inner.rules.forget(|id, _| *id == resolution.id);
        let Ok(document) = resolution.id.document() else {
            return;
        };
        self.inner
            .rooms
            .reauthorize(&document, access_policy(resolution.clone()))
            .await;
    }

    /// Checks every open websocket of this node against the database, after
    /// notices from the other nodes may have been missed (the listener's
    /// connection was lost): a socket whose session ended closes, one whose
    /// account changed reconnects, and every open document takes its
    /// resolution's current rules. What the notices would have done, read
    /// afresh. (A session that starts after the read is in neither set: its
    /// sockets are left alone. One that ends after it is told by its notice,
    /// the listener being back.)
    async fn recheck_connections_here(&self) {
        let documents = self.inner.rooms.open_document_ids();
        if documents.is_empty() {
            return;
        }
        match self.directory().unexpired_sessions(now_millis()).await {
            Ok(sessions) => {
                let (ended, live): (Vec<_>, Vec<_>) =
                    sessions.into_iter().partition(|session| session.ended);
                let ended: Arc<HashSet<SessionId>> = Arc::new(
                    ended
                        .into_iter()
                        .map(|session| session.signed_in.session.id)
                        .collect(),
                );
                let live: Arc<HashMap<SessionId, Identity>> = Arc::new(
                    live.iter()
                        .map(|session| {
                            let signed_in = &session.signed_in;
                            (signed_in.session.id.clone(), identity_of(signed_in))
                        })
                        .collect(),
                );
                self.inner
                    .rooms
                    .close_where(
                        Arc::new(move |identity: &Identity| ended.contains(&identity.session)),
                        session_ended(),
                    )
                    .await;
                self.inner
                    .rooms
                    .close_where(
                        Arc::new(move |identity: &Identity| {
                            live.get(&identity.session)
                                .is_some_and(|now| now != identity)
                        }),
                        account_changed(),
                    )
                    .await;
            }
            Err(error) => {
                tracing::warn!(%error, "could not read the sessions to check open websockets");
            }
        }
        for document in documents {
            self.reread_rules_here(&ResolutionId(document.as_str().to_owned()))
                .await;
        }
    }

    /// Reads a resolution's rules afresh and applies them to its document's
    /// open connections here (another node changed them, or may have).
    async fn reread_rules_here(&self, id: &ResolutionId) {
        match self.directory().resolution(id).await {
            Ok(resolution) => self.reauthorize_here(&resolution).await,
            Err(error) => {
                // Its rooms keep their rules until the next change, but no
                // new socket is let in on the old ones.
                tracing::warn!(resolution = %id, %error, "could not re-read a resolution's rules");
                self.inner.rules.forget(|kept, _| kept == id);
            }
        }
    }

    /// A resolution, for its document's access rules (its phase and
    /// sponsors) only: kept a while, forgotten by `reauthorize`.
    async fn access_rules(&self, id: &ResolutionId) -> Result<Resolution, ApiError> {
        if let Some(resolution) = self.inner.rules.get(id) {
            return Ok(resolution);
        }
        let read_at = self.inner.rules.generation();
        let resolution = self.directory().resolution(id).await?;
        self.inner
            .rules
            .store(id.clone(), resolution.clone(), read_at);
        Ok(resolution)
    }

    /// Whether the first-run setup link is open.
    pub fn setup_open(&self) -> bool {
        self.inner
            .setup_token
            .lock()
            .map(|token| token.is_some())
            .unwrap_or(false)
    }

    /// Opens the first-run setup: returns the one-time token to print.
    pub fn open_setup(&self) -> String {
        let token = auth::new_token();
        if let Ok(mut slot) = self.inner.setup_token.lock() {
            *slot = Some(auth::token_hash(&token));
        }
        token
    }

    /// Uses the one-time setup token: true once, for the right token.
    pub fn take_setup_token(&self, token: &str) -> bool {
        let Ok(mut slot) = self.inner.setup_token.lock() else {
            return false;
        };
        if slot.as_deref() == Some(auth::token_hash(token).as_slice()) {
            *slot = None;
            true
        } else {
            false
        }
    }

    fn take_connection_slot(&self, account: &AccountId) -> Result<ConnectionSlot, ApiError> {
        let mut counts =
            self.inner.connections_per_account.lock().map_err(|_| {
                ApiError::internal(anyhow::anyhow!("connection counts lock poisoned"))
            })?;
        let count = counts.entry(account.clone()).or_insert(0);
        if *count >= self.inner.config.limits.connections_per_account {
            return Err(ApiError::TooManyRequests(Duration::from_secs(5)));
        }
        *count += 1;
        Ok(ConnectionSlot {
            state: self.clone(),
            account: account.clone(),
        })
    }
}

/// One of an account's websocket connections; frees its slot when dropped.
struct ConnectionSlot {
    state: AppState,
    account: AccountId,
}

impl Drop for ConnectionSlot {
    fn drop(&mut self) {
        if let Ok(mut counts) = self.state.inner.connections_per_account.lock()
            && let Some(count) = counts.get_mut(&self.account)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.account);
            }
        }
    }
}

/// The access rule of a resolution's live document, for its current phase
/// and sponsors.
fn access_policy(resolution: Resolution) -> AccessPolicy {
    Arc::new(move |identity: &Identity| {
        let actor = auth::Actor {
            role: identity.role,
            delegation: identity.delegation.as_ref(),
        };
        if resolutions::may_edit_body(actor, &resolution) {
            Access::ReadWrite
        } else {
            Access::ReadOnly
        }
    })
}

/// Records the automatic checkpoint of a burst of editing that ended, unless
/// a version already holds everything.
async fn record_checkpoint(
    state: &AppState,
    document: &crate::ids::DocumentId,
    seq: crate::ids::Seq,
) -> Result<(), ApiError> {
    let resolution = match state
        .directory()
        .resolution(&ResolutionId(document.to_string()))
        .await
    {
        Ok(resolution) => resolution,
        Err(StoreError::NotFound) => return Ok(()),
        Err(error) => return Err(error.into()),
    };
    let versions = state.directory().versions(&resolution.id).await?;
    if versions.last().is_some_and(|version| version.seq >= seq.0) {
        return Ok(());
    }
    state
        .directory()
        .create_version(
            &crate::versions::NewVersion {
                resolution_id: resolution.id,
                name: "Checkpoint".into(),
                kind: crate::versions::VersionKind::Checkpoint,
                reason: Some("a burst of editing ended".into()),
                seq: seq.0,
                created_by: None,
            },
            now_millis(),
        )
        .await?;
    Ok(())
}

/// Acts on what the other nodes tell this one.
async fn handle_notices(state: AppState, mut notices: mpsc::Receiver<crate::cluster::Notice>) {
    use crate::cluster::Notice;
    while let Some(notice) = notices.recv().await {
        match notice {
            Notice::Committed { document, .. } => {
                if let Ok(document) = crate::ids::DocumentId::parse(&document) {
                    state.inner.rooms.catch_up(&document).await;
                }
            }
            Notice::Awareness { document, frame } => {
                let Ok(document) = crate::ids::DocumentId::parse(&document) else {
                    continue;
                };
                let Some(frame) = crate::cluster::awareness_frame(&frame) else {
                    continue;
                };
                if let Ok(messages) =
                    crate::sync::protocol::decode_frame(&bytes::Bytes::from(frame))
                {
                    for message in messages {
                        if let crate::sync::protocol::Message::Awareness(entries) = message {
                            state.inner.rooms.remote_awareness(&document, entries).await;
                        }
                    }
                }
            }
            Notice::Reauthorize { resolution } => {
                state.reread_rules_here(&ResolutionId(resolution)).await;
            }
            Notice::CloseSessions { sessions } => state.close_sessions_here(&sessions).await,
            Notice::ReconnectAccount { account } => state.reconnect_account_here(&account).await,
            Notice::Event {
                resolution,
                topic,
                id,
            } => {
                state
                    .events()
                    .notify_here(&resolution, topic, id.as_deref());
            }
            Notice::Resync => {
                // Notices may have been missed meanwhile: nothing read
                // before can be trusted to be current (and every socket
                // joining now checks again, see `sync_document`).
                state.inner.sessions.clear();
                state.inner.rules.clear();
                state.inner.rooms.catch_up_all().await;
                // And every socket already open is checked as a notice
                // would have: one let in on a session that ended, or under
                // rules that changed, meanwhile does not stay.
                state.recheck_connections_here().await;
            }
        }
    }
}

async fn record_room_events(state: AppState, mut events: mpsc::Receiver<RoomEvent>) {
    let shutdown = state.inner.shutdown.clone();
    loop {
        let event = tokio::select! {
            event = events.recv() => event,
            () = shutdown.cancelled() => None,
        };
        let Some(event) = event else { break };
        match event {
            RoomEvent::Settled { document, seq } => {
                if let Err(error) = record_checkpoint(&state, &document, seq).await {
                    tracing::warn!(%document, %error, "could not record a checkpoint");
                }
            }
            RoomEvent::WriteRefused { document, identity } => {
                state
                    .record(
                        NewAuditEvent::new(
                            Some(&identity.account),
                            "write_refused",
                            Some(document.to_string()),
                        )
                        .with(serde_json::json!({"role": identity.role})),
                    )
                    .await;
            }
        }
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Plenary",
        description = "Co-drafting, amendment and adoption of parliamentary resolutions. \
            Sign in with POST /api/auth/login and send the token as `Authorization: Bearer TOKEN`. \
            Errors are application/problem+json. The live body of a resolution is at \
            /sync/{id}?token=TOKEN (the y-websocket protocol; see docs/protocol.md)."
    ),
    modifiers(&BearerAuth)
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API's OpenAPI document, generated from the handlers.
pub fn openapi() -> utoipa::openapi::OpenApi {
    api_router().split_for_parts().1
}

/// A module's API handlers, one group per path (`list, create; get, update`),
/// written once, as two functions: `router()`, the routes the server serves,
/// and `routes()`, the same routes with their part of the OpenAPI document.
/// The server builds the document only when `/api/openapi.json` is first
/// asked for: describing every operation and schema runs about a megabyte of
/// code, which would stay resident in every server from its start on
/// (docs/performance/README.md).
macro_rules! api_routes {
    ($($first:ident $(, $rest:ident)*);+ $(;)?) => {
        /// This module's routes, with their part of the OpenAPI document.
        pub fn routes() -> utoipa_axum::router::OpenApiRouter<$crate::app::AppState> {
            utoipa_axum::router::OpenApiRouter::new()
                $(.routes(utoipa_axum::routes!($first $(, $rest)*)))+
        }

        /// This module's routes.
        pub fn router() -> axum::Router<$crate::app::AppState> {
            pastey::paste! {
                axum::Router::new()
                    $(.route(&<[<__path_ $first>] as utoipa::Path>::path(), {
                        let methods = axum::routing::MethodRouter::new();
                        let methods = $crate::app::on_methods(
                            methods,
                            <[<__path_ $first>] as utoipa::Path>::methods(),
                            $first,
                        );
                        $(
                            // Checked at every start (once, for a few
                            // handlers): a handler of another path would be
                            // served where its document does not say.
                            assert_eq!(
                                <[<__path_ $rest>] as utoipa::Path>::path(),
                                <[<__path_ $first>] as utoipa::Path>::path(),
                                "one group, one path",
                            );
                            let methods = $crate::app::on_methods(
                                methods,
                                <[<__path_ $rest>] as utoipa::Path>::methods(),
                                $rest,
                            );
                        )*
                        methods
                    }))+
            }
        }
    };
}
pub(crate) use api_routes;

/// `router` with `handler` on each of `methods` (those of its `utoipa::path`).
pub(crate) fn on_methods<H, T>(
    router: MethodRouter<AppState>,
    methods: Vec<utoipa::openapi::HttpMethod>,
    handler: H,
) -> MethodRouter<AppState>
where
    H: axum::handler::Handler<T, AppState>,
    T: 'static,
{
    use utoipa_axum::PathItemExt as _;
    methods.iter().fold(router, |router, method| {
        router.on(method.to_method_filter(), handler.clone())
    })
}

/// Every module of the API: its routes, and the same routes with their part
/// of the OpenAPI document (both written by [`api_routes!`]).
type ApiModule = (fn() -> Router<AppState>, fn() -> OpenApiRouter<AppState>);
const API_MODULES: [ApiModule; 8] = [
    (crate::auth::routes::router, crate::auth::routes::routes),
    (
        crate::meetings::routes::router,
        crate::meetings::routes::routes,
    ),
    (
        crate::resolutions::routes::router,
        crate::resolutions::routes::routes,
    ),
    (
        crate::versions::routes::router,
        crate::versions::routes::routes,
    ),
    (
        crate::amendments::routes::router,
        crate::amendments::routes::routes,
    ),
    (crate::events::routes::router, crate::events::routes::routes),
    (crate::audit::routes::router, crate::audit::routes::routes),
    (crate::export::routes::router, crate::export::routes::routes),
];

/// Every API route, without the OpenAPI document.
fn api_only_routes() -> Router<AppState> {
    API_MODULES
        .iter()
        .fold(Router::new(), |all, (router, _)| all.merge(router()))
}

/// `/api/openapi.json`: built at the first request, kept.
async fn openapi_json() -> Response {
    static DOCUMENT: std::sync::OnceLock<utoipa::openapi::OpenApi> = std::sync::OnceLock::new();
    axum::Json(DOCUMENT.get_or_init(openapi)).into_response()
}

fn api_router() -> OpenApiRouter<AppState> {
    API_MODULES.iter().fold(
        OpenApiRouter::with_openapi(ApiDoc::openapi()),
        |all, (_, routes)| all.merge(routes()),
    )
}

/// Bytes a websocket gathers before writing (see `sync_document`); a
/// connection's batch of frames (at most 64) is flushed at once anyway.
const WRITE_BUFFER_BYTES: usize = 8 * 1024;

/// Largest request body the API accepts.
const MAX_BODY_BYTES: usize = 256 * 1024;

/// Every route of the server.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(api_only_routes())
        .route("/api/openapi.json", get(openapi_json))
        // The browser client, and its routes; unknown /api paths stay 404 problem+json.
        .fallback(crate::web::fallback)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .route("/sync/{document}", get(sync_document))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .layer(axum::middleware::from_fn(request_span))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

/// Headers every response carries. (The browser client's page adds its
/// content security policy in `web.rs`.) No CORS headers are ever sent: other
/// origins cannot read the API.
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            axum::http::HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
    ] {
        if !headers.contains_key(&name) {
            headers.insert(name, axum::http::HeaderValue::from_static(value));
        }
    }
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY)
        && !headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"))
    {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            axum::http::HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'"),
        );
    }
    response
}

/// Every request's log lines carry a request id (never its query string:
/// `?token=` must not reach a log).
async fn request_span(request: axum::extract::Request, next: axum::middleware::Next) -> Response {
    use tracing::Instrument;
    let id = &crate::ids::random_id()[..8];
    let span = tracing::debug_span!("request", id, method = %request.method(), path = %request.uri().path());
    next.run(request).instrument(span).await
}

/// Serves on `listener` until the shutdown token is cancelled; then stops
/// accepting, lets every room commit what it holds and close its sockets
/// with 1001, and returns.
pub async fn serve(listener: TcpListener, state: AppState) -> std::io::Result<()> {
    let shutdown = state.inner.shutdown.clone();
    axum::serve(
        without_nagle(listener),
        router(state.clone()).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown.cancelled_owned())
    .await?;
    state.inner.rooms.wait_closed().await;
    state.inner.tasks.close();
    // The close frames are queued; give slow clients a moment to take them.
    if tokio::time::timeout(Duration::from_secs(10), state.inner.tasks.wait())
        .await
        .is_err()
    {
        tracing::warn!("some connections did not close within 10 s");
    }
    Ok(())
}

/// The listener, its connections set to write every frame as soon as it is
/// ready (`TCP_NODELAY`). With Nagle's algorithm, a frame written while the
/// client has not yet acknowledged the one before waits for that
/// acknowledgement, which the client's kernel may hold back for up to 40 ms:
/// it was the `plenary` benchmark's p99 (42 ms; 14 ms without it, see
/// docs/performance/README.md).
fn without_nagle(
    listener: TcpListener,
) -> axum::serve::TapIo<TcpListener, fn(&mut tokio::net::TcpStream)> {
    listener.tap_io(|stream| {
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "could not set TCP_NODELAY on a connection");
        }
    })
}

#[derive(Debug, Deserialize)]
struct SyncQuery {
    token: Option<String>,
}

/// `GET /sync/{resolution}`: authenticated before the upgrade (401), the
/// resolution must exist (404), and the connection gets the access the
/// resolution's rules give its account.
async fn sync_document(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(query): Query<SyncQuery>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let (token, source) = match query.token {
        Some(token) => (token, TokenSource::Query),
        None => token_from_headers(&headers).ok_or(ApiError::Unauthorized)?,
    };
    if source == TokenSource::Cookie && !same_origin(&headers) {
        return Err(ApiError::forbidden(
            "a cookie-authenticated websocket must come from this site",
        ));
    }
    let session_changes = state.inner.sessions.generation();
    let signed_in = state.authenticate(&token).await?;
    let identity = Arc::new(identity_of(&signed_in));
    let account = &signed_in.account;
    let access_changes = state.inner.rules.generation();
    let resolution_id = ResolutionId(name);
    let resolution = state.access_rules(&resolution_id).await?;
    let document = resolution
        .id
        .document()
        .map_err(|e| ApiError::BadRequest(e.to_string()))?;
    let slot = state.take_connection_slot(&account.id)?;
    let policy = access_policy(resolution);
    let access = policy(&identity);
    let connection = ConnectionId(state.inner.next_connection.fetch_add(1, Ordering::Relaxed));
    let membership = state
        .inner
        .rooms
        .join(&document, connection, identity.clone(), access)
        .await
        .map_err(|error| match error {
            JoinError::LoadFailed => {
                ApiError::Unavailable("the document could not be loaded; try again".into())
            }
            JoinError::ShuttingDown | JoinError::Busy => ApiError::Unavailable(error.to_string()),
        })?;
    // The rules may have changed between the read above and the join; the
    // room applies any later change itself, so one fresh read closes the gap,
    // needed only when a change was applied meanwhile. (A change is written,
    // then forgotten by the cache, which moves its generation, and only then
    // reaches the rooms: if the generation has not moved, any change after
    // our read, or after the entry we found kept, reaches the room after our
    // join.) The same for the session: one that ended, or an account that changed,
    // between the read above and the join closed the sockets in the rooms
    // then, not this one. Leaving (the membership dropped) and answering
    // 401, or 503 to come back with the account as it is now.
    if state.inner.sessions.generation() != session_changes
        && state.authenticate(&token).await? != signed_in
    {
        return Err(ApiError::Unavailable(
            "your account changed; reconnect".into(),
        ));
    }
    if state.inner.rules.generation() != access_changes {
        let fresh = state.directory().resolution(&resolution_id).await?;
        let fresh_access = access_policy(fresh)(&identity);
        if fresh_access != access {
            state
                .inner
                .rooms
                .set_access(&document, connection, fresh_access)
                .await;
        }
    }
    let limits = RateLimits {
        // The accounts' limiter's clock, shared: a new clock calibrates
        // itself (CPUID, which traps in a VM), a cost seen in every
        // connection of a reconnect storm.
        connection: Some(RateLimiter::direct_with_clock(
            quota(
                state.inner.config.limits.sync_messages_per_second,
                state.inner.config.limits.sync_burst,
            ),
            state.inner.sync_limiter.clock().clone(),
        )),
        account: Some((state.inner.sync_limiter.clone(), account.id.clone())),
    };
    let parts = Box::new(connection::Connection {
        membership,
        identity: Some(identity),
        limits,
        config: state.inner.config.connection.clone(),
        metrics: state.inner.metrics.clone(),
    });
    let max_frame_bytes = parts.config.max_frame_bytes;
    let token = state.inner.tasks.token();
    Ok(upgrade
        // tungstenite reads in 128 KiB chunks by default, and keeps that much
        // per socket: with thousands of mostly idle sockets it dominated our
        // memory. Keystrokes and awareness are tens of bytes; a larger frame
        // is read in several chunks (the largest accepted is set below).
        // 8 KiB chunks were still 16 MB of 2,000 sockets' buffers; 2 KiB and
        // then 1 KiB measured the same throughput (docs/performance/README.md).
        .read_buffer_size(1024)
        // tungstenite gathers frames up to this many bytes before writing
        // them (128 KiB by default), and its buffer keeps the largest size it
        // ever reached for the socket's life: after a reconnect storm, whose
        // presence frames fill it, that was ~100 KB for each of 1,000 sockets.
        .write_buffer_size(WRITE_BUFFER_BYTES)
        .max_message_size(max_frame_bytes)
        .max_frame_size(max_frame_bytes)
        // Split here, not in the task: the task then keeps the two halves,
        // not also the 368 bytes of the socket they were split from.
        .on_upgrade(move |socket| {
            let (sink, stream) = socket.split();
            async move {
                let _token = token;
                let _slot = slot;
                connection::run(sink, stream, parts).await;
            }
        }))
}

/// Why a websocket of a session that ended closes.
fn session_ended() -> CloseReason {
    CloseReason::new(
        close::SESSION_ENDED,
        "your session has ended; sign in again",
    )
}

/// Why a websocket of an account that changed closes (to come back as it is now).
fn account_changed() -> CloseReason {
    CloseReason::new(close::SERVICE_RESTART, "your account changed; reconnecting")
}

/// Who a websocket of a signed-in session is, as its rooms know it.
fn identity_of(signed_in: &SignedIn) -> Identity {
    let SignedIn {
        session,
        account,
        delegation_name,
    } = signed_in;
    Identity {
        account: account.id.clone(),
        session: session.id.clone(),
        name: account.name.clone(),
        role: account.role,
        delegation: account.delegation_id.clone(),
        delegation_name: delegation_name.clone(),
        expires_at: session.expires_at,
    }
}

/// Whether the request's `Origin` is this server (a browser's websocket to
/// us, not one opened by another site riding on our cookie).
fn same_origin(headers: &HeaderMap) -> bool {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some(origin), Some(host)) => origin
            .split_once("://")
            .is_some_and(|(_, authority)| authority.eq_ignore_ascii_case(host)),
        // Not a browser (browsers always send Origin on websockets).
        (None, _) => true,
        _ => false,
    }
}

async fn healthz() -> &'static str {
    "ok\n"
}

async fn readyz(State(state): State<AppState>) -> Result<&'static str, ApiError> {
    state
        .store()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connections_are_accepted_without_nagle() {
        use axum::serve::Listener as _;
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
        let address = listener.local_addr().expect("an address");
        let mut listener = without_nagle(listener);
        let client = tokio::net::TcpStream::connect(address);
        let ((accepted, _), client) = tokio::join!(listener.accept(), client);
        let _client = client.expect("connects");
        assert!(accepted.nodelay().expect("reads the option"));
    }

    #[test]
    fn cookie_websockets_must_come_from_this_site() {
        let mut headers = HeaderMap::new();
        headers.insert(header::HOST, "127.0.0.1:8080".parse().expect("header"));
        assert!(same_origin(&headers), "no Origin: not a browser");
        headers.insert(
            header::ORIGIN,
            "http://127.0.0.1:8080".parse().expect("header"),
        );
        assert!(same_origin(&headers));
        headers.insert(
            header::ORIGIN,
            "https://evil.example".parse().expect("header"),
        );
        assert!(!same_origin(&headers));
    }

    #[test]
    fn the_openapi_document_lists_the_scripting_contract() {
        let openapi = serde_json::to_value(openapi()).expect("serialises");
        let paths = openapi["paths"].as_object().expect("paths");
        for path in [
            "/api/auth/login",
            "/api/meetings",
            "/api/meetings/{id}/delegations",
            "/api/users",
            "/api/meetings/{id}/resolutions",
            "/api/resolutions/{id}/phase",
            "/api/resolutions/{id}/export",
            "/api/meetings/{id}/export",
        ] {
            assert!(paths.contains_key(path), "{path} is documented");
        }
        // The browser's export menu reads the format names and `what` here.
        let export = &paths["/api/resolutions/{id}/export"]["get"];
        let described = export.to_string();
        for word in ["md", "txt", "html", "pdf", "docx", "akn", "what=amendments"] {
            assert!(described.contains(word), "{word} in {described}");
        }
        assert!(
            export["responses"]["200"]["content"]
                .as_object()
                .is_some_and(|content| content.contains_key("application/akn+xml"))
        );
    }
}
