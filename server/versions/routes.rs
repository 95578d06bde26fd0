//! `/api/resolutions/{id}/versions`, `/compare`, `/body`, `/attribution`.

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::{IntoParams, ToSchema};

use super::{
    Contributor, NewVersion, ParagraphAuthors, Version, VersionKind, may_name, may_restore,
};
use crate::app::{AppState, Created};
use crate::audit::NewAuditEvent;
use crate::auth::extract::CurrentUser;
use crate::auth::{Account, validate_text};
use crate::document::compare::{Comparison, compare};
use crate::document::{self, Block};
use crate::error::{ApiError, Json};
use crate::ids::{ResolutionId, Seq};
use crate::resolutions::{Phase, Resolution};
use crate::store::now_millis;

crate::app::api_routes! {
    list_versions, name_version;
    get_version;
    restore_version;
    compare_versions;
    live_body;
    attribution;
}

/// A version and who changed the text since the one before.
#[derive(Debug, Serialize, ToSchema)]
pub struct VersionSummary {
    /// The version.
    #[serde(flatten)]
    pub version: Version,
    /// Who changed the text between the previous version and this one.
    pub contributors: Vec<Contributor>,
}

/// A block of a reading, with its number and how a delegate names it.
#[derive(Debug, Serialize, ToSchema)]
pub struct NumberedBlock {
    /// The block.
    #[serde(flatten)]
    pub block: Block,
    /// "3.", "(b)", or none.
    pub number: Option<String>,
    /// "operative 3", "preamble 2".
    pub reference: Option<String>,
}

/// A reading of the body: a version, or the live text.
#[derive(Debug, Serialize, ToSchema)]
pub struct Reading {
    /// The version read, or none for the live text.
    pub version: Option<Version>,
    /// The last update the reading holds.
    pub seq: i64,
    /// Its blocks, in order.
    pub blocks: Vec<NumberedBlock>,
}

fn numbered(blocks: Vec<Block>) -> Vec<NumberedBlock> {
    let numbers = document::numbers(&blocks);
    let references: Vec<Option<String>> = (0..blocks.len())
        .map(|index| document::reference(&blocks, index))
        .collect();
    blocks
        .into_iter()
        .zip(numbers)
        .zip(references)
        .map(|((block, number), reference)| NumberedBlock {
            block,
            number,
            reference,
        })
        .collect()
}

/// The last committed update of a resolution's document: everything any
/// client has applied is committed first.
pub async fn committed_seq(state: &AppState, resolution: &Resolution) -> Result<Seq, ApiError> {
    let document = resolution
        .id
        .document()
        .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
    match state.rooms().flush(&document).await {
        Ok(Some(seq)) => Ok(seq),
        Ok(None) => Ok(state.store().last_seq(&document).await?),
        Err(error) => Err(ApiError::Unavailable(error.to_string())),
    }
}

/// The body of a resolution's document right after update `seq`.
pub async fn body_at(
    state: &AppState,
    resolution: &Resolution,
    seq: Seq,
) -> Result<Vec<Block>, ApiError> {
    let document = resolution
        .id
        .document()
        .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
    let stored = state.store().load_through(&document, seq).await?;
    tokio::task::spawn_blocking(move || super::materialize(&stored))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

/// Records a version of everything committed now (after flushing the room).
pub async fn record_version(
    state: &AppState,
    resolution: &Resolution,
    kind: VersionKind,
    name: String,
    reason: Option<String>,
    author: Option<&Account>,
) -> Result<Version, ApiError> {
    let seq = committed_seq(state, resolution).await?;
    let version = state
        .directory()
        .create_version(
            &NewVersion {
                resolution_id: resolution.id.clone(),
                name,
                kind,
                reason,
                seq: seq.0,
                created_by: author.map(|account| account.id.clone()),
            },
            now_millis(),
        )
        .await?;
    state.events().notify(
        resolution.id.as_str(),
        crate::events::Topic::Version,
        Some(&version.id),
    );
    Ok(version)
}

/// The name of the version recorded when a resolution enters `phase`.
pub fn phase_version_name(phase: Phase) -> String {
    match phase {
        Phase::Drafting => "Returned to drafting",
        Phase::Tabled => "Tabled",
        Phase::Voting => "Put to the vote",
        Phase::Adopted => "Adopted",
        Phase::Rejected => "Rejected",
        Phase::Withdrawn => "Withdrawn",
    }
    .to_owned()
}

async fn resolution(state: &AppState, id: String) -> Result<Resolution, ApiError> {
    Ok(state.directory().resolution(&ResolutionId(id)).await?)
}

/// The versions of a resolution, oldest first, each with its contributors.
#[utoipa::path(get, path = "/api/resolutions/{id}/versions", tag = "versions",
    params(("id" = String, Path, description = "resolution id")),
    responses((status = 200, body = Vec<VersionSummary>)), security(("bearer" = [])))]
