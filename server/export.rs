//! Secretariat export: the texts of resolutions in every format a secretariat
//! needs (Markdown, plain text, HTML, PDF, DOCX, Akoma Ntoso 3.0), a
//! meeting's adopted resolutions together, and the compilation of the
//! amendments to a resolution. Everything is rendered here, in Rust, with no
//! office suite, browser or outside service.
//!
//! Every format renders from the same neutral reading of the body that
//! comparison uses ([`document::read_body`] then [`document::numbers`]):
//! [`ResolutionText::new`] turns it into [`Paragraph`]s with their numbers and
//! Akoma Ntoso ids, and each renderer only decides how they look. The
//! renderers are plain functions, tested without I/O; gathering what they
//! need from the database is [`gather`], shared by the HTTP routes and
//! `plenary export`. Rendering is CPU work: callers run it on a blocking
//! thread.
//!
//! The formats, URLs and the command line are described in docs/export.md.

pub mod akn;
pub mod collection;
pub mod docx;
pub mod gather;
pub mod html;
pub mod markdown;
pub mod pdf;
pub mod routes;
pub mod text;

use serde::{Deserialize, Serialize};

use crate::amendments::{Language, Status};
use crate::document::{self, Block, BlockKind, Inline};
use crate::resolutions::Phase;

/// A format of export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// Markdown (CommonMark).
    Md,
    /// Plain text, wrapped at 78 columns.
    Txt,
    /// One self-contained, print-styled HTML page.
    Html,
    /// PDF, typeset as a resolution is printed, fonts embedded.
    Pdf,
    /// Word (Office Open XML), with real styles and numbering.
    Docx,
    /// Akoma Ntoso 3.0 XML.
    Akn,
    /// A zip of every format of each resolution (meetings only).
    Zip,
}

impl Format {
    /// Every format, in the order menus show them.
    pub const ALL: [Format; 7] = [
        Format::Md,
        Format::Txt,
        Format::Html,
        Format::Pdf,
        Format::Docx,
        Format::Akn,
        Format::Zip,
    ];

    /// Reads a format's name (`md`, `txt`, `html`, `pdf`, `docx`, `akn`, `zip`).
    pub fn parse(value: &str) -> Option<Format> {
        Format::ALL
            .into_iter()
            .find(|format| format.name() == value.trim().to_ascii_lowercase())
    }

    /// The name used in URLs and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Md => "md",
            Format::Txt => "txt",
            Format::Html => "html",
            Format::Pdf => "pdf",
            Format::Docx => "docx",
            Format::Akn => "akn",
            Format::Zip => "zip",
        }
    }

    /// The file name extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Akn => "akn.xml",
            other => other.name(),
        }
    }

    /// The media type sent in `Content-Type`.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Md => "text/markdown; charset=utf-8",
            Format::Txt => "text/plain; charset=utf-8",
            Format::Html => "text/html; charset=utf-8",
            Format::Pdf => "application/pdf",
            Format::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
            Format::Akn => "application/akn+xml",
            Format::Zip => "application/zip",
        }
    }
}

/// Why an export could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// This format is not offered for this kind of export.
    #[error("{0}")]
    Unsupported(String),
    /// A renderer failed (a bug, or a font that cannot be read).
    #[error("rendering {format}: {message}")]
    Render {
        /// The format being rendered.
        format: &'static str,
        /// What went wrong.
        message: String,
    },
}

impl ExportError {
    pub(crate) fn render(format: Format, message: impl std::fmt::Display) -> Self {
        ExportError::Render {
            format: format.name(),
            message: message.to_string(),
        }
    }
}

/// Reads a language code (`en`, `es`, `fr`, `pt`).
pub fn parse_language(value: &str) -> Option<Language> {
    match value.trim().to_ascii_lowercase().as_str() {
        "en" => Some(Language::En),
        "es" => Some(Language::Es),
        "fr" => Some(Language::Fr),
        "pt" => Some(Language::Pt),
        _ => None,
    }
}

/// The two-letter code (BCP 47) of a language.
pub fn language_code(language: Language) -> &'static str {
    match language {
        Language::En => "en",
        Language::Es => "es",
        Language::Fr => "fr",
        Language::Pt => "pt",
    }
}

