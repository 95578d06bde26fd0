//! Real clients of both languages co-edit one document.

use crate::support::{Fixture, JsClient, Server, TestDb, YrsClient};
use crate::test_both_dbs;

async fn npm_and_yrs_clients_co_edit_and_survive_a_restart(db: TestDb) {
    let mut server = Server::start(&db, &[]).await;
    let fixture = Fixture::new(&server).await;
    let room = fixture.room();
    let sponsor = Some(fixture.delegation.as_str());
    let ana_account = fixture.person(&server, "Ana", "delegate", sponsor).await;
    let bea_account = fixture.person(&server, "Bea", "delegate", sponsor).await;
    let carla_account = fixture.person(&server, "Carla", "secretariat", None).await;
    let mut ana = JsClient::spawn().await;
    let mut bea = JsClient::spawn().await;
    ana.connect(&server, &fixture.room_for(&ana_account)).await;
    bea.connect(&server, &fixture.room_for(&bea_account)).await;
    let carla = YrsClient::connect(&server, &fixture.room_for(&carla_account)).await;

    // A Y.Text typed into from all three.
    ana.eval("doc.getText('title').insert(0, 'Combating trafficking in persons')")
        .await;
    bea.until("doc.getText('title').toString() === 'Combating trafficking in persons'")
        .await;
    carla
        .wait_for("the title", |c| {
            c.text("title") == "Combating trafficking in persons"
        })
        .await;
    carla.insert("title", 0, "On ");
    bea.eval("doc.getText('title').insert(doc.getText('title').length, ' and forced labour')")
        .await;
    let expected = "On Combating trafficking in persons and forced labour";
    ana.until(&format!("doc.getText('title').toString() === {expected:?}"))
        .await;
    bea.until(&format!("doc.getText('title').toString() === {expected:?}"))
        .await;
    carla
        .wait_for("all three edits", |c| c.text("title") == expected)
        .await;

    // A Y.XmlFragment of paragraphs, as the editor writes the body.
    ana.eval("helpers.insertParagraph('body', 0, 'preamble', 'Recalling the Palermo Protocol,')")
        .await;
    // The server wrote the skeleton (two empty paragraphs) when the
    // resolution was created; Ana's paragraph goes before it.
    bea.until("doc.getXmlFragment('body').length === 3").await;
    bea.eval("helpers.insertParagraph('body', 1, 'operative', 'Urges member parliaments to criminalise trafficking;')")
        .await;
    let body = r#"["preamble: Recalling the Palermo Protocol,","operative: Urges member parliaments to criminalise trafficking;","preamble: ","operative: "]"#;
    ana.until(&format!(
        "JSON.stringify(helpers.xmlLines('body')) === {body:?}"
    ))
    .await;
    bea.until(&format!(
        "JSON.stringify(helpers.xmlLines('body')) === {body:?}"
    ))
    .await;

    // Each sees the others' presence.
    ana.eval("awareness.setLocalStateField('user', {name: 'Ana'})")
        .await;
    bea.eval("awareness.setLocalStateField('user', {name: 'Bea'})")
        .await;
    carla.set_awareness(1, Some(r#"{"user":{"name":"Carla"}}"#));
    ana.until("helpers.others().map(s => s.user && s.user.name).sort().join() === 'Bea,Carla'")
        .await;
    bea.until("helpers.others().map(s => s.user && s.user.name).sort().join() === 'Ana,Carla'")
        .await;
    carla
        .wait_for("Ana's and Bea's presence", |c| {
            let names: Vec<String> = c.awareness().values().flatten().cloned().collect();
            names.iter().any(|s| s.contains("Ana")) && names.iter().any(|s| s.contains("Bea"))
        })
        .await;

    // When Bea leaves, the others stop seeing her.
    bea.exit().await;
    ana.until("helpers.others().every(s => !s.user || s.user.name !== 'Bea')")
        .await;

    // After a restart, a fresh client receives everything.
    let status = server.terminate().await;
    assert!(status.success(), "SIGTERM exits 0, got {status}");
    ana.exit().await;
    server.restart().await;
    let mut dora = JsClient::spawn().await;
    dora.connect(&server, &room).await;
    assert_eq!(dora.text("title").await, expected);
    assert_eq!(
        dora.eval("JSON.stringify(helpers.xmlLines('body'))").await,
        serde_json::Value::String(body.into())
    );
    let eve = YrsClient::connect(&server, &room).await;
    assert_eq!(eve.text("title"), expected);
    dora.exit().await;
}

test_both_dbs!(
    npm_and_yrs_clients_co_edit_and_survive_a_restart,
    npm_and_yrs_clients_co_edit_and_survive_a_restart_sqlite,
    npm_and_yrs_clients_co_edit_and_survive_a_restart_postgres
);

/// The y-websocket client closes a socket on which nothing arrived for 30 s;
/// the echo of its own 15-second awareness renewal must keep it open.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_npm_client_stays_connected_past_its_30_second_timer() {
    let db = TestDb::sqlite();
    let server = Server::start(&db, &[]).await;
    let room = Fixture::new(&server).await.room();
    let mut idle = JsClient::spawn().await;
    idle.connect(&server, &room).await;
    idle.eval("awareness.setLocalStateField('user', {name: 'Idle'})")
        .await;
    // What is under test is the client's own 30-second timer: let it run out
    // (twice) while nothing but awareness renewals travel.
    tokio::time::sleep(std::time::Duration::from_secs(40)).await;
    assert!(
        idle.eval("awareness.meta.get(doc.clientID).clock")
            .await
            .as_u64()
            >= Some(2),
        "the client renewed its state meanwhile"
    );
    assert_eq!(
        idle.eval("JSON.stringify(closes)").await,
        serde_json::Value::String("[]".into()),
        "the client never closed its socket"
    );
    assert_eq!(
        idle.eval("provider.wsconnected").await,
        serde_json::Value::Bool(true)
    );
    idle.exit().await;
}
