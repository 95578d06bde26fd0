//! PDF, typeset as a resolution is printed: a centred heading (meeting,
//! title, sponsors, status), the enacting formula, preambular paragraphs
//! with a first-line indent and their italic openers, numbered operative
//! paragraphs with hanging numbers and indented (a)/(i) sub-paragraphs,
//! justified lines, and "Page n of m" in every footer.
//!
//! krilla writes the PDF: it embeds and subsets the fonts (Libertinus Serif,
//! OFL, in `fonts/`), writes a ToUnicode map so text is searchable and
//! copyable with every accent, and places glyphs shaped by rustybuzz (the
//! shaper krilla uses itself). The layout above it is ours and small: words
//! are shaped once, lines are broken greedily on their measured advances,
//! lines go onto A4 pages, and a paragraph's last line never hangs alone at
//! the top of a page when it can be kept with the rest.

use std::collections::HashMap;

use krilla::Document;
use krilla::geom::Point;
use krilla::metadata::Metadata;
use krilla::page::PageSettings;
use krilla::text::{Font, GlyphId, KrillaGlyph};

use super::{Compilation, ExportError, Format, MeetingCollection, ResolutionText, labels};
use crate::amendments::Language;
use crate::document::{BlockKind, Inline};

pub(crate) const REGULAR: &[u8] = include_bytes!("fonts/LibertinusSerif-Regular.otf");
pub(crate) const ITALIC: &[u8] = include_bytes!("fonts/LibertinusSerif-Italic.otf");
pub(crate) const BOLD: &[u8] = include_bytes!("fonts/LibertinusSerif-Bold.otf");

/// A4, in points.
const PAGE_WIDTH: f32 = 595.28;
const PAGE_HEIGHT: f32 = 841.89;
const MARGIN_LEFT: f32 = 72.0;
const MARGIN_RIGHT: f32 = 72.0;
const MARGIN_TOP: f32 = 70.0;
const MARGIN_BOTTOM: f32 = 78.0;
const TEXT_WIDTH: f32 = PAGE_WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
/// The body's size and the indent step of the numbers.
const BODY_SIZE: f32 = 11.5;
const STEP: f32 = 28.0;

/// How a block's lines sit between the margins.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Align {
    /// Flush left, ragged right.
    Left,
    /// Centred.
    Center,
    /// Flush on both sides (but the last line).
    Justify,
}

/// A block of text for the typesetter.
#[derive(Debug, Clone)]
pub struct Item {
    /// Its runs of text.
    pub runs: Vec<Inline>,
    /// A number hanging at `number_x` ("3.", "(b)").
    pub number: Option<String>,
    /// Font size, in points.
    pub size: f32,
    /// Alignment.
    pub align: Align,
    /// Where the number starts, from the left margin.
    pub number_x: f32,
    /// Where the first line's text starts, from the left margin (after a
    /// number: where its text starts).
    pub first_x: f32,
    /// Where the other lines start.
    pub rest_x: f32,
    /// Space before, in points.
    pub space_before: f32,
    /// Space after, in points.
    pub space_after: f32,
    /// Start on a new page.
    pub page_break: bool,
    /// Keep on the same page as the next item (headings).
    pub keep_with_next: bool,
}

impl Item {
    fn text(runs: Vec<Inline>, size: f32, align: Align) -> Item {
        Item {
            runs,
            number: None,
            size,
            align,
            number_x: 0.0,
            first_x: 0.0,
            rest_x: 0.0,
            space_before: 0.0,
            space_after: 0.0,
            page_break: false,
            keep_with_next: false,
        }
    }

    fn centered(text: &str, size: f32, italic: bool, bold: bool) -> Item {
        Item::text(
            vec![Inline {
                text: text.to_owned(),
                italic,
                bold,
            }],
            size,
            Align::Center,
        )
    }

    fn after(mut self, space: f32) -> Item {
        self.space_after = space;
        self
    }

    fn before(mut self, space: f32) -> Item {
        self.space_before = space;
        self
    }
}

