//! Unit tests of the renderers: golden files for Markdown, text, HTML and
//! Akoma Ntoso (tests/golden/export; regenerate with
//! `PLENARY_BLESS=1 cargo test --lib export`), Akoma Ntoso validated with
//! xmllint against the OASIS schema, the PDF read back with pdftotext and
//! the DOCX with pandoc (each check says loudly when its tool is missing).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::*;
use crate::amendments::Language;
use crate::document::{Block, BlockKind, Inline};

fn block(kind: BlockKind, id: &str, inlines: Vec<Inline>) -> Block {
    Block {
        id: id.into(),
        kind,
        level: 0,
        inlines,
        problems: vec![],
    }
}

fn sub(level: u8, id: &str, text: &str) -> Block {
    Block {
        id: id.into(),
        kind: BlockKind::Subparagraph,
        level,
        inlines: vec![Inline::plain(text)],
        problems: vec![],
    }
}

fn opened(kind: BlockKind, id: &str, opener: &str, rest: &str) -> Block {
    block(kind, id, vec![Inline::italic(opener), Inline::plain(rest)])
}

/// A Spanish resolution with every kind of block, as delegates write one.
pub(crate) fn spanish_blocks() -> Vec<Block> {
    vec![
        opened(
            BlockKind::Preamble,
            "pPre000001",
            "Recordando",
            " el Protocolo de Palermo para prevenir, reprimir y sancionar la trata de personas, especialmente mujeres y niñas,",
        ),
        opened(
            BlockKind::Preamble,
            "pPre000002",
            "Profundamente preocupada",
            " por el uso de plataformas digitales por las redes de trata, que explotan la vulnerabilidad económica de las víctimas,",
        ),
        // Typed without marks: the opener is set in italics all the same.
        block(
            BlockKind::Preamble,
            "pPre000003",
            vec![Inline::plain(
                "Reconociendo la labor de los parlamentos en la armonización legislativa & la cooperación <regional>,",
            )],
        ),
        opened(
            BlockKind::Operative,
            "pOpe000001",
            "Exhorta",
            " a los parlamentos miembros a que revisen y armonicen su legislación nacional;",
        ),
        opened(
            BlockKind::Operative,
            "pOpe000002",
            "Insta",
            " a los parlamentos miembros:",
        ),
        sub(
            1,
            "pSub000001",
            "a asignar presupuestos para la protección de las víctimas;",
        ),
        sub(1, "pSub000002", "a fortalecer la supervisión, incluyendo:"),
        sub(
            2,
            "pSub000003",
            "audiencias anuales con las autoridades competentes;",
        ),
        sub(
            2,
            "pSub000004",
            "informes públicos sobre la aplicación de la ley;",
        ),
        opened(
            BlockKind::Operative,
            "pOpe000003",
            "Decide",
            " seguir ocupándose de la cuestión.",
        ),
    ]
}

pub(crate) fn heading(language: Language) -> Heading {
    Heading {
        id: "res7ABC".into(),
        meeting: MeetingHeading {
            id: "mtg7".into(),
            title: "7.ª Reunión Anual de la Red de Mujeres Parlamentarias de las Américas".into(),
            place: Some("Bogotá, Colombia".into()),
            starts_on: Date::parse("2025-09-08"),
            ends_on: Date::parse("2025-09-10"),
        },
        title: "Trata de personas en las Américas".into(),
        sponsors: vec!["México".into(), "Perú".into(), "Canadá".into()],
        phase: crate::resolutions::Phase::Adopted,
        date: Date {
            year: 2025,
            month: 9,
            day: 10,
        },
        created: Date {
            year: 2025,
            month: 6,
            day: 2,
        },
        version: VersionLabel {
            number: Some(3),
            name: Some("Aprobada".into()),
        },
        language,
    }
}

pub(crate) fn spanish() -> ResolutionText {
    ResolutionText::new(heading(Language::Es), &spanish_blocks())
}

/// A long resolution: `n` operative paragraphs with sub-paragraphs.
pub(crate) fn long(n: usize) -> ResolutionText {
    let mut blocks = spanish_blocks();
    for index in 0..n {
        blocks.push(opened(
            BlockKind::Operative,
            &format!("pLong{index:05}"),
            "Alienta",
            " a los parlamentos a intercambiar buenas prácticas sobre la identificación temprana de víctimas, la cooperación judicial y la protección de testigos en procesos penales;",
        ));
        if index % 3 == 0 {
            blocks.push(sub(
                1,
                &format!("pLongA{index:04}"),
                "mediante audiencias públicas y la participación de la sociedad civil;",
            ));
            blocks.push(sub(
                2,
                &format!("pLongB{index:04}"),
                "con intérpretes en los cuatro idiomas de la Red;",
            ));
        }
    }
    ResolutionText::new(heading(Language::Es), &blocks)
}

