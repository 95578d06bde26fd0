//! DOCX (Office Open XML), for a secretariat to go on editing in Word or
//! LibreOffice: real paragraph styles (Title, Heading 1, Formula, Preambular,
//! Operative, Subparagraph 1 and 2, Section heading) and a real numbering
//! definition (decimal "1." / lowerLetter "(a)" / lowerRoman "(i)"), so
//! Word numbers the paragraphs itself and renumbers them when one is
//! inserted. The numbers are never typed into the text.

use docx_rs::{
    AbstractNumbering, AlignmentType, BreakType, Docx, Footer, IndentLevel, Level, LevelJc,
    LevelOverride, LevelText, LineSpacing, NumPages, NumberFormat, Numbering, NumberingId,
    PageMargin, PageNum, Paragraph as DocxParagraph, Run, RunFonts, SpecialIndentType, Start,
    Style, StyleType, Table, TableCell, TableRow, WidthType,
};

use super::{Compilation, ExportError, Format, ResolutionText, labels};
use crate::amendments::Language;
use crate::document::{BlockKind, Inline};

/// The abstract numbering every resolution's list uses.
/// (docx-rs writes a default abstract numbering and instance with id 1.)
const ABSTRACT_NUMBERING: usize = 10;
/// Twentieths of a point per indent step (1 cm).
const STEP: i32 = 567;

fn run(inline: &Inline) -> Run {
    let mut run = Run::new().add_text(inline.text.clone());
    if inline.italic {
        run = run.italic();
    }
    if inline.bold {
        run = run.bold();
    }
    run
}

fn styled(style: &str, runs: &[Inline]) -> DocxParagraph {
    runs.iter()
        .fold(DocxParagraph::new().style(style), |paragraph, inline| {
            paragraph.add_run(run(inline))
        })
}

fn plain(style: &str, text: &str) -> DocxParagraph {
    DocxParagraph::new()
        .style(style)
        .add_run(Run::new().add_text(text))
}

fn spacing(before: u32, after: u32) -> LineSpacing {
    LineSpacing::new().before(before).after(after)
}

/// The styles, the numbering definition, the page and the footer.
fn base(language: Language) -> Docx {
    let fonts = RunFonts::new()
        .ascii("Libertinus Serif")
        .hi_ansi("Libertinus Serif")
        .cs("Libertinus Serif");
    let style = |id: &str, name: &str| {
        Style::new(id, StyleType::Paragraph)
            .name(name)
            .based_on("Normal")
            .q_format(true)
    };
    let level = |index: usize, format: &str, text: &str| {
        Level::new(
            index,
            Start::new(1),
            NumberFormat::new(format),
            LevelText::new(text),
            LevelJc::new("left"),
        )
        .indent(
            Some(STEP * (index as i32 + 1)),
            Some(SpecialIndentType::Hanging(STEP)),
            None,
            None,
        )
    };
    let labels = labels(language);
    // "Page {n} of {m}" with Word's own fields for the numbers.
    let mut footer_paragraph = DocxParagraph::new().style("Footer");
    let mut rest = labels.page;
    while !rest.is_empty() {
        let next = [("{n}", 0), ("{m}", 1)]
            .into_iter()
            .filter_map(|(marker, which)| rest.find(marker).map(|at| (at, which)))
            .min();
        match next {
            Some((at, which)) => {
                if at > 0 {
                    footer_paragraph = footer_paragraph.add_run(Run::new().add_text(&rest[..at]));
                }
                footer_paragraph = if which == 0 {
                    footer_paragraph.add_page_num(PageNum::new())
                } else {
                    footer_paragraph.add_num_pages(NumPages::new())
                };
                rest = &rest[at + 3..];
            }
            None => {
                footer_paragraph = footer_paragraph.add_run(Run::new().add_text(rest));
                rest = "";
            }
        }
    }
    Docx::new()
        .default_fonts(fonts)
        .default_size(23)
        .page_size(11_906, 16_838)
        .page_margin(PageMargin {
            top: 1418,
            left: 1418,
            bottom: 1418,
            right: 1418,
            header: 709,
            footer: 709,
            gutter: 0,
        })
        .add_style(
            Style::new("Normal", StyleType::Paragraph)
                .name("Normal")
                .q_format(true)
                .line_spacing(spacing(0, 120)),
        )
        .add_style(
            style("Title", "Title")
                .size(30)
                .bold()
                .align(AlignmentType::Center)
                .line_spacing(spacing(120, 120)),
        )
        .add_style(
            style("Heading1", "heading 1")
                .size(30)
                .bold()
                .align(AlignmentType::Center)
                .outline_lvl(0)
                .line_spacing(spacing(120, 120)),
        )
        .add_style(
            style("Meeting", "Meeting")
                .size(21)
                .align(AlignmentType::Center)
                .line_spacing(spacing(0, 60)),
        )
        .add_style(
            style("Status", "Status")
                .size(20)
                .align(AlignmentType::Center)
                .line_spacing(spacing(0, 60)),
        )
        .add_style(
            style("Sponsors", "Sponsors")
                .italic()
                .align(AlignmentType::Center),
        )
        .add_style(
            style("Formula", "Formula")
                .line_spacing(spacing(240, 120))
                .indent(Some(0), None, None, None),
        )
        .add_style(
            style("Preambular", "Preambular")
                .align(AlignmentType::Both)
                .indent(
                    Some(0),
                    Some(SpecialIndentType::FirstLine(STEP)),
                    None,
                    None,
                ),
        )
        .add_style(style("Operative", "Operative").align(AlignmentType::Both))
        .add_style(style("Subparagraph1", "Subparagraph 1").align(AlignmentType::Both))
        .add_style(style("Subparagraph2", "Subparagraph 2").align(AlignmentType::Both))
        .add_style(
            style("SectionHeading", "Section heading")
                .bold()
                .align(AlignmentType::Center)
                .line_spacing(spacing(240, 120)),
        )
        .add_style(style("AmendmentText", "Amendment text").line_spacing(spacing(0, 60)))
        .add_style(
            style("Footer", "Footer")
                .size(19)
                .align(AlignmentType::Center),
        )
        .add_abstract_numbering(
            AbstractNumbering::new(ABSTRACT_NUMBERING)
                .add_level(level(0, "decimal", "%1."))
                .add_level(level(1, "lowerLetter", "(%2)"))
                .add_level(level(2, "lowerRoman", "(%3)")),
        )
        .footer(Footer::new().add_paragraph(footer_paragraph))
}