/// The three-letter code (ISO 639-2) Akoma Ntoso uses.
pub fn language_code3(language: Language) -> &'static str {
    match language {
        Language::En => "eng",
        Language::Es => "spa",
        Language::Fr => "fra",
        Language::Pt => "por",
    }
}

/// A calendar day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Date {
    /// The year.
    pub year: i32,
    /// 1 to 12.
    pub month: u32,
    /// 1 to 31.
    pub day: u32,
}

impl Date {
    /// The day (UTC) of a time in Unix milliseconds.
    pub fn from_millis(millis: i64) -> Date {
        // Howard Hinnant's civil_from_days.
        let days = millis.div_euclid(86_400_000);
        let z = days + 719_468;
        let era = z.div_euclid(146_097);
        let doe = z - era * 146_097;
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        let mp = (5 * doy + 2) / 153;
        let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
        let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
        let year = (yoe + era * 400 + i64::from(month <= 2)) as i32;
        Date { year, month, day }
    }

    /// Reads `YYYY-MM-DD`.
    pub fn parse(value: &str) -> Option<Date> {
        let mut parts = value.split('-');
        let year = parts.next()?.parse().ok()?;
        let month = parts.next()?.parse().ok()?;
        let day = parts.next()?.parse().ok()?;
        (parts.next().is_none() && (1..=12).contains(&month) && (1..=31).contains(&day))
            .then_some(Date { year, month, day })
    }

