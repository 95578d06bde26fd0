//! Export: a Spanish resolution written live through the websocket, then
//! exported over HTTP in every format (live text and a recorded version),
//! on both databases; Akoma Ntoso validated with xmllint, the PDF read back
//! with pdftotext, the DOCX with pandoc; the compilation of amendments; the
//! meeting's zip; `plenary export` on the command line; the errors.

use std::io::Read;
use std::path::Path;
use std::process::Command;

use plenary::document::{BODY, Block, BlockKind, Inline};
use serde_json::{Value, json};
use yrs::WriteTxn;
use yrs::types::xml::XmlFragment;

use crate::support::{Api, Fixture, Server, TestDb, YrsClient};
use crate::test_both_dbs;

/// An HTTP answer as bytes, with the headers a download needs.
struct Download {
    status: u16,
    content_type: String,
    disposition: String,
    bytes: Vec<u8>,
}

impl Download {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }

    fn problem(&self) -> Value {
        assert_eq!(self.content_type, "application/problem+json");
        serde_json::from_slice(&self.bytes).expect("problem+json")
    }
}

async fn download(api: &Api, path: &str) -> Download {
    let response = api
        .client
        .get(format!("{}{path}", api.base))
        .bearer_auth(&api.token)
        .send()
        .await
        .unwrap_or_else(|error| panic!("{path}: {error}"));
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let status = response.status().as_u16();
    let content_type = header("content-type");
    let disposition = header("content-disposition");
    let bytes = response.bytes().await.expect("the body").to_vec();
    Download {
        status,
        content_type,
        disposition,
        bytes,
    }
}

/// Whether a tool is installed; loudly says when a check is skipped.
fn tool(name: &str, check: &str) -> bool {
    let found = Command::new(name)
        .arg("--version")
        .output()
        .is_ok_and(|output| output.status.success() || !output.stderr.is_empty());
    if !found {
        eprintln!("\n*** {check} NOT CHECKED: {name} is not installed ***\n");
    }
    found
}

fn validate_akn(xml: &[u8]) {
    if !tool("xmllint", "Akoma Ntoso schema validation") {
        return;
    }
    let schema = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/schemas/akn/akomantoso30.xsd");
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join("export.akn.xml");
    std::fs::write(&file, xml).expect("write");
    let output = Command::new("xmllint")
        .arg("--noout")
        .arg("--schema")
        .arg(&schema)
        .arg(&file)
        .output()
        .expect("run xmllint");
    assert!(
        output.status.success(),
        "invalid Akoma Ntoso: {}\n{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(xml)
    );
}

/// The text of a file read back by a tool (`pdftotext FILE -` or
/// `pandoc FILE -t plain`), or None when the tool is missing.
fn read_back(bytes: &[u8], extension: &str) -> Option<String> {
    let (program, check) = match extension {
        "pdf" => ("pdftotext", "PDF read-back"),
        _ => ("pandoc", "DOCX read-back"),
    };
    if !tool(program, check) {
        return None;
    }
    let dir = tempfile::tempdir().expect("a temporary folder");
    let file = dir.path().join(format!("export.{extension}"));
    std::fs::write(&file, bytes).expect("write");
    let mut command = Command::new(program);
    if extension == "pdf" {
        command.arg("-layout").arg(&file).arg("-");
    } else {
        command.arg(&file).args(["-t", "plain", "--wrap=none"]);
    }
    let output = command.output().expect("run the reader");
    assert!(output.status.success(), "{program} reads the file");
    Some(String::from_utf8_lossy(&output.stdout).into_owned())
}

#[track_caller]
fn assert_in_order(haystack: &str, needles: &[&str]) {
    let flat = haystack.split_whitespace().collect::<Vec<_>>().join(" ");
    let mut from = 0;
    for needle in needles {
        match flat[from..].find(needle) {
            Some(at) => from += at + needle.len(),
            None => panic!("{needle:?} missing or out of order in:\n{flat}"),
        }
    }
}

