//! The body of a resolution: its schema, read into a neutral tree of blocks
//! (for numbering, comparison and export) and written from one (for the
//! server-side skeleton, the demo, restores and adopted amendments).
//!
//! The body is the root `Y.XmlFragment` named [`BODY`], holding a ProseMirror
//! document as y-prosemirror stores it: one `Y.XmlElement` per block, its
//! attributes the node's attributes, its text a `Y.XmlText` whose formatting
//! attributes are the marks (`{"italic": {}}`). The schema is written down in
//! docs/document-model.md; its machine-readable part, docs/document-model.json,
//! is compiled in here ([`model`]) and read by the browser client too, so the
//! two cannot drift apart.

pub mod anchor;
pub mod compare;
pub mod restore;

use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

use serde::{Deserialize, Serialize};
use yrs::types::Attrs;
use yrs::types::text::YChange;
use yrs::types::xml::{XmlFragment, XmlOut};
use yrs::{
    Any, Doc, GetString, Out, ReadTxn, StateVector, Text, Transact, TransactionMut, Xml,
    XmlElementPrelim, XmlTextPrelim,
};

/// The name of the root fragment holding the body.
pub const BODY: &str = "body";

/// The schema shared with the browser client (docs/document-model.json).
const MODEL_JSON: &str = include_str!("../docs/document-model.json");

/// The body's schema as docs/document-model.json states it: the block
/// elements, their attributes, the marks.
#[derive(Debug, Deserialize)]
pub struct DocumentModel {
    /// The root fragment's name.
    pub root: String,
    /// The block elements.
    pub blocks: Vec<BlockModel>,
    /// The marks (formatting attributes of the text).
    pub marks: Vec<String>,
}

/// One block element of the schema.
#[derive(Debug, Deserialize)]
pub struct BlockModel {
    /// The element name.
    pub name: String,
    /// Its attributes.
    pub attributes: Vec<AttributeModel>,
}

/// One attribute of a block element.
#[derive(Debug, Deserialize)]
pub struct AttributeModel {
    /// The attribute name.
    pub name: String,
    /// The values allowed, when they are a closed list.
    #[serde(default)]
    pub values: Vec<String>,
}

impl DocumentModel {
    /// The block element named `tag`.
    pub fn block(&self, tag: &str) -> Option<&BlockModel> {
        self.blocks.iter().find(|block| block.name == tag)
    }
}

impl BlockModel {
    /// The attribute named `name`.
    pub fn attribute(&self, name: &str) -> Option<&AttributeModel> {
        self.attributes
            .iter()
            .find(|attribute| attribute.name == name)
    }
}

/// The schema, read once from the copy compiled into the binary.
pub fn model() -> &'static DocumentModel {
    static MODEL: OnceLock<DocumentModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        serde_json::from_str(MODEL_JSON)
            .expect("docs/document-model.json is valid: a unit test reads it")
    })
}

/// The kinds of block, by their element names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BlockKind {
    /// A preambular paragraph (a recital): "*Recalling* …,".
    Preamble,
    /// A numbered operative paragraph: "1. *Urges* …;".
    Operative,
    /// A sub-paragraph under the operative paragraph before it: (a) at level 1, (i) at level 2.
    Subparagraph,
    /// A heading, for the rare sectioned resolution.
    Heading,
}

impl BlockKind {
    /// The element name.
    pub fn tag(self) -> &'static str {
        match self {
            BlockKind::Preamble => "preamble",
            BlockKind::Operative => "operative",
            BlockKind::Subparagraph => "subparagraph",
            BlockKind::Heading => "heading",
        }
    }

    /// Reads an element name (one the schema names).
    pub fn from_tag(tag: &str) -> Option<BlockKind> {
        model().block(tag)?;
        match tag {
            "preamble" => Some(BlockKind::Preamble),
            "operative" => Some(BlockKind::Operative),
            "subparagraph" => Some(BlockKind::Subparagraph),
            "heading" => Some(BlockKind::Heading),
            _ => None,
        }
    }
}

/// A run of text with the same marks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Inline {
    /// The text.
    pub text: String,
    /// Italic (the opening words of a paragraph, by convention).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub italic: bool,
    /// Bold.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub bold: bool,
}

impl Inline {
    /// Plain text.
    pub fn plain(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            italic: false,
            bold: false,
        }
    }

    /// Italic text.
    pub fn italic(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            italic: true,
            bold: false,
        }
    }
}