    /// `YYYY-MM-DD`.
    pub fn iso(self) -> String {
        format!("{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }

    /// "10 September 2025", "10 de septiembre de 2025", "10 septembre 2025",
    /// "10 de setembro de 2025".
    pub fn long(self, language: Language) -> String {
        let month = labels(language).months[(self.month.clamp(1, 12) - 1) as usize];
        match language {
            Language::En | Language::Fr => format!("{} {month} {}", self.day, self.year),
            Language::Es | Language::Pt => format!("{} de {month} de {}", self.day, self.year),
        }
    }
}

/// The words every format prints around the text, in one language.
#[derive(Debug)]
pub struct Labels {
    /// Names of the months.
    pub months: [&'static str; 12],
    /// The enacting formula.
    pub formula: &'static str,
    /// "Sponsored by".
    pub sponsored_by: &'static str,
    /// "Version".
    pub version: &'static str,
    /// What stands for the version when the live text is exported.
    pub live_text: &'static str,
    /// "Page {n} of {m}", with `{n}` and `{m}`.
    pub page: &'static str,
    /// "Resolution".
    pub resolution: &'static str,
    /// "Adopted resolutions" (a meeting's collection).
    pub adopted_resolutions: &'static str,
    /// "Compilation of amendments".
    pub compilation: &'static str,
    /// Table heads of the compilation: number, paragraph, amendment, proposed by, decision.
    pub columns: [&'static str; 5],
    /// "Rationale".
    pub rationale: &'static str,
    /// "Supported by".
    pub supported_by: &'static str,
    /// "No amendments."
    pub no_amendments: &'static str,
    /// "No adopted resolutions."
    pub no_resolutions: &'static str,
    /// "{yes} in favour, {no} against, {abstain} abstentions".
    pub tally: &'static str,
    /// The title, preamble and operative part as the compilation names paragraphs.
    pub parts: [&'static str; 3],
    /// The phases: drafting, tabled, voting, adopted, rejected, withdrawn.
    pub phases: [&'static str; 6],
    /// The amendment statuses: proposed, tabled, voting, accepted, adopted,
    /// rejected, withdrawn, fallen.
    pub statuses: [&'static str; 8],
}

const ENGLISH: Labels = Labels {
    months: [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ],
    formula: "The Plenary Assembly,",
    sponsored_by: "Sponsored by",
    version: "Version",
    live_text: "current text",
    page: "Page {n} of {m}",
    resolution: "Resolution",
    adopted_resolutions: "Adopted resolutions",
    compilation: "Compilation of amendments",
    columns: ["No.", "Paragraph", "Amendment", "Proposed by", "Decision"],
    rationale: "Rationale",
    supported_by: "Supported by",
    no_amendments: "No amendments have been proposed.",
    no_resolutions: "No resolution has been adopted yet.",
    tally: "{yes} in favour, {no} against, {abstain} abstentions",
    parts: ["Title", "Preamble", "Operative"],
    phases: [
        "Draft",
        "Tabled",
        "Put to the vote",
        "Adopted",
        "Rejected",
        "Withdrawn",
    ],
    statuses: [
        "Proposed",
        "Tabled",
        "Being voted on",
        "Accepted by the sponsors",
        "Adopted",
        "Rejected",
        "Withdrawn",
        "Fallen",
    ],
};

const SPANISH: Labels = Labels {
    months: [
        "enero",
        "febrero",
        "marzo",
        "abril",
        "mayo",
        "junio",
        "julio",
        "agosto",
        "septiembre",
        "octubre",
        "noviembre",
        "diciembre",
    ],
    formula: "La Asamblea Plenaria,",
    sponsored_by: "Patrocinado por",
    version: "Versión",
    live_text: "texto vigente",
    page: "Página {n} de {m}",
    resolution: "Resolución",
    adopted_resolutions: "Resoluciones aprobadas",
    compilation: "Compilación de enmiendas",
    columns: ["N.º", "Párrafo", "Enmienda", "Propuesta por", "Decisión"],
    rationale: "Justificación",
    supported_by: "Con el apoyo de",
    no_amendments: "No se han propuesto enmiendas.",
    no_resolutions: "Todavía no se ha aprobado ninguna resolución.",
    tally: "{yes} a favor, {no} en contra, {abstain} abstenciones",
    parts: ["Título", "Preámbulo", "Parte dispositiva"],
    phases: [
        "Proyecto",
        "Presentado",
        "Sometido a votación",
        "Aprobado",
        "Rechazado",
        "Retirado",
    ],
    statuses: [
        "Propuesta",
        "Presentada",
        "En votación",
        "Aceptada por los patrocinadores",
        "Aprobada",
        "Rechazada",
        "Retirada",
        "Decaída",
    ],
};

const FRENCH: Labels = Labels {
    months: [
        "janvier",
        "février",
        "mars",
        "avril",
        "mai",
        "juin",
        "juillet",
        "août",
        "septembre",
        "octobre",
        "novembre",
        "décembre",
    ],
    formula: "L’Assemblée plénière,",
    sponsored_by: "Présenté par",
    version: "Version",
    live_text: "texte en cours",
    page: "Page {n} sur {m}",
    resolution: "Résolution",
    adopted_resolutions: "Résolutions adoptées",
    compilation: "Compilation des amendements",
    columns: ["N°", "Paragraphe", "Amendement", "Présenté par", "Décision"],
    rationale: "Justification",
    supported_by: "Appuyé par",
    no_amendments: "Aucun amendement n’a été proposé.",
    no_resolutions: "Aucune résolution n’a encore été adoptée.",
    tally: "{yes} pour, {no} contre, {abstain} abstentions",
    parts: ["Titre", "Préambule", "Dispositif"],
    phases: [
        "Projet",
        "Déposé",
        "Mis aux voix",
        "Adopté",
        "Rejeté",
        "Retiré",
    ],
    statuses: [
        "Proposé",
        "Déposé",
        "Aux voix",
        "Accepté par les auteurs",
        "Adopté",
        "Rejeté",
        "Retiré",
        "Devenu sans objet",
    ],
};

const PORTUGUESE: Labels = Labels {
    months: [
        "janeiro",
        "fevereiro",
        "março",
        "abril",
        "maio",
        "junho",
        "julho",
        "agosto",
        "setembro",
        "outubro",
        "novembro",
        "dezembro",
    ],
    formula: "A Assembleia Plenária,",
    sponsored_by: "Patrocinado por",
    version: "Versão",
    live_text: "texto atual",
    page: "Página {n} de {m}",
    resolution: "Resolução",
    adopted_resolutions: "Resoluções aprovadas",
    compilation: "Compilação de emendas",
    columns: ["N.º", "Parágrafo", "Emenda", "Proposta por", "Decisão"],
    rationale: "Justificação",
    supported_by: "Com o apoio de",
    no_amendments: "Nenhuma emenda foi proposta.",
    no_resolutions: "Nenhuma resolução foi aprovada ainda.",
    tally: "{yes} a favor, {no} contra, {abstain} abstenções",
    parts: ["Título", "Preâmbulo", "Parte operativa"],
    phases: [
        "Projeto",
        "Apresentado",
        "Em votação",
        "Aprovado",
        "Rejeitado",
        "Retirado",
    ],
    statuses: [
        "Proposta",
        "Apresentada",
        "Em votação",
        "Aceita pelos patrocinadores",
        "Aprovada",
        "Rejeitada",
        "Retirada",
        "Prejudicada",
    ],
};

/// The labels of `language`.
pub fn labels(language: Language) -> &'static Labels {
    match language {
        Language::En => &ENGLISH,
        Language::Es => &SPANISH,
        Language::Fr => &FRENCH,
        Language::Pt => &PORTUGUESE,
    }
}

impl Labels {
    /// A phase, in words.
    pub fn phase(&self, phase: Phase) -> &'static str {
        self.phases[match phase {
            Phase::Drafting => 0,
            Phase::Tabled => 1,
            Phase::Voting => 2,
            Phase::Adopted => 3,
            Phase::Rejected => 4,
            Phase::Withdrawn => 5,
        }]
    }

    /// An amendment's status, in words.
    pub fn status(&self, status: Status) -> &'static str {
        self.statuses[match status {
            Status::Proposed => 0,
            Status::Tabled => 1,
            Status::Voting => 2,
            Status::Accepted => 3,
            Status::Adopted => 4,
            Status::Rejected => 5,
            Status::Withdrawn => 6,
            Status::Fallen => 7,
        }]
    }

    /// "Page 2 of 5".
    pub fn page_of(&self, page: usize, pages: usize) -> String {
        self.page
            .replace("{n}", &page.to_string())
            .replace("{m}", &pages.to_string())
    }

    /// "14 in favour, 3 against, 1 abstentions".
    pub fn votes(&self, yes: u32, no: u32, abstain: u32) -> String {
        self.tally
            .replace("{yes}", &yes.to_string())
            .replace("{no}", &no.to_string())
            .replace("{abstain}", &abstain.to_string())
    }
}

/// One paragraph of a resolution as every format prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paragraph {
    /// The block's stable id (kept through moves and renumbering).
    pub id: String,
    /// Its kind.
    pub kind: BlockKind,
    /// 1 or 2 for a sub-paragraph; 0 otherwise.
    pub level: u8,
    /// "3.", "(b)", "(ii)", or none.
    pub number: Option<String>,
    /// The Akoma Ntoso id that follows its place: `recs__rec_2`, `para_3`,
    /// `para_3__point_b__point_ii`, `hcontainer_1`.
    pub eid: String,
    /// Its text, in runs; the opening words italic.
    pub inlines: Vec<Inline>,
}

impl Paragraph {
    /// The text without marks.
    pub fn text(&self) -> String {
        self.inlines
            .iter()
            .map(|inline| inline.text.as_str())
            .collect()
    }
}

/// The meeting a resolution belongs to, as its heading prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingHeading {
    /// The meeting's id.
    pub id: String,
    /// Its title.
    pub title: String,
    /// City and country.
    pub place: Option<String>,
    /// Its first day.
    pub starts_on: Option<Date>,
    /// Its last day.
    pub ends_on: Option<Date>,
}

impl MeetingHeading {
    /// "Bogotá, 8 September 2025": the place and first day, when known.
    pub fn place_line(&self, language: Language) -> Option<String> {
        let parts: Vec<String> = self
            .place
            .iter()
            .cloned()
            .chain(self.starts_on.map(|day| day.long(language)))
            .collect();
        (!parts.is_empty()).then(|| parts.join(", "))
    }

    /// "7th Annual Meeting, Bogotá, 8 September 2025" (the place and first day when known).
    pub fn line(&self, language: Language) -> String {
        let mut line = self.title.clone();
        if let Some(place) = &self.place {
            line.push_str(", ");
            line.push_str(place);
        }
        if let Some(day) = self.starts_on {
            line.push_str(", ");
            line.push_str(&day.long(language));
        }
        line
    }
}

/// Which text of a resolution is exported.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VersionLabel {
    /// The version's number (1, 2, …); none for the live text.
    pub number: Option<i64>,
    /// Its name ("Adopted", "Draft 2 as circulated").
    pub name: Option<String>,
}

impl VersionLabel {
    /// "Version 3 (Adopted)", "Versión: texto vigente".
    pub fn line(&self, language: Language) -> String {
        let labels = labels(language);
        match (self.number, &self.name) {
            (Some(number), Some(name)) => format!("{} {number} ({name})", labels.version),
            (Some(number), None) => format!("{} {number}", labels.version),
            _ => format!("{}: {}", labels.version, labels.live_text),
        }
    }
}

/// A resolution, read and numbered, with everything its heading prints.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolutionText {
    /// The resolution's id.
    pub id: String,
    /// The meeting.
    pub meeting: MeetingHeading,
    /// The title.
    pub title: String,
    /// The sponsoring delegations' names.
    pub sponsors: Vec<String>,
    /// Its phase.
    pub phase: Phase,
    /// The day of the text: the version's, or today's for the live text.
    pub date: Date,
    /// The day the resolution was created (the date of the work in Akoma Ntoso).
    pub created: Date,
    /// Which text.
    pub version: VersionLabel,
    /// The language of the labels (and, for Akoma Ntoso, of the expression).
    pub language: Language,
    /// The body.
    pub paragraphs: Vec<Paragraph>,
}