fn spanish_body() -> Vec<Block> {
    let opened = |kind: BlockKind, opener: &str, rest: &str| {
        Block::new(kind, vec![Inline::italic(opener), Inline::plain(rest)])
    };
    vec![
        opened(
            BlockKind::Preamble,
            "Recordando",
            " el Protocolo de Palermo, especialmente en lo relativo a mujeres y niñas,",
        ),
        opened(
            BlockKind::Preamble,
            "Profundamente preocupada",
            " por la explotación económica de las víctimas,",
        ),
        opened(
            BlockKind::Operative,
            "Exhorta",
            " a los parlamentos a que armonicen su legislación nacional;",
        ),
        opened(BlockKind::Operative, "Insta", " a los parlamentos:"),
        Block::subparagraph(
            1,
            vec![Inline::plain("a asignar presupuestos a la protección;")],
        ),
        Block::subparagraph(
            1,
            vec![Inline::plain("a fortalecer la supervisión, incluyendo:")],
        ),
        Block::subparagraph(2, vec![Inline::plain("audiencias públicas anuales;")]),
        opened(
            BlockKind::Operative,
            "Decide",
            " seguir ocupándose de la cuestión.",
        ),
    ]
}

/// Replaces the whole body with `blocks` as one edit.
fn write_body(client: &YrsClient, blocks: &[Block]) {
    let blocks = blocks.to_vec();
    client.transact(move |txn| {
        let body = txn.get_or_insert_xml_fragment(BODY);
        let length = body.len(txn);
        body.remove_range(txn, 0, length);
        plenary::document::append_blocks(txn, &body, &blocks);
    });
}

