//! `/api/auth/*`, `/api/setup` and `/api/users`.

use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;

use super::extract::{CurrentUser, SESSION_COOKIE};
use crate::app::{AppState, Created};
use crate::audit::NewAuditEvent;
use crate::auth::{
    self, Account, Role, Session, normalize_email, validate_email, validate_password, validate_text,
};
use crate::error::{ApiError, Json};
use crate::ids::{AccountId, DelegationId, SessionId};
use crate::store::directory::{NewAccount, NewSession};
use crate::store::now_millis;

crate::app::api_routes! {
    login;
    logout;
    logout_everywhere;
    me;
    change_password;
    setup_status, setup;
    list_users, create_user;
    update_user;
}

/// `POST /api/auth/login`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Sign-in address.
    pub email: String,
    /// Password.
    pub password: String,
}

/// A new session.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Use as `Authorization: Bearer TOKEN`, or `?token=TOKEN` on `/sync/{id}`.
    /// The browser also receives it as an HttpOnly cookie.
    pub token: String,
    /// Unix milliseconds after which the token no longer works.
    pub expires_at: i64,
    /// Who signed in.
    pub account: Account,
}

/// Signs in. Repeated failures for one account slow down (429 with `Retry-After`).
#[utoipa::path(post, path = "/api/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, description = "wrong email or password"),
              (status = 429, description = "too many failed attempts for this account")))]
async fn login(
    State(state): State<AppState>,
    Json(request): Json<LoginRequest>,
) -> Result<Response, ApiError> {
    let email = normalize_email(&request.email);
    if request.password.len() > 1024 || email.len() > 254 {
        return Err(ApiError::Unauthorized);
    }
    if let Some(wait) = state.throttle().wait(&email, tokio::time::Instant::now()) {
        return Err(ApiError::TooManyRequests(wait));
    }
    let found = match state.directory().account_by_email(&email).await {
        Ok(found) => Some(found),
        Err(crate::store::StoreError::NotFound) => None,
        Err(error) => return Err(error.into()),
    };
    let hash = found
        .as_ref()
        .map_or_else(|| auth::dummy_hash().to_owned(), |(_, hash)| hash.clone());
    let password = request.password;
    let verified = tokio::task::spawn_blocking(move || auth::verify_password(&password, &hash))
        .await
        .map_err(ApiError::internal)?;
    let account = match found {
        Some((account, _)) if verified && !account.disabled => account,
        found => {
            state.throttle().failed(&email, tokio::time::Instant::now());
            let actor = found.as_ref().map(|(account, _)| &account.id);
            state
                .record(
                    NewAuditEvent::new(actor, "sign_in_failed", None).with(json!({"email": email})),
                )
                .await;
            return Err(ApiError::Unauthorized);
        }
    };
    state.throttle().succeeded(&email);
    let (token, session) = open_session(&state, &account).await?;
    state
        .record(NewAuditEvent::new(Some(&account.id), "sign_in", None))
        .await;
    Ok(session_response(
        &state,
        StatusCode::OK,
        token,
        session,
        account,
    ))
}

async fn open_session(state: &AppState, account: &Account) -> Result<(String, Session), ApiError> {
    let token = auth::new_token();
    let now = now_millis();
    let session = Session {
        id: SessionId::generate(),
        account_id: account.id.clone(),
        created_at: now,
        expires_at: now + state.config().session_lifetime.as_millis() as i64,
    };
    state
        .directory()
        .create_session(&NewSession {
            session: session.clone(),
            token_hash: auth::token_hash(&token),
        })
        .await?;
    Ok((token, session))
}

fn session_response(
    state: &AppState,
    status: StatusCode,
    token: String,
    session: Session,
    account: Account,
) -> Response {
    let max_age = state.config().session_lifetime.as_secs();
    let secure = if state.config().secure_cookies {
        "; Secure"
    } else {
        ""
    };
    let cookie = format!(
        "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}"
    );
    let mut response = (
        status,
        axum::Json(LoginResponse {
            token,
            expires_at: session.expires_at,
            account,
        }),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, value);
    }
    response
}

