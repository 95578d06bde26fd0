//! `/api/resolutions/{id}/amendments`, `/api/amendments/{id}/…`, comments.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Serialize};
use serde_json::json;
use utoipa::ToSchema;
use yrs::Transact;

use super::{
    Action, Amendment, Comment, Language, ParagraphName, Placement, Status, Vote, VoteResult,
    check_move, close_vote, decide, may_propose, may_vote, voting_list, wording,
};
use crate::app::{AppState, Created};
use crate::audit::NewAuditEvent;
use crate::auth::extract::CurrentUser;
use crate::auth::{Invalid, validate_text};
use crate::document::anchor::{self, Anchor, AnchorError, AnchorState, Edit};
use crate::document::{self, BODY, Block, BlockKind, Inline};
use crate::error::{ApiError, Json};
use crate::events::Topic;
use crate::ids::{ResolutionId, Seq};
use crate::resolutions::Resolution;
use crate::store::now_millis;
use crate::sync::crdt::Replica;
use crate::versions::VersionKind;
use crate::versions::routes::{committed_seq, record_version};

crate::app::api_routes! {
    list_amendments, propose;
    get_amendment;
    change_status;
    cast_vote;
    close;
    support, withdraw_support;
    comment_on_amendment;
    list_comments, comment_on_resolution;
    edit_comment, delete_comment;
    list_voting_order;
}

/// `POST /api/resolutions/{id}/amendments`, in the formal terms a delegate
/// would write, or anchored by a selection in the browser.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Proposal {
    /// "operative 3", "preamble 2", "operative 2 (b)", or "title"; or give `paragraph_id`.
    pub paragraph: Option<String>,
    /// The paragraph's stable id (the browser knows it).
    pub paragraph_id: Option<String>,
    /// What to do.
    pub action: Action,
    /// The words to replace or delete, or after which to insert.
    pub old_text: Option<String>,
    /// The new words, paragraph or title. A new paragraph may start with its
    /// opening words in asterisks: `*Encourages* parliaments …`.
    pub new_text: Option<String>,
    /// For `move_paragraph`: the paragraph it is to follow ("operative 2"), or "beginning".
    pub after: Option<String>,
    /// For `add_paragraph`: its kind (default: the kind of the paragraph it follows).
    pub kind: Option<BlockKind>,
    /// For an added sub-paragraph: 1 or 2.
    pub level: Option<u8>,
    /// Why.
    pub rationale: Option<String>,
    /// From the browser: the selection's start and end as Yjs relative
    /// positions (base64 of `Y.encodeRelativePosition`), instead of finding
    /// `old_text` in the paragraph.
    pub anchor_start: Option<String>,
    /// The selection's end.
    pub anchor_end: Option<String>,
}

/// An amendment as people read it: numbered in text order, worded in the
/// four languages, placed in the current text.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AmendmentView {
    /// The amendment.
    #[serde(flatten)]
    pub amendment: Amendment,
    /// Its number, in order of position in the text.
    pub number: usize,
    /// Its formal wording in English, Spanish, French and Portuguese.
    pub wording: HashMap<String, String>,
    /// The paragraph as a delegate names it now ("operative 3").
    pub reference: Option<String>,
    /// Whether the words it changes are still there as quoted.
    pub anchor: AnchorState,
    /// Open amendments that touch the same words or paragraph.
    pub collides_with: Vec<String>,
    /// Votes cast, while voting and after.
    pub tally: Option<Tally>,
    /// Where its words start, for the browser to highlight them: the stored
    /// Yjs relative position (base64 of its v1 encoding), for word actions.
    pub anchor_start: Option<String>,
    /// Where its words end.
    pub anchor_end: Option<String>,
}

/// Votes cast so far.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Tally {
    /// Delegations for.
    pub yes: u32,
    /// Against.
    pub no: u32,
    /// Abstaining.
    pub abstain: u32,
    /// Delegation id → its vote.
    pub votes: HashMap<String, Vote>,
}

/// The live body, read from what is committed, as a replica to anchor in.
async fn live_replica(state: &AppState, resolution: &Resolution) -> Result<Replica, ApiError> {
    let seq = committed_seq(state, resolution).await?;
    replica_at(state, resolution, seq).await
}

async fn replica_at(
    state: &AppState,
    resolution: &Resolution,
    seq: Seq,
) -> Result<Replica, ApiError> {
    let document = resolution
        .id
        .document()
        .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
    let stored = state.store().load_through(&document, seq).await?;
    tokio::task::spawn_blocking(move || Replica::load(&stored))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)
}

fn paragraph_name(blocks: &[Block], index: usize) -> Option<ParagraphName> {
    let reference = document::reference(blocks, index)?;
    let (kind, number) = reference.split_once(' ')?;
    Some(ParagraphName {
        kind: if kind == "preamble" {
            BlockKind::Preamble
        } else {
            BlockKind::Operative
        },
        number: number.to_owned(),
    })
}

/// Finds the paragraph a delegate names: "operative 3", "preamble 2",
/// "operative 2 (b)" (matching the references the server computes).
fn find_paragraph(blocks: &[Block], reference: &str) -> Option<usize> {
    let wanted = reference
        .trim()
        .to_lowercase()
        .replace("preambular", "preamble")
        .replace("  ", " ");
    (0..blocks.len()).find(|&index| document::reference(blocks, index).is_some_and(|r| r == wanted))
}

