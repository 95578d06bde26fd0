//! Accounts, roles, passwords and sessions: the rules, without I/O.
//!
//! - Passwords are hashed with argon2id (PHC strings); hashing runs on the
//!   blocking pool (see `routes.rs`), never on the async threads.
//! - A session is a random 256-bit token given to the client once; the store
//!   keeps only its SHA-256, so a leaked database holds no usable token.
//! - Repeated failed sign-ins slow down per account ([`LoginThrottle`]):
//!   a delegation behind one venue address is not locked out by one member.

pub mod extract;
pub mod routes;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use argon2::Argon2;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::ids::{AccountId, DelegationId, SessionId};

/// What a person may do (../shared/DESIGN.md, "People and what they do").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Staff of the network: everything.
    Secretariat,
    /// Presides over a meeting: phases, amendments, votes.
    Chair,
    /// Member of a delegation: drafts what the delegation sponsors.
    Delegate,
    /// Guests and press: read and follow, never write.
    Observer,
}

impl Role {
    /// The name stored and sent.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Secretariat => "secretariat",
            Role::Chair => "chair",
            Role::Delegate => "delegate",
            Role::Observer => "observer",
        }
    }

    /// Reads a stored or submitted role.
    pub fn parse(value: &str) -> Option<Role> {
        match value {
            "secretariat" => Some(Role::Secretariat),
            "chair" => Some(Role::Chair),
            "delegate" => Some(Role::Delegate),
            "observer" => Some(Role::Observer),
            _ => None,
        }
    }

    /// Meetings, delegations, accounts, the audit log.
    pub fn can_administer(self) -> bool {
        self == Role::Secretariat
    }

    /// Moving resolutions through their phases, presiding.
    pub fn can_preside(self) -> bool {
        matches!(self, Role::Secretariat | Role::Chair)
    }

    /// Whether the role must belong to a delegation.
    pub fn needs_delegation(self) -> bool {
        self == Role::Delegate
    }
}

/// A person who signs in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Account {
    /// Its id.
    pub id: AccountId,
    /// Sign-in address, stored lowercase.
    pub email: String,
    /// The name others see (on cursors, in the audit log).
    pub name: String,
    /// What the person may do.
    pub role: Role,
    /// The delegation of a delegate (others may have none).
    pub delegation_id: Option<DelegationId>,
    /// A disabled account cannot sign in and has no live session.
    pub disabled: bool,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// Who is acting, as the permission rules see it.
#[derive(Debug, Clone, Copy)]
pub struct Actor<'a> {
    /// The role.
    pub role: Role,
    /// The delegation, for a delegate.
    pub delegation: Option<&'a DelegationId>,
}

impl Account {
    /// This account as an actor.
    pub fn actor(&self) -> Actor<'_> {
        Actor {
            role: self.role,
            delegation: self.delegation_id.as_ref(),
        }
    }
}

/// A live sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Its id (not the token).
    pub id: SessionId,
    /// Whose.
    pub account_id: AccountId,
    /// Unix milliseconds.
    pub created_at: i64,
    /// Unix milliseconds after which it no longer works.
    pub expires_at: i64,
}

/// A live session with its account and the name of the account's delegation,
/// as one read of a token gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedIn {
    /// The session.
    pub session: Session,
    /// Its account.
    pub account: Account,
    /// The name of the account's delegation, for a delegate.
    pub delegation_name: Option<String>,
}

/// Hashes a password with argon2id and a random salt (CPU-heavy: call from
/// a blocking task).
pub fn hash_password(password: &str) -> Result<String, String> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|error| error.to_string())
}

/// Checks a password against its stored hash (CPU-heavy: call from a
/// blocking task).
pub fn verify_password(password: &str, hash: &str) -> bool {
    Argon2::default()
        .verify_password(password.as_bytes(), hash)
        .is_ok()
}

/// A hash to verify against when the account does not exist, so that an
/// unknown address takes as long to refuse as a wrong password.
pub fn dummy_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password("not a real password").unwrap_or_default())
}

/// A new session token: 32 random bytes, URL-safe base64.
pub fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    URL_SAFE_NO_PAD.encode(bytes)
}

/// What the store keeps of a token.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// Normalises an email address for storage and lookup.
pub fn normalize_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Why a field was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct Invalid {
    /// The field, as named in the request.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

impl Invalid {
    /// Builds the error.
    pub fn new(field: &'static str, problem: impl Into<String>) -> Self {
        Self {
            field,
            problem: problem.into(),
        }
    }
}

/// Checks an email address's form (one `@`, something either side, no
/// spaces, at most 254 characters).
pub fn validate_email(email: &str) -> Result<(), Invalid> {
    let email = email.trim();
    let valid = email.len() <= 254
        && !email.chars().any(char::is_whitespace)
        && email.split_once('@').is_some_and(|(local, domain)| {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
        });
    if valid {
        Ok(())
    } else {
        Err(Invalid::new("email", "is not an email address"))
    }
}

/// Checks a new password: 10 to 200 characters.
pub fn validate_password(password: &str) -> Result<(), Invalid> {
    let length = password.chars().count();
    if length < 10 {
        return Err(Invalid::new("password", "needs at least 10 characters"));
    }
    if length > 200 {
        return Err(Invalid::new("password", "has more than 200 characters"));
    }
    Ok(())
}

/// Checks a free-text field: trimmed, 1 to `max` characters, no control
/// characters.
pub fn validate_text(field: &'static str, value: &str, max: usize) -> Result<(), Invalid> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(Invalid::new(field, "is empty"));
    }
    if trimmed.chars().count() > max {
        return Err(Invalid::new(
            field,
            format!("has more than {max} characters"),
        ));
    }
    if trimmed.chars().any(|c| c.is_control()) {
        return Err(Invalid::new(field, "holds control characters"));
    }
    Ok(())
}