/// The heading block and body of a resolution.
pub fn resolution_blocks(text: &ResolutionText) -> Vec<Item> {
    let mut items = heading(text);
    items.push(
        Item::text(
            vec![Inline::plain(text.labels().formula)],
            BODY_SIZE,
            Align::Left,
        )
        .before(6.0)
        .after(8.0),
    );
    for paragraph in &text.paragraphs {
        let runs = paragraph.inlines.clone();
        let mut item = Item::text(runs, BODY_SIZE, Align::Justify).after(6.0);
        item.number = paragraph.number.clone();
        match (paragraph.kind, paragraph.level) {
            (BlockKind::Heading, _) => {
                item.align = Align::Center;
                item.runs.iter_mut().for_each(|run| run.bold = true);
                item.space_before = 8.0;
                item.keep_with_next = true;
            }
            (BlockKind::Preamble, _) => {
                item.first_x = STEP;
            }
            (BlockKind::Operative, _) => {
                item.first_x = STEP;
                item.rest_x = STEP;
            }
            (BlockKind::Subparagraph, level) => {
                let depth = f32::from(level.clamp(1, 2));
                item.number_x = STEP * depth;
                item.first_x = STEP * (depth + 1.0);
                item.rest_x = STEP * (depth + 1.0);
            }
        }
        items.push(item);
    }
    items
}

/// The meeting's title, then its place and first day, centred.
fn meeting_lines(meeting: &super::MeetingHeading, language: Language, size: f32) -> Vec<Item> {
    let mut items = vec![Item::centered(&meeting.title, size, false, false).after(1.0)];
    if let Some(place) = meeting.place_line(language) {
        items.push(Item::centered(&place, size, false, false));
    }
    items
}

fn heading(text: &ResolutionText) -> Vec<Item> {
    let mut items = meeting_lines(&text.meeting, text.language, 10.5);
    items.extend([Item::text(Vec::new(), 10.5, Align::Left).after(6.0), {
        let mut title = Item::centered(&text.title, 15.0, false, true).after(8.0);
        title.keep_with_next = true;
        title
    }]);
    if let Some(sponsors) = text.sponsors_line() {
        items.push(Item::centered(&sponsors, BODY_SIZE, true, false).after(3.0));
    }
    items.push(Item::centered(&text.status_line(), 10.0, false, false).after(18.0));
    items
}

/// A meeting's adopted resolutions: a title page listing them, then each
/// resolution from a new page.
pub fn meeting_blocks(collection: &MeetingCollection) -> Vec<Item> {
    let labels = labels(collection.language);
    let mut items = meeting_lines(&collection.meeting, collection.language, 11.0);
    items.push(
        Item::centered(labels.adopted_resolutions, 18.0, false, true)
            .before(20.0)
            .after(28.0),
    );
    if collection.resolutions.is_empty() {
        items.push(Item::centered(
            labels.no_resolutions,
            BODY_SIZE,
            true,
            false,
        ));
    }
    for (index, text) in collection.resolutions.iter().enumerate() {
        let mut entry = Item::text(vec![Inline::plain(&text.title)], BODY_SIZE, Align::Left);
        entry.number = Some(format!("{}.", index + 1));
        entry.first_x = STEP;
        entry.rest_x = STEP;
        items.push(entry.after(6.0));
    }
    for text in &collection.resolutions {
        let mut resolution = resolution_blocks(text);
        if let Some(first) = resolution.first_mut() {
            first.page_break = true;
        }
        items.extend(resolution);
    }
    items
}