pub(crate) fn views(
    amendments: Vec<Amendment>,
    replica: &Replica,
    votes: &HashMap<String, Vec<(String, Vote)>>,
) -> Vec<(AmendmentView, Placement)> {
    // The root first: getting it takes a write transaction, which would wait
    // forever behind a read transaction held on this same thread.
    let body = replica.doc().get_or_insert_xml_fragment(BODY);
    let transaction = replica.doc().transact();
    let blocks = document::read_fragment(&transaction, &body);
    let index_of: HashMap<&str, usize> = blocks
        .iter()
        .enumerate()
        .map(|(i, b)| (b.id.as_str(), i))
        .collect();
    let mut placed = Vec::with_capacity(amendments.len());
    for amendment in amendments {
        let location = match (&amendment.anchor_start, &amendment.anchor_end) {
            (Some(start), Some(end)) => anchor::locate(
                &transaction,
                &body,
                &Anchor {
                    start: start.clone(),
                    end: end.clone(),
                },
            )
            .ok()
            .flatten(),
            _ => None,
        };
        let paragraph = match amendment.action {
            Action::Title => -1,
            _ if amendment.action.is_words() => location
                .as_ref()
                .map(|l| l.paragraph as i64)
                .or_else(|| {
                    amendment
                        .paragraph_id
                        .as_deref()
                        .and_then(|id| index_of.get(id))
                        .map(|&i| i as i64)
                })
                .unwrap_or(i64::MAX),
            _ => amendment
                .paragraph_id
                .as_deref()
                .and_then(|id| index_of.get(id))
                .map_or(
                    if amendment.action == Action::AddParagraph && amendment.paragraph_id.is_none()
                    {
                        -1
                    } else {
                        i64::MAX
                    },
                    |&i| i as i64,
                ),
        };
        let anchor_state = if amendment.action.is_words() {
            anchor::state(
                location.as_ref(),
                amendment.old_text.as_deref().unwrap_or_default(),
            )
        } else if amendment.action == Action::Title
            || amendment.action == Action::AddParagraph && amendment.paragraph_id.is_none()
        {
            AnchorState::Intact
        } else if paragraph == i64::MAX {
            AnchorState::Deleted
        } else {
            AnchorState::Intact
        };
        let old = amendment
            .old_text
            .as_deref()
            .map_or(0, |t| t.chars().count()) as u64;
        let new = amendment
            .new_text
            .as_deref()
            .map_or(0, |t| t.chars().count()) as u64;
        let distance = match amendment.action {
            Action::DeleteParagraph => u64::MAX / 2,
            Action::MoveParagraph => u64::MAX / 4,
            Action::Delete => old,
            Action::Insert | Action::AddParagraph | Action::Title => new,
            Action::Replace => old + new,
        };
        let placement = Placement {
            id: amendment.id.clone(),
            action: amendment.action,
            paragraph,
            range: location.as_ref().map(|l| (l.start, l.end)),
            open: !amendment.status.is_final(),
            distance,
        };
        placed.push((amendment, placement, anchor_state));
    }
    // In text order: by paragraph, then by where in it; a new paragraph comes
    // after everything else that touches the paragraph it follows.
    placed.sort_by_key(|(amendment, placement, _)| {
        let within = match (amendment.action, placement.range) {
            (Action::AddParagraph, _) => u32::MAX,
            (_, Some((start, _))) => start,
            (_, None) => 0,
        };
        (placement.paragraph, within, amendment.serial)
    });
    let placements: Vec<Placement> = placed.iter().map(|(_, p, _)| p.clone()).collect();
    placed
        .into_iter()
        .enumerate()
        .map(|(index, (amendment, placement, anchor_state))| {
            let paragraph = usize::try_from(placement.paragraph)
                .ok()
                .filter(|&i| i < blocks.len());
            let name = paragraph.and_then(|i| paragraph_name(&blocks, i));
            let target = amendment
                .target_id
                .as_deref()
                .and_then(|id| index_of.get(id))
                .and_then(|&i| paragraph_name(&blocks, i));
            let wording = Language::ALL
                .iter()
                .map(|&language| {
                    let key = serde_json::to_value(language)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_owned))
                        .unwrap_or_default();
                    (
                        key,
                        wording(language, &amendment, name.as_ref(), target.as_ref()),
                    )
                })
                .collect();
            let collides_with = if placement.open {
                placements
                    .iter()
                    .filter(|other| other.open && super::collide(&placement, other))
                    .map(|other| other.id.clone())
                    .collect()
            } else {
                Vec::new()
            };
            let tally = votes.get(&amendment.id).map(|cast| {
                let count = |vote: Vote| cast.iter().filter(|(_, v)| *v == vote).count() as u32;
                Tally {
                    yes: count(Vote::Yes),
                    no: count(Vote::No),
                    abstain: count(Vote::Abstain),
                    votes: cast.iter().cloned().collect(),
                }
            });
            let view = AmendmentView {
                reference: paragraph.and_then(|i| document::reference(&blocks, i)),
                number: index + 1,
                wording,
                anchor: anchor_state,
                collides_with,
                tally,
                anchor_start: amendment
                    .anchor_start
                    .as_deref()
                    .map(|a| STANDARD.encode(a)),
                anchor_end: amendment.anchor_end.as_deref().map(|a| STANDARD.encode(a)),
                amendment,
            };
            (view, placement)
        })
        .collect()
}