async fn export_every_format(db: TestDb) {
    let server = Server::start(&db, &[]).await;
    let fixture = Fixture::new(&server).await;
    let admin = &fixture.admin;
    let meeting = &fixture.meeting;
    let (status, _) = admin
        .patch(
            &format!("/api/meetings/{meeting}"),
            json!({"languages": ["es", "en"], "place": "Bogotá, Colombia", "starts_on": "2025-09-08"}),
        )
        .await;
    assert_eq!(status, 200);
    let peru = admin
        .create(
            &format!("/api/meetings/{meeting}/delegations"),
            json!({"name": "Perú"}),
        )
        .await;
    let id = admin
        .create(
            &format!("/api/meetings/{meeting}/resolutions"),
            json!({"title": "Trata de personas en las Américas", "sponsors": [fixture.delegation, peru]}),
        )
        .await;
    // The sponsors come back in the order given, after a reordering too
    // (one of the two orders differs from the ids' own).
    let (status, read) = admin.get(&format!("/api/resolutions/{id}")).await;
    assert_eq!(status, 200);
    assert_eq!(
        read["resolution"]["sponsors"],
        json!([fixture.delegation, peru])
    );
    let (status, _) = admin
        .patch(
            &format!("/api/resolutions/{id}"),
            json!({"sponsors": [peru, fixture.delegation]}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, read) = admin.get(&format!("/api/resolutions/{id}")).await;
    assert_eq!(
        read["resolution"]["sponsors"],
        json!([peru, fixture.delegation])
    );
    let (status, _) = admin
        .patch(
            &format!("/api/resolutions/{id}"),
            json!({"sponsors": [fixture.delegation, peru]}),
        )
        .await;
    assert_eq!(status, 200);
    let observer = fixture.account(&server, "observer", None).await;

    // Written live, as the editor would, then recorded as version 1.
    let writer = YrsClient::connect(&server, &format!("{id}?token={}", admin.token)).await;
    let body = spanish_body();
    write_body(&writer, &body);
    writer
        .wait_for("the body", |c| c.mirror_body().len() == body.len())
        .await;
    let version = admin
        .create(
            &format!("/api/resolutions/{id}/versions"),
            json!({"name": "Borrador 1"}),
        )
        .await;
    // A live edit after the version.
    let mut edited = body.clone();
    edited[2].inlines[1].text =
        " a los parlamentos a que armonicen su legislación nacional y regional;".into();
    write_body(&writer, &edited);
    writer
        .wait_for("the edit", |c| {
            c.mirror_body()
                .get(2)
                .is_some_and(|b| b.text().contains("y regional"))
        })
        .await;

    // Every format of the live text; anyone who may read it may export it.
    let base = format!("/api/resolutions/{id}/export");
    for (format, content_type, extension) in [
        ("md", "text/markdown; charset=utf-8", "md"),
        ("txt", "text/plain; charset=utf-8", "txt"),
        ("html", "text/html; charset=utf-8", "html"),
        ("pdf", "application/pdf", "pdf"),
        (
            "docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            "docx",
        ),
        ("akn", "application/akn+xml", "akn.xml"),
    ] {
        let file = download(&observer, &format!("{base}?format={format}")).await;
        assert_eq!(file.status, 200, "{format}: {}", file.text());
        assert_eq!(file.content_type, content_type);
        assert_eq!(
            file.disposition,
            format!(
                "attachment; filename=\"Trata de personas en las Americas.{extension}\"; filename*=UTF-8''Trata%20de%20personas%20en%20las%20Am%C3%A9ricas.{extension}"
            )
        );
        let expected_live = [
            "Trata de personas en las Américas",
            "Patrocinado por: Mexico y Perú",
            "La Asamblea Plenaria,",
            "Recordando el Protocolo de Palermo",
            "Profundamente preocupada",
            "Exhorta a los parlamentos",
            "nacional y regional;",
            "Insta",
            "a asignar presupuestos",
            "a fortalecer la supervisión",
            "audiencias públicas anuales;",
            "Decide seguir ocupándose de la cuestión.",
        ];
        match format {
            "md" | "txt" => {
                // Markdown's marks aside, the same words in the same order.
                // (and the plain text's title in capitals).
                let text = file.text().replace(['*', '\\'], "").to_lowercase();
                let expected: Vec<String> =
                    expected_live.iter().map(|s| s.to_lowercase()).collect();
                let expected: Vec<&str> = expected.iter().map(String::as_str).collect();
                assert_in_order(&text, &expected);
                assert_in_order(&text, &["1.", "2.", "(a)", "(b)", "(i)", "3."]);
            }
            "html" => {
                let page = file.text();
                assert!(page.starts_with("<!DOCTYPE html>"));
                assert!(page.contains("<html lang=\"es\">"));
                assert!(page.contains("<em>Recordando</em>"));
                assert!(!page.contains("<script"), "self-contained, no script");
                assert!(!page.contains("http://") && !page.contains("https://"));
            }
            "akn" => {
                validate_akn(&file.bytes);
                let xml = file.text();
                assert!(xml.contains("<statement name=\"resolution\""));
                assert!(xml.contains("<FRBRlanguage language=\"spa\"/>"));
                assert!(xml.contains("<docProponent refersTo=\"#sponsor_2\">Perú</docProponent>"));
                assert!(xml.contains("<paragraph eId=\"para_2\""));
                assert!(xml.contains("<point eId=\"para_2__point_b__point_i\""));
                assert!(xml.contains("y regional;"));
            }
            "pdf" => {
                assert!(file.bytes.starts_with(b"%PDF-"));
                if let Some(text) = read_back(&file.bytes, "pdf") {
                    assert_in_order(&text, &expected_live);
                    assert_in_order(
                        &text,
                        &[
                            "1. Exhorta",
                            "2. Insta",
                            "(a) a asignar",
                            "(b) a fortalecer",
                            "(i) audiencias",
                            "3. Decide",
                            "Página 1 de 1",
                        ],
                    );
                }
            }
            "docx" => {
                if let Some(text) = read_back(&file.bytes, "docx") {
                    assert_in_order(&text, &expected_live[2..]);
                    assert_in_order(
                        &text,
                        &[
                            "1. Exhorta",
                            "2. Insta",
                            "a. a asignar",
                            "i. audiencias",
                            "3. Decide",
                        ],
                    );
                }
            }
            _ => unreachable!(),
        }
    }

    // A version, by number and by id: the text as it was then.
    for which in ["1".to_owned(), version.clone()] {
        let file = download(admin, &format!("{base}?format=txt&version={which}")).await;
        assert_eq!(file.status, 200);
        let text = file.text();
        assert!(text.contains("Versión 1 (Borrador 1)"), "{text}");
        assert!(text.contains("legislación nacional;"));
        assert!(!text.contains("y regional"));
    }
    let akn = download(admin, &format!("{base}?format=akn&version=1")).await;
    validate_akn(&akn.bytes);
    assert!(akn.text().contains("<FRBRversionNumber value=\"1\"/>"));
    // Labels in another language on request.
    let english = download(admin, &format!("{base}?format=md&lang=en")).await;
    assert!(english.text().contains("Sponsored by: Mexico and Perú"));
    assert!(english.text().contains("*The Plenary Assembly,*"));

    // Errors are problem+json.
    for (query, status) in [
        ("format=doc", 400),
        ("", 400),
        ("format=pdf&lang=de", 400),
        ("format=zip", 400),
        ("format=pdf&what=everything", 400),
        ("format=akn&what=amendments", 400),
        ("format=pdf&version=99", 404),
        ("format=pdf&version=nonsense", 404),
    ] {
        let file = download(admin, &format!("{base}?{query}")).await;
        assert_eq!(file.status, status, "{query}: {}", file.text());
        assert_eq!(file.problem()["status"], status);
    }
    let missing = download(admin, "/api/resolutions/nope/export?format=pdf").await;
    assert_eq!(missing.status, 404);
    let anonymous = reqwest::get(server.http_url(&format!("{base}?format=pdf")))
        .await
        .expect("request");
    assert_eq!(anonymous.status(), 401);

    // The compilation of amendments: tabled, then two amendments.
    let (status, _) = admin
        .post(
            &format!("/api/resolutions/{id}/phase"),
            json!({"phase": "tabled"}),
        )
        .await;
    assert_eq!(status, 200);
    let delegate = fixture
        .person(&server, "Rosa", "delegate", Some(&peru))
        .await;
    delegate
        .create(
            &format!("/api/resolutions/{id}/amendments"),
            json!({"paragraph": "operative 3", "action": "replace", "old_text": "seguir ocupándose", "new_text": "seguir ocupándose activamente", "rationale": "Para dar seguimiento."}),
        )
        .await;
    delegate
        .create(
            &format!("/api/resolutions/{id}/amendments"),
            json!({"paragraph": "preamble 2", "action": "delete", "old_text": "económica"}),
        )
        .await;
    let compiled = download(admin, &format!("{base}?format=md&what=amendments")).await;
    assert_eq!(compiled.status, 200, "{}", compiled.text());
    assert!(
        compiled
            .disposition
            .contains("Compilaci%C3%B3n%20de%20enmiendas")
    );
    assert_in_order(
        &compiled.text(),
        &[
            "Compilación de enmiendas",
            "N.º 1 — Preámbulo 2",
            "suprímanse las palabras «económica»",
            "Propuesta por: Perú",
            "Decisión: Propuesta",
            "N.º 2 — Parte dispositiva 3",
            "sustitúyanse las palabras «seguir ocupándose» por «seguir ocupándose activamente»",
            "Perú",
        ],
    );
    for format in ["pdf", "docx", "html", "txt"] {
        let file = download(admin, &format!("{base}?format={format}&what=amendments")).await;
        assert_eq!(file.status, 200, "{format}");
        if format == "pdf"
            && let Some(text) = read_back(&file.bytes, "pdf")
        {
            assert_in_order(
                &text,
                &[
                    "N.º 1",
                    "Preámbulo 2",
                    "«económica»",
                    "Perú",
                    "N.º 2",
                    "activamente",
                ],
            );
        }
    }

    // Adopted: the meeting's collection holds it (and only adopted ones).
    for phase in ["voting", "adopted"] {
        let (status, answer) = admin
            .post(
                &format!("/api/resolutions/{id}/phase"),
                json!({"phase": phase}),
            )
            .await;
        assert_eq!(status, 200, "{phase}: {answer}");
    }
    let zip = download(
        &observer,
        &format!("/api/meetings/{meeting}/export?format=zip"),
    )
    .await;
    assert_eq!(zip.status, 200, "{}", zip.text());
    assert_eq!(zip.content_type, "application/zip");
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(zip.bytes.clone())).expect("a zip");
    let names: Vec<String> = archive.file_names().map(str::to_owned).collect();
    assert_eq!(
        names.len(),
        7,
        "six formats of one resolution and the whole PDF: {names:?}"
    );
    let folder = "01 Trata de personas en las Américas";
    for extension in ["pdf", "docx", "html", "md", "txt", "akn.xml"] {
        assert!(
            names.contains(&format!("{folder}/{folder}.{extension}")),
            "{extension} in {names:?}"
        );
    }
    let mut xml = Vec::new();
    archive
        .by_name(&format!("{folder}/{folder}.akn.xml"))
        .expect("the akn file")
        .read_to_end(&mut xml)
        .expect("read");
    validate_akn(&xml);
    assert!(!String::from_utf8_lossy(&xml).contains("Trafficking in persons"));
    let pdf = download(admin, &format!("/api/meetings/{meeting}/export?format=pdf")).await;
    assert_eq!(pdf.content_type, "application/pdf");
    if let Some(text) = read_back(&pdf.bytes, "pdf") {
        assert_in_order(
            &text,
            &[
                "Resoluciones aprobadas",
                "1. Trata de personas",
                "Recordando",
                "3. Decide",
            ],
        );
        assert!(
            !text.contains("Trafficking in persons"),
            "only adopted ones"
        );
    }
    for format in ["docx", "html", "md", "txt"] {
        let file = download(
            admin,
            &format!("/api/meetings/{meeting}/export?format={format}"),
        )
        .await;
        assert_eq!(file.status, 200, "{format}");
    }
    let akn = download(admin, &format!("/api/meetings/{meeting}/export?format=akn")).await;
    assert_eq!(akn.status, 400);
    let missing = download(admin, "/api/meetings/nope/export?format=pdf").await;
    assert_eq!(missing.status, 404);

    // The command line reads the database directly.
    let dir = tempfile::tempdir().expect("a temporary folder");
    let output = dir.path().join("cli.akn.xml");
    let status = Command::new(env!("CARGO_BIN_EXE_plenary"))
        .args([
            "export",
            "--resolution",
            &id,
            "--format",
            "akn",
            "--version",
            "1",
        ])
        .args(["--database-url", &db.url, "--output"])
        .arg(&output)
        .env("PLENARY_LOG", "warn")
        .status()
        .expect("run plenary export");
    assert!(status.success());
    let xml = std::fs::read(&output).expect("the export");
    validate_akn(&xml);
    assert!(String::from_utf8_lossy(&xml).contains("legislación nacional;"));
    let listing = Command::new(env!("CARGO_BIN_EXE_plenary"))
        .args([
            "export",
            "--meeting",
            meeting,
            "--format",
            "md",
            "--output",
            "-",
        ])
        .args(["--database-url", &db.url])
        .env("PLENARY_LOG", "warn")
        .output()
        .expect("run plenary export");
    assert!(listing.status.success());
    assert!(String::from_utf8_lossy(&listing.stdout).contains("Resoluciones aprobadas"));
    let refused = Command::new(env!("CARGO_BIN_EXE_plenary"))
        .args(["export", "--resolution", &id, "--format", "doc"])
        .args(["--database-url", &db.url])
        .output()
        .expect("run plenary export");
    assert!(!refused.status.success());
}

test_both_dbs!(
    export_every_format,
    export_every_format_sqlite,
    export_every_format_postgres
);
