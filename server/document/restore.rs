//! Making a live body equal to another reading of it, as one transaction of
//! small edits: paragraphs kept by identity and patched in place where they
//! differ, the others inserted or removed. Used to restore a version (a new
//! change on top, never a rewrite of history); connected editors see the
//! edits arrive like anyone else's, and their cursors stay where text stays.

use yrs::types::xml::{XmlFragment, XmlOut};
use yrs::{Text, TransactionMut, Xml, XmlElementPrelim, XmlFragmentRef, XmlTextPrelim};

use super::{Block, BlockKind, Inline, marks, read_fragment};

/// One character with its marks, the unit of patching.
type Styled = (char, bool, bool);

fn styled(inlines: &[Inline]) -> Vec<Styled> {
    inlines
        .iter()
        .flat_map(|inline| {
            inline
                .text
                .chars()
                .map(move |c| (c, inline.italic, inline.bold))
        })
        .collect()
}

fn runs(chars: &[Styled]) -> Vec<Inline> {
    let mut inlines: Vec<Inline> = Vec::new();
    for &(c, italic, bold) in chars {
        match inlines.last_mut() {
            Some(last) if last.italic == italic && last.bold == bold => last.text.push(c),
            _ => inlines.push(Inline {
                text: c.to_string(),
                italic,
                bold,
            }),
        }
    }
    inlines
}

fn byte_len(chars: &[Styled]) -> u32 {
    chars.iter().map(|(c, _, _)| c.len_utf8() as u32).sum()
}

/// Makes `body` hold `target`. Returns whether anything changed.
pub fn replace_body(
    transaction: &mut TransactionMut,
    body: &XmlFragmentRef,
    target: &[Block],
) -> bool {
    let mut changed = false;
    let wanted: std::collections::HashSet<&str> = target.iter().map(|b| b.id.as_str()).collect();

    // Remove what the target does not have (and duplicates of an id), from the end.
    let current = read_fragment(transaction, body);
    let mut seen = std::collections::HashSet::new();
    let keep: Vec<bool> = current
        .iter()
        .map(|block| wanted.contains(block.id.as_str()) && seen.insert(block.id.clone()))
        .collect();
    for index in (0..current.len()).rev() {
        if !keep[index] {
            body.remove_range(transaction, index as u32, 1);
            changed = true;
        }
    }

    for (index, block) in target.iter().enumerate() {
        let current = read_fragment(transaction, body);
        match current.iter().position(|b| b.id == block.id) {
            Some(at) if at == index => {
                changed |= patch(transaction, body, index, &current[at], block);
            }
            Some(at) => {
                // Out of place: take it out and put the target's copy here.
                body.remove_range(transaction, at as u32, 1);
                insert(transaction, body, index, block);
                changed = true;
            }
            None => {
                insert(transaction, body, index, block);
                changed = true;
            }
        }
    }
    let length = body.len(transaction);
    if length as usize > target.len() {
        body.remove_range(
            transaction,
            target.len() as u32,
            length - target.len() as u32,
        );
        changed = true;
    }
    changed
}