/// Tables proposed amendments whose resolution's deadline has passed.
async fn apply_deadline(state: &AppState, resolution: &Resolution) -> Result<(), ApiError> {
    let Some(deadline) = resolution.amendment_deadline else {
        return Ok(());
    };
    let now = now_millis();
    if now < deadline {
        return Ok(());
    }
    for amendment in state.directory().amendments(&resolution.id).await? {
        if amendment.status == Status::Proposed {
            match state
                .directory()
                .set_amendment_status(&amendment.id, Status::Proposed, Status::Tabled, None, now)
                .await
            {
                Ok(()) | Err(crate::store::StoreError::Conflict(_)) => {}
                Err(error) => return Err(error.into()),
            }
            state
                .record(NewAuditEvent::new(
                    None,
                    "amendment_tabled_by_deadline",
                    Some(amendment.id.clone()),
                ))
                .await;
        }
    }
    Ok(())
}

async fn all_views(
    state: &AppState,
    resolution: &Resolution,
) -> Result<Vec<AmendmentView>, ApiError> {
    Ok(placed_views(state, resolution)
        .await?
        .into_iter()
        .map(|(view, _)| view)
        .collect())
}

async fn placed_views(
    state: &AppState,
    resolution: &Resolution,
) -> Result<Vec<(AmendmentView, Placement)>, ApiError> {
    apply_deadline(state, resolution).await?;
    let amendments = state.directory().amendments(&resolution.id).await?;
    let mut votes = HashMap::new();
    for amendment in &amendments {
        if matches!(
            amendment.status,
            Status::Voting | Status::Adopted | Status::Rejected
        ) {
            let cast = state.directory().votes(&amendment.id).await?;
            votes.insert(
                amendment.id.clone(),
                cast.into_iter().map(|(d, v)| (d.0, v)).collect::<Vec<_>>(),
            );
        }
    }
    let replica = live_replica(state, resolution).await?;
    Ok(views(amendments, &replica, &votes))
}

async fn resolution(state: &AppState, id: &str) -> Result<Resolution, ApiError> {
    Ok(state
        .directory()
        .resolution(&ResolutionId(id.to_owned()))
        .await?)
}

/// The amendments of a resolution, in order of position in the text.
#[utoipa::path(get, path = "/api/resolutions/{id}/amendments", tag = "amendments",
    params(("id" = String, Path, description = "resolution id")),
    responses((status = 200, body = Vec<AmendmentView>)), security(("bearer" = [])))]
async fn list_amendments(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Vec<AmendmentView>>, ApiError> {
    let resolution = resolution(&state, &id).await?;
    Ok(Json(all_views(&state, &resolution).await?))
}

fn anchor_error(error: AnchorError) -> ApiError {
    match error {
        AnchorError::NoParagraph => Invalid::new("paragraph", error.to_string()).into(),
        AnchorError::WordsNotFound(_) | AnchorError::Ambiguous(..) => {
            Invalid::new("old_text", error.to_string()).into()
        }
        AnchorError::WordsGone => ApiError::Conflict(error.to_string()),
        AnchorError::BadAnchor => Invalid::new("anchor_start", error.to_string()).into(),
    }
}

/// Parses `*Opening words* the rest` into an italic opener and plain text.
pub fn paragraph_inlines(text: &str) -> Vec<Inline> {
    let text = text.trim();
    if let Some(rest) = text.strip_prefix('*')
        && let Some((opener, tail)) = rest.split_once('*')
        && !opener.is_empty()
    {
        let mut inlines = vec![Inline::italic(opener)];
        if !tail.is_empty() {
            inlines.push(Inline::plain(tail));
        }
        return inlines;
    }
    vec![Inline::plain(text)]
}

/// Proposes an amendment (a delegate, or the presidency, while the
/// resolution is tabled). In formal terms: `{"paragraph": "operative 3",
/// "action": "replace", "old_text": "X", "new_text": "Y"}`.
#[utoipa::path(post, path = "/api/resolutions/{id}/amendments", tag = "amendments", request_body = Proposal,
    params(("id" = String, Path, description = "resolution id")),
    responses((status = 201, body = Created), (status = 422, description = "the paragraph or the words are not found")),
    security(("bearer" = [])))]
