//! The schema reader of the body, on documents that are valid CRDTs but
//! break the schema in every way a client could: unknown elements, unknown
//! or malformed attributes, elements nested inside paragraphs, text at the
//! top level, marks the schema does not know, empty and huge levels. The
//! bytes are a little program that builds such a document with yrs (as a
//! hostile client would), whose update then goes through the server's
//! reading paths. Reading must never panic, and must keep one block per
//! top-level child (the anchors of amendments count on it).
#![no_main]

use libfuzzer_sys::fuzz_target;
use plenary::document::{numbers, read_body, read_update};
use yrs::types::Attrs;
use yrs::types::xml::{XmlElementPrelim, XmlFragment, XmlOut, XmlTextPrelim};
use yrs::{Any, Doc, GetString, ReadTxn, StateVector, Text, Transact, Xml};

const TAGS: [&str; 8] = [
    "preamble",
    "operative",
    "subparagraph",
    "paragraph",
    "script",
    "",
    "operative\u{0}",
    "título",
];
const ATTRIBUTES: [&str; 5] = ["id", "level", "style", "level\u{202e}", "onclick"];
const MARKS: [&str; 4] = ["italic", "bold", "link", "em"];

struct Program<'a> {
    bytes: &'a [u8],
}

impl Program<'_> {
    fn next(&mut self) -> Option<u8> {
        let (&first, rest) = self.bytes.split_first()?;
        self.bytes = rest;
        Some(first)
    }

    fn text(&mut self) -> String {
        let length = usize::from(self.next().unwrap_or(0) % 12);
        let taken: Vec<u8> = self.bytes.iter().take(length).copied().collect();
        self.bytes = &self.bytes[taken.len()..];
        String::from_utf8_lossy(&taken).into_owned()
    }
}

fuzz_target!(|data: &[u8]| {
    let doc = Doc::new();
    let body = doc.get_or_insert_xml_fragment("body");
    let mut program = Program { bytes: data };
    {
        let mut transaction = doc.transact_mut();
        // Open elements, innermost last (never deeper than 32).
        let mut path: Vec<yrs::XmlElementRef> = Vec::new();
        while let Some(op) = program.next() {
            let pick = usize::from(program.next().unwrap_or(0));
            match op % 8 {
                0 => {
                    let element = match path.last() {
                        Some(parent) => parent.push_back(
                            &mut transaction,
                            XmlElementPrelim::empty(TAGS[pick % TAGS.len()]),
                        ),
                        None => body.push_back(
                            &mut transaction,
                            XmlElementPrelim::empty(TAGS[pick % TAGS.len()]),
                        ),
                    };
                    if path.len() < 32 {
                        path.push(element);
                    }
                }
                1 => {
                    path.pop();
                }
                2 => {
                    let value = program.text();
                    if let Some(element) = path.last() {
                        element.insert_attribute(
                            &mut transaction,
                            ATTRIBUTES[pick % ATTRIBUTES.len()],
                            value,
                        );
                    }
                }
                3 | 4 => {
                    let value = program.text();
                    let text = match path.last() {
                        Some(parent) => parent.push_back(&mut transaction, XmlTextPrelim::new("")),
                        None => body.push_back(&mut transaction, XmlTextPrelim::new("")),
                    };
                    let mut marks = Attrs::new();
                    if pick % 2 == 1 {
                        marks.insert(MARKS[(pick / 2) % MARKS.len()].into(), Any::Bool(true));
                    }
                    text.insert_with_attributes(&mut transaction, 0, &value, marks);
                    let _ = text.get_string(&transaction);
                }
                5 => {
                    let length = body.len(&transaction);
                    if length > 0 {
                        body.remove_range(&mut transaction, u32::from(pick as u8) % length, 1);
                        path.clear();
                    }
                }
                6 => {
                    if let Some(XmlOut::Element(element)) =
                        body.get(&transaction, u32::from(pick as u8))
                    {
                        path.clear();
                        path.push(element);
                    }
                }
                _ => {
                    let value = program.text();
                    if let Some(element) = path.last() {
                        element.insert_attribute(&mut transaction, "level", value);
                    }
                }
            }
        }
    }
    let children = body.len(&doc.transact()) as usize;
    let blocks = read_body(&doc);
    assert_eq!(blocks.len(), children, "one block per top-level child");
    let _ = numbers(&blocks);
    let update = doc
        .transact()
        .encode_state_as_update_v1(&StateVector::default());
    match read_update(&update) {
        // Same blocks, same kinds (a nested element read as text may list
        // its attributes in another order).
        Ok(again) => assert_eq!(
            again.iter().map(|block| block.kind).collect::<Vec<_>>(),
            blocks.iter().map(|block| block.kind).collect::<Vec<_>>(),
            "the update reads as the document does"
        ),
        Err(error) => panic!("a document's own update does not read: {error}"),
    }
});