fn clear_cookie() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        header::SET_COOKIE,
        HeaderValue::from_static("plenary_session=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0"),
    );
    headers
}

/// Signs out this session; its websockets close at once.
#[utoipa::path(post, path = "/api/auth/logout", tag = "auth", responses((status = 204)),
    security(("bearer" = [])))]
async fn logout(State(state): State<AppState>, user: CurrentUser) -> Result<Response, ApiError> {
    state
        .directory()
        .revoke_session(&user.session.id, now_millis())
        .await?;
    state
        .close_sessions(std::slice::from_ref(&user.session.id))
        .await;
    state
        .record(NewAuditEvent::new(Some(&user.account.id), "sign_out", None))
        .await;
    Ok((StatusCode::NO_CONTENT, clear_cookie()).into_response())
}

/// Signs out every session of this account, on every device.
#[utoipa::path(post, path = "/api/auth/logout-all", tag = "auth", responses((status = 204)),
    security(("bearer" = [])))]
async fn logout_everywhere(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Response, ApiError> {
    let sessions = state
        .directory()
        .revoke_sessions_of(&user.account.id, now_millis())
        .await?;
    state.close_sessions(&sessions).await;
    state
        .record(
            NewAuditEvent::new(Some(&user.account.id), "sign_out_everywhere", None)
                .with(json!({"sessions": sessions.len()})),
        )
        .await;
    Ok((StatusCode::NO_CONTENT, clear_cookie()).into_response())
}

/// The signed-in account.
#[derive(Debug, Serialize, ToSchema)]
pub struct Me {
    /// The account.
    pub account: Account,
    /// When this session ends (unix milliseconds).
    pub session_expires_at: i64,
    /// The delegation's name, for a delegate.
    pub delegation_name: Option<String>,
}

/// Who am I?
#[utoipa::path(get, path = "/api/auth/me", tag = "auth", responses((status = 200, body = Me)),
    security(("bearer" = [])))]
async fn me(user: CurrentUser) -> Json<Me> {
    Json(Me {
        account: user.account,
        session_expires_at: user.session.expires_at,
        delegation_name: user.delegation_name,
    })
}

/// `POST /api/auth/password`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PasswordChange {
    /// The password now.
    pub current: String,
    /// The new one (10 to 200 characters).
    pub new: String,
}

/// Changes one's own password; every other session of the account ends.
#[utoipa::path(post, path = "/api/auth/password", tag = "auth", request_body = PasswordChange,
    responses((status = 204), (status = 403, description = "the current password is wrong")),
    security(("bearer" = [])))]
async fn change_password(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(change): Json<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    validate_password(&change.new)?;
    let (_, hash) = state
        .directory()
        .account_by_email(&user.account.email)
        .await?;
    let current = change.current;
    let verified = tokio::task::spawn_blocking(move || auth::verify_password(&current, &hash))
        .await
        .map_err(ApiError::internal)?;
    if !verified {
        return Err(ApiError::forbidden("the current password is wrong"));
    }
    let new_hash = hash_off_thread(change.new).await?;
    state
        .directory()
        .set_password(&user.account.id, &new_hash)
        .await?;
    let mut others = state
        .directory()
        .revoke_sessions_of(&user.account.id, now_millis())
        .await?;
    // Keep this session: it just proved it knows the password.
    others.retain(|id| *id != user.session.id);
    state.close_sessions(&others).await;
    state
        .record(NewAuditEvent::new(
            Some(&user.account.id),
            "password_changed",
            None,
        ))
        .await;
    Ok(StatusCode::NO_CONTENT)
}

async fn hash_off_thread(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(ApiError::internal)?
        .map_err(|error| ApiError::internal(anyhow::anyhow!(error)))
}

/// Whether the first-run setup is still open.
#[derive(Debug, Serialize, ToSchema)]
pub struct SetupStatus {
    /// True on a database with no account, until the first secretariat account exists.
    pub needed: bool,
}

/// Is the first-run setup open?
#[utoipa::path(get, path = "/api/setup", tag = "auth", responses((status = 200, body = SetupStatus)))]
async fn setup_status(State(state): State<AppState>) -> Result<Json<SetupStatus>, ApiError> {
    Ok(Json(SetupStatus {
        needed: state.setup_open(),
    }))
}

