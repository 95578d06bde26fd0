//! Versions of a resolution, and who wrote what.
//!
//! Every update of a document is kept in its log (with its author and the
//! author's delegation), so a version is only a position in that log: it
//! costs one row, whatever the document's size. Reading a version replays
//! the log up to it (from the last snapshot before it, when there is one);
//! comparing reads both and aligns their paragraphs (see
//! `document::compare`); restoring makes the live text equal to a version as
//! a new change on top. Attribution replays the log to learn which account
//! wrote each Yjs client's content, then reads every paragraph's characters
//! back to their client.

pub mod routes;

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use yrs::types::text::YChange;
use yrs::types::xml::{XmlFragment, XmlOut};
use yrs::{ReadTxn, Snapshot, Text, Transact, WriteTxn};

use crate::auth::{Actor, Role};
use crate::document::{self, BODY, Block};
use crate::ids::{AccountId, DelegationId, ResolutionId};
use crate::resolutions::Resolution;
use crate::store::{StoredDocument, StoredUpdate};
use crate::sync::crdt::{CorruptDocument, Replica, decode_update};

/// Why a version was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VersionKind {
    /// At a phase change.
    Phase,
    /// When a burst of editing ended.
    Checkpoint,
    /// Named by hand ("Draft 2 as circulated").
    Named,
    /// Made by restoring an earlier version.
    Restore,
    /// Made by adopting an amendment.
    Amendment,
}

impl VersionKind {
    /// The name stored.
    pub fn as_str(self) -> &'static str {
        match self {
            VersionKind::Phase => "phase",
            VersionKind::Checkpoint => "checkpoint",
            VersionKind::Named => "named",
            VersionKind::Restore => "restore",
            VersionKind::Amendment => "amendment",
        }
    }

    /// Reads a stored kind.
    pub fn parse(value: &str) -> Option<VersionKind> {
        match value {
            "phase" => Some(VersionKind::Phase),
            "checkpoint" => Some(VersionKind::Checkpoint),
            "named" => Some(VersionKind::Named),
            "restore" => Some(VersionKind::Restore),
            "amendment" => Some(VersionKind::Amendment),
            _ => None,
        }
    }
}

/// An immutable, named point in a resolution's history.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Version {
    /// Its id.
    pub id: String,
    /// The resolution.
    pub resolution_id: ResolutionId,
    /// 1, 2, 3… in order of recording.
    pub number: i64,
    /// "Draft 2 as circulated", "Tabled", "Restored from 3".
    pub name: String,
    /// Why it was recorded.
    pub kind: VersionKind,
    /// Why, in words.
    pub reason: Option<String>,
    /// The last update of the log it holds.
    pub seq: i64,
    /// Who recorded it (none for automatic checkpoints).
    pub created_by: Option<AccountId>,
    /// Unix milliseconds.
    pub created_at: i64,
}

/// A version to record.
#[derive(Debug, Clone)]
pub struct NewVersion {
    /// The resolution.
    pub resolution_id: ResolutionId,
    /// Its name.
    pub name: String,
    /// Why it is recorded.
    pub kind: VersionKind,
    /// Why, in words.
    pub reason: Option<String>,
    /// The last update it holds.
    pub seq: i64,
    /// Who records it.
    pub created_by: Option<AccountId>,
}

/// Someone who changed the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Contributor {
    /// Their account.
    pub account_id: AccountId,
    /// Their name.
    pub name: String,
    /// Their delegation when they wrote.
    pub delegation_id: Option<DelegationId>,
    /// That delegation's name.
    pub delegation_name: Option<String>,
}

/// May `actor` name a version? The secretariat, the chair, or a delegate of
/// a sponsoring delegation.
pub fn may_name(actor: Actor<'_>, resolution: &Resolution) -> bool {
    actor.role.can_preside()
        || (actor.role == Role::Delegate && resolution.is_sponsor(actor.delegation))
}

/// May `actor` restore a version? The secretariat, before the resolution is
/// decided (an adopted text never changes).
pub fn may_restore(actor: Actor<'_>, resolution: &Resolution) -> bool {
    actor.role == Role::Secretariat && !resolution.phase.is_final()
}

/// The body a stored reading holds.
pub fn materialize(stored: &StoredDocument) -> Result<Vec<Block>, CorruptDocument> {
    let replica = Replica::load(stored)?;
    Ok(document::read_body(replica.doc()))
}

/// Characters of a paragraph written by one author.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Share {
    /// The account (none for text the server wrote: the skeleton, a restore
    /// made by nobody in particular).
    pub account_id: Option<String>,
    /// Their delegation when they wrote.
    pub delegation_id: Option<String>,
    /// How many characters of the paragraph they wrote.
    pub characters: usize,
}

/// Who wrote a paragraph.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ParagraphAuthors {
    /// The paragraph's id.
    pub id: String,
    /// Its authors, most characters first.
    pub shares: Vec<Share>,
}

