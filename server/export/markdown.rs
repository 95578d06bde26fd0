//! Markdown (CommonMark): the heading as a title and a line of facts,
//! preambular paragraphs as paragraphs, operative paragraphs as a numbered
//! list, sub-paragraphs inside their list item, marks as `*` and `**`.

use super::{Compilation, MeetingCollection, Paragraph, ResolutionText};
use crate::document::{BlockKind, Inline};

/// Escapes what Markdown would read as markup.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '#' | '|' | '~'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    // A line that starts like a list item or a heading would become one.
    let trimmed = out.trim_start();
    if trimmed.starts_with(['-', '+', '=']) {
        out.insert(out.len() - trimmed.len(), '\\');
    } else if let Some(dot) = trimmed.find(['.', ')'])
        && dot > 0
        && trimmed[..dot].bytes().all(|b| b.is_ascii_digit())
    {
        let at = out.len() - trimmed.len() + dot;
        out.insert(at, '\\');
    }
    out
}

/// Runs as Markdown, marks kept (spaces moved outside the markers, which
/// CommonMark requires).
pub fn inlines(runs: &[Inline]) -> String {
    let mut out = String::new();
    for run in runs {
        let text = escape(&run.text);
        let marker = match (run.italic, run.bold) {
            (true, true) => "***",
            (false, true) => "**",
            (true, false) => "*",
            (false, false) => "",
        };
        let core = text.trim();
        if marker.is_empty() || core.is_empty() {
            out.push_str(&text);
            continue;
        }
        let leading = &text[..text.len() - text.trim_start().len()];
        let trailing = &text[text.trim_end().len()..];
        out.push_str(leading);
        out.push_str(marker);
        out.push_str(core);
        out.push_str(marker);
        out.push_str(trailing);
    }
    out
}

fn heading(text: &ResolutionText, level: &str, out: &mut String) {
    out.push_str(&format!("{level} {}\n\n", escape(&text.title)));
    out.push_str(&format!(
        "{}  \n",
        escape(&text.meeting.line(text.language))
    ));
    if let Some(sponsors) = text.sponsors_line() {
        out.push_str(&format!("{}  \n", escape(&sponsors)));
    }
    out.push_str(&format!("{}\n\n", escape(&text.status_line())));
}

fn body(paragraphs: &[Paragraph], formula: &str, out: &mut String) {
    out.push_str(&format!("*{}*\n\n", formula.trim()));
    let mut in_item = false;
    for paragraph in paragraphs {
        let content = inlines(&paragraph.inlines);
        match paragraph.kind {
            BlockKind::Heading => {
                in_item = false;
                out.push_str(&format!("### {}\n\n", content.trim()));
            }
            BlockKind::Preamble => {
                in_item = false;
                out.push_str(&format!("{content}\n\n"));
            }
            BlockKind::Operative => {
                in_item = true;
                let number = paragraph.number.as_deref().unwrap_or("1.");
                out.push_str(&format!("{number} {content}\n\n"));
            }
            BlockKind::Subparagraph => {
                let number = paragraph.number.as_deref().unwrap_or_default();
                // Inside an item, three spaces keep the paragraph in it; a
                // second level is shown by three more (still short of a code block).
                let indent = match (in_item, paragraph.level) {
                    (true, 2) => "      ",
                    (true, _) => "   ",
                    (false, 2) => "   ",
                    (false, _) => "",
                };
                out.push_str(&format!("{indent}{number} {content}\n\n"));
            }
        }
    }
}

/// A resolution as Markdown.
pub fn resolution(text: &ResolutionText) -> String {
    let mut out = String::new();
    heading(text, "#", &mut out);
    body(&text.paragraphs, text.labels().formula, &mut out);
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

/// A meeting's adopted resolutions, one after the other.
pub fn meeting(collection: &MeetingCollection) -> String {
    let labels = super::labels(collection.language);
    let mut out = format!(
        "# {} — {}\n\n",
        escape(&collection.meeting.title),
        labels.adopted_resolutions
    );
    if collection.resolutions.is_empty() {
        out.push_str(labels.no_resolutions);
        out.push('\n');
    }
    for text in &collection.resolutions {
        heading(text, "##", &mut out);
        body(&text.paragraphs, text.labels().formula, &mut out);
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

/// The compilation of amendments as a list, in text order.
pub fn compilation(compilation: &Compilation) -> String {
    let text = &compilation.resolution;
    let labels = text.labels();
    let mut out = format!("# {}\n\n", escape(&compilation.title()));
    out.push_str(&format!(
        "{}  \n",
        escape(&text.meeting.line(text.language))
    ));
    if let Some(sponsors) = text.sponsors_line() {
        out.push_str(&format!("{}  \n", escape(&sponsors)));
    }
    out.push_str(&format!("{}\n\n", escape(&text.status_line())));
    if compilation.amendments.is_empty() {
        out.push_str(labels.no_amendments);
        out.push('\n');
    }
    for amendment in &compilation.amendments {
        out.push_str(&format!(
            "## {} {} — {}\n\n",
            labels.columns[0],
            amendment.number,
            escape(&amendment.paragraph)
        ));
        out.push_str(&format!("{}\n\n", escape(&amendment.wording)));
        let mut by = format!("{}: {}", labels.columns[3], amendment.proposed_by);
        if !amendment.supporters.is_empty() {
            by.push_str(&format!(
                "; {}: {}",
                labels.supported_by,
                amendment.supporters.join(", ")
            ));
        }
        out.push_str(&format!("{}  \n", escape(&by)));
        out.push_str(&format!(
            "{}: {}\n\n",
            labels.columns[4],
            escape(&compilation.decision(amendment))
        ));
        if let Some(rationale) = &amendment.rationale {
            out.push_str(&format!(
                "> {}: {}\n\n",
                labels.rationale,
                escape(rationale)
            ));
        }
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}
