//! HTML: one self-contained page (styles inline, no script, no outside
//! resource), styled for the screen and for print (A4, page breaks between
//! resolutions, numbers hanging in the margin).

use super::{Compilation, MeetingCollection, ResolutionText, language_code};
use crate::amendments::Language;
use crate::document::{BlockKind, Inline};

/// Escapes text for an HTML element or a quoted attribute.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Runs as HTML (`<em>`, `<strong>`).
pub fn inlines(runs: &[Inline]) -> String {
    let mut out = String::new();
    for run in runs {
        let mut text = escape(&run.text);
        if run.bold {
            text = format!("<strong>{text}</strong>");
        }
        if run.italic {
            text = format!("<em>{text}</em>");
        }
        out.push_str(&text);
    }
    out
}

const STYLE: &str = r#"
:root { color-scheme: light; }
body { font-family: "Libertinus Serif", "Linux Libertine", "Times New Roman", Georgia, serif;
  font-size: 12pt; line-height: 1.45; color: #111; background: #fff;
  max-width: 42em; margin: 2em auto; padding: 0 1.5em; }
article + article { margin-top: 4em; border-top: 1px solid #999; padding-top: 2em; }
header { text-align: center; margin-bottom: 2em; }
header .meeting { font-variant: small-caps; letter-spacing: 0.03em; margin: 0; }
header h1, header h2 { font-size: 1.35em; margin: 0.8em 0 0.4em; }
header .sponsors { font-style: italic; margin: 0.2em 0; }
header .status { font-size: 0.9em; color: #444; margin: 0.2em 0; }
.formula { margin: 1.5em 0 1em; }
p.block { margin: 0 0 0.8em; text-align: justify; hyphens: auto; }
p.preamble { text-indent: 2.5em; }
p.operative, p.sub1, p.sub2 { position: relative; }
p.operative { padding-left: 2.5em; }
p.sub1 { padding-left: 5em; }
p.sub2 { padding-left: 7.5em; }
p.block .num { position: absolute; }
p.operative .num { left: 0; }
p.sub1 .num { left: 2.5em; }
p.sub2 .num { left: 5em; }
h3.section { text-align: center; font-size: 1.05em; margin: 1.5em 0 1em; }
table.amendments { border-collapse: collapse; width: 100%; font-size: 0.95em; }
table.amendments th, table.amendments td { border: 1px solid #888; padding: 0.4em 0.5em; vertical-align: top; text-align: left; }
table.amendments th { background: #eee; }
.rationale { font-size: 0.9em; color: #333; margin-top: 0.4em; }
.contents { margin: 2em 0; }
@page { size: A4; margin: 2.5cm 2.2cm; }
@media print {
  body { max-width: none; margin: 0; padding: 0; }
  article + article { break-before: page; border-top: none; margin-top: 0; padding-top: 0; }
  p.block { orphans: 2; widows: 2; }
  header { break-after: avoid; }
}
"#;

/// A whole page around `content`.
pub fn page(title: &str, language: Language, content: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"{}\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{content}</body>\n</html>\n",
        language_code(language),
        escape(title)
    )
}

/// One resolution as an `<article>`; `nested` when it sits under a
/// collection's own title (its title is then an `h2`).
pub fn resolution(text: &ResolutionText, nested: bool) -> String {
    let labels = text.labels();
    let h = if nested { "h2" } else { "h1" };
    let mut out = format!("<article id=\"res-{}\">\n<header>\n", escape(&text.id));
    out.push_str(&format!(
        "<p class=\"meeting\">{}</p>\n<{h}>{}</{h}>\n",
        escape(&text.meeting.line(text.language)),
        escape(&text.title)
    ));
    if let Some(sponsors) = text.sponsors_line() {
        out.push_str(&format!(
            "<p class=\"sponsors\">{}</p>\n",
            escape(&sponsors)
        ));
    }
    out.push_str(&format!(
        "<p class=\"status\">{}</p>\n</header>\n",
        escape(&text.status_line())
    ));
    out.push_str(&format!(
        "<p class=\"formula\">{}</p>\n",
        escape(labels.formula)
    ));
    for paragraph in &text.paragraphs {
        let content = inlines(&paragraph.inlines);
        let number = paragraph
            .number
            .as_deref()
            .map(|n| format!("<span class=\"num\">{}</span>", escape(n)))
            .unwrap_or_default();
        let class = match (paragraph.kind, paragraph.level) {
            (BlockKind::Heading, _) => {
                out.push_str(&format!(
                    "<h3 class=\"section\" id=\"{}\">{content}</h3>\n",
                    escape(&paragraph.eid)
                ));
                continue;
            }
            (BlockKind::Preamble, _) => "preamble",
            (BlockKind::Operative, _) => "operative",
            (BlockKind::Subparagraph, 2) => "sub2",
            (BlockKind::Subparagraph, _) => "sub1",
        };
        out.push_str(&format!(
            "<p class=\"block {class}\" id=\"{}\">{number}{content}</p>\n",
            escape(&paragraph.eid)
        ));
    }
    out.push_str("</article>\n");
    out
}

/// A meeting's adopted resolutions on one page.
pub fn meeting(collection: &MeetingCollection) -> String {
    let labels = super::labels(collection.language);
    let title = format!(
        "{} — {}",
        collection.meeting.title, labels.adopted_resolutions
    );
    let mut content = format!(
        "<header>\n<p class=\"meeting\">{}</p>\n<h1>{}</h1>\n</header>\n",
        escape(&collection.meeting.line(collection.language)),
        escape(labels.adopted_resolutions)
    );
    if collection.resolutions.is_empty() {
        content.push_str(&format!("<p>{}</p>\n", escape(labels.no_resolutions)));
    } else {
        content.push_str("<ol class=\"contents\">\n");
        for text in &collection.resolutions {
            content.push_str(&format!(
                "<li><a href=\"#res-{}\">{}</a></li>\n",
                escape(&text.id),
                escape(&text.title)
            ));
        }
        content.push_str("</ol>\n");
    }
    for text in &collection.resolutions {
        content.push_str(&resolution(text, true));
    }
    page(&title, collection.language, &content)
}

/// The compilation of amendments as a table: number, paragraph, amendment
/// (with its proposer), decision, as parliaments publish them.
pub fn compilation(compilation: &Compilation) -> String {
    let text = &compilation.resolution;
    let labels = text.labels();
    let mut content = format!(
        "<header>\n<p class=\"meeting\">{}</p>\n<h1>{}</h1>\n",
        escape(&text.meeting.line(text.language)),
        escape(&compilation.title())
    );
    if let Some(sponsors) = text.sponsors_line() {
        content.push_str(&format!(
            "<p class=\"sponsors\">{}</p>\n",
            escape(&sponsors)
        ));
    }
    content.push_str(&format!(
        "<p class=\"status\">{}</p>\n</header>\n",
        escape(&text.status_line())
    ));
    if compilation.amendments.is_empty() {
        content.push_str(&format!("<p>{}</p>\n", escape(labels.no_amendments)));
    } else {
        content.push_str("<table class=\"amendments\">\n<thead><tr>");
        for (index, head) in labels.columns.iter().enumerate() {
            // The proposer sits with the amendment's text, as in IPU compilations.
            if index == 3 {
                continue;
            }
            content.push_str(&format!("<th>{}</th>", escape(head)));
        }
        content.push_str("</tr></thead>\n<tbody>\n");
        for amendment in &compilation.amendments {
            let mut by = escape(&amendment.proposed_by);
            if !amendment.supporters.is_empty() {
                by.push_str(&format!(
                    "; {}: {}",
                    escape(labels.supported_by),
                    escape(&amendment.supporters.join(", "))
                ));
            }
            let rationale = amendment
                .rationale
                .as_deref()
                .map(|r| {
                    format!(
                        "<div class=\"rationale\">{}: {}</div>",
                        escape(labels.rationale),
                        escape(r)
                    )
                })
                .unwrap_or_default();
            content.push_str(&format!(
                "<tr><td>{}</td><td>{}</td><td>{}<br>({by}){rationale}</td><td>{}</td></tr>\n",
                amendment.number,
                escape(&amendment.paragraph),
                escape(&amendment.wording),
                escape(&compilation.decision(amendment))
            ));
        }
        content.push_str("</tbody>\n</table>\n");
    }
    page(&compilation.title(), text.language, &content)
}
