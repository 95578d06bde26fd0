//! Several nodes on one PostgreSQL: clients of one document spread over
//! three nodes converge, see each other's presence and phase changes; a node
//! killed mid-edit loses nothing; a node whose LISTEN connection is cut still
//! catches up, and checks the sockets it has open against what it may have
//! missed.

use serde_json::json;

use crate::support::{Api, Connections, Fixture, JsClient, Server, TestDb, YrsClient};

async fn cut_listeners(db: &TestDb) {
    let cut = db.drop_connections(Connections::Listening).await;
    assert!(cut > 0, "the nodes were listening");
}

/// `client` is told its socket became read-only (a first refusal, of
/// nothing), then writes `text`, which is refused too.
async fn read_only_then_refused(client: &YrsClient, notice: &str, text: &str) {
    client
        .wait_for(notice, |c| !c.permission_denied().is_empty())
        .await;
    client.append("t", text);
    client
        .wait_for("the refusal", |c| c.permission_denied().len() >= 2)
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_serve_one_document() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let node_a = Server::start(&db, &[]).await;
    let mut node_b = Server::start(&db, &[]).await;
    let node_c = Server::start(&db, &[]).await;
    let fixture = Fixture::new(&node_a).await;
    let room = fixture.room();
    let chair = fixture.person(&node_b, "Chair", "chair", None).await;

    let mut ana = JsClient::spawn().await;
    let mut bea = JsClient::spawn().await;
    let mut carla = JsClient::spawn().await;
    ana.connect(&node_a, &room).await;
    bea.connect(&node_b, &room).await;
    carla.connect(&node_c, &room).await;

    // Concurrent edits on three nodes converge.
    for round in 0..5 {
        ana.eval(&format!("doc.getText('t').insert(0, '[a{round}]')"))
            .await;
        bea.eval(&format!(
            "doc.getText('t').insert(doc.getText('t').length, '[b{round}]')"
        ))
        .await;
        carla
            .eval(&format!("doc.getText('t').insert(0, '[c{round}]')"))
            .await;
    }
    let all_tokens = "['a','b','c'].every(w => [0,1,2,3,4].every(r => doc.getText('t').toString().includes(`[${w}${r}]`)))";
    for client in [&mut ana, &mut bea, &mut carla] {
        client.until(all_tokens).await;
    }
    let text = ana.text("t").await;
    assert_eq!(bea.text("t").await, text);
    assert_eq!(carla.text("t").await, text);

    // Presence crosses nodes, with the identity the first node knows.
    ana.eval("awareness.setLocalStateField('cursor', {anchor: 1})")
        .await;
    carla
        .until("helpers.others().some(s => s.cursor && s.user && s.user.name === 'Secretariat')")
        .await;

    // Node B dies mid-edit: Bea keeps typing offline, then reconnects to C.
    bea.eval("doc.getText('t').insert(0, '[before-kill]')")
        .await;
    ana.until("doc.getText('t').toString().includes('[before-kill]')")
        .await;
    node_b.kill9().await;
    bea.eval("doc.getText('t').insert(0, '[offline]')").await;
    bea.connect(&node_c, &room).await;
    for client in [&mut ana, &mut carla] {
        client
            .until("doc.getText('t').toString().includes('[offline]')")
            .await;
    }

    // Every listener connection is cut: the nodes still catch up.
    cut_listeners(&db).await;
    carla
        .eval("doc.getText('t').insert(0, '[after-cut]')")
        .await;
    ana.until("doc.getText('t').toString().includes('[after-cut]')")
        .await;
    let fresh = YrsClient::connect(&node_a, &room).await;
    let final_text = carla.text("t").await;
    ana.until(&format!("doc.getText('t').toString() === {final_text:?}"))
        .await;
    assert_eq!(fresh.text("t"), final_text);

    // A phase change on one node turns writers on another read-only at once.
    let writer = YrsClient::connect(&node_c, &room).await;
    let chair = Api {
        base: format!("http://{}", node_a.addr),
        ..chair
    };
    let (status, _) = chair
        .post(
            &format!("/api/resolutions/{}/phase", fixture.resolution),
            json!({"phase": "tabled"}),
        )
        .await;
    assert_eq!(status, 200);
    read_only_then_refused(&writer, "the read-only notice from node C", "[too late]").await;
    assert!(!ana.text("t").await.contains("[too late]"));

    for client in [ana, bea, carla] {
        client.exit().await;
    }
}

