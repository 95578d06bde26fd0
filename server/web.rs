//! The browser client: the built bundle of `web/` (embedded at compile time
//! by build.rs from the committed web/dist), served at `/`. The client's own
//! routes (`/meetings/{id}`, `/resolutions/{id}`, `/setup`…) get its
//! `index.html`; `/api`, `/sync` and the operations endpoints stay the
//! server's, and an unknown path under them is a problem+json 404.

use axum::http::{HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));

/// Paths that belong to the server, never to the client's router.
const SERVER_PREFIXES: [&str; 5] = ["/api", "/sync", "/healthz", "/readyz", "/metrics"];

/// What the browser may load: only this site (the websocket included), no
/// plugins, no framing. Inline styles are allowed for the editor's
/// per-person cursor colours.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data:; \
     style-src 'self' 'unsafe-inline'; font-src 'self'; object-src 'none'; base-uri 'none'; \
     frame-ancestors 'none'; form-action 'self'";

fn asset(path: &str) -> Option<&'static [u8]> {
    ASSETS
        .iter()
        .find(|(name, _)| *name == path)
        .map(|(_, bytes)| *bytes)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, extension)| extension) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json") => "application/json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("woff") => "font/woff",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn belongs_to_server(path: &str) -> bool {
    SERVER_PREFIXES.iter().any(|prefix| {
        path.strip_prefix(prefix)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

fn file_response(path: &str, bytes: &'static [u8]) -> Response {
    // Vite names every asset by its content hash: it never changes.
    let cache = if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let mut response = (StatusCode::OK, bytes).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if path.ends_with(".html") {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
        headers.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        );
    }
    response
}

/// The router's fallback: a file of the bundle, else the client's
/// `index.html` for its routes, else a problem+json 404.
pub async fn fallback(method: Method, uri: Uri) -> Response {
    let path = uri.path();
    if belongs_to_server(path) || (method != Method::GET && method != Method::HEAD) {
        return ApiError::NotFound.into_response();
    }
    let relative = path.trim_start_matches('/');
    if let Some(bytes) = asset(relative) {
        return file_response(relative, bytes);
    }
    // A missing file of the bundle is a 404, never the page: a script tag
    // that received HTML would fail in confusing ways.
    if relative.starts_with("assets/") {
        return ApiError::NotFound.into_response();
    }
    match asset("index.html") {
        Some(index) => file_response("index.html", index),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "the browser client was not built into this binary (web/dist is missing)\n",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn get(path: &str) -> Response {
        fallback(Method::GET, path.parse().expect("a valid path")).await
    }

    fn header_of(response: &Response, name: header::HeaderName) -> String {
        response
            .headers()
            .get(name)
            .and_then(|value| value.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    }

    #[tokio::test]
    async fn client_routes_get_the_page() {
        for path in [
            "/",
            "/meetings",
            "/meetings/abc",
            "/resolutions/xyz",
            "/resolutions/xyz/projector",
            "/setup",
            "/login",
        ] {
            let response = get(path).await;
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert!(header_of(&response, header::CONTENT_TYPE).starts_with("text/html"));
            assert_eq!(header_of(&response, header::CACHE_CONTROL), "no-cache");
            assert!(header_of(&response, header::CONTENT_SECURITY_POLICY).contains("default-src"));
        }
    }

    #[tokio::test]
    async fn the_bundle_is_embedded_and_cached_for_good() {
        let script = ASSETS
            .iter()
            .map(|(name, _)| *name)
            .find(|name| name.starts_with("assets/") && name.ends_with(".js"))
            .expect("web/dist holds the built script");
        let response = get(&format!("/{script}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert!(header_of(&response, header::CONTENT_TYPE).starts_with("text/javascript"));
        assert!(header_of(&response, header::CACHE_CONTROL).contains("immutable"));
        assert_eq!(
            get("/assets/missing-abc123.js").await.status(),
            StatusCode::NOT_FOUND
        );
    }

    #[tokio::test]
    async fn server_paths_stay_the_servers() {
        for path in [
            "/api",
            "/api/nothing/here",
            "/sync",
            "/healthz/x",
            "/metrics/x",
        ] {
            let response = get(path).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
            assert_eq!(
                header_of(&response, header::CONTENT_TYPE),
                "application/problem+json",
                "{path}"
            );
        }
        assert!(!belongs_to_server("/apiary"));
        let post = fallback(Method::POST, "/meetings".parse().expect("path")).await;
        assert_eq!(post.status(), StatusCode::NOT_FOUND);
    }
}
