//! `/api/meetings` and their delegations.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::{Delegation, Meeting, VotingRule, validate_date, validate_languages};
use crate::app::{AppState, Created};
use crate::audit::NewAuditEvent;
use crate::auth::extract::CurrentUser;
use crate::auth::validate_text;
use crate::error::{ApiError, Json};
use crate::ids::{DelegationId, MeetingId};
use crate::resolutions::Resolution;
use crate::store::now_millis;

crate::app::api_routes! {
    list_meetings, create_meeting;
    get_meeting, update_meeting;
    list_delegations, create_delegation;
}

/// A meeting's fields, to create or change one.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeetingFields {
    /// Title (required to create).
    pub title: Option<String>,
    /// Theme.
    pub theme: Option<String>,
    /// First day, YYYY-MM-DD.
    pub starts_on: Option<String>,
    /// Last day, YYYY-MM-DD.
    pub ends_on: Option<String>,
    /// City and country.
    pub place: Option<String>,
    /// Working languages (en, es, fr, pt); all four by default.
    pub languages: Option<Vec<String>>,
    /// How votes are decided; majority of votes cast by default.
    pub voting_rule: Option<VotingRule>,
}

fn apply(meeting: &mut Meeting, fields: MeetingFields) -> Result<(), ApiError> {
    if let Some(title) = fields.title {
        validate_text("title", &title, 300)?;
        meeting.title = title.trim().to_owned();
    }
    let optional = |field: &'static str,
                    value: Option<String>,
                    max: usize|
     -> Result<Option<Option<String>>, ApiError> {
        match value {
            None => Ok(None),
            Some(value) if value.trim().is_empty() => Ok(Some(None)),
            Some(value) => {
                validate_text(field, &value, max)?;
                Ok(Some(Some(value.trim().to_owned())))
            }
        }
    };
    if let Some(theme) = optional("theme", fields.theme, 300)? {
        meeting.theme = theme;
    }
    if let Some(place) = optional("place", fields.place, 200)? {
        meeting.place = place;
    }
    if let Some(starts_on) = optional("starts_on", fields.starts_on, 10)? {
        if let Some(date) = &starts_on {
            validate_date("starts_on", date)?;
        }
        meeting.starts_on = starts_on;
    }
    if let Some(ends_on) = optional("ends_on", fields.ends_on, 10)? {
        if let Some(date) = &ends_on {
            validate_date("ends_on", date)?;
        }
        meeting.ends_on = ends_on;
    }
    if let (Some(start), Some(end)) = (&meeting.starts_on, &meeting.ends_on)
        && end < start
    {
        return Err(crate::auth::Invalid::new("ends_on", "is before starts_on").into());
    }
    if let Some(languages) = fields.languages {
        validate_languages(&languages)?;
        meeting.languages = languages;
    }
    if let Some(rule) = fields.voting_rule {
        meeting.voting_rule = rule;
    }
    Ok(())
}

/// Every meeting, newest first.
#[utoipa::path(get, path = "/api/meetings", tag = "meetings",
    responses((status = 200, body = Vec<Meeting>)), security(("bearer" = [])))]
async fn list_meetings(
    State(state): State<AppState>,
    _user: CurrentUser,
) -> Result<Json<Vec<Meeting>>, ApiError> {
    Ok(Json(state.directory().meetings().await?))
}

/// Creates a meeting (secretariat).
#[utoipa::path(post, path = "/api/meetings", tag = "meetings", request_body = MeetingFields,
    responses((status = 201, body = Created)), security(("bearer" = [])))]
async fn create_meeting(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(fields): Json<MeetingFields>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    user.require_secretariat()?;
    if fields.title.is_none() {
        return Err(crate::auth::Invalid::new("title", "is required").into());
    }
    let mut meeting = Meeting {
        id: MeetingId::generate(),
        title: String::new(),
        theme: None,
        starts_on: None,
        ends_on: None,
        place: None,
        languages: super::LANGUAGES
            .iter()
            .map(|code| (*code).to_owned())
            .collect(),
        voting_rule: VotingRule::default(),
        created_at: now_millis(),
    };
    apply(&mut meeting, fields)?;
    state.directory().create_meeting(&meeting).await?;
    state
        .record(
            NewAuditEvent::new(
                Some(&user.account.id),
                "meeting_created",
                Some(meeting.id.to_string()),
            )
            .with(json!({"title": meeting.title})),
        )
        .await;
    Ok((StatusCode::CREATED, Json(Created { id: meeting.id.0 })))
}