async fn list_versions(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Vec<VersionSummary>>, ApiError> {
    let resolution = resolution(&state, id).await?;
    let versions = state.directory().versions(&resolution.id).await?;
    let mut summaries = Vec::with_capacity(versions.len());
    let mut previous = 0;
    for version in versions {
        let contributors = state
            .directory()
            .contributors(resolution.id.as_str(), previous, version.seq)
            .await?;
        previous = version.seq;
        summaries.push(VersionSummary {
            version,
            contributors,
        });
    }
    Ok(Json(summaries))
}

/// `POST /api/resolutions/{id}/versions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NameVersion {
    /// "Draft 2 as circulated".
    pub name: String,
    /// Why it is recorded.
    pub reason: Option<String>,
}

/// Records the current text as a named version (the secretariat, the chair,
/// or a sponsor).
#[utoipa::path(post, path = "/api/resolutions/{id}/versions", tag = "versions", request_body = NameVersion,
    params(("id" = String, Path, description = "resolution id")),
    responses((status = 201, body = Created)), security(("bearer" = [])))]
async fn name_version(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(request): Json<NameVersion>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let resolution = resolution(&state, id).await?;
    if !may_name(user.account.actor(), &resolution) {
        return Err(ApiError::forbidden(
            "only the presidency and the sponsors name versions",
        ));
    }
    validate_text("name", &request.name, 200)?;
    if let Some(reason) = &request.reason {
        validate_text("reason", reason, 1000)?;
    }
    let version = record_version(
        &state,
        &resolution,
        VersionKind::Named,
        request.name.trim().to_owned(),
        request.reason.map(|r| r.trim().to_owned()),
        Some(&user.account),
    )
    .await?;
    state
        .record(
            NewAuditEvent::new(
                Some(&user.account.id),
                "version_named",
                Some(resolution.id.to_string()),
            )
            .with(json!({"version": version.number, "name": version.name})),
        )
        .await;
    Ok((StatusCode::CREATED, Json(Created { id: version.id })))
}

/// One version's text.
#[utoipa::path(get, path = "/api/resolutions/{id}/versions/{version}", tag = "versions",
    params(("id" = String, Path, description = "resolution id"), ("version" = String, Path, description = "version id")),
    responses((status = 200, body = Reading)), security(("bearer" = [])))]
async fn get_version(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path((id, version)): Path<(String, String)>,
) -> Result<Json<Reading>, ApiError> {
    let resolution = resolution(&state, id).await?;
    let version = state.directory().version(&resolution.id, &version).await?;
    let blocks = body_at(&state, &resolution, Seq(version.seq)).await?;
    Ok(Json(Reading {
        seq: version.seq,
        version: Some(version),
        blocks: numbered(blocks),
    }))
}

/// The live text, as blocks with their numbers.
#[utoipa::path(get, path = "/api/resolutions/{id}/body", tag = "versions",
    params(("id" = String, Path, description = "resolution id")),
    responses((status = 200, body = Reading)), security(("bearer" = [])))]
async fn live_body(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Reading>, ApiError> {
    let resolution = resolution(&state, id).await?;
    let seq = committed_seq(&state, &resolution).await?;
    let blocks = body_at(&state, &resolution, seq).await?;
    Ok(Json(Reading {
        version: None,
        seq: seq.0,
        blocks: numbered(blocks),
    }))
}

/// `?from=V&to=W`: version ids, or `live`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct CompareQuery {
    /// The earlier reading: a version id, or `live`.
    pub from: String,
    /// The later reading: a version id, or `live` (the default).
    pub to: Option<String>,
}

/// Two readings compared.
#[derive(Debug, Serialize, ToSchema)]
pub struct CompareResponse {
    /// The earlier version (none: the live text).
    pub from: Option<Version>,
    /// The later version (none: the live text).
    pub to: Option<Version>,
    /// Paragraph by paragraph, word by word.
    pub comparison: Comparison,
}

async fn reading(
    state: &AppState,
    resolution: &Resolution,
    which: &str,
) -> Result<(Option<Version>, Vec<Block>), ApiError> {
    if which == "live" {
        let seq = committed_seq(state, resolution).await?;
        Ok((None, body_at(state, resolution, seq).await?))
    } else {
        let version = state.directory().version(&resolution.id, which).await?;
        let blocks = body_at(state, resolution, Seq(version.seq)).await?;
        Ok((Some(version), blocks))
    }
}

/// Compares two versions, or a version and the live text: paragraphs
/// aligned by identity, word-level changes inside each.
#[utoipa::path(get, path = "/api/resolutions/{id}/compare", tag = "versions", params(("id" = String, Path, description = "resolution id"), CompareQuery),
    responses((status = 200, body = CompareResponse)), security(("bearer" = [])))]
async fn compare_versions(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
    Query(query): Query<CompareQuery>,
) -> Result<Json<CompareResponse>, ApiError> {
    let resolution = resolution(&state, id).await?;
    let (from, from_blocks) = reading(&state, &resolution, &query.from).await?;
    let (to, to_blocks) =
        reading(&state, &resolution, query.to.as_deref().unwrap_or("live")).await?;
    Ok(Json(CompareResponse {
        from,
        to,
        comparison: compare(&from_blocks, &to_blocks),
    }))
}

