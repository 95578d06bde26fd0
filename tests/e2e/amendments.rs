//! Amendments end to end: proposed in formal terms, anchored to their words
//! while the text changes around and inside them, discussed, voted on by
//! delegations, adopted and applied; collisions fall; permissions hold.

use plenary::document::{BODY, BlockKind};
use serde_json::{Value, json};
use yrs::types::xml::{XmlFragment, XmlOut};
use yrs::{Text, WriteTxn, Xml, XmlElementPrelim, XmlTextPrelim};

use crate::support::{Api, Fixture, JsClient, Server, TestDb, YrsClient};
use crate::test_both_dbs;

fn write_body(client: &YrsClient, paragraphs: &[(BlockKind, &str, &str)]) {
    client.transact(|txn| {
        let body = txn.get_or_insert_xml_fragment(BODY);
        let length = body.len(txn);
        body.remove_range(txn, 0, length);
        for (kind, id, text) in paragraphs {
            let element = body.push_back(txn, XmlElementPrelim::empty(kind.tag()));
            element.insert_attribute(txn, "id", *id);
            let content = element.push_back(txn, XmlTextPrelim::new(""));
            content.insert(txn, 0, text);
        }
    });
}

fn edit_paragraph(
    client: &YrsClient,
    index: u32,
    f: impl FnOnce(&mut yrs::TransactionMut, &yrs::XmlTextRef),
) {
    client.transact(|txn| {
        let body = txn.get_or_insert_xml_fragment(BODY);
        let Some(XmlOut::Element(element)) = body.get(txn, index) else {
            panic!("paragraph")
        };
        let Some(XmlOut::Text(text)) = element.get(txn, 0) else {
            panic!("text")
        };
        f(txn, &text);
    });
}