async fn propose(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(proposal): Json<Proposal>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let resolution = resolution(&state, &id).await?;
    may_propose(user.account.actor(), &resolution).map_err(ApiError::Forbidden)?;
    for (field, value, max) in [
        ("old_text", &proposal.old_text, 2000),
        ("new_text", &proposal.new_text, 5000),
        ("rationale", &proposal.rationale, 5000),
    ] {
        if let Some(value) = value
            && value.chars().count() > max
        {
            return Err(Invalid::new(field, format!("has more than {max} characters")).into());
        }
    }
    let replica = live_replica(&state, &resolution).await?;
    let blocks = document::read_body(replica.doc());
    let action = proposal.action;
    let require = |field: &'static str, value: &Option<String>| -> Result<String, ApiError> {
        match value.as_deref().map(str::trim) {
            Some(value) if !value.is_empty() => Ok(value.to_owned()),
            _ => Err(Invalid::new(field, format!("is required to {}", action.as_str())).into()),
        }
    };
    let paragraph_index = if action == Action::Title {
        None
    } else {
        match (&proposal.paragraph_id, &proposal.paragraph) {
            (Some(id), _) => Some(blocks.iter().position(|b| &b.id == id).ok_or_else(|| Invalid::new("paragraph_id", "no such paragraph"))?),
            (None, Some(reference)) if action == Action::AddParagraph && reference.trim() == "beginning" => None,
            (None, Some(reference)) => Some(find_paragraph(&blocks, reference).ok_or_else(|| {
                Invalid::new("paragraph", format!("there is no {reference:?}; write e.g. \"operative 3\" or \"preamble 2\""))
            })?),
            (None, None) => return Err(Invalid::new("paragraph", "names the paragraph to amend").into()),
        }
    };
    let paragraph_id = paragraph_index.map(|i| blocks[i].id.clone());
    let mut amendment = Amendment {
        id: crate::ids::random_id(),
        resolution_id: resolution.id.clone(),
        serial: 0,
        author: user.account.id.clone(),
        delegation_id: user.account.delegation_id.clone(),
        action,
        paragraph_id: paragraph_id.clone(),
        target_id: None,
        new_kind: None,
        new_level: None,
        old_text: None,
        new_text: None,
        anchor_start: None,
        anchor_end: None,
        rationale: proposal
            .rationale
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty()),
        status: Status::Proposed,
        vote_result: None,
        supporters: Vec::new(),
        created_at: now_millis(),
        updated_at: now_millis(),
    };
    match action {
        Action::Replace | Action::Insert | Action::Delete => {
            let old = require("old_text", &proposal.old_text)?;
            if action != Action::Delete {
                amendment.new_text = Some(require("new_text", &proposal.new_text)?);
            }
            let paragraph_id = paragraph_id
                .clone()
                .ok_or_else(|| Invalid::new("paragraph", "names the paragraph to amend"))?;
            let anchor = match (&proposal.anchor_start, &proposal.anchor_end) {
                (Some(start), Some(end)) => {
                    let decode = |value: &str, field| {
                        STANDARD
                            .decode(value)
                            .map_err(|_| Invalid::new(field, "is not base64"))
                    };
                    let anchor = Anchor {
                        start: decode(start, "anchor_start")?,
                        end: decode(end, "anchor_end")?,
                    };
                    let body = replica.doc().get_or_insert_xml_fragment(BODY);
                    let transaction = replica.doc().transact();
                    let location =
                        anchor::locate(&transaction, &body, &anchor).map_err(anchor_error)?;
                    match location {
                        Some(location)
                            if location.paragraph_id == paragraph_id && location.text == old =>
                        {
                            anchor
                        }
                        _ => {
                            return Err(Invalid::new(
                                "anchor_start",
                                "the selection does not hold the quoted words in that paragraph",
                            )
                            .into());
                        }
                    }
                }
                _ => {
                    let mut transaction = replica.doc().transact_mut();
                    anchor::anchor_words(&mut transaction, &paragraph_id, &old)
                        .map_err(anchor_error)?
                }
            };
            amendment.old_text = Some(old);
            amendment.anchor_start = Some(anchor.start);
            amendment.anchor_end = Some(anchor.end);
        }
        Action::AddParagraph => {
            let text = require("new_text", &proposal.new_text)?;
            let kind = proposal
                .kind
                .or_else(|| paragraph_index.map(|i| blocks[i].kind))
                .unwrap_or(BlockKind::Preamble);
            amendment.new_kind = Some(kind);
            amendment.new_level =
                (kind == BlockKind::Subparagraph).then(|| proposal.level.unwrap_or(1).clamp(1, 2));
            amendment.new_text = Some(text);
        }
        Action::DeleteParagraph => {
            if paragraph_id.is_none() {
                return Err(Invalid::new("paragraph", "names the paragraph to delete").into());
            }
            amendment.old_text = paragraph_index.map(|i| blocks[i].text());
        }
        Action::MoveParagraph => {
            if paragraph_id.is_none() {
                return Err(Invalid::new("paragraph", "names the paragraph to move").into());
            }
            let after = require("after", &proposal.after)?;
            if after != "beginning" {
                let target = find_paragraph(&blocks, &after)
                    .ok_or_else(|| Invalid::new("after", format!("there is no {after:?}")))?;
                if Some(target) == paragraph_index {
                    return Err(Invalid::new("after", "a paragraph cannot follow itself").into());
                }
                amendment.target_id = Some(blocks[target].id.clone());
            }
            amendment.old_text = paragraph_index.map(|i| blocks[i].text());
        }
        Action::Title => {
            let title = require("new_text", &proposal.new_text)?;
            validate_text("new_text", &title, 300)?;
            amendment.old_text = Some(resolution.title.clone());
            amendment.new_text = Some(title);
        }
    }
    let amendment = state.directory().create_amendment(&amendment).await?;
    state.events().notify(
        resolution.id.as_str(),
        Topic::Amendment,
        Some(&amendment.id),
    );
    state
        .record(
            NewAuditEvent::new(
                Some(&user.account.id),
                "amendment_proposed",
                Some(amendment.id.clone()),
            )
            .with(json!({"resolution": resolution.id, "action": amendment.action})),
        )
        .await;
    Ok((StatusCode::CREATED, Json(Created { id: amendment.id })))
}