/// `POST /api/resolutions/{id}/versions/{version}/restore`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RestoreRequest {
    /// Why.
    pub reason: Option<String>,
}

/// Makes the live text equal to a version, as a new change on top (recorded
/// as a version "Restored from …"); connected clients converge to it at once.
/// The secretariat, before the resolution is decided.
#[utoipa::path(post, path = "/api/resolutions/{id}/versions/{version}/restore", tag = "versions",
    request_body(content = RestoreRequest, description = "optional"),
    params(("id" = String, Path, description = "resolution id"), ("version" = String, Path, description = "version id")),
    responses((status = 201, body = Created, description = "the new version")), security(("bearer" = [])))]
async fn restore_version(
    State(state): State<AppState>,
    user: CurrentUser,
    Path((id, version)): Path<(String, String)>,
    body: axum::body::Bytes,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    // The body is optional: a script may POST nothing.
    let request: RestoreRequest = if body.iter().all(u8::is_ascii_whitespace) {
        RestoreRequest::default()
    } else {
        serde_json::from_slice(&body).map_err(|e| ApiError::BadRequest(e.to_string()))?
    };
    let resolution = resolution(&state, id).await?;
    if !may_restore(user.account.actor(), &resolution) {
        return Err(ApiError::forbidden(
            "only the secretariat restores versions, before a decision",
        ));
    }
    if let Some(reason) = &request.reason {
        validate_text("reason", reason, 1000)?;
    }
    let source = state.directory().version(&resolution.id, &version).await?;
    let target = body_at(&state, &resolution, Seq(source.seq)).await?;
    let document = resolution
        .id
        .document()
        .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
    let author = (
        Some(user.account.id.0.clone()),
        user.account.delegation_id.as_ref().map(|d| d.0.clone()),
    );
    let seq = state
        .rooms()
        .edit(
            &document,
            author,
            Box::new(move |transaction| {
                use yrs::WriteTxn;
                let body = transaction.get_or_insert_xml_fragment(document::BODY);
                document::restore::replace_body(transaction, &body, &target);
            }),
        )
        .await
        .map_err(|error| ApiError::Unavailable(error.to_string()))?;
    let restored = state
        .directory()
        .create_version(
            &NewVersion {
                resolution_id: resolution.id.clone(),
                name: format!("Restored from {} ({})", source.number, source.name),
                kind: VersionKind::Restore,
                reason: request.reason,
                seq: seq.0,
                created_by: Some(user.account.id.clone()),
            },
            now_millis(),
        )
        .await?;
    state
        .record(
            NewAuditEvent::new(
                Some(&user.account.id),
                "version_restored",
                Some(resolution.id.to_string()),
            )
            .with(json!({"from_version": source.number, "new_version": restored.number})),
        )
        .await;
    Ok((StatusCode::CREATED, Json(Created { id: restored.id })))
}

/// Who wrote each paragraph of the live text.
#[derive(Debug, Serialize, ToSchema)]
pub struct Attribution {
    /// Per paragraph, its authors and how many characters each wrote.
    pub paragraphs: Vec<ParagraphAuthors>,
    /// The names of the accounts and delegations named above.
    pub names: std::collections::BTreeMap<String, String>,
}

/// `?version=V`: attribute a version instead of the live text.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AttributionQuery {
    /// A version id (default: the live text).
    pub version: Option<String>,
}

/// Who wrote this? For every paragraph, its authors (account and delegation).
#[utoipa::path(get, path = "/api/resolutions/{id}/attribution", tag = "versions",
    params(("id" = String, Path, description = "resolution id"), AttributionQuery),
    responses((status = 200, body = Attribution)), security(("bearer" = [])))]
async fn attribution(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
    Query(query): Query<AttributionQuery>,
) -> Result<Json<Attribution>, ApiError> {
    let resolution = resolution(&state, id).await?;
    let seq = match &query.version {
        Some(version) => Seq(state
            .directory()
            .version(&resolution.id, version)
            .await?
            .seq),
        None => committed_seq(&state, &resolution).await?,
    };
    let document = resolution
        .id
        .document()
        .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
    let history = state.store().history(&document, seq).await?;
    let paragraphs = tokio::task::spawn_blocking(move || super::attribute(&history))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let mut names = std::collections::BTreeMap::new();
    for account in state.directory().accounts().await? {
        names.insert(account.id.0, account.name);
    }
    for delegation in state
        .directory()
        .delegations(&resolution.meeting_id)
        .await?
    {
        names.insert(delegation.id.0, delegation.name);
    }
    let mentioned: std::collections::HashSet<&str> = paragraphs
        .iter()
        .flat_map(|p| p.shares.iter())
        .flat_map(|s| [s.account_id.as_deref(), s.delegation_id.as_deref()])
        .flatten()
        .collect();
    names.retain(|id, _| mentioned.contains(id.as_str()));
    Ok(Json(Attribution { paragraphs, names }))
}