/// What a resolution's heading needs besides its body.
#[derive(Debug, Clone)]
pub struct Heading {
    /// The resolution's id.
    pub id: String,
    /// The meeting.
    pub meeting: MeetingHeading,
    /// The title.
    pub title: String,
    /// The sponsors' names.
    pub sponsors: Vec<String>,
    /// Its phase.
    pub phase: Phase,
    /// The day of the text.
    pub date: Date,
    /// The day it was created.
    pub created: Date,
    /// Which text.
    pub version: VersionLabel,
    /// The labels' language.
    pub language: Language,
}

impl ResolutionText {
    /// Numbers the body read from the document (the reading comparison uses
    /// too) and gives each paragraph its Akoma Ntoso id.
    pub fn new(heading: Heading, blocks: &[Block]) -> ResolutionText {
        let numbers = document::numbers(blocks);
        let mut recital = 0;
        let mut heading_count = 0;
        // The eId of the paragraph (or recital) sub-paragraphs hang from, and
        // of the last level-1 sub-paragraph (level 2 hangs from it).
        let mut parent: Option<String> = None;
        let mut point: Option<String> = None;
        let mut orphan = 0;
        let paragraphs = blocks
            .iter()
            .zip(numbers)
            .map(|(block, number)| {
                let bare = number
                    .as_deref()
                    .unwrap_or_default()
                    .trim_matches(|c| c == '(' || c == ')' || c == '.')
                    .to_owned();
                let eid = match block.kind {
                    BlockKind::Preamble => {
                        recital += 1;
                        let eid = format!("recs__rec_{recital}");
                        parent = Some(eid.clone());
                        point = None;
                        eid
                    }
                    BlockKind::Operative => {
                        let eid = format!("para_{bare}");
                        parent = Some(eid.clone());
                        point = None;
                        eid
                    }
                    BlockKind::Heading => {
                        heading_count += 1;
                        format!("hcontainer_{heading_count}")
                    }
                    BlockKind::Subparagraph => {
                        let base = match (block.level, &point, &parent) {
                            (2, Some(point), _) => point.clone(),
                            (_, _, Some(parent)) => parent.clone(),
                            _ => {
                                orphan += 1;
                                format!("point_{orphan}")
                            }
                        };
                        let eid = format!("{base}__point_{bare}");
                        if block.level < 2 {
                            point = Some(eid.clone());
                        }
                        eid
                    }
                };
                Paragraph {
                    id: block.id.clone(),
                    kind: block.kind,
                    level: block.level,
                    number,
                    eid,
                    inlines: with_opener(block),
                }
            })
            .collect();
        ResolutionText {
            id: heading.id,
            meeting: heading.meeting,
            title: heading.title,
            sponsors: heading.sponsors,
            phase: heading.phase,
            date: heading.date,
            created: heading.created,
            version: heading.version,
            language: heading.language,
            paragraphs,
        }
    }

