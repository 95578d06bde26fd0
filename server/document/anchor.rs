//! Anchoring amendments to the words they change, and applying them.
//!
//! An anchor is a pair of yrs sticky indexes (the same encoding as Yjs
//! relative positions, so the browser can make and place them): they name
//! characters by their CRDT identity, so they stay on the same words while
//! the text around them changes. If the words are deleted, the anchor
//! collapses and the amendment is reported as such, never misplaced.

use yrs::types::xml::{XmlFragment, XmlOut};
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{
    Assoc, IndexedSequence, ReadTxn, StickyIndex, Text, TransactionMut, WriteTxn, Xml,
    XmlElementPrelim, XmlFragmentRef, XmlTextPrelim, XmlTextRef,
};

use super::{BODY, Block, BlockKind, Inline, marks, read_fragment};

/// Why an amendment could not be anchored or applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnchorError {
    /// No paragraph with that id (or reference).
    #[error("there is no such paragraph")]
    NoParagraph,
    /// The quoted words are not in the paragraph.
    #[error("the words \"{0}\" are not in that paragraph")]
    WordsNotFound(String),
    /// The quoted words appear more than once: quote more of them.
    #[error(
        "the words \"{0}\" appear {1} times in that paragraph; quote enough words to say which"
    )]
    Ambiguous(String, usize),
    /// The words the amendment changes are no longer in the text.
    #[error("the words this amendment changes are no longer in the text")]
    WordsGone,
    /// An anchor that does not decode.
    #[error("the anchor is not a relative position")]
    BadAnchor,
}

/// An anchor: where the amended words start and end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// Sticky index before the first character (v1 encoding).
    pub start: Vec<u8>,
    /// Sticky index after the last character.
    pub end: Vec<u8>,
}

/// Where an anchor lies now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// The index of the paragraph in the body.
    pub paragraph: usize,
    /// The paragraph's id.
    pub paragraph_id: String,
    /// Start and end, in the document's offset unit.
    pub start: u32,
    /// End.
    pub end: u32,
    /// The text between them now.
    pub text: String,
}

fn paragraph_text(
    transaction: &impl ReadTxn,
    body: &XmlFragmentRef,
    index: usize,
) -> Option<XmlTextRef> {
    match body.get(transaction, index as u32)? {
        XmlOut::Element(element) => match element.get(transaction, 0)? {
            XmlOut::Text(text) => Some(text),
            _ => None,
        },
        _ => None,
    }
}

fn plain(block: &Block) -> String {
    block.text()
}

/// Anchors `words` in the paragraph `paragraph_id`: they must appear there
/// exactly once. `Assoc::After` at the start and `Assoc::Before` at the end,
/// so text typed right outside the words stays outside.
pub fn anchor_words(
    transaction: &mut TransactionMut,
    paragraph_id: &str,
    words: &str,
) -> Result<Anchor, AnchorError> {
    let body = transaction.get_or_insert_xml_fragment(BODY);
    let blocks = read_fragment(transaction, &body);
    let index = blocks
        .iter()
        .position(|b| b.id == paragraph_id)
        .ok_or(AnchorError::NoParagraph)?;
    let text = plain(&blocks[index]);
    let found: Vec<usize> = text.match_indices(words).map(|(at, _)| at).collect();
    let start = match found.as_slice() {
        [] => return Err(AnchorError::WordsNotFound(words.to_owned())),
        [one] => *one,
        many => return Err(AnchorError::Ambiguous(words.to_owned(), many.len())),
    };
    let content = paragraph_text(transaction, &body, index).ok_or(AnchorError::NoParagraph)?;
    let end = start + words.len();
    // Offsets are in bytes: the server's documents count text in bytes.
    let start_index = content
        .sticky_index(transaction, start as u32, Assoc::After)
        .ok_or(AnchorError::NoParagraph)?;
    let end_index = content
        .sticky_index(transaction, end as u32, Assoc::Before)
        .ok_or(AnchorError::NoParagraph)?;
    Ok(Anchor {
        start: start_index.encode_v1(),
        end: end_index.encode_v1(),
    })
}

