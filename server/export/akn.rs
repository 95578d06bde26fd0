//! Akoma Ntoso 3.0 (OASIS LegalDocML): a resolution as
//! `<statement name="resolution">`, valid against the OASIS schema
//! (../shared/schemas/akomantoso30.xsd; the unit and end-to-end tests check
//! with xmllint).
//!
//! Specification: <http://docs.oasis-open.org/legaldocml/akn-core/v1.0/>;
//! IRIs follow its naming convention
//! (`/akn/{country}/{type}/{subtype}/{actor}/{date}/{number}/{lang}@{version}/!main`),
//! and the mapping follows ../shared/reference/resolutions.md (c): FRBR
//! identification, the sponsors as `TLCOrganization`s and `docProponent`s,
//! the preambular paragraphs as `recitals/recital`, the operative ones as
//! numbered `paragraph`s with `point`s, an `eId` that follows the printed
//! numbering and the block's stable id in `GUID`.

use super::{Paragraph, ResolutionText, language_code3};
use crate::document::{BlockKind, Inline};

/// The Akoma Ntoso 3.0 namespace.
pub const NAMESPACE: &str = "http://docs.oasis-open.org/legaldocml/ns/akn/3.0";

/// Escapes text for XML content and double-quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // Characters XML 1.0 forbids are dropped, never sent.
            c if (c as u32) < 0x20 && !matches!(c, '\t' | '\n' | '\r') => {}
            '\u{FFFE}' | '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

fn inlines(runs: &[Inline]) -> String {
    let mut out = String::new();
    for run in runs {
        let mut text = escape(&run.text);
        if run.bold {
            text = format!("<b>{text}</b>");
        }
        if run.italic {
            text = format!("<i>{text}</i>");
        }
        out.push_str(&text);
    }
    out
}

/// A `GUID` attribute holding the block's stable id (AKN's place for an
/// identity that survives renumbering).
fn guid(paragraph: &Paragraph) -> String {
    format!(" GUID=\"#{}\"", escape(&paragraph.id))
}

/// A lowercase, IRI-safe form of a name.
fn slug(name: &str) -> String {
    let mut out = String::new();
    for c in super::ascii_file_name(name).chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    let trimmed = out.trim_matches('-');
    if trimmed.is_empty() {
        "x".into()
    } else {
        trimmed.to_owned()
    }
}

/// A paragraph with the sub-paragraphs that hang from it.
struct Node<'a> {
    paragraph: &'a Paragraph,
    children: Vec<Node<'a>>,
}

/// Groups the flat body: level-1 sub-paragraphs under the paragraph before
/// them, level-2 under the level-1 before them. A sub-paragraph with no
/// parent stands alone.
fn tree(paragraphs: &[Paragraph]) -> Vec<Node<'_>> {
    let mut roots: Vec<Node<'_>> = Vec::new();
    for paragraph in paragraphs {
        let node = Node {
            paragraph,
            children: Vec::new(),
        };
        if paragraph.kind != BlockKind::Subparagraph {
            roots.push(node);
            continue;
        }
        let parent = roots.last_mut().filter(|root| {
            matches!(
                root.paragraph.kind,
                BlockKind::Preamble | BlockKind::Operative
            )
        });
        match parent {
            Some(parent) => {
                let under_point = paragraph.level >= 2
                    && parent
                        .children
                        .last()
                        .is_some_and(|last| last.paragraph.level == 1);
                match parent.children.last_mut() {
                    Some(point) if under_point => point.children.push(node),
                    _ => parent.children.push(node),
                }
            }
            None => roots.push(node),
        }
    }
    roots
}

fn num(paragraph: &Paragraph) -> String {
    paragraph
        .number
        .as_deref()
        .map(|n| format!("<num>{}</num>", escape(n)))
        .unwrap_or_default()
}

/// An operative paragraph or a point: `content` alone, or `intro` and its points.
fn hierarchy(element: &str, node: &Node<'_>, depth: usize, out: &mut String) {
    let indent = "  ".repeat(depth);
    let paragraph = node.paragraph;
    out.push_str(&format!(
        "{indent}<{element} eId=\"{}\"{}>{}",
        escape(&paragraph.eid),
        guid(paragraph),
        num(paragraph)
    ));
    let text = inlines(&paragraph.inlines);
    if node.children.is_empty() {
        out.push_str(&format!("<content><p>{text}</p></content></{element}>\n"));
        return;
    }
    out.push_str(&format!("\n{indent}  <intro><p>{text}</p></intro>\n"));
    for child in &node.children {
        hierarchy("point", child, depth + 1, out);
    }
    out.push_str(&format!("{indent}</{element}>\n"));
}