/// Every node keeps the sessions and the access rules it has read (a
/// reconnect storm would otherwise read the same rows a thousand times); a
/// change made on another node reaches it with the change's notice, before
/// any later request is answered from what it kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_on_one_node_holds_on_every_node() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let node_a = Server::start(&db, &[]).await;
    let node_b = Server::start(&db, &["--idle-unload-secs", "0"]).await;
    let fixture = Fixture::new(&node_a).await;
    // A delegate of the sponsoring delegation signs in on node A and works
    // on node B too, which reads (and keeps) its session and the rules.
    let delegate = fixture
        .person(&node_a, "Ana", "delegate", Some(&fixture.delegation))
        .await;
    let delegate_b = Api {
        base: format!("http://{}", node_b.addr),
        token: delegate.token.clone(),
        client: delegate.client.clone(),
    };
    let (status, me) = delegate_b.get("/api/auth/me").await;
    assert_eq!(status, 200, "{me}");
    let account = me["account"]["id"].as_str().expect("an id").to_owned();
    let socket = YrsClient::connect(&node_b, &fixture.room_for(&delegate)).await;
    socket.wait_synced().await;

    // Renamed on node A: the socket on node B reconnects, and node B
    // answers with the new name.
    let (status, body) = fixture
        .admin
        .patch(
            &format!("/api/users/{account}"),
            json!({"name": "Ana Souza"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(socket.wait_closed().await.0, 1012);
    let (_, me) = delegate_b.get("/api/auth/me").await;
    assert_eq!(me["account"]["name"], "Ana Souza");

    // Node B reads the rules while drafting, and unloads the document when
    // its last socket leaves (so no room there holds the rules either).
    let writer = YrsClient::connect(&node_b, &fixture.room_for(&delegate)).await;
    writer.wait_synced().await;
    writer.close();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while node_b.metric("plenary_open_documents").await > 0.0 {
        assert!(
            std::time::Instant::now() < deadline,
            "node B unloads the document"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Tabled on node A. Another resolution, with a socket on node B, is
    // tabled after it: when that socket hears of it, node B has heard of
    // the first as well (one node's notices arrive in order).
    let (other, other_room) = fixture.new_room().await;
    let witness = YrsClient::connect(&node_b, &other_room).await;
    witness.wait_synced().await;
    for resolution in [&fixture.resolution, &other] {
        let (status, body) = fixture
            .admin
            .post(
                &format!("/api/resolutions/{resolution}/phase"),
                json!({"phase": "tabled"}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }
    witness
        .wait_for("the read-only notice on node B", |c| {
            !c.permission_denied().is_empty()
        })
        .await;
    // A socket that opens on node B now is read-only from the start.
    let late = YrsClient::connect(&node_b, &fixture.room_for(&delegate)).await;
    late.wait_synced().await;
    late.append("t", "[after tabling]");
    late.wait_for("the refusal on node B", |c| {
        !c.permission_denied().is_empty()
    })
    .await;

    // Signed out on node A: the socket on node B closes, and node B refuses
    // the token from then on.
    let (status, _) = delegate.post("/api/auth/logout", json!({})).await;
    assert_eq!(status, 204);
    assert_eq!(late.wait_closed().await.0, 4401);
    assert_eq!(delegate_b.get("/api/auth/me").await.0, 401);
    let fresh = YrsClient::connect(&node_a, &fixture.room()).await;
    fresh.wait_synced().await;
    assert!(!fresh.text("t").contains("[after tabling]"));
}

/// A node that may have missed notices (its LISTEN connection was lost)
/// checks its open websockets when it listens again: a socket of a session
/// that ended meanwhile closes, and the rules that changed meanwhile reach
/// the sockets that stay.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_missed_notices_checks_its_open_sockets() {
    use sqlx::Connection;
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let node_a = Server::start(&db, &[]).await;
    let node_b = Server::start(&db, &[]).await;
    let fixture = Fixture::new(&node_a).await;
    let ana = fixture
        .person(&node_a, "Ana", "delegate", Some(&fixture.delegation))
        .await;
    let bruno = fixture
        .person(&node_a, "Bruno", "delegate", Some(&fixture.delegation))
        .await;
    let ana_socket = YrsClient::connect(&node_b, &fixture.room_for(&ana)).await;
    ana_socket.wait_synced().await;
    let bruno_socket = YrsClient::connect(&node_b, &fixture.room_for(&bruno)).await;
    bruno_socket.wait_synced().await;
    let carla = fixture
        .person(&node_a, "Carla", "delegate", Some(&fixture.delegation))
        .await;
    let carla_socket = YrsClient::connect(&node_b, &fixture.room_for(&carla)).await;
    carla_socket.wait_synced().await;

    // Written behind the nodes' backs: no notice goes out, as when one is
    // missed. Ana's session ends, Carla is renamed and the resolution is
    // tabled.
    let mut connection = sqlx::PgConnection::connect(&db.url).await.expect("connect");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_millis() as i64;
    let revoked = sqlx::query(
        "update sessions set revoked_at = $1 where revoked_at is null \
         and account_id = (select id from accounts where name = 'Ana')",
    )
    .bind(now)
    .execute(&mut connection)
    .await
    .expect("revoke Ana's session");
    assert_eq!(revoked.rows_affected(), 1);
    sqlx::query("update accounts set name = 'Carla Mendes' where name = 'Carla'")
        .execute(&mut connection)
        .await
        .expect("rename Carla");
    sqlx::query("update resolutions set phase = 'tabled' where id = $1")
        .bind(&fixture.resolution)
        .execute(&mut connection)
        .await
        .expect("table the resolution");
    // Node B still holds both sockets as they were.
    bruno_socket.append("t", "[before the check]");
    let probe = YrsClient::connect(&node_a, &fixture.room()).await;
    probe
        .wait_for("Bruno's edit, still accepted", |c| {
            c.text("t").contains("[before the check]")
        })
        .await;

    // The listeners are cut; when they listen again, the nodes check.
    cut_listeners(&db).await;
    assert_eq!(ana_socket.wait_closed().await.0, 4401);
    // Carla's socket reconnects, to come back under her new name.
    assert_eq!(carla_socket.wait_closed().await.0, 1012);
    read_only_then_refused(&bruno_socket, "the read-only notice", "[after tabling]").await;
    let fresh = YrsClient::connect(&node_a, &fixture.room()).await;
    fresh.wait_synced().await;
    assert!(fresh.text("t").contains("[before the check]"));
    assert!(!fresh.text("t").contains("[after tabling]"));
}
