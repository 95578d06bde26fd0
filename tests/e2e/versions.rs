//! Versions: recorded at phase changes, at checkpoints and by hand;
//! compared paragraph by paragraph and word by word; restored as a new
//! change that live clients converge to; attributed; kept across restarts.

use std::time::Duration;

use plenary::document::{BODY, Block, BlockKind};
use serde_json::{Value, json};
use yrs::types::xml::{XmlFragment, XmlOut};
use yrs::{Text, WriteTxn, Xml, XmlElementPrelim, XmlTextPrelim};

use crate::support::{Fixture, JsClient, Server, TestDb, YrsClient};
use crate::test_both_dbs;

/// Replaces the text of paragraph `index` of the body.
fn set_text(client: &YrsClient, index: u32, text: &str) {
    client.transact(|txn| {
        let body = txn.get_or_insert_xml_fragment(BODY);
        let Some(XmlOut::Element(element)) = body.get(txn, index) else {
            panic!("no paragraph {index}");
        };
        let Some(XmlOut::Text(content)) = element.get(txn, 0) else {
            panic!("paragraph {index} has no text");
        };
        let length = content.len(txn);
        content.remove_range(txn, 0, length);
        content.insert(txn, 0, text);
    });
}

/// Inserts a paragraph at `index`, as the editor would (with an id).
fn insert_paragraph(client: &YrsClient, index: u32, kind: BlockKind, id: &str, text: &str) {
    client.transact(|txn| {
        let body = txn.get_or_insert_xml_fragment(BODY);
        let element = body.insert(txn, index, XmlElementPrelim::empty(kind.tag()));
        element.insert_attribute(txn, "id", id);
        let content = element.push_back(txn, XmlTextPrelim::new(""));
        content.insert(txn, 0, text);
    });
}

fn remove_paragraph(client: &YrsClient, index: u32) {
    client.transact(|txn| {
        let body = txn.get_or_insert_xml_fragment(BODY);
        body.remove_range(txn, index, 1);
    });
}

fn texts(blocks: &Value) -> Vec<String> {
    blocks
        .as_array()
        .expect("blocks")
        .iter()
        .map(|block| {
            block["inlines"]
                .as_array()
                .map(|inlines| {
                    inlines
                        .iter()
                        .filter_map(|i| i["text"].as_str())
                        .collect::<String>()
                })
                .unwrap_or_default()
        })
        .collect()
}

