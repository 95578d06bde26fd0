//! `/api/meetings/{id}/resolutions`, `/api/resolutions/{id}` and its phase.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{
    Phase, Resolution, check_transition, may_create, may_edit_body, may_edit_record, moves_from,
};
use crate::app::{AppState, Created};
use crate::audit::NewAuditEvent;
use crate::auth::extract::CurrentUser;
use crate::auth::{Account, Invalid, validate_text};
use crate::document;
use crate::error::{ApiError, Json};
use crate::ids::{DelegationId, MeetingId, ResolutionId};
use crate::store::now_millis;

crate::app::api_routes! {
    list_resolutions, create_resolution;
    get_resolution, update_resolution;
    change_phase;
}

/// What the asking person may do with a resolution.
#[derive(Debug, Serialize, ToSchema)]
pub struct Permissions {
    /// Edit the body directly (drafting, sponsors and secretariat).
    pub edit_body: bool,
    /// Change the title and sponsors.
    pub edit_record: bool,
    /// The phases this person may move it to.
    pub moves: Vec<Phase>,
}

/// A resolution and what the asking person may do with it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ResolutionView {
    /// The resolution.
    pub resolution: Resolution,
    /// What you may do.
    pub permissions: Permissions,
}

fn view(account: &Account, resolution: Resolution) -> ResolutionView {
    let actor = account.actor();
    let permissions = Permissions {
        edit_body: may_edit_body(actor, &resolution),
        edit_record: may_edit_record(actor, &resolution),
        moves: moves_from(resolution.phase)
            .into_iter()
            .filter(|&to| check_transition(actor, &resolution, to).is_ok())
            .collect(),
    };
    ResolutionView {
        resolution,
        permissions,
    }
}

/// The resolutions of a meeting.
#[utoipa::path(get, path = "/api/meetings/{id}/resolutions", tag = "resolutions",
    params(("id" = String, Path, description = "meeting id")),
    responses((status = 200, body = Vec<Resolution>)), security(("bearer" = [])))]
async fn list_resolutions(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Vec<Resolution>>, ApiError> {
    let id = MeetingId(id);
    state.directory().meeting(&id).await?;
    Ok(Json(state.directory().resolutions(&id).await?))
}

/// `POST /api/meetings/{id}/resolutions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewResolution {
    /// Title.
    pub title: String,
    /// Sponsoring delegations (of this meeting), at least one.
    pub sponsors: Vec<DelegationId>,
}

async fn checked_sponsors(
    state: &AppState,
    meeting: &MeetingId,
    sponsors: &[DelegationId],
) -> Result<(), ApiError> {
    if sponsors.is_empty() {
        return Err(Invalid::new("sponsors", "names at least one delegation").into());
    }
    if sponsors.len() > 100 {
        return Err(Invalid::new("sponsors", "names more than 100 delegations").into());
    }
    let delegations = state.directory().delegations(meeting).await?;
    for (index, sponsor) in sponsors.iter().enumerate() {
        if !delegations
            .iter()
            .any(|delegation| &delegation.id == sponsor)
        {
            return Err(Invalid::new(
                "sponsors",
                format!("{sponsor} is not a delegation of this meeting"),
            )
            .into());
        }
        if sponsors[..index].contains(sponsor) {
            return Err(Invalid::new("sponsors", format!("{sponsor} is listed twice")).into());
        }
    }
    Ok(())
}

/// Creates a resolution in `drafting`, with its body's skeleton written by
/// the server. The presidency may create any; a delegate one that their
/// delegation sponsors.
#[utoipa::path(post, path = "/api/meetings/{id}/resolutions", tag = "resolutions", request_body = NewResolution,
    params(("id" = String, Path, description = "meeting id")),
    responses((status = 201, body = Created, description = "the id is also the document's name on /sync/")),
    security(("bearer" = [])))]
async fn create_resolution(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(new): Json<NewResolution>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let meeting = state.directory().meeting(&MeetingId(id)).await?;
    validate_text("title", &new.title, 300)?;
    checked_sponsors(&state, &meeting.id, &new.sponsors).await?;
    if !may_create(user.account.actor(), &new.sponsors) {
        return Err(ApiError::forbidden(
            "a delegate may only create a resolution that their own delegation sponsors",
        ));
    }
    let now = now_millis();
    let resolution = Resolution {
        id: ResolutionId::generate(),
        meeting_id: meeting.id,
        title: new.title.trim().to_owned(),
        phase: Phase::Drafting,
        sponsors: new.sponsors,
        created_at: now,
        updated_at: now,
        amendment_deadline: None,
    };
    let body = document::body_update(&document::skeleton());
    state
        .directory()
        .create_resolution(&resolution, &user.account.id, &body)
        .await?;
    state
        .record(
            NewAuditEvent::new(
                Some(&user.account.id),
                "resolution_created",
                Some(resolution.id.to_string()),
            )
            .with(json!({"title": resolution.title, "sponsors": resolution.sponsors})),
        )
        .await;
    Ok((
        StatusCode::CREATED,
        Json(Created {
            id: resolution.id.0,
        }),
    ))
}