/// The compilation of amendments: each amendment in text order with its
/// paragraph, formal wording, proposer and decision.
pub fn compilation_blocks(compilation: &Compilation) -> Vec<Item> {
    let text = &compilation.resolution;
    let labels = text.labels();
    let mut items = meeting_lines(&text.meeting, text.language, 10.5);
    items.extend([
        Item::centered(labels.compilation, 15.0, false, true)
            .before(14.0)
            .after(4.0),
        Item::centered(&text.title, 13.0, true, false).after(8.0),
    ]);
    if let Some(sponsors) = text.sponsors_line() {
        items.push(Item::centered(&sponsors, BODY_SIZE, true, false).after(3.0));
    }
    items.push(Item::centered(&text.status_line(), 10.0, false, false).after(18.0));
    if compilation.amendments.is_empty() {
        items.push(Item::text(
            vec![Inline::plain(labels.no_amendments)],
            BODY_SIZE,
            Align::Left,
        ));
    }
    for amendment in &compilation.amendments {
        let mut head = Item::text(
            vec![Inline {
                text: amendment.paragraph.clone(),
                italic: false,
                bold: true,
            }],
            BODY_SIZE,
            Align::Left,
        )
        .before(6.0)
        .after(3.0);
        head.number = Some(format!("{} {}", labels.columns[0], amendment.number));
        head.first_x = STEP * 2.0;
        head.rest_x = STEP * 2.0;
        head.keep_with_next = true;
        items.push(head);
        let indented = |runs: Vec<Inline>| {
            let mut item = Item::text(runs, BODY_SIZE, Align::Justify).after(3.0);
            item.first_x = STEP * 2.0;
            item.rest_x = STEP * 2.0;
            item
        };
        items.push(indented(vec![Inline::plain(&amendment.wording)]));
        let mut by = amendment.proposed_by.clone();
        if !amendment.supporters.is_empty() {
            by.push_str(&format!(
                "; {}: {}",
                labels.supported_by,
                amendment.supporters.join(", ")
            ));
        }
        items.push(indented(vec![
            Inline::italic(format!("{}: ", labels.columns[3])),
            Inline::plain(by),
        ]));
        items.push(indented(vec![
            Inline::italic(format!("{}: ", labels.columns[4])),
            Inline::plain(compilation.decision(amendment)),
        ]));
        if let Some(rationale) = &amendment.rationale {
            items.push(indented(vec![
                Inline::italic(format!("{}: ", labels.rationale)),
                Inline::plain(rationale),
            ]));
        }
    }
    items
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Style {
    Regular,
    Italic,
    Bold,
}

impl Style {
    fn of(run: &Inline) -> Style {
        if run.bold {
            Style::Bold
        } else if run.italic {
            Style::Italic
        } else {
            Style::Regular
        }
    }
}

/// The three faces, for shaping (rustybuzz) and for embedding (krilla).
struct Fonts {
    faces: [rustybuzz::Face<'static>; 3],
    fonts: [Font; 3],
    /// Shaped words, in em units: the same word is shaped once.
    cache: HashMap<(Style, String), Shaped>,
}

#[derive(Debug, Clone)]
struct Shaped {
    glyphs: Vec<KrillaGlyph>,
    /// Advance in em.
    width: f32,
}

impl Fonts {
    fn load() -> Result<Fonts, ExportError> {
        let face = |data: &'static [u8]| {
            rustybuzz::Face::from_slice(data, 0)
                .ok_or_else(|| ExportError::render(Format::Pdf, "a bundled font cannot be read"))
        };
        let font = |data: &'static [u8]| {
            Font::new(data.into(), 0)
                .ok_or_else(|| ExportError::render(Format::Pdf, "a bundled font cannot be read"))
        };
        Ok(Fonts {
            faces: [face(REGULAR)?, face(ITALIC)?, face(BOLD)?],
            fonts: [font(REGULAR)?, font(ITALIC)?, font(BOLD)?],
            cache: HashMap::new(),
        })
    }

    fn index(style: Style) -> usize {
        match style {
            Style::Regular => 0,
            Style::Italic => 1,
            Style::Bold => 2,
        }
    }

    fn shape(&mut self, style: Style, text: &str) -> Shaped {
        if let Some(shaped) = self.cache.get(&(style, text.to_owned())) {
            return shaped.clone();
        }
        let face = &self.faces[Self::index(style)];
        let units = face.units_per_em() as f32;
        let mut buffer = rustybuzz::UnicodeBuffer::new();
        buffer.push_str(text);
        buffer.set_direction(rustybuzz::Direction::LeftToRight);
        buffer.guess_segment_properties();
        let output = rustybuzz::shape(face, &[], buffer);
        let infos = output.glyph_infos();
        let positions = output.glyph_positions();
        let mut glyphs = Vec::with_capacity(infos.len());
        let mut width = 0.0;
        for (index, (info, position)) in infos.iter().zip(positions).enumerate() {
            let start = info.cluster as usize;
            // A cluster runs to the next cluster's start (left to right).
            let end = infos[index + 1..]
                .iter()
                .map(|next| next.cluster as usize)
                .find(|&next| next != start)
                .unwrap_or(text.len());
            let advance = position.x_advance as f32 / units;
            width += advance;
            glyphs.push(KrillaGlyph::new(
                GlyphId::new(info.glyph_id),
                advance,
                position.x_offset as f32 / units,
                position.y_offset as f32 / units,
                position.y_advance as f32 / units,
                start..end,
                None,
            ));
        }
        let shaped = Shaped { glyphs, width };
        self.cache.insert((style, text.to_owned()), shaped.clone());
        shaped
    }
}