/// One block of the body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Block {
    /// Stable identity: the `id` attribute, which the editor keeps through
    /// splits and moves; when missing, the element's CRDT id.
    pub id: String,
    /// What kind of block.
    pub kind: BlockKind,
    /// 1 or 2 for a sub-paragraph ((a) or (i)); 0 otherwise.
    pub level: u8,
    /// Its text, in runs.
    pub inlines: Vec<Inline>,
    /// What in the stored element broke the schema (tolerated, flagged).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
}

impl Block {
    /// A block with a fresh id.
    pub fn new(kind: BlockKind, inlines: Vec<Inline>) -> Self {
        Self {
            id: new_block_id(),
            kind,
            level: u8::from(kind == BlockKind::Subparagraph),
            inlines,
            problems: Vec::new(),
        }
    }

    /// A sub-paragraph at `level` (1: (a), 2: (i)).
    pub fn subparagraph(level: u8, inlines: Vec<Inline>) -> Self {
        Self {
            level: level.clamp(1, 2),
            ..Self::new(BlockKind::Subparagraph, inlines)
        }
    }

    /// The text without marks.
    pub fn text(&self) -> String {
        self.inlines
            .iter()
            .map(|inline| inline.text.as_str())
            .collect()
    }
}

/// A fresh block id (the same alphabet as the editor's).
pub fn new_block_id() -> String {
    format!("p{}", &crate::ids::random_id()[..10])
}

/// The formatting attributes of a run. Always explicit, even when empty: a
/// plain insert would continue the marks of the text before it.
pub(crate) fn marks(inline: &Inline) -> Attrs {
    let mut attrs: Attrs = HashMap::new();
    let empty = || Any::Map(Arc::new(HashMap::new()));
    if inline.italic {
        attrs.insert("italic".into(), empty());
    }
    if inline.bold {
        attrs.insert("bold".into(), empty());
    }
    attrs
}

/// Appends `blocks` to the body of the document `transaction` belongs to.
pub fn append_blocks(
    transaction: &mut TransactionMut,
    body: &yrs::XmlFragmentRef,
    blocks: &[Block],
) {
    for block in blocks {
        let element = body.push_back(transaction, XmlElementPrelim::empty(block.kind.tag()));
        element.insert_attribute(transaction, "id", block.id.as_str());
        if block.kind == BlockKind::Subparagraph {
            element.insert_attribute(transaction, "level", block.level.to_string());
        }
        let text = element.push_back(transaction, XmlTextPrelim::new(""));
        let mut offset = 0;
        for inline in &block.inlines {
            text.insert_with_attributes(transaction, offset, &inline.text, marks(inline));
            offset += text_len(&inline.text);
        }
    }
}

/// Length in the document's offset unit (bytes, yrs's default).
fn text_len(text: &str) -> u32 {
    text.len() as u32
}

/// A whole body as one yrs update (a new resolution's first update).
pub fn body_update(blocks: &[Block]) -> Vec<u8> {
    let doc = Doc::new();
    let body = doc.get_or_insert_xml_fragment(BODY);
    {
        let mut transaction = doc.transact_mut();
        append_blocks(&mut transaction, &body, blocks);
    }
    doc.transact()
        .encode_state_as_update_v1(&StateVector::default())
}

/// The skeleton of a new resolution: one empty preambular and one empty
/// operative paragraph, for the sponsors to fill.
pub fn skeleton() -> Vec<Block> {
    vec![
        Block::new(BlockKind::Preamble, vec![]),
        Block::new(BlockKind::Operative, vec![]),
    ]
}

/// Reads the body of `doc` into blocks. Anything that breaks the schema is
/// kept and flagged, never fatal: an unknown element reads as a preambular
/// paragraph with a problem noted; stray text at the top level, likewise.
pub fn read_body(doc: &Doc) -> Vec<Block> {
    let body = doc.get_or_insert_xml_fragment(BODY);
    let transaction = doc.transact();
    read_fragment(&transaction, &body)
}