/// A resolution, and what you may do with it.
#[utoipa::path(get, path = "/api/resolutions/{id}", tag = "resolutions",
    params(("id" = String, Path, description = "resolution id")),
    responses((status = 200, body = ResolutionView), (status = 404)), security(("bearer" = [])))]
async fn get_resolution(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<ResolutionView>, ApiError> {
    let resolution = state.directory().resolution(&ResolutionId(id)).await?;
    Ok(Json(view(&user.account, resolution)))
}

/// `PATCH /api/resolutions/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResolutionChange {
    /// New title.
    pub title: Option<String>,
    /// New list of sponsoring delegations.
    pub sponsors: Option<Vec<DelegationId>>,
}

/// Changes the title or sponsors (the secretariat before a decision; the
/// sponsors while drafting). A change of sponsors changes who may write on
/// open connections at once.
#[utoipa::path(patch, path = "/api/resolutions/{id}", tag = "resolutions", request_body = ResolutionChange,
    params(("id" = String, Path, description = "resolution id")),
    responses((status = 200, body = ResolutionView)), security(("bearer" = [])))]
async fn update_resolution(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(change): Json<ResolutionChange>,
) -> Result<Json<ResolutionView>, ApiError> {
    let mut resolution = state.directory().resolution(&ResolutionId(id)).await?;
    if !may_edit_record(user.account.actor(), &resolution) {
        return Err(ApiError::forbidden(
            "you may not change this resolution's title or sponsors now",
        ));
    }
    if let Some(title) = change.title {
        validate_text("title", &title, 300)?;
        resolution.title = title.trim().to_owned();
    }
    let sponsors_changed = change.sponsors.is_some();
    if let Some(sponsors) = change.sponsors {
        checked_sponsors(&state, &resolution.meeting_id, &sponsors).await?;
        if user.account.role == crate::auth::Role::Delegate
            && !resolution.is_sponsor(user.account.delegation_id.as_ref())
        {
            return Err(ApiError::forbidden(
                "you may not remove your own delegation from the sponsors",
            ));
        }
        resolution.sponsors = sponsors;
    }
    resolution.updated_at = now_millis();
    state.directory().update_resolution(&resolution).await?;
    if sponsors_changed {
        state.reauthorize(&resolution).await;
    }
    state
        .record(
            NewAuditEvent::new(
                Some(&user.account.id),
                "resolution_changed",
                Some(resolution.id.to_string()),
            )
            .with(json!({"title": resolution.title, "sponsors": resolution.sponsors})),
        )
        .await;
    Ok(Json(view(&user.account, resolution)))
}

/// `POST /api/resolutions/{id}/phase`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhaseChange {
    /// The phase to move to.
    pub phase: Phase,
}

/// Moves a resolution to another phase, as the state machine allows. A
/// resolution tabled turns every open connection read-only at once.
#[utoipa::path(post, path = "/api/resolutions/{id}/phase", tag = "resolutions", request_body = PhaseChange,
    params(("id" = String, Path, description = "resolution id")),
    responses((status = 200, body = ResolutionView), (status = 403), (status = 409, description = "no such move, or it moved meanwhile")),
    security(("bearer" = [])))]
async fn change_phase(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(change): Json<PhaseChange>,
) -> Result<Json<ResolutionView>, ApiError> {
    let mut resolution = state.directory().resolution(&ResolutionId(id)).await?;
    let from = resolution.phase;
    check_transition(user.account.actor(), &resolution, change.phase).map_err(
        |error| match error {
            super::PhaseError::NoSuchMove { .. } => ApiError::Conflict(error.to_string()),
            super::PhaseError::NotAllowed { .. } => ApiError::Forbidden(error.to_string()),
        },
    )?;
    let now = now_millis();
    state
        .directory()
        .set_phase(&resolution.id, from, change.phase, now)
        .await?;
    resolution.phase = change.phase;
    resolution.updated_at = now;
    state.reauthorize(&resolution).await;
    // Every phase change records a version: of exactly what was accepted
    // before it (the room commits what it holds first).
    crate::versions::routes::record_version(
        &state,
        &resolution,
        crate::versions::VersionKind::Phase,
        crate::versions::routes::phase_version_name(change.phase),
        Some(format!("{} → {}", from.as_str(), change.phase.as_str())),
        Some(&user.account),
    )
    .await?;
    state.events().notify(
        resolution.id.as_str(),
        crate::events::Topic::Resolution,
        None,
    );
    state
        .record(
            NewAuditEvent::new(
                Some(&user.account.id),
                "phase_changed",
                Some(resolution.id.to_string()),
            )
            .with(json!({"from": from, "to": change.phase})),
        )
        .await;
    Ok(Json(view(&user.account, resolution)))
}