    /// The labels in this text's language.
    pub fn labels(&self) -> &'static Labels {
        labels(self.language)
    }

    /// "Sponsored by Mexico, Peru and Chile" (joined in the language).
    pub fn sponsors_line(&self) -> Option<String> {
        if self.sponsors.is_empty() {
            return None;
        }
        Some(format!(
            "{}: {}",
            self.labels().sponsored_by,
            join_names(&self.sponsors, self.language)
        ))
    }

    /// "Adopted · 10 September 2025 · Version 3 (Adopted)".
    pub fn status_line(&self) -> String {
        format!(
            "{} · {} · {}",
            self.labels().phase(self.phase),
            self.date.long(self.language),
            self.version.line(self.language)
        )
    }

    /// The base of a file name: the title, then the version.
    pub fn file_stem(&self) -> String {
        match self.version.number {
            Some(number) => format!("{} v{number}", self.title),
            None => self.title.clone(),
        }
    }
}

/// "A, B and C" in the language.
pub fn join_names(names: &[String], language: Language) -> String {
    let and = match language {
        Language::En => "and",
        Language::Es => "y",
        Language::Fr => "et",
        Language::Pt => "e",
    };
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} {and} {last}", init.join(", ")),
    }
}

/// A block's runs, with its opening word in italics when the writer marked
/// none: by convention every preambular and operative paragraph opens with
/// italic words (*Recalling*, *Urges*), and a text typed without marks
/// should still print as a resolution does.
fn with_opener(block: &Block) -> Vec<Inline> {
    let mut inlines: Vec<Inline> = block.inlines.clone();
    if !matches!(block.kind, BlockKind::Preamble | BlockKind::Operative)
        || inlines.iter().any(|inline| inline.italic)
    {
        return inlines;
    }
    let Some(first) = inlines.first_mut() else {
        return inlines;
    };
    let text = first.text.clone();
    let leading = text.len() - text.trim_start().len();
    let word_end = text[leading..]
        .find(|c: char| !c.is_alphanumeric() && c != '-' && c != '’' && c != '\'')
        .map_or(text.len(), |end| leading + end);
    if word_end == leading {
        return inlines;
    }
    let (head, tail) = text.split_at(word_end);
    let opener = Inline {
        text: head.to_owned(),
        italic: true,
        bold: first.bold,
    };
    let rest = Inline {
        text: tail.to_owned(),
        italic: false,
        bold: first.bold,
    };
    inlines.remove(0);
    if !rest.text.is_empty() {
        inlines.insert(0, rest);
    }
    inlines.insert(0, opener);
    inlines
}