/// An amendment with its thread.
#[derive(Debug, Serialize, ToSchema)]
pub struct AmendmentDetail {
    /// The amendment as people read it.
    #[serde(flatten)]
    pub view: AmendmentView,
    /// Its thread, oldest first.
    pub comments: Vec<Comment>,
    /// Account id → name, for its author and the authors of its thread
    /// (the account list itself is the secretariat's only).
    pub names: HashMap<String, String>,
}

async fn view_of(
    state: &AppState,
    amendment_id: &str,
) -> Result<(Resolution, AmendmentView), ApiError> {
    let amendment = state.directory().amendment(amendment_id).await?;
    let resolution = resolution(state, amendment.resolution_id.as_str()).await?;
    let view = all_views(state, &resolution)
        .await?
        .into_iter()
        .find(|view| view.amendment.id == amendment_id)
        .ok_or(ApiError::NotFound)?;
    Ok((resolution, view))
}

/// One amendment, with its wording, placement, tally and thread.
#[utoipa::path(get, path = "/api/amendments/{id}", tag = "amendments",
    params(("id" = String, Path, description = "amendment id")),
    responses((status = 200, body = AmendmentDetail)), security(("bearer" = [])))]
async fn get_amendment(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<AmendmentDetail>, ApiError> {
    let (resolution, view) = view_of(&state, &id).await?;
    let comments: Vec<Comment> = state
        .directory()
        .comments(&resolution.id)
        .await?
        .into_iter()
        .filter(|comment| comment.amendment_id.as_deref() == Some(id.as_str()))
        .collect();
    let mut names = HashMap::new();
    for account in std::iter::once(&view.amendment.author).chain(comments.iter().map(|c| &c.author))
    {
        if names.contains_key(&account.0) {
            continue;
        }
        match state.directory().account(account).await {
            Ok(found) => {
                names.insert(account.0.clone(), found.name);
            }
            // A removed account leaves its words without a name, not an error.
            Err(crate::store::StoreError::NotFound) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(Json(AmendmentDetail {
        view,
        comments,
        names,
    }))
}

/// Applies an accepted or adopted amendment to the text, through the
/// document's own task, as one change attributed to the amendment's author;
/// records the version "After amendment N" and lets the amendments it made
/// moot fall.
async fn apply_amendment(
    state: &AppState,
    resolution: &Resolution,
    view: &AmendmentView,
    actor: &crate::auth::Account,
) -> Result<(), ApiError> {
    let amendment = &view.amendment;
    if amendment.action == Action::Title {
        let mut changed = resolution.clone();
        changed.title = amendment.new_text.clone().unwrap_or_default();
        changed.updated_at = now_millis();
        state.directory().update_resolution(&changed).await?;
    } else {
        let anchor = match (&amendment.anchor_start, &amendment.anchor_end) {
            (Some(start), Some(end)) => Some(Anchor {
                start: start.clone(),
                end: end.clone(),
            }),
            _ => None,
        };
        let new = amendment.new_text.clone().unwrap_or_default();
        let edit = match (amendment.action, anchor) {
            (Action::Replace, Some(anchor)) => Edit::Replace { anchor, new },
            (Action::Insert, Some(anchor)) => Edit::InsertAfter { anchor, new },
            (Action::Delete, Some(anchor)) => Edit::Delete { anchor },
            (Action::AddParagraph, _) => {
                let kind = amendment.new_kind.unwrap_or(BlockKind::Operative);
                let mut block = Block::new(kind, paragraph_inlines(&new));
                if kind == BlockKind::Subparagraph {
                    block.level = amendment.new_level.unwrap_or(1);
                }
                Edit::AddParagraph {
                    after: amendment.paragraph_id.clone(),
                    block,
                }
            }
            (Action::DeleteParagraph, _) => Edit::DeleteParagraph {
                id: amendment.paragraph_id.clone().unwrap_or_default(),
            },
            (Action::MoveParagraph, _) => Edit::MoveParagraph {
                id: amendment.paragraph_id.clone().unwrap_or_default(),
                after: amendment.target_id.clone(),
            },
            _ => return Err(ApiError::Conflict("the amendment has no anchor".into())),
        };
        // Check on a copy of the committed text first, so a refusal is a
        // clear error rather than a silent no-op in the live document.
        let replica = live_replica(state, resolution).await?;
        {
            let mut transaction = replica.doc().transact_mut();
            anchor::apply(&mut transaction, &edit).map_err(anchor_error)?;
        }
        let document = resolution
            .id
            .document()
            .map_err(|e| ApiError::internal(anyhow::anyhow!(e)))?;
        let failure: Arc<Mutex<Option<AnchorError>>> = Arc::new(Mutex::new(None));
        let report = failure.clone();
        let author = (
            Some(amendment.author.0.clone()),
            amendment.delegation_id.as_ref().map(|d| d.0.clone()),
        );
        state
            .rooms()
            .edit(
                &document,
                author,
                Box::new(move |transaction| {
                    if let Err(error) = anchor::apply(transaction, &edit)
                        && let Ok(mut slot) = report.lock()
                    {
                        *slot = Some(error);
                    }
                }),
            )
            .await
            .map_err(|error| ApiError::Unavailable(error.to_string()))?;
        if let Some(error) = failure.lock().ok().and_then(|mut slot| slot.take()) {
            return Err(anchor_error(error));
        }
    }
    let version = record_version(
        state,
        resolution,
        VersionKind::Amendment,
        format!("After amendment {}", view.number),
        Some(view.wording.get("en").cloned().unwrap_or_default()),
        Some(actor),
    )
    .await?;
    state
        .events()
        .notify(resolution.id.as_str(), Topic::Version, Some(&version.id));
    Ok(())
}

/// Lets the open amendments that collided with an applied one fall.
async fn fall_collisions(
    state: &AppState,
    resolution: &Resolution,
    view: &AmendmentView,
) -> Result<(), ApiError> {
    let now = now_millis();
    for other in &view.collides_with {
        let amendment = state.directory().amendment(other).await?;
        if amendment.status.is_final() {
            continue;
        }
        match state
            .directory()
            .set_amendment_status(other, amendment.status, Status::Fallen, None, now)
            .await
        {
            Ok(()) | Err(crate::store::StoreError::Conflict(_)) => {}
            Err(error) => return Err(error.into()),
        }
        state
            .events()
            .notify(resolution.id.as_str(), Topic::Amendment, Some(other));
        state
            .record(
                NewAuditEvent::new(None, "amendment_fell", Some(other.clone()))
                    .with(json!({"because_of": view.amendment.id})),
            )
            .await;
    }
    Ok(())
}

/// `POST /api/amendments/{id}/status`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// `tabled` (the presidency), `withdrawn` (its author), `accepted` (the
    /// sponsors, as friendly: applied at once), `voting` (the chair opens the
    /// vote), `tabled` again from `voting` (the chair cancels the vote).
    pub status: Status,
}

/// Moves an amendment through its lifecycle.
#[utoipa::path(post, path = "/api/amendments/{id}/status", tag = "amendments", request_body = StatusChange,
    params(("id" = String, Path, description = "amendment id")),
    responses((status = 200, body = AmendmentView), (status = 403), (status = 409)), security(("bearer" = [])))]
