//! Plain text, wrapped at 78 columns, numbers hanging in the margin as on
//! paper: fit for an email or a terminal.

use super::{Compilation, MeetingCollection, Paragraph, ResolutionText};
use crate::document::BlockKind;

/// The width of a line, in characters.
pub const WIDTH: usize = 78;

/// Wraps `text` greedily: the first line starts after `first` (the number,
/// padded to `indent`), the others at `indent` spaces.
pub fn wrap(first: &str, indent: usize, text: &str, out: &mut String) {
    let mut line = format!("{first:<indent$}");
    let mut line_len = line.chars().count();
    let mut empty = true;
    for word in text.split_whitespace() {
        let word_len = word.chars().count();
        if !empty && line_len + 1 + word_len > WIDTH {
            out.push_str(line.trim_end());
            out.push('\n');
            line = " ".repeat(indent);
            line_len = indent;
            empty = true;
        }
        if !empty {
            line.push(' ');
            line_len += 1;
        }
        line.push_str(word);
        line_len += word_len;
        empty = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

fn centered(text: &str, out: &mut String) {
    let length = text.chars().count();
    if length >= WIDTH {
        wrap("", 0, text, out);
    } else {
        out.push_str(&" ".repeat((WIDTH - length) / 2));
        out.push_str(text);
        out.push('\n');
    }
}

fn heading(text: &ResolutionText, out: &mut String) {
    centered(&text.meeting.line(text.language), out);
    out.push('\n');
    let title = text.title.to_uppercase();
    centered(&title, out);
    out.push('\n');
    if let Some(sponsors) = text.sponsors_line() {
        centered(&sponsors, out);
    }
    centered(&text.status_line(), out);
    out.push('\n');
}

fn body(paragraphs: &[Paragraph], formula: &str, out: &mut String) {
    wrap("", 0, formula, out);
    out.push('\n');
    for paragraph in paragraphs {
        let content = paragraph.text();
        let number = paragraph.number.as_deref().unwrap_or_default();
        match paragraph.kind {
            BlockKind::Heading => centered(content.trim(), out),
            BlockKind::Preamble => wrap("    ", 0, &content, out),
            BlockKind::Operative => wrap(number, 5, &content, out),
            BlockKind::Subparagraph if paragraph.level >= 2 => {
                wrap(&format!("{:10}{number}", ""), 16, &content, out);
            }
            BlockKind::Subparagraph => wrap(&format!("{:5}{number}", ""), 10, &content, out),
        }
        out.push('\n');
    }
}

/// A resolution as plain text.
pub fn resolution(text: &ResolutionText) -> String {
    let mut out = String::new();
    heading(text, &mut out);
    body(&text.paragraphs, text.labels().formula, &mut out);
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

/// A meeting's adopted resolutions, separated by form feeds (a new page
/// when printed).
pub fn meeting(collection: &MeetingCollection) -> String {
    let labels = super::labels(collection.language);
    let mut out = String::new();
    centered(&collection.meeting.title, &mut out);
    centered(labels.adopted_resolutions, &mut out);
    out.push('\n');
    if collection.resolutions.is_empty() {
        wrap("", 0, labels.no_resolutions, &mut out);
    }
    for text in &collection.resolutions {
        out.push('\u{c}');
        out.push('\n');
        heading(text, &mut out);
        body(&text.paragraphs, text.labels().formula, &mut out);
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

/// The compilation of amendments, one after the other in text order.
pub fn compilation(compilation: &Compilation) -> String {
    let text = &compilation.resolution;
    let labels = text.labels();
    let mut out = String::new();
    centered(&text.meeting.line(text.language), &mut out);
    out.push('\n');
    centered(&compilation.title(), &mut out);
    if let Some(sponsors) = text.sponsors_line() {
        centered(&sponsors, &mut out);
    }
    centered(&text.status_line(), &mut out);
    out.push('\n');
    if compilation.amendments.is_empty() {
        wrap("", 0, labels.no_amendments, &mut out);
    }
    for amendment in &compilation.amendments {
        wrap(
            "",
            0,
            &format!(
                "{} {} ({})",
                labels.columns[0], amendment.number, amendment.paragraph
            ),
            &mut out,
        );
        wrap("    ", 4, &amendment.wording, &mut out);
        let mut by = format!("{}: {}", labels.columns[3], amendment.proposed_by);
        if !amendment.supporters.is_empty() {
            by.push_str(&format!(
                "; {}: {}",
                labels.supported_by,
                amendment.supporters.join(", ")
            ));
        }
        wrap("    ", 4, &by, &mut out);
        wrap(
            "    ",
            4,
            &format!("{}: {}", labels.columns[4], compilation.decision(amendment)),
            &mut out,
        );
        if let Some(rationale) = &amendment.rationale {
            wrap(
                "    ",
                4,
                &format!("{}: {rationale}", labels.rationale),
                &mut out,
            );
        }
        out.push('\n');
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}