/// Where `anchor` lies now, if its paragraph still exists.
pub fn locate(
    transaction: &impl ReadTxn,
    body: &XmlFragmentRef,
    anchor: &Anchor,
) -> Result<Option<Location>, AnchorError> {
    let start = StickyIndex::decode_v1(&anchor.start).map_err(|_| AnchorError::BadAnchor)?;
    let end = StickyIndex::decode_v1(&anchor.end).map_err(|_| AnchorError::BadAnchor)?;
    let (Some(start), Some(end)) = (start.get_offset(transaction), end.get_offset(transaction))
    else {
        return Ok(None);
    };
    if start.branch != end.branch {
        return Ok(None);
    }
    let blocks = read_fragment(transaction, body);
    for (index, block) in blocks.iter().enumerate() {
        let Some(content) = paragraph_text(transaction, body, index) else {
            continue;
        };
        let branch: &yrs::branch::Branch = content.as_ref();
        if yrs::branch::BranchPtr::from(branch) != start.branch {
            continue;
        }
        let text = plain(block);
        let from = (start.index as usize).min(text.len());
        let to = (end.index as usize).clamp(from, text.len());
        let between = text.get(from..to).unwrap_or_default().to_owned();
        return Ok(Some(Location {
            paragraph: index,
            paragraph_id: block.id.clone(),
            start: from as u32,
            end: to as u32,
            text: between,
        }));
    }
    Ok(None)
}

/// The state of an anchor now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AnchorState {
    /// The words are there, as quoted.
    Intact,
    /// The words are there but were edited since.
    Changed,
    /// The words (or their paragraph) were deleted.
    Deleted,
}

/// Compares where an anchor lies with the words it was made on.
pub fn state(location: Option<&Location>, words: &str) -> AnchorState {
    match location {
        None => AnchorState::Deleted,
        Some(location) if location.text == words => AnchorState::Intact,
        Some(location) if location.start == location.end => AnchorState::Deleted,
        Some(_) => AnchorState::Changed,
    }
}

/// What applying an amendment does to the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Edit {
    /// Replace the anchored words with `new`.
    Replace { anchor: Anchor, new: String },
    /// Insert `new` after the anchored words.
    InsertAfter { anchor: Anchor, new: String },
    /// Delete the anchored words.
    Delete { anchor: Anchor },
    /// Insert a paragraph after `after` (none: at the beginning).
    AddParagraph { after: Option<String>, block: Block },
    /// Delete a paragraph.
    DeleteParagraph { id: String },
    /// Move a paragraph to follow `after` (none: to the beginning).
    MoveParagraph { id: String, after: Option<String> },
}

fn char_at(text: &str, byte: usize) -> Option<char> {
    text.get(byte..).and_then(|rest| rest.chars().next())
}

fn char_before(text: &str, byte: usize) -> Option<char> {
    text.get(..byte).and_then(|head| head.chars().next_back())
}

/// Applies an edit to the body of the document `transaction` belongs to,
/// as a person would expect the words to read: a space where words meet,
/// no double space where words were removed.
pub fn apply(transaction: &mut TransactionMut, edit: &Edit) -> Result<(), AnchorError> {
    let body = transaction.get_or_insert_xml_fragment(BODY);
    match edit {
        Edit::Replace { anchor, new } => {
            let location = locate(transaction, &body, anchor)?.ok_or(AnchorError::WordsGone)?;
            if location.start == location.end {
                return Err(AnchorError::WordsGone);
            }
            let content = paragraph_text(transaction, &body, location.paragraph)
                .ok_or(AnchorError::WordsGone)?;
            content.remove_range(transaction, location.start, location.end - location.start);
            content.insert_with_attributes(
                transaction,
                location.start,
                new,
                marks(&Inline::plain("")),
            );
            Ok(())
        }
        Edit::InsertAfter { anchor, new } => {
            let location = locate(transaction, &body, anchor)?.ok_or(AnchorError::WordsGone)?;
            if location.start == location.end {
                return Err(AnchorError::WordsGone);
            }
            let content = paragraph_text(transaction, &body, location.paragraph)
                .ok_or(AnchorError::WordsGone)?;
            let blocks = read_fragment(transaction, &body);
            let text = plain(&blocks[location.paragraph]);
            let before = char_before(&text, location.end as usize);
            let after = char_at(&text, location.end as usize);
            let mut insertion = new.trim().to_owned();
            let needs_space_before = before.is_some_and(|c| !c.is_whitespace())
                && insertion.chars().next().is_some_and(|c| {
                    c.is_alphanumeric() || c == '(' || c == '«' || c == '"' || c == '“'
                });
            let needs_space_after = after.is_some_and(|c| c.is_alphanumeric());
            if needs_space_before {
                insertion.insert(0, ' ');
            }
            if needs_space_after {
                insertion.push(' ');
            }
            content.insert_with_attributes(
                transaction,
                location.end,
                &insertion,
                marks(&Inline::plain("")),
            );
            Ok(())
        }
        Edit::Delete { anchor } => {
            let location = locate(transaction, &body, anchor)?.ok_or(AnchorError::WordsGone)?;
            if location.start == location.end {
                return Err(AnchorError::WordsGone);
            }
            let content = paragraph_text(transaction, &body, location.paragraph)
                .ok_or(AnchorError::WordsGone)?;
            let blocks = read_fragment(transaction, &body);
            let text = plain(&blocks[location.paragraph]);
            let mut start = location.start;
            let end = location.end;
            // "protect, in particular, victims" less "in particular," reads
            // "protect, victims": drop the space the deletion leaves doubled,
            // or left before punctuation.
            let before = char_before(&text, start as usize);
            let after = char_at(&text, end as usize);
            let mut length = end - start;
            match (before, after) {
                (Some(b), Some(a))
                    if b.is_whitespace()
                        && (a.is_whitespace() || matches!(a, ',' | ';' | '.' | ':')) =>
                {
                    start -= b.len_utf8() as u32;
                    length += b.len_utf8() as u32;
                }
                (None, Some(a)) if a.is_whitespace() => length += a.len_utf8() as u32,
                _ => {}
            }
            content.remove_range(transaction, start, length);
            Ok(())
        }
        Edit::AddParagraph { after, block } => {
            let blocks = read_fragment(transaction, &body);
            let index = match after {
                None => 0,
                Some(id) => {
                    blocks
                        .iter()
                        .position(|b| &b.id == id)
                        .ok_or(AnchorError::NoParagraph)?
                        + 1
                }
            };
            insert_block(transaction, &body, index, block);
            Ok(())
        }
        Edit::DeleteParagraph { id } => {
            let blocks = read_fragment(transaction, &body);
            let index = blocks
                .iter()
                .position(|b| &b.id == id)
                .ok_or(AnchorError::NoParagraph)?;
            body.remove_range(transaction, index as u32, 1);
            Ok(())
        }
        Edit::MoveParagraph { id, after } => {
            let blocks = read_fragment(transaction, &body);
            let from = blocks
                .iter()
                .position(|b| &b.id == id)
                .ok_or(AnchorError::NoParagraph)?;
            let moved = blocks[from].clone();
            body.remove_range(transaction, from as u32, 1);
            let blocks = read_fragment(transaction, &body);
            let index = match after {
                None => 0,
                Some(after) => {
                    blocks
                        .iter()
                        .position(|b| &b.id == after)
                        .ok_or(AnchorError::NoParagraph)?
                        + 1
                }
            };
            insert_block(transaction, &body, index, &moved);
            Ok(())
        }
    }
}