/// `POST /api/setup`: the first secretariat account, with the one-time token
/// printed by the server at its first start.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupRequest {
    /// The token from the link the server printed.
    pub token: String,
    /// The secretariat's sign-in address.
    pub email: String,
    /// The secretariat's name.
    pub name: String,
    /// A password (10 to 200 characters).
    pub password: String,
}

/// Creates the first secretariat account (once, with the printed one-time token).
#[utoipa::path(post, path = "/api/setup", tag = "auth", request_body = SetupRequest,
    responses((status = 201, body = LoginResponse), (status = 403, description = "wrong or used token")))]
async fn setup(
    State(state): State<AppState>,
    Json(request): Json<SetupRequest>,
) -> Result<Response, ApiError> {
    validate_email(&request.email)?;
    validate_text("name", &request.name, 120)?;
    validate_password(&request.password)?;
    if !state.take_setup_token(&request.token) {
        return Err(ApiError::forbidden(
            "this setup link is not valid (or was already used)",
        ));
    }
    let account = Account {
        id: AccountId::generate(),
        email: normalize_email(&request.email),
        name: request.name.trim().to_owned(),
        role: Role::Secretariat,
        delegation_id: None,
        disabled: false,
        created_at: now_millis(),
    };
    let password_hash = hash_off_thread(request.password).await?;
    state
        .directory()
        .create_account(&NewAccount {
            account: account.clone(),
            password_hash,
        })
        .await?;
    state
        .record(
            NewAuditEvent::new(
                Some(&account.id),
                "account_created",
                Some(account.id.to_string()),
            )
            .with(json!({"role": "secretariat", "via": "setup link"})),
        )
        .await;
    let (token, session) = open_session(&state, &account).await?;
    Ok(session_response(
        &state,
        StatusCode::CREATED,
        token,
        session,
        account,
    ))
}

/// Every account (secretariat only).
#[utoipa::path(get, path = "/api/users", tag = "users", responses((status = 200, body = Vec<Account>)),
    security(("bearer" = [])))]
async fn list_users(
    State(state): State<AppState>,
    user: CurrentUser,
) -> Result<Json<Vec<Account>>, ApiError> {
    user.require_secretariat()?;
    Ok(Json(state.directory().accounts().await?))
}

/// `POST /api/users`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Sign-in address (unique).
    pub email: String,
    /// Name shown to others.
    pub name: String,
    /// Initial password (10 to 200 characters).
    pub password: String,
    /// Role.
    pub role: Role,
    /// Required for a delegate; ignored otherwise.
    #[serde(default)]
    pub delegation_id: Option<DelegationId>,
}

/// Creates an account (secretariat only).
#[utoipa::path(post, path = "/api/users", tag = "users", request_body = NewUser,
    responses((status = 201, body = Created), (status = 409, description = "the email is taken")),
    security(("bearer" = [])))]
async fn create_user(
    State(state): State<AppState>,
    user: CurrentUser,
    Json(new): Json<NewUser>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    user.require_secretariat()?;
    let account = create_account(&state, new, Some(&user.account.id)).await?;
    Ok((StatusCode::CREATED, Json(Created { id: account.id.0 })))
}

/// Validates and creates an account (for the API and `plenary user add`).
pub async fn create_account(
    state: &AppState,
    new: NewUser,
    actor: Option<&AccountId>,
) -> Result<Account, ApiError> {
    validate_email(&new.email)?;
    validate_text("name", &new.name, 120)?;
    validate_password(&new.password)?;
    let delegation_id = checked_delegation(state, new.role, new.delegation_id).await?;
    let account = Account {
        id: AccountId::generate(),
        email: normalize_email(&new.email),
        name: new.name.trim().to_owned(),
        role: new.role,
        delegation_id,
        disabled: false,
        created_at: now_millis(),
    };
    let password_hash = hash_off_thread(new.password).await?;
    state
        .directory()
        .create_account(&NewAccount {
            account: account.clone(),
            password_hash,
        })
        .await?;
    state
        .record(
            NewAuditEvent::new(actor, "account_created", Some(account.id.to_string())).with(
                json!({"email": account.email, "role": account.role, "delegation_id": account.delegation_id}),
            ),
        )
        .await;
    Ok(account)
}

