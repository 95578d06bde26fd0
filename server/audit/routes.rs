//! `/api/audit`: the audit log, for the secretariat.

use axum::extract::{Query, State};
use serde::Deserialize;
use utoipa::IntoParams;

use super::AuditEvent;
use crate::app::AppState;
use crate::auth::extract::CurrentUser;
use crate::error::{ApiError, Json};

crate::app::api_routes! {
    list_audit;
}

/// Paging through the audit log.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AuditQuery {
    /// Events older than this event id (for the next page).
    pub before: Option<i64>,
    /// How many (1 to 500; 100 by default).
    pub limit: Option<i64>,
}

/// The newest audit events (secretariat only).
#[utoipa::path(get, path = "/api/audit", tag = "audit", params(AuditQuery),
    responses((status = 200, body = Vec<AuditEvent>)), security(("bearer" = [])))]
async fn list_audit(
    State(state): State<AppState>,
    user: CurrentUser,
    Query(query): Query<AuditQuery>,
) -> Result<Json<Vec<AuditEvent>>, ApiError> {
    user.require_secretariat()?;
    let limit = query.limit.unwrap_or(100).clamp(1, 500);
    Ok(Json(state.directory().audit(limit, query.before).await?))
}