fn compilation() -> Compilation {
    Compilation {
        resolution: spanish(),
        amendments: vec![
            CompiledAmendment {
                number: 1,
                paragraph: "Preámbulo 2".into(),
                wording: "En el párrafo 2 del preámbulo, suprímanse las palabras «económica»."
                    .into(),
                proposed_by: "Perú".into(),
                supporters: vec![],
                status: crate::amendments::Status::Rejected,
                tally: Some((3, 9, 1)),
                rationale: None,
            },
            CompiledAmendment {
                number: 2,
                paragraph: "Parte dispositiva 1".into(),
                wording: "En el párrafo 1 de la parte dispositiva, después de las palabras «legislación nacional», insértese «y los acuerdos regionales».".into(),
                proposed_by: "Canadá".into(),
                supporters: vec!["México".into()],
                status: crate::amendments::Status::Adopted,
                tally: Some((11, 2, 0)),
                rationale: Some("La cooperación regional es indispensable.".into()),
            },
        ],
    }
}

fn golden_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/export")
}

/// Compares with the golden file, or rewrites it under `PLENARY_BLESS=1`.
fn golden(name: &str, actual: &str) {
    let path = golden_dir().join(name);
    if std::env::var_os("PLENARY_BLESS").is_some() {
        std::fs::create_dir_all(golden_dir()).expect("create tests/golden/export");
        std::fs::write(&path, actual).expect("write the golden file");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|error| {
        panic!(
            "{}: {error}; create it with PLENARY_BLESS=1 cargo test --lib export",
            path.display()
        )
    });
    assert!(
        actual == expected,
        "{name} differs from {}; if the change is intended, regenerate with PLENARY_BLESS=1 cargo test --lib export\n--- actual ---\n{actual}",
        path.display()
    );
}

/// Whether a command-line tool is installed; says loudly when it is not.
pub(crate) fn tool(name: &str, check: &str) -> bool {
    let found = Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success() || !output.stderr.is_empty());
    if !found {
        eprintln!(
            "\n*** {check} NOT CHECKED: {name} is not installed (apt-get install {}) ***\n",
            match name {
                "xmllint" => "libxml2-utils",
                "pdftotext" | "pdftoppm" => "poppler-utils",
                other => other,
            }
        );
    }
    found
}