/// Reads the blocks of `body` within a transaction; one block per child,
/// in order (so block `i` is child `i`).
pub fn read_fragment<T: ReadTxn>(transaction: &T, body: &yrs::XmlFragmentRef) -> Vec<Block> {
    let mut blocks = Vec::new();
    for node in body.children(transaction) {
        match node {
            XmlOut::Element(element) => {
                let mut problems = Vec::new();
                let tag = element.tag().to_string();
                let kind = BlockKind::from_tag(&tag).unwrap_or_else(|| {
                    problems.push(format!("unknown block <{tag}>"));
                    BlockKind::Preamble
                });
                if let Some(schema) = model().block(&tag) {
                    for (name, _) in element.attributes(transaction) {
                        if schema.attribute(name).is_none() {
                            problems.push(format!("unknown attribute {name} on <{tag}>"));
                        }
                    }
                }
                let id = match element.get_attribute(transaction, "id") {
                    Some(Out::Any(Any::String(id))) if !id.is_empty() => id.to_string(),
                    _ => crdt_id(element.as_ref()),
                };
                let level = if kind == BlockKind::Subparagraph {
                    let level = match element.get_attribute(transaction, "level") {
                        Some(Out::Any(Any::String(level))) => level.parse::<u8>().ok(),
                        Some(Out::Any(Any::Number(yrs::any::Number::Int(level)))) => {
                            u8::try_from(level).ok()
                        }
                        Some(Out::Any(Any::Number(yrs::any::Number::Float(level))))
                            if level.fract() == 0.0 && (0.0..=255.0).contains(&level) =>
                        {
                            Some(level as u8)
                        }
                        _ => None,
                    };
                    let allowed = model()
                        .block(kind.tag())
                        .and_then(|block| block.attribute("level"))
                        .is_some_and(|attribute| {
                            level.is_some_and(|level| attribute.values.contains(&level.to_string()))
                        });
                    match level {
                        Some(level @ 1..=2) if allowed => level,
                        other => {
                            problems.push(format!("sub-paragraph level {other:?} read as 1"));
                            1
                        }
                    }
                } else {
                    0
                };
                let mut inlines = Vec::new();
                for child in element.children(transaction) {
                    match child {
                        XmlOut::Text(text) => {
                            for diff in text.diff(transaction, YChange::identity) {
                                let Out::Any(Any::String(chunk)) = diff.insert else {
                                    problems
                                        .push("an embedded object in the text was left out".into());
                                    continue;
                                };
                                if let Some(attributes) = &diff.attributes {
                                    for mark in attributes.keys() {
                                        if !model().marks.iter().any(|known| known == mark.as_ref())
                                        {
                                            problems.push(format!("unknown mark {mark}"));
                                        }
                                    }
                                }
                                let has = |mark: &str| {
                                    diff.attributes.as_ref().is_some_and(|attrs| {
                                        attrs.get(mark).is_some_and(|value| {
                                            !matches!(
                                                value,
                                                Any::Null | Any::Undefined | Any::Bool(false)
                                            )
                                        })
                                    })
                                };
                                push_inline(
                                    &mut inlines,
                                    Inline {
                                        text: chunk.to_string(),
                                        italic: has("italic"),
                                        bold: has("bold"),
                                    },
                                );
                            }
                        }
                        XmlOut::Element(nested) => {
                            problems.push(format!("nested <{}> read as text", nested.tag()));
                            push_inline(
                                &mut inlines,
                                Inline::plain(nested_text(&nested, transaction, &mut problems)),
                            );
                        }
                        XmlOut::Fragment(_) => {
                            problems.push("a nested fragment was left out".into());
                        }
                    }
                }
                blocks.push(Block {
                    id,
                    kind,
                    level,
                    inlines,
                    problems,
                });
            }
            XmlOut::Text(text) => {
                blocks.push(Block {
                    id: crdt_id(text.as_ref()),
                    kind: BlockKind::Preamble,
                    level: 0,
                    inlines: vec![Inline::plain(text.get_string(transaction))],
                    problems: vec!["text outside any paragraph".into()],
                });
            }
            XmlOut::Fragment(_) => {}
        }
    }
    blocks
}

