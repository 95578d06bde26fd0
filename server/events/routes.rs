//! `GET /api/resolutions/{id}/events`: server-sent events for one resolution.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use tokio::sync::broadcast::error::RecvError;

use crate::app::AppState;
use crate::auth::extract::CurrentUser;
use crate::error::ApiError;
use crate::ids::ResolutionId;

crate::app::api_routes! {
    resolution_events;
}

/// Server-sent events: one `change` event per change to the resolution's
/// amendments, comments, votes, record or versions (data: `{"resolution_id",
/// "topic", "id"}`); a `resync` event when this listener fell behind and
/// must refetch everything.
#[utoipa::path(get, path = "/api/resolutions/{id}/events", tag = "events",
    params(("id" = String, Path, description = "resolution id")),
    responses((status = 200, content_type = "text/event-stream", body = super::Event)),
    security(("bearer" = [])))]
async fn resolution_events(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>, ApiError> {
    let resolution = state.directory().resolution(&ResolutionId(id)).await?;
    let mut receiver = state.events().subscribe();
    let shutdown = state.shutdown_token();
    let wanted = resolution.id.0;
    let stream = async_stream(move |sender| async move {
        loop {
            let next = tokio::select! {
                next = receiver.recv() => next,
                () = shutdown.cancelled() => break,
            };
            let event = match next {
                Ok(event) if event.resolution_id == wanted => SseEvent::default()
                    .event("change")
                    .json_data(&event)
                    .unwrap_or_else(|_| SseEvent::default().event("resync")),
                Ok(_) => continue,
                Err(RecvError::Lagged(_)) => SseEvent::default().event("resync").data("{}"),
                Err(RecvError::Closed) => break,
            };
            if sender.send(Ok(event)).await.is_err() {
                break;
            }
        }
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// A stream fed by a task, over a small bounded channel (a slow reader
/// slows its own task, nobody else's).
fn async_stream<F, Fut>(produce: F) -> impl Stream<Item = Result<SseEvent, Infallible>>
where
    F: FnOnce(tokio::sync::mpsc::Sender<Result<SseEvent, Infallible>>) -> Fut,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    let (sender, receiver) = tokio::sync::mpsc::channel(16);
    tokio::spawn(produce(sender));
    tokio_stream_from(receiver)
}

fn tokio_stream_from(
    mut receiver: tokio::sync::mpsc::Receiver<Result<SseEvent, Infallible>>,
) -> impl Stream<Item = Result<SseEvent, Infallible>> {
    futures_util::stream::poll_fn(move |context| receiver.poll_recv(context))
}
