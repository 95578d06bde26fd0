//! The audit log: sign-ins, role and phase changes, refused writes. Written by
//! the handlers, read by the secretariat.

pub mod routes;

use serde::{Deserialize, Serialize};

use crate::ids::AccountId;

/// One event in the audit log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AuditEvent {
    /// Increasing; the newest has the largest.
    pub id: i64,
    /// Unix milliseconds.
    pub at: i64,
    /// Who acted (none for a failed sign-in of an unknown address, or the system).
    pub actor: Option<AccountId>,
    /// What happened: `sign_in`, `sign_in_failed`, `sign_out`, `account_created`,
    /// `account_changed`, `phase_changed`, `write_refused`, …
    pub action: String,
    /// What it happened to (an account, a resolution, a meeting).
    pub target: Option<String>,
    /// Details, as a JSON object.
    #[schema(value_type = Object)]
    pub detail: serde_json::Value,
}

/// An event to record.
#[derive(Debug, Clone)]
pub struct NewAuditEvent {
    /// Who acted.
    pub actor: Option<AccountId>,
    /// What happened.
    pub action: &'static str,
    /// What it happened to.
    pub target: Option<String>,
    /// Details.
    pub detail: serde_json::Value,
}

impl NewAuditEvent {
    /// An event with no details.
    pub fn new(actor: Option<&AccountId>, action: &'static str, target: Option<String>) -> Self {
        Self {
            actor: actor.cloned(),
            action,
            target,
            detail: serde_json::Value::Object(Default::default()),
        }
    }

    /// Adds details.
    pub fn with(mut self, detail: serde_json::Value) -> Self {
        self.detail = detail;
        self
    }
}