/// Failed sign-ins per account, and how long the next attempt must wait.
///
/// The first [`LoginThrottle::FREE_ATTEMPTS`] failures cost nothing; each
/// one after doubles the wait, from 1 s up to 15 minutes. A success clears it.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl LoginThrottle {
    /// Failures allowed before any wait.
    pub const FREE_ATTEMPTS: u32 = 5;
    /// The longest wait.
    pub const MAX_WAIT: Duration = Duration::from_secs(15 * 60);

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (u32, Instant)>> {
        // Each critical section is one map operation; a poisoned map is whole.
        self.failures
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// How long `email` must still wait before its next attempt, if at all.
    pub fn wait(&self, email: &str, now: Instant) -> Option<Duration> {
        let failures = self.lock();
        let &(count, last) = failures.get(email)?;
        if count < Self::FREE_ATTEMPTS {
            return None;
        }
        let wait =
            Duration::from_secs(1u64 << (count - Self::FREE_ATTEMPTS).min(10)).min(Self::MAX_WAIT);
        let until = last + wait;
        (until > now).then(|| until - now)
    }

    /// Records a failed attempt.
    pub fn failed(&self, email: &str, now: Instant) {
        let mut failures = self.lock();
        let entry = failures.entry(email.to_owned()).or_insert((0, now));
        entry.0 = entry.0.saturating_add(1);
        entry.1 = now;
        // Bound the map: forget accounts quiet for an hour.
        if failures.len() > 10_000 {
            failures.retain(|_, (_, last)| now.duration_since(*last) < Duration::from_secs(3600));
        }
    }

    /// Clears the failures of `email` after a success.
    pub fn succeeded(&self, email: &str) {
        self.lock().remove(email);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_hash_and_verify() {
        let hash = hash_password("correct horse battery").expect("hash");
        assert!(hash.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &hash));
        assert!(!verify_password("wrong horse battery", &hash));
        assert!(!verify_password("anything", "not a hash"));
    }

    #[test]
    fn tokens_are_random_and_stored_hashed() {
        let token = new_token();
        assert_eq!(token.len(), 43);
        assert_ne!(token, new_token());
        assert_eq!(token_hash(&token), token_hash(&token));
        assert_ne!(token_hash(&token), token.as_bytes());
    }

    #[test]
    fn roles_round_trip_and_carry_capabilities() {
        for role in [
            Role::Secretariat,
            Role::Chair,
            Role::Delegate,
            Role::Observer,
        ] {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert!(Role::Secretariat.can_administer() && !Role::Chair.can_administer());
        assert!(Role::Chair.can_preside() && !Role::Delegate.can_preside());
        assert!(!Role::Observer.can_preside());
        assert_eq!(Role::parse("admin"), None);
    }

    #[test]
    fn fields_are_validated() {
        assert!(validate_email("ana@parlamento.gob.mx").is_ok());
        assert!(validate_email("ana@localhost").is_err());
        assert!(validate_email("a b@x.org").is_err());
        assert!(validate_email("@x.org").is_err());
        assert!(validate_password("short").is_err());
        assert!(validate_password("long enough!").is_ok());
        assert!(validate_text("title", "  ", 10).is_err());
        assert!(validate_text("title", "Trata de personas", 200).is_ok());
        assert!(validate_text("title", "a\u{7}b", 200).is_err());
        assert!(validate_text("title", &"é".repeat(11), 10).is_err());
    }

    #[test]
    fn failed_logins_slow_down_per_account() {
        let throttle = LoginThrottle::default();
        let start = Instant::now();
        for _ in 0..LoginThrottle::FREE_ATTEMPTS {
            assert_eq!(throttle.wait("ana@x.org", start), None);
            throttle.failed("ana@x.org", start);
        }
        assert_eq!(
            throttle.wait("ana@x.org", start),
            Some(Duration::from_secs(1))
        );
        throttle.failed("ana@x.org", start);
        assert_eq!(
            throttle.wait("ana@x.org", start),
            Some(Duration::from_secs(2))
        );
        assert_eq!(
            throttle.wait("ana@x.org", start + Duration::from_secs(2)),
            None
        );
        // Another member of the same delegation is not affected.
        assert_eq!(throttle.wait("bea@x.org", start), None);
        throttle.succeeded("ana@x.org");
        assert_eq!(throttle.wait("ana@x.org", start), None);
    }
}