/// A piece of a word in one style, shaped.
#[derive(Debug, Clone)]
struct Piece {
    style: Style,
    text: String,
    shaped: Shaped,
}

/// A word: pieces with no space between them ("*Urges*," is two).
#[derive(Debug, Clone, Default)]
struct Word {
    pieces: Vec<Piece>,
    /// Width in points.
    width: f32,
}

/// Splits runs into words, keeping each word's styled pieces.
fn words(fonts: &mut Fonts, runs: &[Inline], size: f32) -> Vec<Word> {
    let mut out = Vec::new();
    let mut current = Word::default();
    for run in runs {
        let style = Style::of(run);
        let mut piece = String::new();
        let flush_piece = |piece: &mut String, current: &mut Word, fonts: &mut Fonts| {
            if piece.is_empty() {
                return;
            }
            let shaped = fonts.shape(style, piece);
            current.width += shaped.width * size;
            current.pieces.push(Piece {
                style,
                text: std::mem::take(piece),
                shaped,
            });
        };
        for c in run.text.chars() {
            if c.is_whitespace() && c != '\u{a0}' && c != '\u{202f}' {
                flush_piece(&mut piece, &mut current, fonts);
                if !current.pieces.is_empty() {
                    out.push(std::mem::take(&mut current));
                }
            } else {
                piece.push(c);
            }
        }
        flush_piece(&mut piece, &mut current, fonts);
    }
    if !current.pieces.is_empty() {
        out.push(current);
    }
    out
}

/// A line placed on a page: pieces at x positions, and its baseline.
#[derive(Debug, Clone)]
struct Line {
    baseline: f32,
    size: f32,
    pieces: Vec<(f32, Piece)>,
}

/// Lines of one item, before they are placed on pages (x from the page's
/// left edge, no y yet).
fn break_lines(fonts: &mut Fonts, item: &Item) -> Vec<Vec<(f32, Piece)>> {
    let size = item.size;
    let space = fonts.shape(Style::Regular, " ").width * size;
    let words = words(fonts, &item.runs, size);
    let mut number_piece = item.number.as_ref().map(|number| {
        let shaped = fonts.shape(Style::Regular, number);
        (
            shaped.width * size,
            Piece {
                style: Style::Regular,
                text: number.clone(),
                shaped,
            },
        )
    });
    let mut lines: Vec<Vec<(f32, Piece)>> = Vec::new();
    let mut index = 0;
    let mut first = true;
    loop {
        let mut start = if first { item.first_x } else { item.rest_x };
        let mut placed: Vec<(f32, Piece)> = Vec::new();
        if first && let Some((width, piece)) = number_piece.take() {
            let x = item.number_x;
            // A number wider than its gutter pushes the text along.
            start = start.max(x + width + space);
            placed.push((MARGIN_LEFT + x, piece));
        }
        let available = TEXT_WIDTH - start;
        // Greedy: as many words as fit (at least one).
        let mut end = index;
        let mut width = 0.0;
        while end < words.len() {
            let added = if end == index {
                words[end].width
            } else {
                width + space + words[end].width
            };
            if end > index && added > available {
                break;
            }
            width = added;
            end += 1;
        }
        let last_line = end >= words.len();
        let gaps = end.saturating_sub(index + 1) as f32;
        let (mut x, gap) = match item.align {
            Align::Left => (MARGIN_LEFT + start, space),
            Align::Center => (
                MARGIN_LEFT + start + (available - width).max(0.0) / 2.0,
                space,
            ),
            Align::Justify if !last_line && gaps > 0.0 => (
                MARGIN_LEFT + start,
                space + (available - width).max(0.0) / gaps,
            ),
            Align::Justify => (MARGIN_LEFT + start, space),
        };
        for word in &words[index..end] {
            for piece in &word.pieces {
                placed.push((x, piece.clone()));
                x += piece.shaped.width * size;
            }
            x += gap;
        }
        lines.push(placed);
        index = end;
        first = false;
        if last_line {
            break;
        }
    }
    lines
}