/// Hands out numbering instances: one per resolution (its operative list)
/// and one per preambular paragraph with sub-paragraphs (their own (a), (b)).
struct Lists {
    next: usize,
    numberings: Vec<Numbering>,
}

impl Lists {
    fn fresh(&mut self) -> usize {
        let id = self.next;
        self.next += 1;
        self.numberings.push(
            Numbering::new(id, ABSTRACT_NUMBERING)
                .add_override(LevelOverride::new(0).start(1))
                .add_override(LevelOverride::new(1).start(1))
                .add_override(LevelOverride::new(2).start(1)),
        );
        id
    }
}

fn heading(text: &ResolutionText, first: bool) -> Vec<DocxParagraph> {
    let mut meeting = plain("Meeting", &text.meeting.line(text.language));
    if !first {
        meeting = meeting.page_break_before(true);
    }
    let mut out = vec![meeting, plain("Heading1", &text.title).keep_next(true)];
    if let Some(sponsors) = text.sponsors_line() {
        out.push(plain("Sponsors", &sponsors));
    }
    out.push(plain("Status", &text.status_line()));
    out
}

fn body(text: &ResolutionText, lists: &mut Lists) -> Vec<DocxParagraph> {
    let mut out = vec![plain("Formula", text.labels().formula)];
    let operative = lists.fresh();
    // The list the next sub-paragraphs belong to.
    let mut current = operative;
    let mut preamble_list: Option<usize> = None;
    // Whether the paragraph sub-paragraphs hang from is preambular.
    let mut after_preamble = false;
    for paragraph in &text.paragraphs {
        let block = match paragraph.kind {
            BlockKind::Heading => styled("SectionHeading", &paragraph.inlines).keep_next(true),
            BlockKind::Preamble => {
                preamble_list = None;
                after_preamble = true;
                styled("Preambular", &paragraph.inlines)
            }
            BlockKind::Operative => {
                current = operative;
                preamble_list = None;
                after_preamble = false;
                styled("Operative", &paragraph.inlines)
                    .numbering(NumberingId::new(operative), IndentLevel::new(0))
            }
            BlockKind::Subparagraph => {
                let list = if after_preamble {
                    *preamble_list.get_or_insert_with(|| lists.fresh())
                } else {
                    current
                };
                let (style, level) = if paragraph.level >= 2 {
                    ("Subparagraph2", 2)
                } else {
                    ("Subparagraph1", 1)
                };
                styled(style, &paragraph.inlines)
                    .numbering(NumberingId::new(list), IndentLevel::new(level))
            }
        };
        out.push(block);
    }
    out
}

fn finish(docx: Docx, lists: Lists) -> Result<Vec<u8>, ExportError> {
    let docx = lists
        .numberings
        .into_iter()
        .fold(docx, |docx, numbering| docx.add_numbering(numbering));
    let mut buffer = std::io::Cursor::new(Vec::new());
    docx.build()
        .pack(&mut buffer)
        .map_err(|error| ExportError::render(Format::Docx, error))?;
    Ok(buffer.into_inner())
}