fn insert_block(
    transaction: &mut TransactionMut,
    body: &XmlFragmentRef,
    index: usize,
    block: &Block,
) {
    let element = body.insert(
        transaction,
        index as u32,
        XmlElementPrelim::empty(block.kind.tag()),
    );
    element.insert_attribute(transaction, "id", block.id.as_str());
    if block.kind == BlockKind::Subparagraph {
        element.insert_attribute(transaction, "level", block.level.to_string());
    }
    let text = element.push_back(transaction, XmlTextPrelim::new(""));
    let mut offset = 0;
    for inline in &block.inlines {
        text.insert_with_attributes(transaction, offset, &inline.text, marks(inline));
        offset += inline.text.len() as u32;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{append_blocks, read_body};
    use yrs::{Doc, Transact};

    fn doc(texts: &[(&str, &str)]) -> Doc {
        let doc = Doc::new();
        let body = doc.get_or_insert_xml_fragment(BODY);
        let blocks: Vec<Block> = texts
            .iter()
            .map(|(id, text)| Block {
                id: (*id).into(),
                kind: BlockKind::Operative,
                level: 0,
                inlines: vec![Inline::plain(*text)],
                problems: vec![],
            })
            .collect();
        append_blocks(&mut doc.transact_mut(), &body, &blocks);
        doc
    }

    fn texts(doc: &Doc) -> Vec<String> {
        read_body(doc).iter().map(Block::text).collect()
    }

    fn edit_text(doc: &Doc, paragraph: usize, f: impl FnOnce(&mut TransactionMut, &XmlTextRef)) {
        let mut txn = doc.transact_mut();
        let body = txn.get_or_insert_xml_fragment(BODY);
        let content = paragraph_text(&txn, &body, paragraph).expect("a paragraph");
        f(&mut txn, &content);
    }

    #[test]
    fn anchors_follow_their_words_through_edits() {
        let doc = doc(&[("p1", "Urges parliaments to review national legislation;")]);
        let anchor = anchor_words(&mut doc.transact_mut(), "p1", "review").expect("anchored");
        // Text typed before the words, and right after them.
        edit_text(&doc, 0, |txn, text| {
            text.insert(txn, 0, "Strongly ");
            text.insert(
                txn,
                "Strongly Urges parliaments to review".len() as u32,
                " urgently",
            );
        });
        let body = doc.get_or_insert_xml_fragment(BODY);
        let location = locate(&doc.transact(), &body, &anchor)
            .expect("decodes")
            .expect("found");
        assert_eq!(location.text, "review");
        assert_eq!(state(Some(&location), "review"), AnchorState::Intact);
        // Applying the replacement lands on the words, wherever they went.
        apply(
            &mut doc.transact_mut(),
            &Edit::Replace {
                anchor: anchor.clone(),
                new: "review and harmonize".into(),
            },
        )
        .expect("applies");
        assert_eq!(
            texts(&doc),
            ["Strongly Urges parliaments to review and harmonize urgently national legislation;"]
        );
    }

    #[test]
    fn deleted_words_are_reported_not_misplaced() {
        let doc = doc(&[(
            "p1",
            "Calls upon States, in particular, to protect victims;",
        )]);
        let anchor =
            anchor_words(&mut doc.transact_mut(), "p1", "in particular").expect("anchored");
        edit_text(&doc, 0, |txn, text| {
            text.remove_range(
                txn,
                "Calls upon States, ".len() as u32,
                "in particular, ".len() as u32,
            );
        });
        let body = doc.get_or_insert_xml_fragment(BODY);
        let location = locate(&doc.transact(), &body, &anchor).expect("decodes");
        assert_eq!(
            state(location.as_ref(), "in particular"),
            AnchorState::Deleted
        );
        assert_eq!(
            apply(&mut doc.transact_mut(), &Edit::Delete { anchor }),
            Err(AnchorError::WordsGone)
        );
    }

    #[test]
    fn words_read_as_a_person_expects() {
        let doc = doc(&[
            (
                "p1",
                "Calls upon States, in particular, to protect victims;",
            ),
            ("p2", "Urges review of national legislation;"),
        ]);
        let delete =
            anchor_words(&mut doc.transact_mut(), "p1", "in particular,").expect("anchored");
        apply(&mut doc.transact_mut(), &Edit::Delete { anchor: delete }).expect("applies");
        let insert =
            anchor_words(&mut doc.transact_mut(), "p2", "national legislation").expect("anchored");
        apply(
            &mut doc.transact_mut(),
            &Edit::InsertAfter {
                anchor: insert,
                new: "and regional agreements".into(),
            },
        )
        .expect("applies");
        assert_eq!(
            texts(&doc),
            [
                "Calls upon States, to protect victims;",
                "Urges review of national legislation and regional agreements;"
            ]
        );
        assert!(matches!(
            anchor_words(&mut doc.transact_mut(), "p1", "a"),
            Err(AnchorError::Ambiguous(_, 2))
        ));
        assert!(matches!(
            anchor_words(&mut doc.transact_mut(), "p1", "absent"),
            Err(AnchorError::WordsNotFound(_))
        ));
    }

    #[test]
    fn paragraphs_are_added_moved_and_deleted() {
        let doc = doc(&[("a", "One;"), ("b", "Two;"), ("c", "Three.")]);
        apply(
            &mut doc.transact_mut(),
            &Edit::MoveParagraph {
                id: "c".into(),
                after: Some("a".into()),
            },
        )
        .expect("moves");
        apply(
            &mut doc.transact_mut(),
            &Edit::DeleteParagraph { id: "b".into() },
        )
        .expect("deletes");
        let new = Block::new(
            BlockKind::Operative,
            vec![Inline::italic("Decides"), Inline::plain(" to act;")],
        );
        apply(
            &mut doc.transact_mut(),
            &Edit::AddParagraph {
                after: None,
                block: new,
            },
        )
        .expect("adds");
        assert_eq!(texts(&doc), ["Decides to act;", "One;", "Three."]);
        assert_eq!(
            read_body(&doc)[2].id,
            "c",
            "a moved paragraph keeps its identity"
        );
    }
}

#[cfg(test)]
mod replica_tests {
    use super::*;
    use crate::document::{body_update, read_body};
    use crate::store::{StoredDocument, StoredUpdate};
    use crate::sync::crdt::Replica;
    use yrs::Transact;

    #[test]
    fn a_missing_word_is_an_error_not_a_hang() {
        let blocks = vec![Block {
            id: "op1".into(),
            kind: BlockKind::Operative,
            level: 0,
            inlines: vec![Inline::plain(
                "Urges parliaments to review national legislation;",
            )],
            problems: vec![],
        }];
        let stored = StoredDocument {
            snapshot: None,
            snapshot_seq: crate::ids::Seq(0),
            updates: vec![StoredUpdate {
                seq: crate::ids::Seq(1),
                data: body_update(&blocks),
                author: None,
                delegation: None,
            }],
        };
        let replica = Replica::load(&stored).expect("loads");
        let read = read_body(replica.doc());
        assert_eq!(read.len(), 1);
        let result = {
            let mut transaction = replica.doc().transact_mut();
            anchor_words(&mut transaction, "op1", "absent words")
        };
        assert!(matches!(result, Err(AnchorError::WordsNotFound(_))));
    }
}