/// Places every item's lines on pages.
fn paginate(fonts: &mut Fonts, items: &[Item]) -> Vec<Vec<Line>> {
    let mut pages: Vec<Vec<Line>> = vec![Vec::new()];
    let mut y = MARGIN_TOP;
    let bottom = PAGE_HEIGHT - MARGIN_BOTTOM;
    let broken: Vec<Vec<Vec<(f32, Piece)>>> =
        items.iter().map(|item| break_lines(fonts, item)).collect();
    for (index, (item, lines)) in items.iter().zip(&broken).enumerate() {
        let leading = item.size * 1.38;
        let on_page_top = pages.last().is_none_or(Vec::is_empty);
        if item.page_break && !on_page_top {
            pages.push(Vec::new());
            y = MARGIN_TOP;
        }
        let top_of_page = pages.last().is_none_or(Vec::is_empty);
        if !top_of_page {
            y += item.space_before;
        }
        // What must stay together: a heading with the first lines of the
        // next item; a short paragraph whole; a long one at least two lines.
        let mut needed = leading * (lines.len().min(2) as f32);
        if lines.len() <= 3 {
            needed = leading * lines.len() as f32;
        }
        if item.keep_with_next
            && let (Some(next), Some(next_lines)) = (items.get(index + 1), broken.get(index + 1))
        {
            needed = leading * lines.len() as f32
                + item.space_after
                + next.space_before
                + next.size * 1.38 * (next_lines.len().min(2) as f32);
        }
        if !top_of_page && y + needed > bottom {
            pages.push(Vec::new());
            y = MARGIN_TOP;
        }
        for (line_index, pieces) in lines.iter().enumerate() {
            let remaining = lines.len() - line_index;
            // Never leave a single last line alone on the next page.
            let widow = remaining == 2 && y + 2.0 * leading > bottom && line_index > 1;
            if y + leading > bottom || widow {
                pages.push(Vec::new());
                y = MARGIN_TOP;
            }
            y += leading;
            if let Some(page) = pages.last_mut() {
                page.push(Line {
                    baseline: y - leading * 0.28,
                    size: item.size,
                    pieces: pieces.clone(),
                });
            }
        }
        y += item.space_after;
    }
    pages
}

/// Typesets `items` on A4 pages with "Page n of m" footers.
pub fn render(items: &[Item], language: Language, title: &str) -> Result<Vec<u8>, ExportError> {
    let mut fonts = Fonts::load()?;
    let pages = paginate(&mut fonts, items);
    let total = pages.len();
    let labels = labels(language);
    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(title.to_owned())
            .language(super::language_code(language).to_owned())
            .creator("Plenary".to_owned()),
    );
    let settings = || {
        PageSettings::from_wh(PAGE_WIDTH, PAGE_HEIGHT)
            .ok_or_else(|| ExportError::render(Format::Pdf, "bad page size"))
    };
    for (number, lines) in pages.iter().enumerate() {
        let mut page = document.start_page_with(settings()?);
        let mut surface = page.surface();
        for line in lines {
            for (x, piece) in &line.pieces {
                surface.draw_glyphs(
                    Point::from_xy(*x, line.baseline),
                    &piece.shaped.glyphs,
                    fonts.fonts[Fonts::index(piece.style)].clone(),
                    &piece.text,
                    line.size,
                    false,
                );
            }
        }
        let footer = labels.page_of(number + 1, total);
        let shaped = fonts.shape(Style::Regular, &footer);
        let size = 9.5;
        surface.draw_glyphs(
            Point::from_xy(
                (PAGE_WIDTH - shaped.width * size) / 2.0,
                PAGE_HEIGHT - MARGIN_BOTTOM / 2.0,
            ),
            &shaped.glyphs,
            fonts.fonts[0].clone(),
            &footer,
            size,
            false,
        );
        surface.finish();
        page.finish();
    }
    document
        .finish()
        .map_err(|error| ExportError::render(Format::Pdf, format!("{error:?}")))
}

/// A meeting's adopted resolutions as one PDF.
pub fn meeting(collection: &MeetingCollection) -> Result<Vec<u8>, ExportError> {
    let title = format!(
        "{} — {}",
        collection.meeting.title,
        labels(collection.language).adopted_resolutions
    );
    render(&meeting_blocks(collection), collection.language, &title)
}

/// The compilation of amendments as a PDF.
pub fn compilation(compilation: &Compilation) -> Result<Vec<u8>, ExportError> {
    render(
        &compilation_blocks(compilation),
        compilation.resolution.language,
        &compilation.title(),
    )
}
