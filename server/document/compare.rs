//! Comparing two readings of a body: paragraphs aligned by their stable
//! identity (not by position, so a paragraph inserted at the top does not
//! make everything look changed), word-level insertions and deletions inside
//! each, and paragraphs added, removed and moved.

use serde::Serialize;
use similar::{Algorithm, DiffTag, capture_diff_slices};

use super::{Block, BlockKind, numbers};

/// What happened to a paragraph between the two readings.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ParagraphStatus {
    /// Same text, same kind, same place.
    Unchanged,
    /// Its text, kind or level changed.
    Modified,
    /// Only in the later reading.
    Added,
    /// Only in the earlier reading.
    Removed,
}

/// One side of a paragraph in a comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Side {
    /// Its kind.
    pub kind: BlockKind,
    /// Its level (sub-paragraphs).
    pub level: u8,
    /// Its number ("3.", "(b)"), if any.
    pub number: Option<String>,
    /// Its text.
    pub text: String,
}

/// A run of text in a paragraph's difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Segment {
    /// `equal`, `insert` or `delete`.
    pub op: SegmentOp,
    /// The words.
    pub text: String,
}

/// Whether a run of text is kept, added or removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum SegmentOp {
    /// In both.
    Equal,
    /// Only in the later reading.
    Insert,
    /// Only in the earlier reading.
    Delete,
}

/// One paragraph of a comparison.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ParagraphChange {
    /// The paragraph's stable id.
    pub id: String,
    /// What happened to it.
    pub status: ParagraphStatus,
    /// Whether it changed place relative to the paragraphs around it.
    pub moved: bool,
    /// The earlier reading, unless added.
    pub from: Option<Side>,
    /// The later reading, unless removed.
    pub to: Option<Side>,
    /// Its text, word by word: equal, inserted and deleted runs.
    pub segments: Vec<Segment>,
}

/// The comparison of two readings, in the order of the later one (removed
/// paragraphs where they stood).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Comparison {
    /// Every paragraph of either reading.
    pub paragraphs: Vec<ParagraphChange>,
    /// Counts, for a summary line.
    pub added: usize,
    /// Paragraphs removed.
    pub removed: usize,
    /// Paragraphs modified.
    pub modified: usize,
    /// Paragraphs moved.
    pub moved: usize,
}

/// Words, runs of spaces, and single punctuation marks: the units a reader
/// sees change.
pub fn tokens(text: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    let mut start = None;
    let mut kind = 0u8;
    for (index, c) in text.char_indices() {
        let this = if c.is_alphanumeric() || c == '\'' || c == '’' {
            1
        } else if c.is_whitespace() {
            2
        } else {
            3
        };
        match start {
            // A word or a run of spaces goes on; each punctuation mark stands alone.
            Some(_) if this == kind && this != 3 => {}
            Some(from) => {
                tokens.push(&text[from..index]);
                start = Some(index);
                kind = this;
            }
            None => {
                start = Some(index);
                kind = this;
            }
        }
    }
    if let Some(from) = start {
        tokens.push(&text[from..]);
    }
    tokens
}

/// The word-level difference of two texts.
pub fn word_diff(from: &str, to: &str) -> Vec<Segment> {
    let old = tokens(from);
    let new = tokens(to);
    let mut segments: Vec<Segment> = Vec::new();
    let mut push = |op: SegmentOp, text: String| {
        if text.is_empty() {
            return;
        }
        match segments.last_mut() {
            Some(last) if last.op == op => last.text.push_str(&text),
            _ => segments.push(Segment { op, text }),
        }
    };
    for op in capture_diff_slices(Algorithm::Myers, &old, &new) {
        let (tag, old_range, new_range) = op.as_tag_tuple();
        match tag {
            DiffTag::Equal => push(SegmentOp::Equal, old[old_range].concat()),
            DiffTag::Delete => push(SegmentOp::Delete, old[old_range].concat()),
            DiffTag::Insert => push(SegmentOp::Insert, new[new_range].concat()),
            DiffTag::Replace => {
                push(SegmentOp::Delete, old[old_range].concat());
                push(SegmentOp::Insert, new[new_range].concat());
            }
        }
    }
    segments
}