/// One amendment in the compilation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompiledAmendment {
    /// Its number, in text order.
    pub number: usize,
    /// The paragraph it amends, as the compilation names it ("Operative 3 (b)").
    pub paragraph: String,
    /// Its formal wording in the compilation's language.
    pub wording: String,
    /// The proposing delegation.
    pub proposed_by: String,
    /// Delegations that support it.
    pub supporters: Vec<String>,
    /// Where it stands.
    pub status: Status,
    /// Votes, when it was put to the vote.
    pub tally: Option<(u32, u32, u32)>,
    /// Why, as its author wrote.
    pub rationale: Option<String>,
}

/// The compilation of the amendments to a resolution, in text order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compilation {
    /// The resolution (its heading; its body is not printed).
    pub resolution: ResolutionText,
    /// The amendments.
    pub amendments: Vec<CompiledAmendment>,
}

impl Compilation {
    /// "Compilation of amendments — Trafficking in persons".
    pub fn title(&self) -> String {
        format!(
            "{} — {}",
            self.resolution.labels().compilation,
            self.resolution.title
        )
    }

    /// The decision column: status, then the votes.
    pub fn decision(&self, amendment: &CompiledAmendment) -> String {
        let labels = self.resolution.labels();
        match amendment.tally {
            Some((yes, no, abstain)) => format!(
                "{} ({})",
                labels.status(amendment.status),
                labels.votes(yes, no, abstain)
            ),
            None => labels.status(amendment.status).to_owned(),
        }
    }
}

/// A meeting's adopted resolutions, together.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingCollection {
    /// The meeting.
    pub meeting: MeetingHeading,
    /// The labels' language.
    pub language: Language,
    /// Its adopted resolutions, in order of creation.
    pub resolutions: Vec<ResolutionText>,
}

/// What is exported.
#[derive(Debug, Clone)]
pub enum Export {
    /// One resolution.
    Resolution(Box<ResolutionText>),
    /// The compilation of the amendments to a resolution.
    Amendments(Box<Compilation>),
    /// A meeting's adopted resolutions.
    Meeting(Box<MeetingCollection>),
}

/// A rendered file.
#[derive(Debug, Clone)]
pub struct Rendered {
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Its format.
    pub format: Format,
    /// Its file name (UTF-8, may hold accents).
    pub file_name: String,
}

