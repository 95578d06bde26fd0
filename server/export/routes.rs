//! `GET /api/resolutions/{id}/export` and `GET /api/meetings/{id}/export`.

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use super::gather::{GatherError, Reading, Sources};
use super::{Export, ExportError, Format, Rendered, content_disposition, parse_language, render};
use crate::amendments::Language;
use crate::app::AppState;
use crate::auth::extract::CurrentUser;
use crate::error::ApiError;
use crate::versions::routes::committed_seq;

crate::app::api_routes! {
    export_resolution;
    export_meeting;
}

impl From<GatherError> for ApiError {
    fn from(error: GatherError) -> Self {
        match error {
            GatherError::NotFound(_) => ApiError::NotFound,
            GatherError::Store(error) => error.into(),
            GatherError::Corrupt(message) => ApiError::internal(anyhow::anyhow!(message)),
        }
    }
}

impl From<ExportError> for ApiError {
    fn from(error: ExportError) -> Self {
        match error {
            ExportError::Unsupported(message) => ApiError::BadRequest(message),
            error @ ExportError::Render { .. } => ApiError::internal(error),
        }
    }
}

/// `?format=…&version=…&lang=…&what=…`
#[derive(Debug, Deserialize, IntoParams)]
pub struct ResolutionExportQuery {
    /// `md`, `txt`, `html`, `pdf`, `docx` or `akn` (`akn` is not offered
    /// for `what=amendments`).
    pub format: Option<String>,
    /// A version: its number (`3`) or its id. Default: the live text.
    pub version: Option<String>,
    /// The language of the headings and labels: `en`, `es`, `fr` or `pt`.
    /// Default: the meeting's first working language.
    pub lang: Option<String>,
    /// `resolution` (the default) or `amendments`: the compilation of the
    /// amendments to the resolution, in text order.
    pub what: Option<String>,
}

/// `?format=…&lang=…`
#[derive(Debug, Deserialize, IntoParams)]
pub struct MeetingExportQuery {
    /// `pdf`, `docx`, `html`, `md`, `txt`, or `zip` (every format of each
    /// adopted resolution).
    pub format: Option<String>,
    /// The language of the headings and labels: `en`, `es`, `fr` or `pt`.
    pub lang: Option<String>,
}

fn format_of(value: Option<&str>) -> Result<Format, ApiError> {
    let value = value.ok_or_else(|| {
        ApiError::BadRequest("format is required: md, txt, html, pdf, docx, akn or zip".into())
    })?;
    Format::parse(value).ok_or_else(|| {
        ApiError::BadRequest(format!(
            "unknown format {value:?}: md, txt, html, pdf, docx, akn or zip"
        ))
    })
}

fn language_of(value: Option<&str>) -> Result<Option<Language>, ApiError> {
    value
        .map(|code| {
            parse_language(code).ok_or_else(|| {
                ApiError::BadRequest(format!("unknown lang {code:?}: en, es, fr or pt"))
            })
        })
        .transpose()
}

fn sources(state: &AppState) -> Sources<'_> {
    Sources {
        directory: state.directory(),
        store: state.store().as_ref(),
    }
}

/// Renders on a blocking thread, and answers with the file.
async fn respond(export: Export, format: Format) -> Result<Response, ApiError> {
    let rendered = tokio::task::spawn_blocking(move || render(&export, format))
        .await
        .map_err(ApiError::internal)??;
    Ok(file_response(rendered))
}

/// The file, with its type and a name for saving it.
pub fn file_response(rendered: Rendered) -> Response {
    let mut response = rendered.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(rendered.format.content_type()),
    );
    if let Ok(value) = HeaderValue::from_str(&content_disposition(&rendered.file_name)) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if rendered.format == Format::Html {
        // The page is self-contained: inline styles, nothing else.
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'"),
        );
    }
    response
}