async fn body_texts(api: &Api, id: &str) -> Vec<String> {
    let (_, body) = api.get(&format!("/api/resolutions/{id}/body")).await;
    body["blocks"]
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

async fn amendment(api: &Api, id: &str) -> Value {
    let (status, view) = api.get(&format!("/api/amendments/{id}")).await;
    assert_eq!(status, 200, "{view}");
    view
}

async fn move_to(api: &Api, id: &str, status: &str) -> (u16, Value) {
    api.post(
        &format!("/api/amendments/{id}/status"),
        json!({"status": status}),
    )
    .await
}

async fn amendments_from_proposal_to_adoption(db: TestDb) {
    let server = Server::start(&db, &[]).await;
    let fixture = Fixture::new(&server).await;
    let id = fixture.resolution.clone();
    let admin = fixture.admin.clone();
    let peru_id = admin
        .create(
            &format!("/api/meetings/{}/delegations", fixture.meeting),
            json!({"name": "Peru"}),
        )
        .await;
    let brazil_id = admin
        .create(
            &format!("/api/meetings/{}/delegations", fixture.meeting),
            json!({"name": "Brazil"}),
        )
        .await;
    let mexico = fixture
        .person(&server, "Claudia", "delegate", Some(&fixture.delegation))
        .await;
    let peru = fixture
        .person(&server, "Rosa", "delegate", Some(&peru_id))
        .await;
    let brazil = fixture
        .person(&server, "Ana Paula", "delegate", Some(&brazil_id))
        .await;
    let chair = fixture.person(&server, "Chair", "chair", None).await;
    let observer = fixture.person(&server, "Press", "observer", None).await;

    let writer = YrsClient::connect(&server, &fixture.room_for(&mexico)).await;
    write_body(
        &writer,
        &[
            (
                BlockKind::Preamble,
                "pre1",
                "Recalling the Palermo Protocol,",
            ),
            (
                BlockKind::Operative,
                "op1",
                "Urges parliaments to review national legislation;",
            ),
            (
                BlockKind::Operative,
                "op2",
                "Calls upon States, in particular, to protect victims;",
            ),
            (
                BlockKind::Operative,
                "op3",
                "Decides to remain seized of the matter.",
            ),
        ],
    );
    writer
        .wait_for("the draft", |c| c.mirror_body().len() == 4)
        .await;

    // Nothing to amend while drafting.
    let formal = json!({"paragraph": "operative 1", "action": "replace", "old_text": "review", "new_text": "review and harmonize"});
    let (status, _) = peru
        .post(&format!("/api/resolutions/{id}/amendments"), formal.clone())
        .await;
    assert_eq!(status, 403);
    assert_eq!(
        chair
            .post(
                &format!("/api/resolutions/{id}/phase"),
                json!({"phase": "tabled"})
            )
            .await
            .0,
        200
    );

    // Proposals in formal terms.
    let a = peru
        .create(&format!("/api/resolutions/{id}/amendments"), formal)
        .await;
    let b = brazil.create(&format!("/api/resolutions/{id}/amendments"), json!({"paragraph": "operative 1", "action": "insert", "old_text": "national legislation", "new_text": "and regional agreements", "rationale": "Trafficking crosses borders."})).await;
    let c = brazil
        .create(
            &format!("/api/resolutions/{id}/amendments"),
            json!({"paragraph": "operative 2", "action": "delete", "old_text": ", in particular,"}),
        )
        .await;
    let d = peru.create(&format!("/api/resolutions/{id}/amendments"), json!({"paragraph": "operative 1", "action": "replace", "old_text": "review national legislation", "new_text": "adopt comprehensive laws"})).await;
    let e = mexico.create(&format!("/api/resolutions/{id}/amendments"), json!({"paragraph": "operative 2", "action": "add_paragraph", "new_text": "*Encourages* parliaments to allocate budgets to assist victims;"})).await;
    // Bad proposals are refused with the field at fault.
    let (status, problem) = peru
        .post(
            &format!("/api/resolutions/{id}/amendments"),
            json!({"paragraph": "operative 9", "action": "delete", "old_text": "x"}),
        )
        .await;
    assert_eq!(
        (status, problem["field"].as_str()),
        (422, Some("paragraph"))
    );
    let (status, problem) = peru
        .post(
            &format!("/api/resolutions/{id}/amendments"),
            json!({"paragraph": "operative 1", "action": "delete", "old_text": "absent words"}),
        )
        .await;
    assert_eq!((status, problem["field"].as_str()), (422, Some("old_text")));
    assert_eq!(
        observer
            .post(
                &format!("/api/resolutions/{id}/amendments"),
                json!({"paragraph": "operative 1", "action": "delete", "old_text": "review"})
            )
            .await
            .0,
        403
    );

    // The text changes around and inside the anchors (sent back to drafting,
    // edited by the sponsors, tabled again).
    assert_eq!(
        chair
            .post(
                &format!("/api/resolutions/{id}/phase"),
                json!({"phase": "drafting"})
            )
            .await
            .0,
        200
    );
    edit_paragraph(&writer, 1, |txn, text| text.insert(txn, 0, "Strongly "));
    edit_paragraph(&writer, 1, |txn, text| {
        // "national" → "domestic", inside D's words (and B's).
        let at = "Strongly Urges parliaments to review ".len() as u32;
        text.remove_range(txn, at, "national".len() as u32);
        text.insert(txn, at, "domestic");
    });
    writer
        .wait_for("the edits", |c| {
            c.mirror_body()[1].text()
                == "Strongly Urges parliaments to review domestic legislation;"
        })
        .await;
    assert_eq!(
        chair
            .post(
                &format!("/api/resolutions/{id}/phase"),
                json!({"phase": "tabled"})
            )
            .await
            .0,
        200
    );

    // F competes with C for the same words.
    let f = peru.create(&format!("/api/resolutions/{id}/amendments"), json!({"paragraph": "operative 2", "action": "replace", "old_text": ", in particular,", "new_text": ", especially,"})).await;
    let (_, list) = chair
        .get(&format!("/api/resolutions/{id}/amendments"))
        .await;
    let list = list.as_array().expect("amendments").clone();
    let by_id = |wanted: &str| {
        list.iter()
            .find(|v| v["id"] == wanted)
            .cloned()
            .expect("listed")
    };
    assert_eq!(
        by_id(&a)["anchor"],
        "intact",
        "A's words are still there, after the text moved around them"
    );
    assert_eq!(by_id(&b)["anchor"], "changed", "B's words were edited");
    assert_eq!(by_id(&d)["anchor"], "changed");
    assert_eq!(
        by_id(&a)["wording"]["en"],
        "In operative paragraph 1, replace the words \u{201c}review\u{201d} with \u{201c}review and harmonize\u{201d}."
    );
    assert_eq!(
        by_id(&a)["wording"]["es"],
        "En el párrafo 1 de la parte dispositiva, sustitúyanse las palabras «review» por «review and harmonize»."
    );
    assert_eq!(
        by_id(&c)["wording"]["fr"],
        "Au paragraphe 2 du dispositif, supprimer les mots « , in particular, »."
    );
    assert_eq!(
        by_id(&e)["wording"]["pt"],
        "Após o parágrafo operativo 2, inserir um novo parágrafo: \u{201c}*Encourages* parliaments to allocate budgets to assist victims;\u{201d}."
    );
    // Numbered in order of position in the text.
    let order: Vec<&str> = list.iter().filter_map(|v| v["id"].as_str()).collect();
    assert_eq!(
        order,
        [
            a.as_str(),
            d.as_str(),
            b.as_str(),
            c.as_str(),
            f.as_str(),
            e.as_str()
        ]
    );
    assert_eq!(by_id(&c)["number"], 4);
    let collisions = |of: &str| -> Vec<String> {
        by_id(of)["collides_with"]
            .as_array()
            .expect("ids")
            .iter()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect()
    };
    // D's words overlap A's and B's; A's and B's do not overlap each other.
    assert_eq!(collisions(&a), vec![d.clone()]);
    assert_eq!(collisions(&b), vec![d.clone()]);
    assert!(collisions(&d).contains(&a) && collisions(&d).contains(&b));
    assert_eq!(collisions(&c), vec![f.clone()]);

    // The thread: a comment, a reply, an edit, a deletion; only one's own.
    let comment = brazil
        .create(
            &format!("/api/amendments/{a}/comments"),
            json!({"body": "Harmonize with what?"}),
        )
        .await;
    let reply = peru
        .create(
            &format!("/api/amendments/{a}/comments"),
            json!({"body": "With the Inter-American framework.", "parent_id": comment}),
        )
        .await;
    assert_eq!(
        peru.patch(
            &format!("/api/comments/{reply}"),
            json!({"body": "With the Belém do Pará framework."})
        )
        .await
        .0,
        204
    );
    assert_eq!(
        brazil
            .patch(
                &format!("/api/comments/{reply}"),
                json!({"body": "hijacked"})
            )
            .await
            .0,
        403
    );
    assert_eq!(
        observer
            .post(
                &format!("/api/amendments/{a}/comments"),
                json!({"body": "press question"})
            )
            .await
            .0,
        403
    );
    let paragraph_comment = peru
        .create(
            &format!("/api/resolutions/{id}/comments"),
            json!({"body": "This paragraph needs a deadline.", "paragraph_id": "op3"}),
        )
        .await;
    assert_eq!(
        peru.delete(&format!("/api/comments/{paragraph_comment}"))
            .await
            .0,
        204
    );
    let detail = amendment(&chair, &a).await;
    let thread: Vec<(&str, Option<&str>)> = detail["comments"]
        .as_array()
        .expect("comments")
        .iter()
        .map(|c| {
            (
                c["body"].as_str().unwrap_or_default(),
                c["parent_id"].as_str(),
            )
        })
        .collect();
    assert_eq!(
        thread,
        [
            ("Harmonize with what?", None),
            ("With the Belém do Pará framework.", Some(comment.as_str()))
        ]
    );

    // Supporters sign on.
    assert_eq!(
        mexico
            .post(&format!("/api/amendments/{c}/supporters"), json!({}))
            .await
            .0,
        204
    );
    assert_eq!(
        amendment(&chair, &c).await["supporters"],
        json!([fixture.delegation])
    );
    // A second supporter, read back with the amendment, then taken off.
    assert_eq!(
        peru.post(&format!("/api/amendments/{c}/supporters"), json!({}))
            .await
            .0,
        204
    );
    let mut expected = vec![fixture.delegation.clone(), peru_id.clone()];
    expected.sort();
    let mut listed: Vec<String> =
        serde_json::from_value(amendment(&chair, &c).await["supporters"].clone())
            .expect("supporters");
    listed.sort();
    assert_eq!(listed, expected, "the resolution's amendments, as listed");
    // The one-amendment read of the store (the routes use it for its status
    // and resolution) holds them too.
    let directory = db.database().await.directory;
    let mut read: Vec<String> = directory
        .amendment(&c)
        .await
        .expect("the amendment")
        .supporters
        .into_iter()
        .map(|d| d.0)
        .collect();
    read.sort();
    assert_eq!(read, expected, "one amendment, read from the store");
    assert_eq!(
        peru.delete(&format!("/api/amendments/{c}/supporters"))
            .await
            .0,
        204
    );
    assert_eq!(
        amendment(&chair, &c).await["supporters"],
        json!([fixture.delegation])
    );

    // The lifecycle's permissions.
    assert_eq!(
        move_to(&peru, &b, "tabled").await.0,
        403,
        "delegates do not table"
    );
    assert_eq!(
        move_to(&peru, &b, "withdrawn").await.0,
        403,
        "only its author withdraws it"
    );
    for amendment in [&a, &b, &c, &d, &e, &f] {
        assert_eq!(move_to(&chair, amendment, "tabled").await.0, 200);
    }
    assert_eq!(
        move_to(&peru, &e, "accepted").await.0,
        403,
        "only the sponsors accept as friendly"
    );
    // The sponsors accept E as friendly: applied at once.
    let (status, accepted) = move_to(&mexico, &e, "accepted").await;
    assert_eq!(status, 200, "{accepted}");
    assert_eq!(
        body_texts(&chair, &id).await[3],
        "Encourages parliaments to allocate budgets to assist victims;"
    );

    // The voting list: D, A, B collide (D departs furthest); F before C.
    let (_, voting) = chair
        .get(&format!("/api/resolutions/{id}/voting-list"))
        .await;
    let groups: Vec<Vec<&str>> = voting
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| {
            g.as_array()
                .expect("group")
                .iter()
                .filter_map(|v| v["id"].as_str())
                .collect()
        })
        .collect();
    assert_eq!(
        groups,
        vec![
            vec![d.as_str(), a.as_str(), b.as_str()],
            vec![f.as_str(), c.as_str()]
        ]
    );

    // D is put to the vote and rejected.
    assert_eq!(
        peru.post(
            &format!("/api/amendments/{d}/votes"),
            json!({"vote": "yes"})
        )
        .await
        .0,
        409,
        "not open yet"
    );
    assert_eq!(move_to(&chair, &d, "voting").await.0, 200);
    assert_eq!(
        chair
            .post(
                &format!("/api/amendments/{d}/votes"),
                json!({"vote": "yes"})
            )
            .await
            .0,
        403,
        "the chair is not a delegation"
    );
    assert_eq!(
        peru.post(
            &format!("/api/amendments/{d}/votes"),
            json!({"vote": "yes"})
        )
        .await
        .0,
        204
    );
    assert_eq!(
        brazil
            .post(&format!("/api/amendments/{d}/votes"), json!({"vote": "no"}))
            .await
            .0,
        204
    );
    assert_eq!(
        mexico
            .post(
                &format!("/api/amendments/{d}/votes"),
                json!({"vote": "yes"})
            )
            .await
            .0,
        204
    );
    assert_eq!(
        mexico
            .post(&format!("/api/amendments/{d}/votes"), json!({"vote": "no"}))
            .await
            .0,
        204,
        "a delegation may change its vote while open"
    );
    assert_eq!(
        peru.post(&format!("/api/amendments/{d}/close-vote"), json!({}))
            .await
            .0,
        403
    );
    let (status, closed) = chair
        .post(&format!("/api/amendments/{d}/close-vote"), json!({}))
        .await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["status"], "rejected");
    assert_eq!(
        (
            closed["vote_result"]["yes"].as_u64(),
            closed["vote_result"]["no"].as_u64()
        ),
        (Some(1), Some(2))
    );

    // A is adopted: applied where its words are now.
    assert_eq!(move_to(&chair, &a, "voting").await.0, 200);
    peru.post(
        &format!("/api/amendments/{a}/votes"),
        json!({"vote": "yes"}),
    )
    .await;
    brazil
        .post(
            &format!("/api/amendments/{a}/votes"),
            json!({"vote": "yes"}),
        )
        .await;
    mexico
        .post(
            &format!("/api/amendments/{a}/votes"),
            json!({"vote": "abstain"}),
        )
        .await;
    let mut npm = JsClient::spawn().await;
    npm.connect(&server, &fixture.room_for(&observer)).await;
    let (status, closed) = chair
        .post(&format!("/api/amendments/{a}/close-vote"), json!({}))
        .await;
    assert_eq!(status, 200, "{closed}");
    assert_eq!(closed["status"], "adopted");
    assert_eq!(closed["vote_result"]["abstain"], 1);
    npm.until("helpers.xmlLines('body')[1] === 'operative: Strongly Urges parliaments to review and harmonize domestic legislation;'").await;
    // B did not touch A's words: it is still open, and goes in after the
    // words it was anchored to, as edited since.
    assert_eq!(amendment(&chair, &b).await["status"], "tabled");
    assert_eq!(move_to(&chair, &b, "voting").await.0, 200);
    peru.post(
        &format!("/api/amendments/{b}/votes"),
        json!({"vote": "yes"}),
    )
    .await;
    brazil
        .post(
            &format!("/api/amendments/{b}/votes"),
            json!({"vote": "yes"}),
        )
        .await;
    assert_eq!(
        chair
            .post(&format!("/api/amendments/{b}/close-vote"), json!({}))
            .await
            .1["status"],
        "adopted"
    );

    // C is adopted too: the words and their commas go.
    assert_eq!(move_to(&chair, &c, "voting").await.0, 200);
    peru.post(
        &format!("/api/amendments/{c}/votes"),
        json!({"vote": "yes"}),
    )
    .await;
    brazil
        .post(
            &format!("/api/amendments/{c}/votes"),
            json!({"vote": "yes"}),
        )
        .await;
    assert_eq!(
        chair
            .post(&format!("/api/amendments/{c}/close-vote"), json!({}))
            .await
            .1["status"],
        "adopted"
    );
    assert_eq!(
        amendment(&chair, &f).await["status"],
        "fallen",
        "F's words are gone with C"
    );

    assert_eq!(
        body_texts(&chair, &id).await,
        [
            "Recalling the Palermo Protocol,",
            "Strongly Urges parliaments to review and harmonize domestic legislation and regional agreements;",
            "Calls upon States to protect victims;",
            "Encourages parliaments to allocate budgets to assist victims;",
            "Decides to remain seized of the matter.",
        ]
    );
    let (_, body) = chair.get(&format!("/api/resolutions/{id}/body")).await;
    assert_eq!(
        body["blocks"][3]["inlines"][0],
        json!({"text": "Encourages", "italic": true})
    );
    npm.until("helpers.xmlLines('body')[2] === 'operative: Calls upon States to protect victims;'")
        .await;

    // Each adoption is a version, attributed to the amendment's author.
    let (_, versions) = chair.get(&format!("/api/resolutions/{id}/versions")).await;
    let after: Vec<&str> = versions
        .as_array()
        .expect("versions")
        .iter()
        .filter(|v| v["kind"] == "amendment")
        .filter_map(|v| v["name"].as_str())
        .collect();
    assert_eq!(after.len(), 4, "{versions}");
    let last = versions
        .as_array()
        .and_then(|v| v.last())
        .expect("a version");
    assert_eq!(
        last["contributors"][0]["name"], "Ana Paula",
        "C was Brazil's"
    );
    npm.exit().await;
}
test_both_dbs!(
    amendments_from_proposal_to_adoption,
    amendments_from_proposal_to_adoption_sqlite,
    amendments_from_proposal_to_adoption_postgres
);