/// A recital's sub-paragraphs: a `blockList` of `item`s (a recital holds
/// blocks, not points).
fn items(nodes: &[Node<'_>], depth: usize, list: usize, parent: &str, out: &mut String) {
    let indent = "  ".repeat(depth);
    out.push_str(&format!(
        "{indent}<blockList eId=\"{}__list_{list}\">\n",
        escape(parent)
    ));
    for node in nodes {
        let paragraph = node.paragraph;
        out.push_str(&format!(
            "{indent}  <item eId=\"{}\"{}>{}<p>{}</p>",
            escape(&paragraph.eid),
            guid(paragraph),
            num(paragraph),
            inlines(&paragraph.inlines)
        ));
        if node.children.is_empty() {
            out.push_str("</item>\n");
        } else {
            out.push('\n');
            items(&node.children, depth + 2, 1, &paragraph.eid, out);
            out.push_str(&format!("{indent}  </item>\n"));
        }
    }
    out.push_str(&format!("{indent}</blockList>\n"));
}

fn recital(node: &Node<'_>, out: &mut String) {
    let paragraph = node.paragraph;
    out.push_str(&format!(
        "        <recital eId=\"{}\"{}><p>{}</p>",
        escape(&paragraph.eid),
        guid(paragraph),
        inlines(&paragraph.inlines)
    ));
    if node.children.is_empty() {
        out.push_str("</recital>\n");
    } else {
        out.push('\n');
        items(&node.children, 5, 1, &paragraph.eid, out);
        out.push_str("        </recital>\n");
    }
}

/// A block that fits neither recitals nor numbered paragraphs (a heading in
/// the preamble, a stray sub-paragraph): a named container.
fn container(node: &Node<'_>, out: &mut String) {
    let paragraph = node.paragraph;
    let name = match paragraph.kind {
        BlockKind::Heading => "heading",
        BlockKind::Preamble => "preambular",
        _ => "subparagraph",
    };
    let number = paragraph
        .number
        .as_deref()
        .map(|n| format!("{} ", escape(n)))
        .unwrap_or_default();
    out.push_str(&format!(
        "      <container name=\"{name}\" eId=\"{}\"{}><p>{number}{}</p></container>\n",
        escape(&paragraph.eid),
        guid(paragraph),
        inlines(&paragraph.inlines)
    ));
}

/// A resolution as an Akoma Ntoso document.
pub fn resolution(text: &ResolutionText) -> String {
    let labels = text.labels();
    let lang3 = language_code3(text.language);
    let actor = slug(&text.meeting.id);
    let created = text.created.iso();
    let date = text.date.iso();
    let work = format!(
        "/akn/int/statement/resolution/{actor}/{created}/{}",
        slug(&text.id)
    );
    let expression = format!("{work}/{lang3}@{date}");
    let version_name = text
        .version
        .name
        .as_deref()
        .map_or_else(|| labels.live_text.to_owned(), str::to_owned);
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!("<akomaNtoso xmlns=\"{NAMESPACE}\">\n"));
    out.push_str(&format!(
        "  <statement name=\"resolution\" contains=\"{}\">\n",
        if text.version.number.is_some() {
            "singleVersion"
        } else {
            "originalVersion"
        }
    ));
    out.push_str("    <meta>\n      <identification source=\"#secretariat\">\n");
    out.push_str(&format!(
        "        <FRBRWork>\n          <FRBRthis value=\"{work}/!main\"/>\n          <FRBRuri value=\"{work}\"/>\n          <FRBRdate date=\"{created}\" name=\"creation\"/>\n          <FRBRauthor href=\"#assembly\" as=\"#author\"/>\n          <FRBRcountry value=\"int\"/>\n          <FRBRsubtype value=\"resolution\"/>\n          <FRBRnumber value=\"{}\"/>\n          <FRBRname value=\"{}\"/>\n        </FRBRWork>\n",
        escape(&text.id),
        escape(&text.title)
    ));
    let version_number = text
        .version
        .number
        .map(|n| format!("          <FRBRversionNumber value=\"{n}\"/>\n"))
        .unwrap_or_default();
    out.push_str(&format!(
        "        <FRBRExpression>\n          <FRBRthis value=\"{expression}/!main\"/>\n          <FRBRuri value=\"{expression}\"/>\n          <FRBRdate date=\"{date}\" name=\"{}\"/>\n          <FRBRauthor href=\"#secretariat\" as=\"#editor\"/>\n{version_number}          <FRBRlanguage language=\"{lang3}\"/>\n        </FRBRExpression>\n",
        escape(&version_name)
    ));
    out.push_str(&format!(
        "        <FRBRManifestation>\n          <FRBRthis value=\"{expression}/!main.xml\"/>\n          <FRBRuri value=\"{expression}.akn\"/>\n          <FRBRdate date=\"{date}\" name=\"export\"/>\n          <FRBRauthor href=\"#secretariat\" as=\"#publisher\"/>\n        </FRBRManifestation>\n"
    ));
    out.push_str("      </identification>\n");
    out.push_str("      <references source=\"#secretariat\">\n");
    out.push_str(&format!(
        "        <TLCOrganization eId=\"assembly\" href=\"/akn/ontology/organizations/int/{actor}\" showAs=\"{}\"/>\n",
        escape(&text.meeting.title)
    ));
    out.push_str(&format!(
        "        <TLCOrganization eId=\"secretariat\" href=\"/akn/ontology/organizations/int/{actor}.secretariat\" showAs=\"Secretariat\"/>\n"
    ));
    for (index, sponsor) in text.sponsors.iter().enumerate() {
        out.push_str(&format!(
            "        <TLCOrganization eId=\"sponsor_{}\" href=\"/akn/ontology/organizations/int/{actor}.{}\" showAs=\"{}\"/>\n",
            index + 1,
            slug(sponsor),
            escape(sponsor)
        ));
    }
    out.push_str("        <TLCRole eId=\"author\" href=\"/akn/ontology/roles/author\" showAs=\"Author\"/>\n        <TLCRole eId=\"editor\" href=\"/akn/ontology/roles/editor\" showAs=\"Editor\"/>\n        <TLCRole eId=\"publisher\" href=\"/akn/ontology/roles/publisher\" showAs=\"Publisher\"/>\n");
    out.push_str("      </references>\n    </meta>\n");

    // Preface: meeting, title, sponsors, status, date, version.
    out.push_str("    <preface>\n");
    out.push_str(&format!(
        "      <p><docAuthority>{}</docAuthority></p>\n",
        escape(&text.meeting.line(text.language))
    ));
    out.push_str(&format!(
        "      <p><docType>{}</docType> <docTitle>{}</docTitle></p>\n",
        escape(labels.resolution),
        escape(&text.title)
    ));
    if !text.sponsors.is_empty() {
        let proponents: Vec<String> = text
            .sponsors
            .iter()
            .enumerate()
            .map(|(index, sponsor)| {
                format!(
                    "<docProponent refersTo=\"#sponsor_{}\">{}</docProponent>",
                    index + 1,
                    escape(sponsor)
                )
            })
            .collect();
        out.push_str(&format!(
            "      <container name=\"sponsors\" eId=\"sponsors\"><p>{}: {}</p></container>\n",
            escape(labels.sponsored_by),
            proponents.join(", ")
        ));
    }
    out.push_str(&format!(
        "      <p><docStatus>{}</docStatus> <docDate date=\"{date}\">{}</docDate> · {}</p>\n",
        escape(labels.phase(text.phase)),
        escape(&text.date.long(text.language)),
        escape(&text.version.line(text.language))
    ));
    out.push_str("    </preface>\n");

    // Everything before the first operative paragraph is the preamble.
    let nodes = tree(&text.paragraphs);
    let split = nodes
        .iter()
        .position(|node| node.paragraph.kind == BlockKind::Operative)
        .unwrap_or(nodes.len());
    let (preamble, main) = nodes.split_at(split);
    out.push_str(&format!(
        "    <preamble>\n      <formula name=\"enactingFormula\" eId=\"formula_1\"><p>{}</p></formula>\n",
        escape(labels.formula)
    ));
    let mut open = false;
    let mut groups = 0;
    for node in preamble {
        if node.paragraph.kind == BlockKind::Preamble {
            if !open {
                groups += 1;
                let eid = if groups == 1 {
                    "recs".to_owned()
                } else {
                    format!("recs_{groups}")
                };
                out.push_str(&format!("      <recitals eId=\"{eid}\">\n"));
                open = true;
            }
            recital(node, &mut out);
        } else {
            if open {
                out.push_str("      </recitals>\n");
                open = false;
            }
            container(node, &mut out);
        }
    }
    if open {
        out.push_str("      </recitals>\n");
    }
    out.push_str("    </preamble>\n");

    out.push_str("    <mainBody>\n");
    if main.is_empty() {
        // mainBody may not be empty: an empty resolution says so.
        out.push_str("      <container name=\"empty\" eId=\"empty\"><p/></container>\n");
    }
    for node in main {
        match node.paragraph.kind {
            BlockKind::Operative => hierarchy("paragraph", node, 3, &mut out),
            BlockKind::Heading => out.push_str(&format!(
                "      <hcontainer name=\"heading\" eId=\"{}\"{}><heading>{}</heading></hcontainer>\n",
                escape(&node.paragraph.eid),
                guid(node.paragraph),
                inlines(&node.paragraph.inlines)
            )),
            _ => hierarchy_container(node, &mut out),
        }
    }
    out.push_str("    </mainBody>\n");
    out.push_str(&format!(
        "    <conclusions>\n      <p><docStatus>{}</docStatus>, <docDate date=\"{date}\">{}</docDate>.</p>\n    </conclusions>\n",
        escape(labels.phase(text.phase)),
        escape(&text.date.long(text.language))
    ));
    out.push_str("  </statement>\n</akomaNtoso>\n");
    out
}

/// A preambular paragraph that comes back among the operative ones (a
/// sectioned resolution), as an unnumbered `hcontainer`.
fn hierarchy_container(node: &Node<'_>, out: &mut String) {
    let paragraph = node.paragraph;
    let mut inner = String::new();
    hierarchy("hcontainer", node, 3, &mut inner);
    out.push_str(&inner.replacen(
        "<hcontainer ",
        &format!(
            "<hcontainer name=\"{}\" ",
            if paragraph.kind == BlockKind::Preamble {
                "preambular"
            } else {
                "subparagraph"
            }
        ),
        1,
    ));
}