async fn change_status(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(change): Json<StatusChange>,
) -> Result<Json<AmendmentView>, ApiError> {
    let (resolution, view) = view_of(&state, &id).await?;
    let amendment = &view.amendment;
    let is_author = amendment.author == user.account.id;
    check_move(
        user.account.actor(),
        is_author,
        amendment,
        &resolution,
        change.status,
    )
    .map_err(|error| match error {
        super::MoveError::NotAllowed { .. } => ApiError::Forbidden(error.to_string()),
        _ => ApiError::Conflict(error.to_string()),
    })?;
    if change.status == Status::Accepted {
        apply_amendment(&state, &resolution, &view, &user.account).await?;
    }
    state
        .directory()
        .set_amendment_status(&id, amendment.status, change.status, None, now_millis())
        .await?;
    if change.status.is_applied() {
        fall_collisions(&state, &resolution, &view).await?;
    }
    state
        .events()
        .notify(resolution.id.as_str(), Topic::Amendment, Some(&id));
    state
        .record(
            NewAuditEvent::new(Some(&user.account.id), "amendment_status", Some(id.clone()))
                .with(json!({"from": amendment.status, "to": change.status})),
        )
        .await;
    let (_, view) = view_of(&state, &id).await?;
    Ok(Json(view))
}

/// `POST /api/amendments/{id}/votes`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Ballot {
    /// yes, no or abstain.
    pub vote: Vote,
}

/// Casts (or changes) the vote of the delegate's delegation while the vote
/// is open. One vote per delegation.
#[utoipa::path(post, path = "/api/amendments/{id}/votes", tag = "amendments", request_body = Ballot,
    params(("id" = String, Path, description = "amendment id")),
    responses((status = 204), (status = 403), (status = 409, description = "the vote is not open")), security(("bearer" = [])))]