/// The identity of an element without an `id` attribute: its CRDT id.
/// The text inside an element nested where the schema has none, read
/// without recursion (yrs's `get_string` recurses once per level, and a
/// client can nest elements deep enough to overflow the stack); what lies
/// deeper than `MAX_NESTED` levels is left out and said so.
fn nested_text<T: ReadTxn>(
    element: &yrs::XmlElementRef,
    transaction: &T,
    problems: &mut Vec<String>,
) -> String {
    const MAX_NESTED: usize = 16;
    let mut text = String::new();
    let mut pending: Vec<(XmlOut, usize)> = element
        .children(transaction)
        .map(|child| (child, 1))
        .collect();
    pending.reverse();
    let mut cut = false;
    while let Some((node, depth)) = pending.pop() {
        match node {
            XmlOut::Text(chunk) => text.push_str(&chunk.get_string(transaction)),
            XmlOut::Element(inner) if depth < MAX_NESTED => {
                let before = pending.len();
                pending.extend(inner.children(transaction).map(|child| (child, depth + 1)));
                pending[before..].reverse();
            }
            XmlOut::Fragment(inner) if depth < MAX_NESTED => {
                let before = pending.len();
                pending.extend(inner.children(transaction).map(|child| (child, depth + 1)));
                pending[before..].reverse();
            }
            XmlOut::Element(_) | XmlOut::Fragment(_) => cut = true,
        }
    }
    if cut {
        problems.push(format!(
            "elements nested deeper than {MAX_NESTED} levels were left out"
        ));
    }
    text
}

fn crdt_id(branch: &yrs::branch::Branch) -> String {
    match branch.id() {
        yrs::branch::BranchID::Nested(id) => format!("y{}-{}", id.client, id.clock),
        yrs::branch::BranchID::Root(name) => format!("root-{name}"),
    }
}

/// The number each block shows: "1." for operative paragraphs, "(a)" for
/// sub-paragraphs of level 1 under the paragraph (operative or preambular)
/// before them, "(i)" at level 2; preambular paragraphs and headings have
/// none. Numbers are computed, never stored; the browser client computes
/// the same (docs/document-model.md, web/src/numbering.ts).
pub fn numbers(blocks: &[Block]) -> Vec<Option<String>> {
    let mut operative = 0;
    let mut level1 = 0;
    let mut level2 = 0;
    blocks
        .iter()
        .map(|block| match block.kind {
            BlockKind::Operative => {
                operative += 1;
                level1 = 0;
                level2 = 0;
                Some(format!("{operative}."))
            }
            BlockKind::Subparagraph if block.level >= 2 => {
                level2 += 1;
                Some(format!("({})", roman(level2)))
            }
            BlockKind::Subparagraph => {
                level1 += 1;
                level2 = 0;
                Some(format!("({})", letters(level1)))
            }
            BlockKind::Preamble => {
                // A preambular paragraph may have its own (a), (b).
                level1 = 0;
                level2 = 0;
                None
            }
            BlockKind::Heading => None,
        })
        .collect()
}

/// a, b, …, z, aa, bb, … (as resolutions letter their sub-paragraphs).
pub fn letters(n: usize) -> String {
    if n == 0 {
        return String::new();
    }
    let letter = (b'a' + ((n - 1) % 26) as u8) as char;
    std::iter::repeat_n(letter, (n - 1) / 26 + 1).collect()
}

/// Lower-case roman numerals: i, ii, iii, iv, …
pub fn roman(mut n: usize) -> String {
    const NUMERALS: [(usize, &str); 13] = [
        (1000, "m"),
        (900, "cm"),
        (500, "d"),
        (400, "cd"),
        (100, "c"),
        (90, "xc"),
        (50, "l"),
        (40, "xl"),
        (10, "x"),
        (9, "ix"),
        (5, "v"),
        (4, "iv"),
        (1, "i"),
    ];
    let mut out = String::new();
    for (value, numeral) in NUMERALS {
        while n >= value {
            out.push_str(numeral);
            n -= value;
        }
    }
    out
}

/// "operative 3", "preamble 2", "operative 2 (b)": how a delegate names a
/// paragraph. The position of each block in those terms.
pub fn reference(blocks: &[Block], index: usize) -> Option<String> {
    let block = blocks.get(index)?;
    let numbers = numbers(blocks);
    match block.kind {
        BlockKind::Preamble => {
            let position = blocks[..=index]
                .iter()
                .filter(|b| b.kind == BlockKind::Preamble)
                .count();
            Some(format!("preamble {position}"))
        }
        BlockKind::Operative => {
            let number = numbers[index].as_deref()?.trim_end_matches('.').to_owned();
            Some(format!("operative {number}"))
        }
        BlockKind::Subparagraph => {
            let parent = (0..index)
                .rev()
                .find(|&i| matches!(blocks[i].kind, BlockKind::Operative | BlockKind::Preamble))?;
            let mut path = reference(blocks, parent)?;
            if block.level >= 2
                && let Some(letter) = (parent + 1..index)
                    .rev()
                    .find(|&i| blocks[i].kind == BlockKind::Subparagraph && blocks[i].level == 1)
            {
                path.push(' ');
                path.push_str(numbers[letter].as_deref().unwrap_or_default());
            }
            path.push(' ');
            path.push_str(numbers[index].as_deref().unwrap_or_default());
            Some(path)
        }
        BlockKind::Heading => None,
    }
}