fn side(block: &Block, number: Option<String>) -> Side {
    Side {
        kind: block.kind,
        level: block.level,
        number,
        text: block.text(),
    }
}

/// Compares two readings of a body.
pub fn compare(from: &[Block], to: &[Block]) -> Comparison {
    let from_numbers = numbers(from);
    let to_numbers = numbers(to);
    let from_index: std::collections::HashMap<&str, usize> = from
        .iter()
        .enumerate()
        .map(|(i, b)| (b.id.as_str(), i))
        .collect();
    let to_ids: std::collections::HashSet<&str> = to.iter().map(|b| b.id.as_str()).collect();

    // Paragraphs in both readings, in each order; those outside their
    // longest common subsequence changed place.
    let common_from: Vec<&str> = from
        .iter()
        .map(|b| b.id.as_str())
        .filter(|id| to_ids.contains(id))
        .collect();
    let common_to: Vec<&str> = to
        .iter()
        .map(|b| b.id.as_str())
        .filter(|id| from_index.contains_key(id))
        .collect();
    let mut in_place: std::collections::HashSet<&str> = std::collections::HashSet::new();
    for op in capture_diff_slices(Algorithm::Myers, &common_from, &common_to) {
        let (tag, old_range, _) = op.as_tag_tuple();
        if tag == DiffTag::Equal {
            in_place.extend(common_from[old_range].iter().copied());
        }
    }

    let mut paragraphs: Vec<ParagraphChange> = Vec::new();
    for (index, block) in to.iter().enumerate() {
        let after = side(block, to_numbers[index].clone());
        match from_index.get(block.id.as_str()) {
            Some(&old) => {
                let before = side(&from[old], from_numbers[old].clone());
                let same_text = from[old].inlines == block.inlines;
                let same_shape = before.kind == after.kind && before.level == after.level;
                let status = if same_text && same_shape {
                    ParagraphStatus::Unchanged
                } else {
                    ParagraphStatus::Modified
                };
                let segments = word_diff(&before.text, &after.text);
                paragraphs.push(ParagraphChange {
                    id: block.id.clone(),
                    status,
                    moved: !in_place.contains(block.id.as_str()),
                    from: Some(before),
                    to: Some(after),
                    segments,
                });
            }
            None => paragraphs.push(ParagraphChange {
                id: block.id.clone(),
                status: ParagraphStatus::Added,
                moved: false,
                segments: vec![Segment {
                    op: SegmentOp::Insert,
                    text: after.text.clone(),
                }],
                from: None,
                to: Some(after),
            }),
        }
    }
    // Removed paragraphs go right after the paragraph that preceded them and
    // stayed in place (or another removed one), so they read where they stood.
    for (index, block) in from.iter().enumerate() {
        if to_ids.contains(block.id.as_str()) {
            continue;
        }
        let position = (0..index)
            .rev()
            .filter(|&before| {
                let id = from[before].id.as_str();
                in_place.contains(id) || !to_ids.contains(id)
            })
            .find_map(|before| {
                paragraphs
                    .iter()
                    .position(|p| p.id == from[before].id)
                    .map(|at| at + 1)
            })
            .unwrap_or(0);
        let before = side(block, from_numbers[index].clone());
        paragraphs.insert(
            position,
            ParagraphChange {
                id: block.id.clone(),
                status: ParagraphStatus::Removed,
                moved: false,
                segments: vec![Segment {
                    op: SegmentOp::Delete,
                    text: before.text.clone(),
                }],
                from: Some(before),
                to: None,
            },
        );
    }
    let count = |status| paragraphs.iter().filter(|p| p.status == status).count();
    Comparison {
        added: count(ParagraphStatus::Added),
        removed: count(ParagraphStatus::Removed),
        modified: count(ParagraphStatus::Modified),
        moved: paragraphs.iter().filter(|p| p.moved).count(),
        paragraphs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::Inline;

    fn block(id: &str, kind: BlockKind, text: &str) -> Block {
        Block {
            id: id.into(),
            kind,
            level: u8::from(kind == BlockKind::Subparagraph),
            inlines: vec![Inline::plain(text)],
            problems: vec![],
        }
    }

    #[test]
    fn words_are_the_unit() {
        assert_eq!(
            tokens("Urges member States, "),
            vec!["Urges", " ", "member", " ", "States", ",", " "]
        );
        let segments = word_diff(
            "Urges member States to act;",
            "Urges all member parliaments to act;",
        );
        let inserted: Vec<&str> = segments
            .iter()
            .filter(|s| s.op == SegmentOp::Insert)
            .map(|s| s.text.as_str())
            .collect();
        let deleted: Vec<&str> = segments
            .iter()
            .filter(|s| s.op == SegmentOp::Delete)
            .map(|s| s.text.as_str())
            .collect();
        assert_eq!(inserted.concat(), "all parliaments");
        assert_eq!(deleted.concat(), "States");
        let rebuilt: String = segments
            .iter()
            .filter(|s| s.op != SegmentOp::Delete)
            .map(|s| s.text.as_str())
            .collect();
        assert_eq!(rebuilt, "Urges all member parliaments to act;");
    }

    #[test]
    fn a_paragraph_inserted_at_the_top_changes_nothing_else() {
        let from = vec![
            block("a", BlockKind::Preamble, "Recalling the Protocol,"),
            block("b", BlockKind::Operative, "Urges parliaments;"),
        ];
        let mut to = from.clone();
        to.insert(0, block("new", BlockKind::Preamble, "Noting with concern,"));
        let comparison = compare(&from, &to);
        assert_eq!(comparison.added, 1);
        assert_eq!(
            (comparison.modified, comparison.removed, comparison.moved),
            (0, 0, 0)
        );
        assert_eq!(comparison.paragraphs[0].status, ParagraphStatus::Added);
        assert!(
            comparison.paragraphs[1..]
                .iter()
                .all(|p| p.status == ParagraphStatus::Unchanged)
        );
    }

    #[test]
    fn removed_modified_and_moved_paragraphs() {
        let from = vec![
            block("a", BlockKind::Preamble, "Recalling the Protocol,"),
            block("b", BlockKind::Operative, "Urges parliaments;"),
            block("c", BlockKind::Operative, "Calls upon States;"),
            block("d", BlockKind::Operative, "Decides to remain seized."),
        ];
        let to = vec![
            block("a", BlockKind::Preamble, "Recalling the Protocol,"),
            block("c", BlockKind::Operative, "Calls upon all States;"),
            block("b", BlockKind::Operative, "Urges parliaments;"),
        ];
        let comparison = compare(&from, &to);
        let statuses: Vec<(&str, ParagraphStatus, bool)> = comparison
            .paragraphs
            .iter()
            .map(|p| (p.id.as_str(), p.status, p.moved))
            .collect();
        assert_eq!(
            statuses,
            vec![
                ("a", ParagraphStatus::Unchanged, false),
                ("c", ParagraphStatus::Modified, true),
                ("b", ParagraphStatus::Unchanged, false),
                ("d", ParagraphStatus::Removed, false),
            ]
        );
        let c = &comparison.paragraphs[1];
        assert_eq!(
            c.from.as_ref().and_then(|s| s.number.clone()).as_deref(),
            Some("2.")
        );
        assert_eq!(
            c.to.as_ref().and_then(|s| s.number.clone()).as_deref(),
            Some("1.")
        );
        assert!(
            c.segments
                .iter()
                .any(|s| s.op == SegmentOp::Insert && s.text.contains("all"))
        );
    }

    #[test]
    fn a_change_of_kind_is_a_modification() {
        let from = vec![block("a", BlockKind::Preamble, "Encourages parliaments;")];
        let to = vec![block("a", BlockKind::Operative, "Encourages parliaments;")];
        assert_eq!(
            compare(&from, &to).paragraphs[0].status,
            ParagraphStatus::Modified
        );
    }
}