/// A meeting with its delegations and resolutions.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeetingDetail {
    /// The meeting.
    pub meeting: Meeting,
    /// Its delegations, by name.
    pub delegations: Vec<Delegation>,
    /// Its resolutions, oldest first.
    pub resolutions: Vec<Resolution>,
}

/// One meeting, with its delegations and resolutions.
#[utoipa::path(get, path = "/api/meetings/{id}", tag = "meetings",
    params(("id" = String, Path, description = "meeting id")),
    responses((status = 200, body = MeetingDetail), (status = 404)), security(("bearer" = [])))]
async fn get_meeting(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<MeetingDetail>, ApiError> {
    let id = MeetingId(id);
    let meeting = state.directory().meeting(&id).await?;
    let delegations = state.directory().delegations(&id).await?;
    let resolutions = state.directory().resolutions(&id).await?;
    Ok(Json(MeetingDetail {
        meeting,
        delegations,
        resolutions,
    }))
}

/// Changes a meeting (secretariat).
#[utoipa::path(patch, path = "/api/meetings/{id}", tag = "meetings", request_body = MeetingFields,
    params(("id" = String, Path, description = "meeting id")),
    responses((status = 200, body = Meeting)), security(("bearer" = [])))]
async fn update_meeting(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(fields): Json<MeetingFields>,
) -> Result<Json<Meeting>, ApiError> {
    user.require_secretariat()?;
    let mut meeting = state.directory().meeting(&MeetingId(id)).await?;
    apply(&mut meeting, fields)?;
    state.directory().update_meeting(&meeting).await?;
    state
        .record(NewAuditEvent::new(
            Some(&user.account.id),
            "meeting_changed",
            Some(meeting.id.to_string()),
        ))
        .await;
    Ok(Json(meeting))
}

/// The delegations of a meeting.
#[utoipa::path(get, path = "/api/meetings/{id}/delegations", tag = "meetings",
    params(("id" = String, Path, description = "meeting id")),
    responses((status = 200, body = Vec<Delegation>)), security(("bearer" = [])))]
async fn list_delegations(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Vec<Delegation>>, ApiError> {
    let id = MeetingId(id);
    state.directory().meeting(&id).await?;
    Ok(Json(state.directory().delegations(&id).await?))
}

/// `POST /api/meetings/{id}/delegations`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDelegation {
    /// "Mexico", "Parliament of Canada".
    pub name: String,
}

/// Adds a delegation to a meeting (secretariat).
#[utoipa::path(post, path = "/api/meetings/{id}/delegations", tag = "meetings", request_body = NewDelegation,
    params(("id" = String, Path, description = "meeting id")),
    responses((status = 201, body = Created), (status = 409, description = "the name is taken")),
    security(("bearer" = [])))]
async fn create_delegation(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(new): Json<NewDelegation>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    user.require_secretariat()?;
    validate_text("name", &new.name, 120)?;
    let meeting = state.directory().meeting(&MeetingId(id)).await?;
    let delegation = Delegation {
        id: DelegationId::generate(),
        meeting_id: meeting.id,
        name: new.name.trim().to_owned(),
        created_at: now_millis(),
    };
    state.directory().create_delegation(&delegation).await?;
    state
        .record(
            NewAuditEvent::new(
                Some(&user.account.id),
                "delegation_created",
                Some(delegation.id.to_string()),
            )
            .with(json!({"name": delegation.name, "meeting_id": delegation.meeting_id})),
        )
        .await;
    Ok((
        StatusCode::CREATED,
        Json(Created {
            id: delegation.id.0,
        }),
    ))
}