/// Validates an Akoma Ntoso document with xmllint against the OASIS schema
/// (tests/schemas/akn, a copy of ../shared/schemas).
pub(crate) fn validate_akn(xml: &str) {
    if !tool("xmllint", "Akoma Ntoso schema validation") {
        return;
    }
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas/akn/akomantoso30.xsd");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("export.akn.xml");
    std::fs::write(&file, xml).expect("write the export");
    let output = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(&file)
        .output()
        .expect("run xmllint");
    assert!(
        output.status.success(),
        "the Akoma Ntoso export is not valid: {}\n{xml}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn pdf_text(pdf: &[u8]) -> Option<String> {
    if !tool("pdftotext", "PDF text") {
        return None;
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("export.pdf");
    std::fs::write(&file, pdf).expect("write the PDF");
    let output = Command::new("pdftotext")
        .arg("-layout")
        .arg(&file)
        .arg("-")
        .output()
        .expect("run pdftotext");
    assert!(output.status.success(), "pdftotext reads the PDF");
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

fn docx_text(docx: &[u8]) -> Option<String> {
    if !tool("pandoc", "DOCX read-back") {
        return None;
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("export.docx");
    std::fs::write(&file, docx).expect("write the DOCX");
    let output = Command::new("pandoc")
        .arg(&file)
        .args(["-t", "plain", "--wrap=none"])
        .output()
        .expect("run pandoc");
    assert!(
        output.status.success(),
        "pandoc reads the DOCX: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// Each needle appears, in this order.
#[track_caller]
pub(crate) fn assert_in_order(haystack: &str, needles: &[&str]) {
    let flat = haystack.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut from = 0;
    for needle in needles {
        match flat[from..].find(needle) {
            Some(at) => from += at + needle.len(),
            None => panic!("{needle:?} missing or out of order in:\n{flat}"),
        }
    }
}

#[test]
fn numbers_and_ids_follow_the_body() {
    let text = spanish();
    let numbers: Vec<&str> = text
        .paragraphs
        .iter()
        .map(|p| p.number.as_deref().unwrap_or(""))
        .collect();
    assert_eq!(
        numbers,
        ["", "", "", "1.", "2.", "(a)", "(b)", "(i)", "(ii)", "3."]
    );
    let eids: Vec<&str> = text.paragraphs.iter().map(|p| p.eid.as_str()).collect();
    assert_eq!(
        eids,
        [
            "recs__rec_1",
            "recs__rec_2",
            "recs__rec_3",
            "para_1",
            "para_2",
            "para_2__point_a",
            "para_2__point_b",
            "para_2__point_b__point_i",
            "para_2__point_b__point_ii",
            "para_3"
        ]
    );
    // The unmarked opener is italic; the rest of its text is not.
    assert_eq!(
        text.paragraphs[2].inlines[0],
        Inline::italic("Reconociendo")
    );
    assert!(!text.paragraphs[2].inlines[1].italic);
    assert_eq!(
        text.status_line(),
        "Aprobado · 10 de septiembre de 2025 · Versión 3 (Aprobada)"
    );
}

#[test]
fn markdown_golden() {
    golden("resolution-es.md", &markdown::resolution(&spanish()));
    golden("amendments-es.md", &markdown::compilation(&compilation()));
}

#[test]
fn text_golden() {
    golden("resolution-es.txt", &text::resolution(&spanish()));
    golden("amendments-es.txt", &text::compilation(&compilation()));
}

#[test]
fn html_golden() {
    let text = spanish();
    golden(
        "resolution-es.html",
        &html::page(&text.title, text.language, &html::resolution(&text, false)),
    );
    golden("amendments-es.html", &html::compilation(&compilation()));
}

#[test]
fn akoma_ntoso_golden_and_valid() {
    let xml = akn::resolution(&spanish());
    golden("resolution-es.akn.xml", &xml);
    validate_akn(&xml);
    assert!(xml.contains("<FRBRlanguage language=\"spa\"/>"));
    assert!(xml.contains("<docProponent refersTo=\"#sponsor_1\">México</docProponent>"));
    assert!(xml.contains("eId=\"para_2__point_b__point_ii\""));
}

#[test]
fn akoma_ntoso_of_odd_bodies_is_valid() {
    // Empty; a heading in the preamble; sub-paragraphs under a recital; a
    // preambular paragraph among the operative ones; an orphan sub-paragraph;
    // the live text (no version).
    let mut live = heading(Language::En);
    live.version = VersionLabel {
        number: None,
        name: None,
    };
    validate_akn(&akn::resolution(&ResolutionText::new(live.clone(), &[])));
    let odd = vec![
        sub(1, "pOrphan001", "an orphan"),
        block(
            BlockKind::Heading,
            "pHead00001",
            vec![Inline::plain("I. General")],
        ),
        opened(
            BlockKind::Preamble,
            "pPre000001",
            "Recalling",
            " its resolutions:",
        ),
        sub(1, "pSub000001", "on trafficking;"),
        sub(2, "pSub000002", "in particular of girls;"),
        opened(BlockKind::Operative, "pOpe000001", "Urges", " action;"),
        block(
            BlockKind::Heading,
            "pHead00002",
            vec![Inline::plain("II. Follow-up")],
        ),
        opened(BlockKind::Preamble, "pPre000002", "Noting", " the report,"),
        opened(
            BlockKind::Operative,
            "pOpe000002",
            "Decides",
            " to act & <report>.",
        ),
    ];
    let xml = akn::resolution(&ResolutionText::new(live, &odd));
    validate_akn(&xml);
}

#[test]
fn pdf_reads_back_with_accents_in_order() {
    let text = spanish();
    let pdf = render_resolution(&text, Format::Pdf).expect("renders");
    assert!(pdf.starts_with(b"%PDF-"));
    // PLENARY_EXPORT_DUMP=DIR keeps the files, to look at them.
    if let Some(dir) = std::env::var_os("PLENARY_EXPORT_DUMP") {
        let dir = PathBuf::from(dir);
        std::fs::write(dir.join("resolution-es.pdf"), &pdf).expect("dump");
        let long = render_resolution(&long(100), Format::Pdf).expect("renders");
        std::fs::write(dir.join("long-es.pdf"), &long).expect("dump");
        let docx = render_resolution(&text, Format::Docx).expect("renders");
        std::fs::write(dir.join("resolution-es.docx"), &docx).expect("dump");
    }
    let Some(read) = pdf_text(&pdf) else { return };
    assert_in_order(
        &read,
        &[
            "7.ª Reunión Anual",
            "Trata de personas en las Américas",
            "Patrocinado por: México, Perú y Canadá",
            "Aprobado",
            "La Asamblea Plenaria,",
            "Recordando el Protocolo de Palermo",
            "Profundamente preocupada",
            "económica de las víctimas,",
            "1. Exhorta",
            "2. Insta",
            "(a) a asignar presupuestos para la protección",
            "(b) a fortalecer la supervisión",
            "(i) audiencias anuales",
            "(ii) informes públicos",
            "3. Decide seguir ocupándose de la cuestión.",
            "Página 1 de 1",
        ],
    );
}

#[test]
fn a_long_pdf_has_numbered_pages() {
    let pdf = render_resolution(&long(100), Format::Pdf).expect("renders");
    let Some(read) = pdf_text(&pdf) else { return };
    let pages = read.matches("Página ").count();
    assert!(pages >= 5, "{pages} pages");
    assert_in_order(&read, &["Página 1 de", "103. Alienta", "Página"]);
    assert!(read.contains(&format!("Página {pages} de {pages}")));
}

#[test]
fn docx_reads_back_with_numbers_in_order() {
    let docx = render_resolution(&spanish(), Format::Docx).expect("renders");
    assert!(docx.starts_with(b"PK"));
    let Some(read) = docx_text(&docx) else { return };
    assert_in_order(
        &read,
        &[
            "Trata de personas en las Américas",
            "Patrocinado por: México, Perú y Canadá",
            "La Asamblea Plenaria,",
            "Recordando el Protocolo de Palermo",
            "1. Exhorta",
            "2. Insta",
            "a asignar presupuestos",
            "informes públicos",
            "3. Decide seguir ocupándose de la cuestión.",
        ],
    );
}

#[test]
fn docx_numbering_is_a_real_definition() {
    let docx = render_resolution(&spanish(), Format::Docx).expect("renders");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(docx)).expect("a zip");
    let mut read = |name: &str| {
        let mut file = archive.by_name(name).expect(name);
        let mut text = String::new();
        std::io::Read::read_to_string(&mut file, &mut text).expect("utf-8");
        text
    };
    let numbering = read("word/numbering.xml");
    for needle in [
        "w:val=\"decimal\"",
        "w:val=\"lowerLetter\"",
        "w:val=\"lowerRoman\"",
        "w:val=\"%1.\"",
        "w:val=\"(%2)\"",
        "w:val=\"(%3)\"",
    ] {
        assert!(numbering.contains(needle), "{needle} in {numbering}");
    }
    let styles = read("word/styles.xml");
    for style in [
        "Preambular",
        "Operative",
        "Subparagraph1",
        "Subparagraph2",
        "Title",
    ] {
        assert!(
            styles.contains(&format!("w:styleId=\"{style}\"")),
            "{style}"
        );
    }
    let document = read("word/document.xml");
    assert!(document.contains("w:numPr"));
    assert!(!document.contains(">1.<"), "numbers are Word's, not typed");
}

#[test]
fn compilation_in_every_format() {
    let compilation = compilation();
    let export = Export::Amendments(Box::new(compilation));
    for format in [
        Format::Md,
        Format::Txt,
        Format::Html,
        Format::Pdf,
        Format::Docx,
    ] {
        let rendered = render(&export, format).expect("renders");
        assert!(rendered.file_name.starts_with("Compilación de enmiendas"));
    }
    assert!(matches!(
        render(&export, Format::Akn),
        Err(ExportError::Unsupported(_))
    ));
    let pdf = render(&export, Format::Pdf).expect("renders").bytes;
    if let Some(dir) = std::env::var_os("PLENARY_EXPORT_DUMP") {
        std::fs::write(PathBuf::from(dir).join("amendments-es.pdf"), &pdf).expect("dump");
    }
    if let Some(read) = pdf_text(&pdf) {
        assert_in_order(
            &read,
            &[
                "Compilación de enmiendas",
                "N.º 1",
                "Preámbulo 2",
                "suprímanse las palabras «económica»",
                "Perú",
                "Rechazada (3 a favor, 9 en contra, 1 abstenciones)",
                "N.º 2",
                "Parte dispositiva 1",
                "Canadá",
                "Aprobada",
            ],
        );
    }
}

#[test]
fn meeting_collection_and_zip() {
    let mut second = spanish();
    second.id = "res8".into();
    second.title = "Protección de las víctimas".into();
    let collection = MeetingCollection {
        meeting: spanish().meeting,
        language: Language::Es,
        resolutions: vec![spanish(), second],
    };
    let export = Export::Meeting(Box::new(collection));
    let zip = render(&export, Format::Zip).expect("zip").bytes;
    let archive = zip::ZipArchive::new(std::io::Cursor::new(zip)).expect("a zip");
    let names: Vec<&str> = archive.file_names().collect();
    for name in [
        "01 Trata de personas en las Américas/01 Trata de personas en las Américas.pdf",
        "01 Trata de personas en las Américas/01 Trata de personas en las Américas.akn.xml",
        "02 Protección de las víctimas/02 Protección de las víctimas.docx",
    ] {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let pdf = render(&export, Format::Pdf).expect("pdf").bytes;
    if let Some(dir) = std::env::var_os("PLENARY_EXPORT_DUMP") {
        std::fs::write(PathBuf::from(dir).join("meeting-es.pdf"), &pdf).expect("dump");
    }
    if let Some(read) = pdf_text(&pdf) {
        assert_in_order(
            &read,
            &[
                "Resoluciones aprobadas",
                "1. Trata de personas",
                "2. Protección de las víctimas",
                "Trata de personas en las Américas",
                "3. Decide",
                "Protección de las víctimas",
                "3. Decide",
            ],
        );
    }
    let docx = render(&export, Format::Docx).expect("docx").bytes;
    if let Some(read) = docx_text(&docx) {
        assert_in_order(
            &read,
            &["Protección de las víctimas", "1. Exhorta", "3. Decide"],
        );
    }
    assert!(matches!(
        render(&export, Format::Akn),
        Err(ExportError::Unsupported(_))
    ));
}

#[test]
fn labels_in_four_languages() {
    for language in Language::ALL {
        let labels = labels(language);
        assert!(labels.page.contains("{n}") && labels.page.contains("{m}"));
        assert!(labels.formula.ends_with(','));
    }
    assert_eq!(
        Date::parse("2025-02-01")
            .expect("a date")
            .long(Language::Fr),
        "1 février 2025"
    );
    assert_eq!(
        Date::from_millis(1_757_462_400_000),
        Date {
            year: 2025,
            month: 9,
            day: 10
        }
    );
}

#[test]
fn file_names_for_content_disposition() {
    assert_eq!(
        content_disposition("Trata de personas v3.pdf"),
        "attachment; filename=\"Trata de personas v3.pdf\"; filename*=UTF-8''Trata%20de%20personas%20v3.pdf"
    );
    assert_eq!(
        ascii_file_name("Protección \"víctimas\" — Ñandú.docx"),
        "Proteccion _victimas_ - Nandu.docx"
    );
    assert_eq!(file_safe("a/b: c?"), "a_b_ c_");
    assert_eq!(Format::parse("PDF"), Some(Format::Pdf));
    assert_eq!(Format::parse("doc"), None);
}

/// Every letter and sign of Spanish, French and Portuguese texts.
const ACCENTS: &str =
    "áéíóúüñÁÉÍÓÚÜÑ¿¡ªº àâæçéèêëîïôœùûüÿÀÂÆÇÉÈÊËÎÏÔŒÙÛÜŸ ãõáâêôàçÃÕÂÊÔ «» “” ‘’ – — … · €";

#[test]
fn the_fonts_have_every_accent() {
    for (name, data) in [
        ("regular", pdf::REGULAR),
        ("italic", pdf::ITALIC),
        ("bold", pdf::BOLD),
    ] {
        let face = rustybuzz::Face::from_slice(data, 0).expect("a font");
        for c in ACCENTS.chars().filter(|c| !c.is_whitespace()) {
            assert!(face.glyph_index(c).is_some(), "{name} has no glyph for {c}");
        }
    }
}

#[test]
fn pdf_keeps_every_accent() {
    let mut text = spanish();
    text.language = Language::Fr;
    text.paragraphs[0].inlines = vec![
        Inline::italic("Rappelant"),
        Inline::plain(format!(" {ACCENTS},")),
    ];
    let pdf = render_resolution(&text, Format::Pdf).expect("renders");
    let Some(read) = pdf_text(&pdf) else { return };
    let flat = read.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains(ACCENTS), "{flat}");
    assert!(flat.contains("L’Assemblée plénière,"));
    assert!(flat.contains("Page 1 sur 1"));
}