fn insert(transaction: &mut TransactionMut, body: &XmlFragmentRef, index: usize, block: &Block) {
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

/// Patches the block at `index` from `current` to `target` (same id).
fn patch(
    transaction: &mut TransactionMut,
    body: &XmlFragmentRef,
    index: usize,
    current: &Block,
    target: &Block,
) -> bool {
    if current.inlines == target.inlines
        && current.kind == target.kind
        && current.level == target.level
        && current.problems.is_empty()
    {
        return false;
    }
    let Some(XmlOut::Element(element)) = body.get(transaction, index as u32) else {
        body.remove_range(transaction, index as u32, 1);
        insert(transaction, body, index, target);
        return true;
    };
    let texts: Vec<XmlOut> = element.children(transaction).collect();
    let simple = current.kind == target.kind && current.problems.is_empty() && texts.len() <= 1;
    if !simple {
        body.remove_range(transaction, index as u32, 1);
        insert(transaction, body, index, target);
        return true;
    }
    if current.level != target.level && target.kind == BlockKind::Subparagraph {
        element.insert_attribute(transaction, "level", target.level.to_string());
    }
    let text = match texts.into_iter().next() {
        Some(XmlOut::Text(text)) => text,
        _ => element.push_back(transaction, XmlTextPrelim::new("")),
    };
    let from = styled(&current.inlines);
    let to = styled(&target.inlines);
    let prefix = from.iter().zip(&to).take_while(|(a, b)| a == b).count();
    let suffix = from[prefix..]
        .iter()
        .rev()
        .zip(to[prefix..].iter().rev())
        .take_while(|(a, b)| a == b)
        .count();
    let start = byte_len(&from[..prefix]);
    let removed = byte_len(&from[prefix..from.len() - suffix]);
    if removed > 0 {
        text.remove_range(transaction, start, removed);
    }
    let mut offset = start;
    for inline in runs(&to[prefix..to.len() - suffix]) {
        text.insert_with_attributes(transaction, offset, &inline.text, marks(&inline));
        offset += inline.text.len() as u32;
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{BODY, append_blocks, read_body};
    use yrs::{Doc, Transact};

    fn doc_with(blocks: &[Block]) -> Doc {
        let doc = Doc::new();
        let body = doc.get_or_insert_xml_fragment(BODY);
        append_blocks(&mut doc.transact_mut(), &body, blocks);
        doc
    }

    fn para(id: &str, kind: BlockKind, inlines: Vec<Inline>) -> Block {
        Block {
            id: id.into(),
            kind,
            level: u8::from(kind == BlockKind::Subparagraph),
            inlines,
            problems: vec![],
        }
    }

    #[test]
    fn any_body_becomes_the_target() {
        let old = vec![
            para(
                "a",
                BlockKind::Preamble,
                vec![Inline::italic("Recalling"), Inline::plain(" the Protocol,")],
            ),
            para(
                "b",
                BlockKind::Operative,
                vec![
                    Inline::italic("Urges"),
                    Inline::plain(" parliaments to act;"),
                ],
            ),
            para(
                "c",
                BlockKind::Operative,
                vec![Inline::plain("Decides to remain seized.")],
            ),
        ];
        let new = vec![
            para(
                "c",
                BlockKind::Operative,
                vec![Inline::plain("Decides to remain actively seized.")],
            ),
            para(
                "x",
                BlockKind::Subparagraph,
                vec![Inline::plain("(new) shelters;")],
            ),
            para(
                "a",
                BlockKind::Preamble,
                vec![
                    Inline::italic("Recalling also"),
                    Inline::plain(" the Protocol,"),
                ],
            ),
        ];
        let doc = doc_with(&old);
        let body = doc.get_or_insert_xml_fragment(BODY);
        assert!(replace_body(&mut doc.transact_mut(), &body, &new));
        assert_eq!(read_body(&doc), new);
        // Nothing to do the second time.
        assert!(!replace_body(&mut doc.transact_mut(), &body, &new));
        // And back.
        assert!(replace_body(&mut doc.transact_mut(), &body, &old));
        assert_eq!(read_body(&doc), old);
    }

    #[test]
    fn a_word_changed_is_a_small_edit() {
        let old = vec![para(
            "a",
            BlockKind::Operative,
            vec![Inline::plain("Urges member States to act;")],
        )];
        let new = vec![para(
            "a",
            BlockKind::Operative,
            vec![Inline::plain("Urges member parliaments to act;")],
        )];
        let doc = doc_with(&old);
        let body = doc.get_or_insert_xml_fragment(BODY);
        let update = {
            let mut transaction = doc.transact_mut();
            replace_body(&mut transaction, &body, &new);
            transaction.encode_update_v1()
        };
        assert_eq!(read_body(&doc), new);
        assert!(
            update.len() < 60,
            "only the changed words travel: {} bytes",
            update.len()
        );
    }
}