async fn cast_vote(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(ballot): Json<Ballot>,
) -> Result<StatusCode, ApiError> {
    let amendment = state.directory().amendment(&id).await?;
    let actor = user.account.actor();
    let Some(delegation) = actor.delegation.filter(|_| may_vote(actor)) else {
        return Err(ApiError::forbidden(
            "delegations vote, through their delegates",
        ));
    };
    let resolution = resolution(&state, amendment.resolution_id.as_str()).await?;
    let member = state.directory().delegation(delegation).await?;
    if member.meeting_id != resolution.meeting_id {
        return Err(ApiError::forbidden(
            "your delegation does not take part in this meeting",
        ));
    }
    if amendment.status != Status::Voting {
        return Err(ApiError::Conflict(
            "the vote on this amendment is not open".into(),
        ));
    }
    state
        .directory()
        .cast_vote(&id, delegation, ballot.vote, &user.account.id, now_millis())
        .await?;
    state
        .events()
        .notify(resolution.id.as_str(), Topic::Vote, Some(&id));
    state
        .record(
            NewAuditEvent::new(Some(&user.account.id), "vote_cast", Some(id.clone()))
                .with(json!({"delegation": delegation, "vote": ballot.vote})),
        )
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// Closes the vote (the presidency): the meeting's rule decides, the count
/// is recorded, and an adopted amendment is applied to the text at once.
#[utoipa::path(post, path = "/api/amendments/{id}/close-vote", tag = "amendments",
    params(("id" = String, Path, description = "amendment id")),
    responses((status = 200, body = AmendmentView)), security(("bearer" = [])))]
async fn close(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<AmendmentView>, ApiError> {
    let (resolution, view) = view_of(&state, &id).await?;
    close_vote(user.account.actor(), &view.amendment).map_err(|error| match error {
        super::MoveError::NotAllowed { .. } => ApiError::Forbidden(error.to_string()),
        _ => ApiError::Conflict(error.to_string()),
    })?;
    let meeting = state.directory().meeting(&resolution.meeting_id).await?;
    let delegations = state.directory().delegations(&meeting.id).await?.len() as u32;
    let cast = state.directory().votes(&id).await?;
    let count = |vote: Vote| cast.iter().filter(|(_, v)| *v == vote).count() as u32;
    let result: VoteResult = decide(
        meeting.voting_rule,
        count(Vote::Yes),
        count(Vote::No),
        count(Vote::Abstain),
        delegations,
    );
    let outcome = if result.adopted {
        Status::Adopted
    } else {
        Status::Rejected
    };
    if result.adopted {
        apply_amendment(&state, &resolution, &view, &user.account).await?;
    }
    state
        .directory()
        .set_amendment_status(&id, Status::Voting, outcome, Some(&result), now_millis())
        .await?;
    if result.adopted {
        fall_collisions(&state, &resolution, &view).await?;
    }
    state
        .events()
        .notify(resolution.id.as_str(), Topic::Amendment, Some(&id));
    state
        .record(
            NewAuditEvent::new(Some(&user.account.id), "vote_closed", Some(id.clone()))
                .with(json!({"result": result})),
        )
        .await;
    let (_, view) = view_of(&state, &id).await?;
    Ok(Json(view))
}

/// Signs the delegate's delegation on as a supporter (co-sponsor).
#[utoipa::path(post, path = "/api/amendments/{id}/supporters", tag = "amendments",
    params(("id" = String, Path, description = "amendment id")),
    responses((status = 204)), security(("bearer" = [])))]
async fn support(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_support(&state, &user, &id, true).await
}

/// Takes the delegate's delegation off the supporters.
#[utoipa::path(delete, path = "/api/amendments/{id}/supporters", tag = "amendments",
    params(("id" = String, Path, description = "amendment id")),
    responses((status = 204)), security(("bearer" = [])))]
async fn withdraw_support(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    set_support(&state, &user, &id, false).await
}

async fn set_support(
    state: &AppState,
    user: &CurrentUser,
    id: &str,
    on: bool,
) -> Result<StatusCode, ApiError> {
    let amendment = state.directory().amendment(id).await?;
    let actor = user.account.actor();
    let Some(delegation) = actor.delegation.filter(|_| may_vote(actor)) else {
        return Err(ApiError::forbidden(
            "delegations sign on, through their delegates",
        ));
    };
    if amendment.status.is_final() {
        return Err(ApiError::Conflict(
            "the amendment is already decided".into(),
        ));
    }
    state
        .directory()
        .set_supporter(id, delegation, &user.account.id, on, now_millis())
        .await?;
    state
        .events()
        .notify(amendment.resolution_id.as_str(), Topic::Amendment, Some(id));
    Ok(StatusCode::NO_CONTENT)
}

/// A new comment.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewComment {
    /// The text (1 to 10,000 characters).
    pub body: String,
    /// The comment it answers.
    pub parent_id: Option<String>,
    /// On a resolution: the paragraph discussed.
    pub paragraph_id: Option<String>,
}

async fn add_comment(
    state: &AppState,
    user: &CurrentUser,
    resolution: &Resolution,
    amendment_id: Option<String>,
    new: NewComment,
) -> Result<String, ApiError> {
    if user.account.role == crate::auth::Role::Observer {
        return Err(ApiError::forbidden(
            "observers read the threads but do not write in them",
        ));
    }
    validate_text("body", &new.body, 10_000)?;
    if let Some(parent) = &new.parent_id {
        let parent = state.directory().comment(parent).await?;
        if parent.resolution_id != resolution.id || parent.amendment_id != amendment_id {
            return Err(Invalid::new("parent_id", "answers a comment of another thread").into());
        }
    }
    let comment = Comment {
        id: crate::ids::random_id(),
        resolution_id: resolution.id.clone(),
        amendment_id,
        paragraph_id: new.paragraph_id,
        parent_id: new.parent_id,
        author: user.account.id.clone(),
        body: new.body.trim().to_owned(),
        created_at: now_millis(),
        edited_at: None,
        deleted_at: None,
    };
    state.directory().create_comment(&comment).await?;
    state
        .events()
        .notify(resolution.id.as_str(), Topic::Comment, Some(&comment.id));
    Ok(comment.id)
}