fn push_inline(inlines: &mut Vec<Inline>, inline: Inline) {
    if inline.text.is_empty() {
        return;
    }
    match inlines.last_mut() {
        Some(last) if last.italic == inline.italic && last.bold == inline.bold => {
            last.text.push_str(&inline.text);
        }
        _ => inlines.push(inline),
    }
}

/// Reads the body of a document given as one update.
pub fn read_update(update: &[u8]) -> Result<Vec<Block>, crate::sync::crdt::InvalidUpdate> {
    let doc = Doc::new();
    let update = crate::sync::crdt::decode_update(update)?;
    crate::sync::crdt::apply_guarded(&doc, update)?;
    Ok(read_body(&doc))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A client can nest elements inside a paragraph as deep as it likes;
    /// reading the body neither recurses per level nor loses the paragraph.
    #[test]
    fn deeply_nested_elements_are_read_without_recursion() {
        let reading = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let doc = Doc::new();
                let body = doc.get_or_insert_xml_fragment(BODY);
                {
                    let mut txn = doc.transact_mut();
                    let paragraph = body.push_back(&mut txn, XmlElementPrelim::empty("p"));
                    paragraph.push_back(&mut txn, XmlTextPrelim::new("Urges "));
                    let mut element = paragraph.push_back(&mut txn, XmlElementPrelim::empty("x"));
                    element.push_back(&mut txn, XmlTextPrelim::new("States"));
                    for _ in 0..5000 {
                        element = element.push_back(&mut txn, XmlElementPrelim::empty("x"));
                    }
                    element.push_back(&mut txn, XmlTextPrelim::new(" deep"));
                }
                read_body(&doc)
            })
            .expect("spawns");
        let blocks = reading.join().expect("no stack overflow");
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].text(), "Urges States");
        assert!(
            blocks[0]
                .problems
                .iter()
                .any(|problem| problem.contains("nested deeper than 16"))
        );
    }

    #[test]
    fn blocks_round_trip_through_the_crdt() {
        let blocks = vec![
            Block::new(
                BlockKind::Preamble,
                vec![
                    Inline::italic("Recalling"),
                    Inline::plain(" the Palermo Protocol,"),
                ],
            ),
            Block::new(
                BlockKind::Operative,
                vec![
                    Inline::italic("Urges"),
                    Inline::plain(" member parliaments to act;"),
                ],
            ),
            Block::subparagraph(1, vec![Inline::plain("to criminalise trafficking;")]),
            Block::subparagraph(
                2,
                vec![
                    Inline::plain("including its attempt; "),
                    Inline {
                        text: "and".into(),
                        italic: false,
                        bold: true,
                    },
                ],
            ),
        ];
        let read = read_update(&body_update(&blocks)).expect("reads");
        assert_eq!(read, blocks);
        assert_eq!(read[1].text(), "Urges member parliaments to act;");
    }

    #[test]
    fn schema_breaks_are_flagged_not_fatal() {
        let doc = Doc::new();
        let body = doc.get_or_insert_xml_fragment(BODY);
        {
            let mut txn = doc.transact_mut();
            let odd = body.push_back(&mut txn, XmlElementPrelim::empty("table"));
            odd.push_back(&mut txn, XmlTextPrelim::new("cell"));
            let sub = body.push_back(&mut txn, XmlElementPrelim::empty("subparagraph"));
            sub.insert_attribute(&mut txn, "level", "7");
            body.push_back(&mut txn, XmlTextPrelim::new("stray"));
        }
        let blocks = read_body(&doc);
        assert_eq!(blocks.len(), 3);
        assert_eq!(blocks[0].kind, BlockKind::Preamble);
        assert!(!blocks[0].problems.is_empty());
        assert!(
            blocks[0].id.starts_with('y'),
            "CRDT id as the fallback identity"
        );
        assert_eq!(blocks[1].level, 1);
        assert!(!blocks[1].problems.is_empty());
        assert_eq!(blocks[2].text(), "stray");
    }

    #[test]
    fn the_shared_schema_names_exactly_our_blocks_and_marks() {
        let model = model();
        assert_eq!(model.root, BODY);
        let kinds = [
            BlockKind::Preamble,
            BlockKind::Operative,
            BlockKind::Subparagraph,
            BlockKind::Heading,
        ];
        assert_eq!(
            model
                .blocks
                .iter()
                .map(|b| b.name.as_str())
                .collect::<Vec<_>>(),
            kinds.iter().map(|k| k.tag()).collect::<Vec<_>>()
        );
        for kind in kinds {
            assert_eq!(BlockKind::from_tag(kind.tag()), Some(kind));
            assert!(
                model
                    .block(kind.tag())
                    .and_then(|b| b.attribute("id"))
                    .is_some()
            );
        }
        let level = model
            .block("subparagraph")
            .and_then(|b| b.attribute("level"))
            .expect("sub-paragraphs have a level");
        assert_eq!(level.values, ["1", "2"]);
        assert_eq!(model.marks, ["italic", "bold"]);
    }

    #[test]
    fn attributes_and_marks_outside_the_schema_are_flagged() {
        let doc = Doc::new();
        let body = doc.get_or_insert_xml_fragment(BODY);
        {
            let mut txn = doc.transact_mut();
            let block = body.push_back(&mut txn, XmlElementPrelim::empty("operative"));
            block.insert_attribute(&mut txn, "id", "pAAAAAAAAAA");
            block.insert_attribute(&mut txn, "style", "color: red");
            let text = block.push_back(&mut txn, XmlTextPrelim::new(""));
            let mut underline: Attrs = HashMap::new();
            underline.insert("underline".into(), Any::Map(Arc::new(HashMap::new())));
            text.insert_with_attributes(&mut txn, 0, "Urges", underline);
        }
        let blocks = read_body(&doc);
        assert_eq!(blocks[0].id, "pAAAAAAAAAA");
        assert_eq!(blocks[0].text(), "Urges");
        assert!(blocks[0].problems.iter().any(|p| p.contains("style")));
        assert!(blocks[0].problems.iter().any(|p| p.contains("underline")));
    }

    #[test]
    fn numbers_are_computed() {
        let blocks = vec![
            Block::new(BlockKind::Preamble, vec![]),
            Block::new(BlockKind::Operative, vec![]),
            Block::subparagraph(1, vec![]),
            Block::subparagraph(1, vec![]),
            Block::subparagraph(2, vec![]),
            Block::subparagraph(2, vec![]),
            Block::subparagraph(1, vec![]),
            Block::subparagraph(2, vec![]),
            Block::new(BlockKind::Operative, vec![]),
            Block::subparagraph(1, vec![]),
        ];
        let numbers: Vec<String> = numbers(&blocks)
            .into_iter()
            .map(Option::unwrap_or_default)
            .collect();
        assert_eq!(
            numbers,
            [
                "", "1.", "(a)", "(b)", "(i)", "(ii)", "(c)", "(i)", "2.", "(a)"
            ]
        );
        assert_eq!(reference(&blocks, 0).as_deref(), Some("preamble 1"));
        assert_eq!(
            reference(&blocks, 5).as_deref(),
            Some("operative 1 (b) (ii)")
        );
        assert_eq!(reference(&blocks, 9).as_deref(), Some("operative 2 (a)"));
        // A preambular paragraph's sub-paragraphs are lettered afresh.
        let preambular = vec![
            Block::new(BlockKind::Operative, vec![]),
            Block::subparagraph(1, vec![]),
            Block::new(BlockKind::Preamble, vec![]),
            Block::subparagraph(1, vec![]),
            Block::subparagraph(2, vec![]),
        ];
        assert_eq!(
            super::numbers(&preambular),
            [
                Some("1.".to_owned()),
                Some("(a)".to_owned()),
                None,
                Some("(a)".to_owned()),
                Some("(i)".to_owned())
            ]
        );
        assert_eq!(
            reference(&preambular, 4).as_deref(),
            Some("preamble 1 (a) (i)")
        );
        assert_eq!(letters(27), "aa");
        assert_eq!(roman(14), "xiv");
    }

    #[test]
    fn the_skeleton_is_two_empty_paragraphs() {
        let read = read_update(&body_update(&skeleton())).expect("reads");
        assert_eq!(
            read.iter().map(|b| b.kind).collect::<Vec<_>>(),
            vec![BlockKind::Preamble, BlockKind::Operative]
        );
        assert!(read.iter().all(|b| b.inlines.is_empty()));
    }
}