/// Replays `history` (every update from the first, with authors) and tells,
/// for each paragraph of the resulting body, who wrote its characters.
pub fn attribute(history: &[StoredUpdate]) -> Result<Vec<ParagraphAuthors>, CorruptDocument> {
    let replica = Replica::empty();
    let doc = replica.doc();
    // Each Yjs client id belongs to the author of the first update that
    // carries its content: a browser tab's client writes for its account.
    let mut owner: HashMap<u64, (Option<String>, Option<String>)> = HashMap::new();
    for chunk in history.chunks(64) {
        let mut transaction = doc.transact_mut();
        for row in chunk {
            let unreadable = |reason: String| CorruptDocument::Unreadable {
                seq: row.seq.0,
                reason,
            };
            let update = decode_update(&row.data).map_err(|e| unreadable(e.to_string()))?;
            for (client, _) in update.state_vector().iter() {
                owner
                    .entry(client.get())
                    .or_insert_with(|| (row.author.clone(), row.delegation.clone()));
            }
            transaction
                .apply_update(update)
                .map_err(|e| unreadable(e.to_string()))?;
        }
    }
    let mut transaction = doc.transact_mut();
    let body = transaction.get_or_insert_xml_fragment(BODY);
    let blocks = document::read_fragment(&transaction, &body);
    let snapshot = transaction.snapshot();
    let empty = Snapshot::default();
    let elements: Vec<XmlOut> = body.children(&transaction).collect();
    let mut paragraphs = Vec::with_capacity(blocks.len());
    for (block, node) in blocks.iter().zip(elements) {
        let mut counts: HashMap<(Option<String>, Option<String>), usize> = HashMap::new();
        if let XmlOut::Element(element) = node {
            let texts: Vec<XmlOut> = element.children(&transaction).collect();
            for child in texts {
                if let XmlOut::Text(text) = child {
                    for diff in text.diff_range(
                        &mut transaction,
                        Some(&snapshot),
                        Some(&empty),
                        YChange::identity,
                    ) {
                        let characters = match &diff.insert {
                            yrs::Out::Any(yrs::Any::String(chunk)) => chunk.chars().count(),
                            _ => 0,
                        };
                        let author = diff
                            .ychange
                            .and_then(|change| owner.get(&change.id.client.get()).cloned())
                            .unwrap_or((None, None));
                        *counts.entry(author).or_default() += characters;
                    }
                }
            }
        }
        let mut shares: Vec<Share> = counts
            .into_iter()
            .filter(|(_, characters)| *characters > 0)
            .map(|((account_id, delegation_id), characters)| Share {
                account_id,
                delegation_id,
                characters,
            })
            .collect();
        shares.sort_by(|a, b| {
            b.characters
                .cmp(&a.characters)
                .then(a.account_id.cmp(&b.account_id))
        });
        paragraphs.push(ParagraphAuthors {
            id: block.id.clone(),
            shares,
        });
    }
    Ok(paragraphs)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Seq;
    use yrs::{Doc, GetString};

    fn row(seq: i64, data: Vec<u8>, author: &str) -> StoredUpdate {
        StoredUpdate {
            seq: Seq(seq),
            data,
            author: Some(author.into()),
            delegation: Some(format!("{author}-delegation")),
        }
    }

    #[test]
    fn each_character_goes_back_to_its_author() {
        let skeleton =
            document::body_update(&[document::Block::new(document::BlockKind::Operative, vec![])]);
        let ana = Doc::new();
        ana.transact_mut()
            .apply_update(decode_update(&skeleton).expect("valid"))
            .expect("applies");
        let bea = Doc::new();
        bea.transact_mut()
            .apply_update(decode_update(&skeleton).expect("valid"))
            .expect("applies");
        let text_of = |doc: &Doc| {
            let mut txn = doc.transact_mut();
            let body = txn.get_or_insert_xml_fragment(BODY);
            match body.get(&txn, 0) {
                Some(XmlOut::Element(element)) => match element.get(&txn, 0) {
                    Some(XmlOut::Text(text)) => text,
                    _ => panic!("a text"),
                },
                _ => panic!("an element"),
            }
        };
        let ana_text = text_of(&ana);
        let first = {
            let mut txn = ana.transact_mut();
            ana_text.insert(&mut txn, 0, "Urges parliaments");
            txn.encode_update_v1()
        };
        bea.transact_mut()
            .apply_update(decode_update(&first).expect("valid"))
            .expect("applies");
        let bea_text = text_of(&bea);
        let second = {
            let mut txn = bea.transact_mut();
            bea_text.insert(&mut txn, 6, "all ");
            txn.encode_update_v1()
        };
        assert_eq!(
            bea_text.get_string(&bea.transact()),
            "Urges all parliaments"
        );
        let history = vec![
            row(1, skeleton, "server"),
            row(2, first, "ana"),
            row(3, second, "bea"),
        ];
        let paragraphs = attribute(&history).expect("attributes");
        assert_eq!(paragraphs.len(), 1);
        let shares: Vec<(String, usize)> = paragraphs[0]
            .shares
            .iter()
            .map(|s| (s.account_id.clone().unwrap_or_default(), s.characters))
            .collect();
        assert_eq!(shares, vec![("ana".into(), 17), ("bea".into(), 4)]);
        assert_eq!(
            paragraphs[0].shares[0].delegation_id.as_deref(),
            Some("ana-delegation")
        );
    }

    #[test]
    fn who_may_name_and_restore() {
        let mexico = DelegationId("mx".into());
        let resolution = Resolution {
            id: ResolutionId("r".into()),
            meeting_id: crate::ids::MeetingId("m".into()),
            title: "t".into(),
            phase: crate::resolutions::Phase::Tabled,
            sponsors: vec![mexico.clone()],
            created_at: 0,
            updated_at: 0,
        };
        let actor = |role, delegation| Actor { role, delegation };
        assert!(may_name(actor(Role::Delegate, Some(&mexico)), &resolution));
        assert!(may_name(actor(Role::Chair, None), &resolution));
        assert!(!may_name(actor(Role::Observer, None), &resolution));
        assert!(may_restore(actor(Role::Secretariat, None), &resolution));
        assert!(!may_restore(actor(Role::Chair, None), &resolution));
        for kind in [
            VersionKind::Phase,
            VersionKind::Checkpoint,
            VersionKind::Named,
            VersionKind::Restore,
            VersionKind::Amendment,
        ] {
            assert_eq!(VersionKind::parse(kind.as_str()), Some(kind));
        }
    }
}