/// Exports a resolution, at any version, or the compilation of its
/// amendments.
///
/// Formats (`format`): `md` (text/markdown), `txt` (text/plain), `html`
/// (one self-contained, print-styled page), `pdf` (typeset, fonts
/// embedded), `docx` (Word styles and numbering), `akn` (Akoma Ntoso 3.0,
/// `application/akn+xml`). The file comes as an attachment named after the
/// resolution (`Content-Disposition` with an ASCII `filename` and a UTF-8
/// `filename*`).
///
/// `version` picks a recorded version by number or id (default: the live
/// text). `lang` sets the language of the headings and labels (`en`, `es`,
/// `fr`, `pt`; default: the meeting's first working language). With
/// `what=amendments`, the compilation of the amendments is exported
/// instead: each amendment in text order with its paragraph, formal
/// wording, proposing delegation and decision, as `md`, `txt`, `html`,
/// `pdf` or `docx` (e.g. `?format=pdf&what=amendments`). Anyone who may read
/// the resolution may export it.
#[utoipa::path(get, path = "/api/resolutions/{id}/export", tag = "export",
    params(("id" = String, Path, description = "resolution id"), ResolutionExportQuery),
    responses(
        (status = 200, description = "the file", content(
            (String = "text/markdown"), (String = "text/plain"), (String = "text/html"),
            (Vec<u8> = "application/pdf"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            (String = "application/akn+xml"))),
        (status = 400, description = "unknown format, language or `what`, or a format not offered for it"),
        (status = 404, description = "no such resolution or version")),
    security(("bearer" = [])))]
async fn export_resolution(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
    Query(query): Query<ResolutionExportQuery>,
) -> Result<Response, ApiError> {
    let format = format_of(query.format.as_deref())?;
    let language = language_of(query.lang.as_deref())?;
    let amendments = match query.what.as_deref().map(str::trim) {
        None | Some("" | "resolution") => false,
        Some("amendments") => true,
        Some(other) => {
            return Err(ApiError::BadRequest(format!(
                "unknown what {other:?}: resolution or amendments"
            )));
        }
    };
    match (amendments, format) {
        (false, Format::Zip) => {
            return Err(ApiError::BadRequest(
                "zip is offered for a meeting: GET /api/meetings/{id}/export?format=zip".into(),
            ));
        }
        (true, Format::Akn | Format::Zip) => {
            return Err(ApiError::BadRequest(
                "the compilation of amendments is offered as md, txt, html, pdf or docx".into(),
            ));
        }
        (true, _) if query.version.is_some() => {
            return Err(ApiError::BadRequest(
                "the compilation of amendments is of the current text: drop version".into(),
            ));
        }
        _ => {}
    }
    let sources = sources(&state);
    let resolution = sources.resolution(&id).await?;
    let export = if amendments {
        let seq = committed_seq(&state, &resolution).await?;
        Export::Amendments(Box::new(
            sources.compilation(&resolution, seq, language).await?,
        ))
    } else {
        let reading = match query.version.as_deref() {
            Some(version) => Reading::Version(sources.version(&resolution, version).await?),
            None => Reading::Live(committed_seq(&state, &resolution).await?),
        };
        Export::Resolution(Box::new(
            sources
                .resolution_text(&resolution, reading, language)
                .await?,
        ))
    };
    respond(export, format).await
}

/// Exports a meeting's adopted resolutions together.
///
/// Formats (`format`): `pdf`, `docx` and `html` (one document, each
/// resolution from a new page), `md`, `txt`, or `zip` (a folder per
/// resolution with every format of it: pdf, docx, html, md, txt and
/// `.akn.xml`, and the combined PDF). `lang` as for a resolution.
#[utoipa::path(get, path = "/api/meetings/{id}/export", tag = "export",
    params(("id" = String, Path, description = "meeting id"), MeetingExportQuery),
    responses(
        (status = 200, description = "the file", content(
            (Vec<u8> = "application/pdf"),
            (Vec<u8> = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"),
            (String = "text/html"), (String = "text/markdown"), (String = "text/plain"),
            (Vec<u8> = "application/zip"))),
        (status = 400, description = "unknown format or language, or akn"),
        (status = 404, description = "no such meeting")),
    security(("bearer" = [])))]
async fn export_meeting(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
    Query(query): Query<MeetingExportQuery>,
) -> Result<Response, ApiError> {
    let format = format_of(query.format.as_deref())?;
    let language = language_of(query.lang.as_deref())?;
    if format == Format::Akn {
        return Err(ApiError::BadRequest(
            "Akoma Ntoso is one document per resolution: use format=zip for all of them".into(),
        ));
    }
    let sources = sources(&state);
    let collection = sources.meeting_collection(&id, language).await?;
    respond(Export::Meeting(Box::new(collection)), format).await
}