async fn versions_compare_restore_and_attribute(db: TestDb) {
    let mut server = Server::start(&db, &[]).await;
    let fixture = Fixture::new(&server).await;
    let id = fixture.resolution.clone();
    let delegate = fixture
        .person(&server, "Claudia", "delegate", Some(&fixture.delegation))
        .await;
    let chair = fixture.person(&server, "Chair", "chair", None).await;
    let writer = YrsClient::connect(&server, &fixture.room_for(&delegate)).await;

    // The skeleton has an empty preambular and an empty operative paragraph.
    set_text(&writer, 0, "Recalling the Palermo Protocol,");
    set_text(&writer, 1, "Urges member States to act;");
    writer
        .wait_for("the first draft", |c| {
            c.mirror_body().iter().map(Block::text).collect::<Vec<_>>()
                == [
                    "Recalling the Palermo Protocol,",
                    "Urges member States to act;",
                ]
        })
        .await;
    let first = fixture
        .admin
        .create(
            &format!("/api/resolutions/{id}/versions"),
            json!({"name": "Draft 1 as circulated"}),
        )
        .await;
    let (status, _) = delegate
        .post(
            &format!("/api/resolutions/{id}/versions"),
            json!({"name": "Sponsors' draft"}),
        )
        .await;
    assert_eq!(status, 201, "a sponsor names versions too");

    // Draft 2: a paragraph inserted at the top, a word changed, one removed, one added.
    insert_paragraph(
        &writer,
        0,
        BlockKind::Preamble,
        "pNoting00001",
        "Noting with concern the use of digital platforms,",
    );
    set_text(&writer, 2, "Urges member parliaments to act;");
    remove_paragraph(&writer, 1);
    insert_paragraph(
        &writer,
        2,
        BlockKind::Operative,
        "pDecides0001",
        "Decides to remain seized of the matter.",
    );
    writer
        .wait_for("the second draft", |c| {
            c.mirror_body().len() == 3 && c.mirror_body()[2].text().starts_with("Decides")
        })
        .await;
    let second = fixture
        .admin
        .create(
            &format!("/api/resolutions/{id}/versions"),
            json!({"name": "Draft 2", "reason": "after the informal consultations"}),
        )
        .await;

    let (status, diff) = chair
        .get(&format!(
            "/api/resolutions/{id}/compare?from={first}&to={second}"
        ))
        .await;
    assert_eq!(status, 200, "{diff}");
    let paragraphs = diff["comparison"]["paragraphs"]
        .as_array()
        .expect("paragraphs")
        .clone();
    let summary: Vec<(String, String)> = paragraphs
        .iter()
        .map(|p| {
            (
                p["status"].as_str().unwrap_or_default().to_owned(),
                p["segments"]
                    .as_array()
                    .map(|s| s.len())
                    .unwrap_or(0)
                    .to_string(),
            )
        })
        .collect();
    let statuses: Vec<&str> = summary.iter().map(|(s, _)| s.as_str()).collect();
    assert_eq!(
        statuses,
        ["removed", "added", "modified", "added"],
        "{diff}"
    );
    let modified = &paragraphs[2];
    let changed: Vec<(String, String)> = modified["segments"]
        .as_array()
        .expect("segments")
        .iter()
        .filter(|s| s["op"] != "equal")
        .map(|s| {
            (
                s["op"].as_str().unwrap_or_default().to_owned(),
                s["text"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        changed,
        [
            ("delete".to_owned(), "States".to_owned()),
            ("insert".to_owned(), "parliaments".to_owned())
        ]
    );
    assert_eq!(modified["from"]["number"], "1.");
    assert_eq!(
        diff["comparison"]["moved"], 0,
        "inserting at the top moves nothing"
    );

    // The chair tables it: a version of exactly what was accepted before.
    let (status, _) = chair
        .post(
            &format!("/api/resolutions/{id}/phase"),
            json!({"phase": "tabled"}),
        )
        .await;
    assert_eq!(status, 200);
    let (_, versions) = chair.get(&format!("/api/resolutions/{id}/versions")).await;
    let names: Vec<&str> = versions
        .as_array()
        .expect("versions")
        .iter()
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "Draft 1 as circulated",
            "Sponsors' draft",
            "Draft 2",
            "Tabled"
        ]
    );
    assert_eq!(versions[3]["kind"], "phase");
    assert_eq!(versions[0]["contributors"][0]["name"], "Claudia");
    assert_eq!(versions[0]["contributors"][0]["delegation_name"], "Mexico");
    assert_eq!(versions[2]["contributors"][0]["name"], "Claudia");
    assert_eq!(
        versions[3]["contributors"].as_array().map(Vec::len),
        Some(0),
        "nothing changed between Draft 2 and tabling"
    );

    // Restoring Draft 1 while real npm clients are connected: they converge.
    let observer = fixture.person(&server, "Press", "observer", None).await;
    let mut npm_delegate = JsClient::spawn().await;
    let mut npm_observer = JsClient::spawn().await;
    npm_delegate
        .connect(&server, &fixture.room_for(&delegate))
        .await;
    npm_observer
        .connect(&server, &fixture.room_for(&observer))
        .await;
    let (status, _) = chair
        .post(
            &format!("/api/resolutions/{id}/versions/{first}/restore"),
            json!({}),
        )
        .await;
    assert_eq!(status, 403, "only the secretariat restores");
    let restored = fixture
        .admin
        .create(
            &format!("/api/resolutions/{id}/versions/{first}/restore"),
            json!({"reason": "the consultations failed"}),
        )
        .await;
    let expected =
        r#"["preamble: Recalling the Palermo Protocol,","operative: Urges member States to act;"]"#;
    for client in [&mut npm_delegate, &mut npm_observer] {
        client
            .until(&format!(
                "JSON.stringify(helpers.xmlLines('body')) === {expected:?}"
            ))
            .await;
    }
    let (_, live) = chair.get(&format!("/api/resolutions/{id}/body")).await;
    let (_, draft1) = chair
        .get(&format!("/api/resolutions/{id}/versions/{first}"))
        .await;
    assert_eq!(
        live["blocks"], draft1["blocks"],
        "the live text is Draft 1 again, ids included"
    );
    assert_eq!(
        texts(&live["blocks"]),
        [
            "Recalling the Palermo Protocol,",
            "Urges member States to act;"
        ]
    );
    assert_eq!(live["blocks"][1]["number"], "1.");
    assert_eq!(live["blocks"][1]["reference"], "operative 1");
    let (_, versions) = chair.get(&format!("/api/resolutions/{id}/versions")).await;
    let last = versions
        .as_array()
        .and_then(|v| v.last())
        .cloned()
        .expect("a version");
    assert_eq!(last["id"], json!(restored));
    assert_eq!(last["kind"], "restore");
    assert!(
        last["name"]
            .as_str()
            .unwrap_or_default()
            .starts_with("Restored from 1")
    );
    assert_eq!(
        last["contributors"][0]["name"], "Secretariat",
        "the restore is attributed"
    );
    // Compare live with Draft 2 after the restore: the reverse of before.
    let (_, back) = chair
        .get(&format!(
            "/api/resolutions/{id}/compare?from={second}&to=live"
        ))
        .await;
    let statuses: Vec<&str> = back["comparison"]["paragraphs"]
        .as_array()
        .expect("paragraphs")
        .iter()
        .filter_map(|p| p["status"].as_str())
        .collect();
    assert_eq!(statuses, ["removed", "added", "modified", "removed"]);

    // Who wrote what.
    let (_, attribution) = chair
        .get(&format!("/api/resolutions/{id}/attribution"))
        .await;
    let paragraphs = attribution["paragraphs"].as_array().expect("paragraphs");
    assert_eq!(paragraphs.len(), 2);
    let names = &attribution["names"];
    // The preambular paragraph was removed in Draft 2: the restore wrote it
    // anew, so its text is the secretariat's now.
    let first_author = paragraphs[0]["shares"][0]["account_id"]
        .as_str()
        .expect("an author");
    assert_eq!(names[first_author], "Secretariat", "{attribution}");
    // The operative paragraph is Claudia's (of Mexico), but for the word the
    // restore put back.
    let shares = paragraphs[1]["shares"].as_array().expect("shares");
    let claudia = &shares[0];
    assert_eq!(
        names[claudia["account_id"].as_str().expect("an author")],
        "Claudia",
        "{attribution}"
    );
    assert_eq!(
        names[claudia["delegation_id"].as_str().expect("a delegation")],
        "Mexico"
    );
    assert_eq!(claudia["characters"], 22);
    assert_eq!(
        names[shares[1]["account_id"].as_str().expect("an author")],
        "Secretariat"
    );
    assert_eq!(
        shares[1]["characters"], 5,
        "\"State\": what the restore changed"
    );

    // Everything survives a restart.
    npm_delegate.exit().await;
    npm_observer.exit().await;
    drop(writer);
    let (_, before_versions) = chair.get(&format!("/api/resolutions/{id}/versions")).await;
    let (_, before_attribution) = chair
        .get(&format!("/api/resolutions/{id}/attribution"))
        .await;
    server.restart().await;
    let chair = crate::support::Api {
        base: format!("http://{}", server.addr),
        ..chair
    };
    let (_, after_versions) = chair.get(&format!("/api/resolutions/{id}/versions")).await;
    let (_, after_attribution) = chair
        .get(&format!("/api/resolutions/{id}/attribution"))
        .await;
    assert_eq!(before_versions, after_versions);
    assert_eq!(before_attribution, after_attribution);
    let (_, draft2) = chair
        .get(&format!("/api/resolutions/{id}/versions/{second}"))
        .await;
    assert_eq!(
        texts(&draft2["blocks"]),
        [
            "Noting with concern the use of digital platforms,",
            "Urges member parliaments to act;",
            "Decides to remain seized of the matter."
        ]
    );
}
test_both_dbs!(
    versions_compare_restore_and_attribute,
    versions_compare_restore_and_attribute_sqlite,
    versions_compare_restore_and_attribute_postgres
);

/// A burst of editing that ends is recorded as a checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_of_editing_becomes_a_checkpoint() {
    let db = TestDb::sqlite();
    let server = Server::start(&db, &["--checkpoint-quiet-secs", "1"]).await;
    let fixture = Fixture::new(&server).await;
    let writer = YrsClient::connect(&server, &fixture.room()).await;
    set_text(&writer, 1, "Urges parliaments to act;");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        let (_, versions) = fixture
            .admin
            .get(&format!("/api/resolutions/{}/versions", fixture.resolution))
            .await;
        if let Some(checkpoint) = versions
            .as_array()
            .and_then(|v| v.iter().find(|v| v["kind"] == "checkpoint"))
        {
            assert_eq!(checkpoint["contributors"][0]["name"], "Secretariat");
            let (_, reading) = fixture
                .admin
                .get(&format!(
                    "/api/resolutions/{}/versions/{}",
                    fixture.resolution,
                    checkpoint["id"].as_str().expect("id")
                ))
                .await;
            assert_eq!(texts(&reading["blocks"]), ["", "Urges parliaments to act;"]);
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no checkpoint was recorded"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