/// Renders `export` in `format`. CPU work: call it on a blocking thread.
pub fn render(export: &Export, format: Format) -> Result<Rendered, ExportError> {
    let (bytes, stem) = match export {
        Export::Resolution(text) => (render_resolution(text, format)?, text.file_stem()),
        Export::Amendments(compilation) => (
            collection::render_compilation(compilation, format)?,
            compilation.title(),
        ),
        Export::Meeting(meeting) => (
            collection::render_meeting(meeting, format)?,
            format!(
                "{} — {}",
                meeting.meeting.title,
                labels(meeting.language).adopted_resolutions
            ),
        ),
    };
    Ok(Rendered {
        bytes,
        format,
        file_name: format!("{}.{}", file_safe(&stem), format.extension()),
    })
}

/// One resolution in one format.
pub fn render_resolution(text: &ResolutionText, format: Format) -> Result<Vec<u8>, ExportError> {
    match format {
        Format::Md => Ok(markdown::resolution(text).into_bytes()),
        Format::Txt => Ok(text::resolution(text).into_bytes()),
        Format::Html => {
            Ok(html::page(&text.title, text.language, &html::resolution(text, false)).into_bytes())
        }
        Format::Pdf => pdf::render(&pdf::resolution_blocks(text), text.language, &text.title),
        Format::Docx => docx::render(std::slice::from_ref(text), None),
        Format::Akn => Ok(akn::resolution(text).into_bytes()),
        Format::Zip => Err(ExportError::Unsupported(
            "zip is offered for a meeting's resolutions (GET /api/meetings/{id}/export?format=zip)"
                .into(),
        )),
    }
}

/// A file name without what file systems refuse (`/ \ : * ? " < > |`,
/// control characters), at most 120 characters.
pub fn file_safe(name: &str) -> String {
    let cleaned: String = name
        .chars()
        .map(|c| {
            if c.is_control() || "/\\:*?\"<>|".contains(c) {
                '_'
            } else {
                c
            }
        })
        .take(120)
        .collect();
    let trimmed = cleaned.trim().trim_matches('.').to_owned();
    if trimmed.is_empty() {
        "export".into()
    } else {
        trimmed
    }
}

/// The ASCII fallback of a file name for `Content-Disposition`'s
/// `filename=`: accents dropped (á → a, ç → c, ñ → n), anything else outside
/// printable ASCII, and quotes and backslashes, replaced by `_`.
pub fn ascii_file_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        let base = match c {
            'à'..='å' => 'a',
            'À'..='Å' => 'A',
            'ç' => 'c',
            'Ç' => 'C',
            'è'..='ë' => 'e',
            'È'..='Ë' => 'E',
            'ì'..='ï' => 'i',
            'Ì'..='Ï' => 'I',
            'ñ' => 'n',
            'Ñ' => 'N',
            'ò'..='ö' | 'ø' => 'o',
            'Ò'..='Ö' | 'Ø' => 'O',
            'ù'..='ü' => 'u',
            'Ù'..='Ü' => 'U',
            'ý' | 'ÿ' => 'y',
            'Ý' => 'Y',
            'œ' => {
                out.push_str("oe");
                continue;
            }
            'Œ' => {
                out.push_str("OE");
                continue;
            }
            'æ' => {
                out.push_str("ae");
                continue;
            }
            'ß' => {
                out.push_str("ss");
                continue;
            }
            '—' | '–' => '-',
            '’' | '‘' => '\'',
            c if c.is_ascii_graphic() && c != '"' && c != '\\' => c,
            ' ' => ' ',
            _ => '_',
        };
        out.push(base);
    }
    out
}

/// `attachment; filename="ascii"; filename*=UTF-8''percent-encoded` (RFC 6266).
pub fn content_disposition(file_name: &str) -> String {
    let mut encoded = String::new();
    for byte in file_name.as_bytes() {
        match byte {
            b'A'..=b'Z'
            | b'a'..=b'z'
            | b'0'..=b'9'
            | b'!'
            | b'#'
            | b'$'
            | b'&'
            | b'+'
            | b'-'
            | b'.'
            | b'^'
            | b'_'
            | b'`'
            | b'|'
            | b'~' => encoded.push(*byte as char),
            other => encoded.push_str(&format!("%{other:02X}")),
        }
    }
    format!(
        "attachment; filename=\"{}\"; filename*=UTF-8''{encoded}",
        ascii_file_name(file_name)
    )
}

#[cfg(test)]
pub(crate) mod tests;
