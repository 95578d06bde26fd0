//! Who is asking: the `CurrentUser` extractor.
//!
//! A token comes as `Authorization: Bearer` (scripts) or the `plenary_session`
//! cookie (the browser); the websocket also takes `?token=` (see `app.rs`).
//! A bad credential is an error, never an anonymous user.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;

use crate::app::AppState;
use crate::auth::SignedIn;
use crate::error::ApiError;

/// The name of the session cookie.
pub const SESSION_COOKIE: &str = "plenary_session";

/// The signed-in person making the request: their session, account and
/// delegation's name, as the one read of their token gives them.
pub type CurrentUser = SignedIn;

/// Where a token came from: a cookie is sent by the browser on its own, so
/// a cookie-authenticated websocket must also come from our own origin.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer`.
    Bearer,
    /// The session cookie.
    Cookie,
    /// `?token=` on the websocket URL.
    Query,
}

/// The token of a request, from the `Authorization` header or the cookie.
pub fn token_from_headers(headers: &HeaderMap) -> Option<(String, TokenSource)> {
    if let Some(value) = headers.get(axum::http::header::AUTHORIZATION)
        && let Ok(value) = value.to_str()
        && let Some(token) = value
            .strip_prefix("Bearer ")
            .or_else(|| value.strip_prefix("bearer "))
    {
        return Some((token.trim().to_owned(), TokenSource::Bearer));
    }
    session_cookie(headers).map(|token| (token, TokenSource::Cookie))
}

/// Whether a request says it comes from this server's own pages: its
/// `Origin` (or, failing that, its `Referer`) names the host it was sent to.
pub fn same_origin_request(headers: &HeaderMap) -> bool {
    let host = headers
        .get(axum::http::header::HOST)
        .and_then(|v| v.to_str().ok());
    let source = headers
        .get(axum::http::header::ORIGIN)
        .or_else(|| headers.get(axum::http::header::REFERER))
        .and_then(|v| v.to_str().ok());
    match (source, host) {
        (Some(source), Some(host)) => source
            .split_once("://")
            .map(|(_, rest)| rest.split('/').next().unwrap_or_default())
            .is_some_and(|authority| authority.eq_ignore_ascii_case(host)),
        _ => false,
    }
}

/// The value of the session cookie, if any.
pub fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.to_owned())
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let (token, source) = token_from_headers(&parts.headers).ok_or(ApiError::Unauthorized)?;
        // A cookie travels with any request the browser makes, even one
        // another site triggers: a change made with a cookie must come from
        // this site (SameSite=Lax already keeps cross-site POSTs cookieless;
        // this also covers same-site subdomains and older browsers).
        if source == TokenSource::Cookie
            && !parts.method.is_safe()
            && !same_origin_request(&parts.headers)
        {
            return Err(ApiError::forbidden(
                "a change made with the session cookie must come from this site",
            ));
        }
        let user = state.authenticate(&token).await?;
        state.check_api_rate(&user.account.id)?;
        Ok(user)
    }
}

impl SignedIn {
    /// Refuses anyone but the secretariat.
    pub fn require_secretariat(&self) -> Result<(), ApiError> {
        if self.account.role.can_administer() {
            Ok(())
        } else {
            Err(ApiError::forbidden("only the secretariat may do this"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_changes_must_come_from_this_site() {
        let mut headers = HeaderMap::new();
        headers.insert("host", "plenary.example:8080".parse().expect("header"));
        assert!(!same_origin_request(&headers), "neither Origin nor Referer");
        headers.insert(
            "referer",
            "https://plenary.example:8080/resolutions/x"
                .parse()
                .expect("header"),
        );
        assert!(same_origin_request(&headers));
        headers.insert("origin", "https://evil.example".parse().expect("header"));
        assert!(!same_origin_request(&headers), "Origin wins over Referer");
        headers.insert(
            "origin",
            "http://plenary.example:8080".parse().expect("header"),
        );
        assert!(same_origin_request(&headers));
    }

    #[test]
    fn tokens_come_from_bearer_or_cookie() {
        let mut headers = HeaderMap::new();
        assert_eq!(token_from_headers(&headers), None);
        headers.insert(
            "cookie",
            "lang=es; plenary_session=abc".parse().expect("header"),
        );
        assert_eq!(
            token_from_headers(&headers),
            Some(("abc".into(), TokenSource::Cookie))
        );
        headers.insert("authorization", "Bearer xyz".parse().expect("header"));
        assert_eq!(
            token_from_headers(&headers),
            Some(("xyz".into(), TokenSource::Bearer))
        );
    }
}