/// Resolutions in one document, each from a new page; with `cover`, a
/// first page naming the meeting and listing them.
pub fn render(
    texts: &[ResolutionText],
    cover: Option<(&str, Language)>,
) -> Result<Vec<u8>, ExportError> {
    let language = cover
        .map(|(_, language)| language)
        .or_else(|| texts.first().map(|text| text.language))
        .unwrap_or(Language::En);
    let mut docx = base(language);
    let mut lists = Lists {
        next: ABSTRACT_NUMBERING,
        numberings: Vec::new(),
    };
    let mut first = true;
    if let Some((meeting, language)) = cover {
        let labels = labels(language);
        docx = docx
            .add_paragraph(plain("Meeting", meeting))
            .add_paragraph(plain("Title", labels.adopted_resolutions));
        if texts.is_empty() {
            docx = docx.add_paragraph(plain("Normal", labels.no_resolutions));
        }
        for (index, text) in texts.iter().enumerate() {
            docx = docx.add_paragraph(plain("Normal", &format!("{}. {}", index + 1, text.title)));
        }
        first = false;
    }
    for text in texts {
        for block in heading(text, first) {
            docx = docx.add_paragraph(block);
        }
        for block in body(text, &mut lists) {
            docx = docx.add_paragraph(block);
        }
        first = false;
    }
    finish(docx, lists)
}

/// The compilation of amendments as a table: number, paragraph, amendment
/// with its proposer, decision.
pub fn compilation(compilation: &Compilation) -> Result<Vec<u8>, ExportError> {
    let text = &compilation.resolution;
    let labels = text.labels();
    let mut docx = base(text.language)
        .add_paragraph(plain("Meeting", &text.meeting.line(text.language)))
        .add_paragraph(plain("Heading1", &compilation.title()));
    if let Some(sponsors) = text.sponsors_line() {
        docx = docx.add_paragraph(plain("Sponsors", &sponsors));
    }
    docx = docx.add_paragraph(plain("Status", &text.status_line()));
    if compilation.amendments.is_empty() {
        docx = docx.add_paragraph(plain("Normal", labels.no_amendments));
        return finish(
            docx,
            Lists {
                next: ABSTRACT_NUMBERING,
                numberings: Vec::new(),
            },
        );
    }
    let widths = [700, 1600, 4700, 2000];
    let cell = |width: usize, paragraphs: Vec<DocxParagraph>| {
        paragraphs
            .into_iter()
            .fold(TableCell::new().width(width, WidthType::Dxa), |cell, p| {
                cell.add_paragraph(p)
            })
    };
    let bold = |text: &str| {
        DocxParagraph::new()
            .style("AmendmentText")
            .add_run(Run::new().add_text(text).bold())
    };
    let mut rows = vec![TableRow::new(vec![
        cell(widths[0], vec![bold(labels.columns[0])]),
        cell(widths[1], vec![bold(labels.columns[1])]),
        cell(widths[2], vec![bold(labels.columns[2])]),
        cell(widths[3], vec![bold(labels.columns[4])]),
    ])];
    for amendment in &compilation.amendments {
        let mut by = amendment.proposed_by.clone();
        if !amendment.supporters.is_empty() {
            by.push_str(&format!(
                "; {}: {}",
                labels.supported_by,
                amendment.supporters.join(", ")
            ));
        }
        let mut text_cell = vec![
            plain("AmendmentText", &amendment.wording),
            DocxParagraph::new()
                .style("AmendmentText")
                .add_run(Run::new().add_text(format!("({by})")).italic()),
        ];
        if let Some(rationale) = &amendment.rationale {
            text_cell.push(plain(
                "AmendmentText",
                &format!("{}: {rationale}", labels.rationale),
            ));
        }
        rows.push(TableRow::new(vec![
            cell(
                widths[0],
                vec![plain("AmendmentText", &amendment.number.to_string())],
            ),
            cell(
                widths[1],
                vec![plain("AmendmentText", &amendment.paragraph)],
            ),
            cell(widths[2], text_cell),
            cell(
                widths[3],
                vec![plain("AmendmentText", &compilation.decision(amendment))],
            ),
        ]));
    }
    docx = docx.add_table(Table::new(rows).set_grid(widths.to_vec()));
    // A table may not end the document body in Word's eyes.
    docx = docx
        .add_paragraph(DocxParagraph::new().add_run(Run::new().add_break(BreakType::TextWrapping)));
    finish(
        docx,
        Lists {
            next: ABSTRACT_NUMBERING,
            numberings: Vec::new(),
        },
    )
}