async fn checked_delegation(
    state: &AppState,
    role: Role,
    delegation: Option<DelegationId>,
) -> Result<Option<DelegationId>, ApiError> {
    match (role.needs_delegation(), delegation) {
        (true, None) => {
            Err(auth::Invalid::new("delegation_id", "a delegate belongs to a delegation").into())
        }
        (true, Some(id)) => match state.directory().delegation(&id).await {
            Ok(_) => Ok(Some(id)),
            Err(crate::store::StoreError::NotFound) => {
                Err(auth::Invalid::new("delegation_id", "no such delegation").into())
            }
            Err(error) => Err(error.into()),
        },
        (false, _) => Ok(None),
    }
}

/// `PATCH /api/users/{id}`: the fields to change.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserChange {
    /// New name.
    pub name: Option<String>,
    /// New role.
    pub role: Option<Role>,
    /// New delegation (for a delegate).
    pub delegation_id: Option<DelegationId>,
    /// Disable (true) or re-enable (false). Disabling ends every session at once.
    pub disabled: Option<bool>,
    /// A new password, set by the secretariat.
    pub password: Option<String>,
}

/// Changes an account (secretariat only). A change of role, delegation or
/// password, or disabling, takes effect on open connections at once.
#[utoipa::path(patch, path = "/api/users/{id}", tag = "users", request_body = UserChange,
    params(("id" = String, Path, description = "account id")),
    responses((status = 200, body = Account)), security(("bearer" = [])))]
async fn update_user(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(change): Json<UserChange>,
) -> Result<Json<Account>, ApiError> {
    user.require_secretariat()?;
    let id = AccountId(id);
    let mut account = state.directory().account(&id).await?;
    let before = account.clone();
    if let Some(name) = change.name {
        validate_text("name", &name, 120)?;
        account.name = name.trim().to_owned();
    }
    if let Some(role) = change.role {
        account.role = role;
    }
    let delegation = change.delegation_id.or(account.delegation_id.clone());
    account.delegation_id = checked_delegation(&state, account.role, delegation).await?;
    if let Some(disabled) = change.disabled {
        if disabled && account.id == user.account.id {
            return Err(ApiError::forbidden("you cannot disable your own account"));
        }
        account.disabled = disabled;
    }
    if let Some(password) = &change.password {
        validate_password(password)?;
    }
    state.directory().update_account(&account).await?;
    let password_reset = change.password.is_some();
    let ended_sessions = async {
        if let Some(password) = change.password {
            let hash = hash_off_thread(password).await?;
            state.directory().set_password(&account.id, &hash).await?;
        }
        if password_reset || (account.disabled && !before.disabled) {
            let sessions = state
                .directory()
                .revoke_sessions_of(&account.id, now_millis())
                .await?;
            state.close_sessions(&sessions).await;
            return Ok::<bool, ApiError>(true);
        }
        Ok(false)
    }
    .await;
    let ended_sessions = match ended_sessions {
        Ok(ended) => ended,
        Err(error) => {
            // The account is saved already: nobody may go on with it as it
            // was (a role taken away, a disabling whose sessions are not yet
            // revoked would still be let in, here and on every node).
            state.reconnect_account(&account.id).await;
            return Err(error);
        }
    };
    if !ended_sessions && account != before {
        // Open connections reconnect and come back with the new identity
        // (the name, role and delegation stamped on their presence); every
        // node forgets the sessions it read with the old one.
        state.reconnect_account(&account.id).await;
    }
    state
        .record(
            NewAuditEvent::new(
                Some(&user.account.id),
                "account_changed",
                Some(account.id.to_string()),
            )
            .with(json!({
                "role": {"from": before.role, "to": account.role},
                "delegation_id": {"from": before.delegation_id, "to": account.delegation_id},
                "disabled": {"from": before.disabled, "to": account.disabled},
                "name": {"from": before.name, "to": account.name},
                "password_reset": password_reset,
            })),
        )
        .await;
    Ok(Json(account))
}