/// Pages viewing a resolution hear of new amendments, comments and votes
/// without a reload.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn viewers_hear_changes_live() {
    let db = TestDb::sqlite();
    let server = Server::start(&db, &[]).await;
    let fixture = Fixture::new(&server).await;
    let id = fixture.resolution.clone();
    let delegate = fixture
        .person(&server, "Claudia", "delegate", Some(&fixture.delegation))
        .await;
    let chair = fixture.person(&server, "Chair", "chair", None).await;
    let writer = YrsClient::connect(&server, &fixture.room_for(&delegate)).await;
    write_body(
        &writer,
        &[(BlockKind::Operative, "op1", "Urges parliaments to act;")],
    );
    writer
        .wait_for("the draft", |c| c.mirror_body().len() == 1)
        .await;
    chair
        .post(
            &format!("/api/resolutions/{id}/phase"),
            json!({"phase": "tabled"}),
        )
        .await;

    let mut events = chair
        .client
        .get(format!("{}/api/resolutions/{id}/events", chair.base))
        .bearer_auth(&chair.token)
        .send()
        .await
        .expect("subscribe");
    assert_eq!(events.status(), 200);
    let amendment = delegate.create(&format!("/api/resolutions/{id}/amendments"), json!({"paragraph": "operative 1", "action": "insert", "old_text": "act", "new_text": "now"})).await;
    delegate
        .create(
            &format!("/api/amendments/{amendment}/comments"),
            json!({"body": "Urgency matters."}),
        )
        .await;
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + crate::support::PATIENCE;
    while !(seen.contains("\"topic\":\"amendment\"") && seen.contains("\"topic\":\"comment\"")) {
        let chunk = tokio::time::timeout_at(deadline, events.chunk())
            .await
            .expect("events arrive in time")
            .expect("the stream stays open")
            .expect("a chunk");
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
    assert!(seen.contains("event: change"));
    assert!(seen.contains(&amendment));

    // What the browser needs to draw it: the anchor to highlight (base64 of
    // the Yjs relative positions) and the names of the people in the thread.
    let (_, detail) = chair.get(&format!("/api/amendments/{amendment}")).await;
    for field in ["anchor_start", "anchor_end"] {
        let encoded = detail[field].as_str().expect("an anchor");
        assert!(
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, encoded)
                .is_ok_and(|bytes| !bytes.is_empty()),
            "{field}: {encoded}"
        );
    }
    let author = detail["author"].as_str().expect("an author");
    assert_eq!(detail["names"][author], "Claudia", "{detail}");
    let (_, list) = chair
        .get(&format!("/api/resolutions/{id}/amendments"))
        .await;
    assert_eq!(list[0]["anchor_start"], detail["anchor_start"]);
}