/// Comments on an amendment (or answers a comment of its thread).
#[utoipa::path(post, path = "/api/amendments/{id}/comments", tag = "comments", request_body = NewComment,
    params(("id" = String, Path, description = "amendment id")),
    responses((status = 201, body = Created)), security(("bearer" = [])))]
async fn comment_on_amendment(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(new): Json<NewComment>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let amendment = state.directory().amendment(&id).await?;
    let resolution = resolution(&state, amendment.resolution_id.as_str()).await?;
    let id = add_comment(&state, &user, &resolution, Some(id), new).await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

/// Comments on a resolution or one of its paragraphs.
#[utoipa::path(post, path = "/api/resolutions/{id}/comments", tag = "comments", request_body = NewComment,
    params(("id" = String, Path, description = "resolution id")),
    responses((status = 201, body = Created)), security(("bearer" = [])))]
async fn comment_on_resolution(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(new): Json<NewComment>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    let resolution = resolution(&state, &id).await?;
    let id = add_comment(&state, &user, &resolution, None, new).await?;
    Ok((StatusCode::CREATED, Json(Created { id })))
}

/// Every comment on a resolution, its paragraphs and its amendments.
#[utoipa::path(get, path = "/api/resolutions/{id}/comments", tag = "comments",
    params(("id" = String, Path, description = "resolution id")),
    responses((status = 200, body = Vec<Comment>)), security(("bearer" = [])))]
async fn list_comments(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Vec<Comment>>, ApiError> {
    let resolution = resolution(&state, &id).await?;
    Ok(Json(state.directory().comments(&resolution.id).await?))
}

/// `PATCH /api/comments/{id}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentEdit {
    /// The new text.
    pub body: String,
}

/// Edits one's own comment.
#[utoipa::path(patch, path = "/api/comments/{id}", tag = "comments", request_body = CommentEdit,
    params(("id" = String, Path, description = "comment id")),
    responses((status = 204)), security(("bearer" = [])))]
async fn edit_comment(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
    Json(edit): Json<CommentEdit>,
) -> Result<StatusCode, ApiError> {
    let comment = state.directory().comment(&id).await?;
    if comment.author != user.account.id {
        return Err(ApiError::forbidden("you may edit only your own comments"));
    }
    validate_text("body", &edit.body, 10_000)?;
    state
        .directory()
        .edit_comment(&id, edit.body.trim(), now_millis())
        .await?;
    state
        .events()
        .notify(comment.resolution_id.as_str(), Topic::Comment, Some(&id));
    Ok(StatusCode::NO_CONTENT)
}

/// Deletes one's own comment (the secretariat may delete any); replies stay.
#[utoipa::path(delete, path = "/api/comments/{id}", tag = "comments",
    params(("id" = String, Path, description = "comment id")),
    responses((status = 204)), security(("bearer" = [])))]
async fn delete_comment(
    State(state): State<AppState>,
    user: CurrentUser,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let comment = state.directory().comment(&id).await?;
    if comment.author != user.account.id && !user.account.role.can_administer() {
        return Err(ApiError::forbidden("you may delete only your own comments"));
    }
    state.directory().delete_comment(&id, now_millis()).await?;
    state
        .events()
        .notify(comment.resolution_id.as_str(), Topic::Comment, Some(&id));
    state
        .record(NewAuditEvent::new(
            Some(&user.account.id),
            "comment_deleted",
            Some(id.clone()),
        ))
        .await;
    Ok(StatusCode::NO_CONTENT)
}

/// The voting list: open amendments in groups that collide, groups in text
/// order, each in voting order (the one furthest from the text first).
#[utoipa::path(get, path = "/api/resolutions/{id}/voting-list", tag = "amendments",
    params(("id" = String, Path, description = "resolution id")),
    responses((status = 200, body = Vec<Vec<AmendmentView>>)), security(("bearer" = [])))]
async fn list_voting_order(
    State(state): State<AppState>,
    _user: CurrentUser,
    Path(id): Path<String>,
) -> Result<Json<Vec<Vec<AmendmentView>>>, ApiError> {
    let resolution = resolution(&state, &id).await?;
    let placed = placed_views(&state, &resolution).await?;
    let placements: Vec<Placement> = placed
        .iter()
        .map(|(_, placement)| placement.clone())
        .collect();
    let mut by_id: HashMap<String, AmendmentView> = placed
        .into_iter()
        .map(|(view, _)| (view.amendment.id.clone(), view))
        .collect();
    Ok(Json(
        voting_list(&placements)
            .into_iter()
            .map(|group| {
                group
                    .into_iter()
                    .filter_map(|id| by_id.remove(&id))
                    .collect()
            })
            .collect(),
    ))
}
