//! Who may do what: every cell of the role × action matrix on the API and on
//! the live document, on both databases; sessions, revocation, throttling,
//! first run, the demo and the audit log.

use serde_json::{Value, json};

use crate::support::{Api, Fixture, JsClient, Server, TestDb, YrsClient};
use crate::test_both_dbs;

/// The people of a meeting, one per role.
struct Cast {
    fixture: Fixture,
    secretariat: Api,
    chair: Api,
    sponsor: Api,
    other_delegate: Api,
    observer: Api,
    other_delegation: String,
}

impl Cast {
    async fn new(server: &Server) -> Cast {
        let fixture = Fixture::new(server).await;
        let other_delegation = fixture
            .admin
            .create(
                &format!("/api/meetings/{}/delegations", fixture.meeting),
                json!({"name": "Peru"}),
            )
            .await;
        let secretariat = fixture.admin.clone();
        let chair = fixture.person(server, "Chair", "chair", None).await;
        let sponsor = fixture
            .person(server, "Claudia", "delegate", Some(&fixture.delegation))
            .await;
        let other_delegate = fixture
            .person(server, "Rosa", "delegate", Some(&other_delegation))
            .await;
        let observer = fixture.person(server, "Press", "observer", None).await;
        Cast {
            fixture,
            secretariat,
            chair,
            sponsor,
            other_delegate,
            observer,
            other_delegation,
        }
    }

    fn everyone(&self) -> Vec<(&'static str, &Api)> {
        vec![
            ("secretariat", &self.secretariat),
            ("chair", &self.chair),
            ("sponsoring delegate", &self.sponsor),
            ("other delegate", &self.other_delegate),
            ("observer", &self.observer),
        ]
    }

    /// A fresh drafting resolution sponsored by the fixture's delegation.
    async fn draft(&self) -> String {
        self.secretariat
            .create(
                &format!("/api/meetings/{}/resolutions", self.fixture.meeting),
                json!({"title": "A draft", "sponsors": [self.fixture.delegation]}),
            )
            .await
    }
}

fn expect(who: &str, what: &str, got: u16, expected: u16, body: &Value) {
    assert_eq!(got, expected, "{who} → {what}: {got} {body}");
}

async fn the_api_enforces_the_role_matrix(db: TestDb) {
    let server = Server::start(&db, &[]).await;
    let cast = Cast::new(&server).await;
    let meeting = cast.fixture.meeting.clone();
    let resolution = cast.fixture.resolution.clone();

    // Anonymous: nothing but sign-in.
    let anonymous = Api {
        token: "not-a-token".into(),
        ..cast.secretariat.clone()
    };
    for path in [
        "/api/meetings".to_owned(),
        format!("/api/meetings/{meeting}"),
        format!("/api/resolutions/{resolution}"),
        "/api/users".to_owned(),
        "/api/audit".to_owned(),
        "/api/auth/me".to_owned(),
    ] {
        let (status, body) = anonymous.get(&path).await;
        expect("anonymous", &path, status, 401, &body);
    }

    // Who am I: the account, and the name of its delegation (read with the
    // session), for delegates only.
    for (who, api, delegation) in [
        ("sponsoring delegate", &cast.sponsor, json!("Mexico")),
        ("other delegate", &cast.other_delegate, json!("Peru")),
        ("observer", &cast.observer, Value::Null),
    ] {
        let (status, me) = api.get("/api/auth/me").await;
        expect(who, "who am I", status, 200, &me);
        assert_eq!(me["delegation_name"], delegation, "{who}: {me}");
    }

    for (who, api) in cast.everyone() {
        let is_secretariat = who == "secretariat";
        let admin_only = if is_secretariat { 200 } else { 403 };
        let created_if_admin = if is_secretariat { 201 } else { 403 };

        let (status, body) = api.get("/api/meetings").await;
        expect(who, "list meetings", status, 200, &body);
        let (status, body) = api.get(&format!("/api/meetings/{meeting}")).await;
        expect(who, "read a meeting", status, 200, &body);
        let (status, body) = api.get(&format!("/api/resolutions/{resolution}")).await;
        expect(who, "read a resolution", status, 200, &body);
        let (status, body) = api
            .post("/api/meetings", json!({"title": "Another meeting"}))
            .await;
        expect(who, "create a meeting", status, created_if_admin, &body);
        let (status, body) = api
            .post(
                &format!("/api/meetings/{meeting}/delegations"),
                json!({"name": format!("Delegation of {who}")}),
            )
            .await;
        expect(who, "create a delegation", status, created_if_admin, &body);
        let (status, body) = api
            .post(
                "/api/users",
                json!({"email": format!("new-{}@plenary.example", rand::random::<u32>()), "name": "New", "password": "a long enough password", "role": "observer"}),
            )
            .await;
        expect(who, "create an account", status, created_if_admin, &body);
        let (status, body) = api.get("/api/users").await;
        expect(who, "list accounts", status, admin_only, &body);
        let (status, body) = api.get("/api/audit").await;
        expect(who, "read the audit log", status, admin_only, &body);
        let (status, body) = api
            .patch(
                &format!("/api/meetings/{meeting}"),
                json!({"place": "Lima, Peru"}),
            )
            .await;
        expect(who, "change a meeting", status, admin_only, &body);

        // Creating a resolution sponsored by the fixture's delegation.
        let may_create = matches!(who, "secretariat" | "chair" | "sponsoring delegate");
        let (status, body) = api
            .post(
                &format!("/api/meetings/{meeting}/resolutions"),
                json!({"title": "On shelters", "sponsors": [cast.fixture.delegation]}),
            )
            .await;
        expect(
            who,
            "create a resolution",
            status,
            if may_create { 201 } else { 403 },
            &body,
        );

        // Changing a draft's title.
        let may_edit = matches!(who, "secretariat" | "sponsoring delegate");
        let draft = cast.draft().await;
        let (status, body) = api
            .patch(
                &format!("/api/resolutions/{draft}"),
                json!({"title": "Renamed"}),
            )
            .await;
        expect(
            who,
            "rename a draft",
            status,
            if may_edit { 200 } else { 403 },
            &body,
        );

        // Tabling it.
        let may_table = matches!(who, "secretariat" | "chair");
        let (status, body) = api
            .post(
                &format!("/api/resolutions/{draft}/phase"),
                json!({"phase": "tabled"}),
            )
            .await;
        expect(
            who,
            "table a draft",
            status,
            if may_table { 200 } else { 403 },
            &body,
        );

        // Withdrawing a draft: the presidency and its sponsors.
        let draft = cast.draft().await;
        let may_withdraw = matches!(who, "secretariat" | "chair" | "sponsoring delegate");
        let (status, body) = api
            .post(
                &format!("/api/resolutions/{draft}/phase"),
                json!({"phase": "withdrawn"}),
            )
            .await;
        expect(
            who,
            "withdraw a draft",
            status,
            if may_withdraw { 200 } else { 403 },
            &body,
        );

        // What the API says one may do matches.
        let (_, view) = api.get(&format!("/api/resolutions/{resolution}")).await;
        assert_eq!(
            view["permissions"]["edit_body"],
            json!(may_edit),
            "{who}: edit_body"
        );
    }

    // Moves that do not exist are conflicts, whoever asks.
    let draft = cast.draft().await;
    let (status, body) = cast
        .secretariat
        .post(
            &format!("/api/resolutions/{draft}/phase"),
            json!({"phase": "adopted"}),
        )
        .await;
    expect("secretariat", "adopt a draft directly", status, 409, &body);
    // The whole way through.
    for phase in ["tabled", "voting", "adopted"] {
        let (status, body) = cast
            .chair
            .post(
                &format!("/api/resolutions/{draft}/phase"),
                json!({"phase": phase}),
            )
            .await;
        expect("chair", phase, status, 200, &body);
    }
    let (status, body) = cast
        .chair
        .post(
            &format!("/api/resolutions/{draft}/phase"),
            json!({"phase": "drafting"}),
        )
        .await;
    expect("chair", "reopen an adopted resolution", status, 409, &body);
}
test_both_dbs!(
    the_api_enforces_the_role_matrix,
    the_api_enforces_the_role_matrix_sqlite,
    the_api_enforces_the_role_matrix_postgres
);

async fn the_live_document_enforces_the_role_matrix(db: TestDb) {
    let server = Server::start(&db, &[]).await;
    let cast = Cast::new(&server).await;
    let draft = cast.fixture.resolution.clone();

    // No session, a bad token, an unknown resolution: refused before the
    // upgrade; a bad token is told 401 whether or not the resolution exists.
    for (url, expected) in [
        (format!("{}/{draft}", server.ws_url()), 401),
        (format!("{}/{draft}?token=forged", server.ws_url()), 401),
        (
            format!("{}/NoSuchResolution?token=forged", server.ws_url()),
            401,
        ),
        (
            format!(
                "{}/NoSuchResolution?token={}",
                server.ws_url(),
                cast.observer.token
            ),
            404,
        ),
    ] {
        match tokio_tungstenite::connect_async(url.as_str()).await {
            Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
                assert_eq!(response.status().as_u16(), expected, "{url}");
            }
            other => panic!("{url}: expected HTTP {expected}, got {other:?}"),
        }
    }

    // While drafting: the secretariat and the sponsors write; nobody else.
    for (who, api) in cast.everyone() {
        let writes = matches!(who, "secretariat" | "sponsoring delegate");
        let client = YrsClient::connect(&server, &format!("{draft}?token={}", api.token)).await;
        let marker = format!("[{who}]");
        client.append("t", &marker);
        if writes {
            client
                .wait_for(&format!("{who}'s edit to be saved"), |c| {
                    c.mirror_text("t").contains(&marker)
                })
                .await;
        } else {
            client
                .wait_for(&format!("{who} to be told no"), |c| {
                    !c.permission_denied().is_empty()
                })
                .await;
        }
    }
    let fresh =
        YrsClient::connect(&server, &format!("{draft}?token={}", cast.observer.token)).await;
    assert_eq!(fresh.text("t"), "[secretariat][sponsoring delegate]");

    // Once tabled, nobody writes directly, the secretariat included.
    let (status, body) = cast
        .chair
        .post(
            &format!("/api/resolutions/{draft}/phase"),
            json!({"phase": "tabled"}),
        )
        .await;
    expect("chair", "table", status, 200, &body);
    for (who, api) in cast.everyone() {
        let client = YrsClient::connect(&server, &format!("{draft}?token={}", api.token)).await;
        client.append("t", "[late]");
        client
            .wait_for(&format!("{who} to be told no once tabled"), |c| {
                !c.permission_denied().is_empty()
            })
            .await;
    }
    let fresh =
        YrsClient::connect(&server, &format!("{draft}?token={}", cast.observer.token)).await;
    assert_eq!(fresh.text("t"), "[secretariat][sponsoring delegate]");
    let _ = &cast.other_delegation;
}
test_both_dbs!(
    the_live_document_enforces_the_role_matrix,
    the_live_document_enforces_the_role_matrix_sqlite,
    the_live_document_enforces_the_role_matrix_postgres
);

/// With the real npm clients: an observer's edit goes nowhere; tabling
/// turns a connected delegate read-only at once; a revoked session's socket
/// closes and stays closed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn npm_clients_observer_tabling_and_revocation() {
    let db = TestDb::sqlite();
    let server = Server::start(&db, &[]).await;
    let cast = Cast::new(&server).await;
    let draft = &cast.fixture.resolution;
    let mut delegate = JsClient::spawn().await;
    let mut observer = JsClient::spawn().await;
    delegate
        .connect(&server, &cast.fixture.room_for(&cast.sponsor))
        .await;
    observer
        .connect(&server, &cast.fixture.room_for(&cast.observer))
        .await;

    // The observer types; nobody else ever sees it, and it is not stored.
    observer
        .eval("doc.getText('t').insert(0, 'OBSERVER WAS HERE')")
        .await;
    delegate.eval("doc.getText('t').insert(0, 'Urges')").await;
    observer
        .until("doc.getText('t').toString().includes('Urges')")
        .await;
    delegate
        .until("doc.getText('t').toString() === 'Urges'")
        .await;
    let fresh = YrsClient::connect(&server, &cast.fixture.room()).await;
    assert_eq!(fresh.text("t"), "Urges");

    // The chair tables the resolution while the delegate is connected.
    let (status, _) = cast
        .chair
        .post(
            &format!("/api/resolutions/{draft}/phase"),
            json!({"phase": "tabled"}),
        )
        .await;
    assert_eq!(status, 200);
    let connections_before = delegate.eval("closes.length").await;
    delegate
        .eval("doc.getText('t').insert(5, ' all parliaments')")
        .await;
    // Read-only at once: the edit is refused on the same connection.
    let fresh = YrsClient::connect(&server, &cast.fixture.room()).await;
    fresh.wait_synced().await;
    assert_eq!(fresh.text("t"), "Urges");
    assert_eq!(
        delegate.eval("closes.length").await,
        connections_before,
        "no reconnect was needed"
    );

    // The delegate signs out: its socket closes with 4401 and does not come back.
    let (status, _) = cast.sponsor.post("/api/auth/logout", json!({})).await;
    assert_eq!(status, 204);
    let close = delegate.until("closes.find(c => c.code === 4401)").await;
    assert!(
        close["reason"]
            .as_str()
            .unwrap_or_default()
            .contains("session"),
        "{close}"
    );
    assert_eq!(delegate.eval("provider.shouldConnect").await, json!(false));
    let (status, _) = cast.sponsor.get("/api/auth/me").await;
    assert_eq!(
        status, 401,
        "the revoked token no longer works on the API either"
    );
    delegate.exit().await;
    observer.exit().await;
}

/// Awareness carries the identity the server knows; a client cannot claim
/// another name, nor speak for another client's id.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn awareness_cannot_be_spoofed() {
    let db = TestDb::sqlite();
    let server = Server::start(&db, &[]).await;
    let cast = Cast::new(&server).await;
    let ana = YrsClient::connect(&server, &cast.fixture.room_for(&cast.sponsor)).await;
    let mallory = YrsClient::connect(&server, &cast.fixture.room_for(&cast.observer)).await;
    let watcher = YrsClient::connect(&server, &cast.fixture.room_for(&cast.chair)).await;

    ana.set_awareness(
        1,
        Some(r#"{"user":{"name":"Claudia"},"cursor":{"anchor":3}}"#),
    );
    watcher
        .wait_for("Ana's presence", |c| {
            c.awareness()
                .get(&ana.client_id)
                .is_some_and(Option::is_some)
        })
        .await;
    // Mallory claims to be the chair, then takes over Ana's client id.
    mallory.set_awareness(
        1,
        Some(r#"{"user":{"name":"The Chair","role":"chair","delegation":"Mexico"}}"#),
    );
    mallory.send_awareness(
        ana.client_id,
        99,
        Some(r#"{"user":{"name":"Ana resigns"}}"#),
    );
    mallory.send_awareness(ana.client_id, 100, None);
    watcher
        .wait_for("Mallory's presence", |c| {
            c.awareness()
                .get(&mallory.client_id)
                .is_some_and(Option::is_some)
        })
        .await;
    let states = watcher.awareness();
    let mallory_state: Value =
        serde_json::from_str(states[&mallory.client_id].as_deref().expect("state")).expect("json");
    assert_eq!(mallory_state["user"]["name"], "Press");
    assert_eq!(mallory_state["user"]["role"], "observer");
    assert_eq!(mallory_state["user"]["delegation"], Value::Null);
    let ana_state: Value = serde_json::from_str(
        states[&ana.client_id]
            .as_deref()
            .expect("Ana is still present"),
    )
    .expect("json");
    assert_eq!(ana_state["user"]["name"], "Claudia");
    assert_eq!(ana_state["user"]["delegation"], "Mexico");
    assert_eq!(ana_state["cursor"]["anchor"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_end_and_failed_sign_ins_slow_down() {
    let db = TestDb::sqlite();
    let server = Server::start(&db, &[]).await;
    let cast = Cast::new(&server).await;

    // Five wrong passwords cost nothing; the sixth attempt must wait, even
    // with the right password; another account is unaffected.
    let client = reqwest::Client::new();
    let login = |email: &str, password: &str| {
        client
            .post(server.http_url("/api/auth/login"))
            .json(&json!({"email": email, "password": password}))
            .send()
    };
    let (victim, _) = {
        let (_, users) = cast.secretariat.get("/api/users").await;
        let email = users
            .as_array()
            .and_then(|users| users.iter().find(|u| u["name"] == "Rosa"))
            .and_then(|u| u["email"].as_str())
            .expect("Rosa's email")
            .to_owned();
        (email, ())
    };
    for _ in 0..5 {
        let response = login(&victim, "wrong password!").await.expect("request");
        assert_eq!(response.status(), 401);
        let problem: Value = response.json().await.expect("problem+json");
        assert_eq!(problem["status"], 401);
    }
    let response = login(&victim, "a long enough password")
        .await
        .expect("request");
    assert_eq!(response.status(), 429);
    assert!(response.headers().contains_key("retry-after"));
    let response = login(crate::support::ADMIN_EMAIL, crate::support::ADMIN_PASSWORD)
        .await
        .expect("request");
    assert_eq!(response.status(), 200, "another account is not slowed down");
    // The browser gets an HttpOnly, SameSite cookie.
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );

    // Sign out everywhere: every token of the account stops working, and
    // its sockets close.
    let second = Api::login(
        &server,
        crate::support::ADMIN_EMAIL,
        crate::support::ADMIN_PASSWORD,
    )
    .await;
    let socket = YrsClient::connect(&server, &cast.fixture.room_for(&second)).await;
    let (status, _) = cast
        .secretariat
        .post("/api/auth/logout-all", json!({}))
        .await;
    assert_eq!(status, 204);
    assert_eq!(socket.wait_closed().await.0, 4401);
    assert_eq!(second.get("/api/auth/me").await.0, 401);
    assert_eq!(cast.secretariat.get("/api/auth/me").await.0, 401);

    // A disabled account: its sockets close, it cannot sign in.
    let admin = Api::admin(&server).await;
    let (_, users) = admin.get("/api/users").await;
    let observer_id = users
        .as_array()
        .and_then(|users| users.iter().find(|u| u["name"] == "Press"))
        .and_then(|u| u["id"].as_str())
        .expect("the observer")
        .to_owned();
    let observer_socket = YrsClient::connect(&server, &cast.fixture.room_for(&cast.observer)).await;
    let (status, body) = admin
        .patch(
            &format!("/api/users/{observer_id}"),
            json!({"disabled": true}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(observer_socket.wait_closed().await.0, 4401);
    assert_eq!(cast.observer.get("/api/meetings").await.0, 401);

    // Malformed requests are refused with problem+json.
    let (status, body) = admin
        .post("/api/meetings", json!({"title": "X", "colour": "blue"}))
        .await;
    assert_eq!(status, 400, "unknown fields are refused: {body}");
    assert!(
        body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("colour")
    );
    let (status, body) = admin
        .post(
            "/api/meetings",
            json!({"title": "X", "starts_on": "31/12/2026"}),
        )
        .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["field"], "starts_on");
    let huge = "x".repeat(300 * 1024);
    let (status, _) = admin.post("/api/meetings", json!({"title": huge})).await;
    assert_eq!(status, 413, "request bodies have a size limit");

    // The audit log has seen it all.
    let (_, events) = admin.get("/api/audit?limit=500").await;
    let actions: Vec<&str> = events
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|event| event["action"].as_str())
        .collect();
    for action in [
        "sign_in",
        "sign_in_failed",
        "sign_out_everywhere",
        "account_created",
        "account_changed",
        "meeting_created",
        "resolution_created",
    ] {
        assert!(
            actions.contains(&action),
            "{action} is in the audit log: {actions:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_writes_and_phase_changes_are_audited() {
    let db = TestDb::sqlite();
    let server = Server::start(&db, &[]).await;
    let cast = Cast::new(&server).await;
    let observer = YrsClient::connect(&server, &cast.fixture.room_for(&cast.observer)).await;
    observer.append("t", "no");
    observer
        .wait_for("a refusal", |c| !c.permission_denied().is_empty())
        .await;
    let draft = &cast.fixture.resolution;
    cast.chair
        .post(
            &format!("/api/resolutions/{draft}/phase"),
            json!({"phase": "tabled"}),
        )
        .await;
    let (_, events) = cast.secretariat.get("/api/audit").await;
    let events = events.as_array().expect("events").clone();
    let find = |action: &str| events.iter().find(|e| e["action"] == action).cloned();
    let refused = find("write_refused").expect("a refused write is audited");
    assert_eq!(refused["target"], json!(draft));
    let phase = find("phase_changed").expect("the phase change is audited");
    assert_eq!(phase["detail"]["to"], "tabled");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_run_prints_a_one_time_setup_link() {
    let db = TestDb::sqlite();
    let mut server = Server::start_without_admin(&db, &[]).await;
    let line = server.output_line().await;
    let token = line
        .split("/setup#")
        .nth(1)
        .unwrap_or_else(|| panic!("a setup link: {line}"))
        .trim()
        .to_owned();
    let client = reqwest::Client::new();
    let status: Value = client
        .get(server.http_url("/api/setup"))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(status["needed"], true);
    let setup = |token: String| {
        client
            .post(server.http_url("/api/setup"))
            .json(&json!({"token": token, "email": "sec@plenary.example", "name": "Secretariat", "password": "the first password"}))
            .send()
    };
    assert_eq!(setup("wrong".into()).await.expect("request").status(), 403);
    assert_eq!(setup(token.clone()).await.expect("request").status(), 201);
    assert_eq!(
        setup(token).await.expect("request").status(),
        403,
        "the link works once"
    );
    let admin = Api::login(&server, "sec@plenary.example", "the first password").await;
    let (status, me) = admin.get("/api/auth/me").await;
    assert_eq!(status, 200);
    assert_eq!(me["account"]["role"], "secretariat");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_is_a_real_meeting_in_one_command() {
    let db = TestDb::sqlite();
    let mut server = Server::start_without_admin(&db, &["--demo"]).await;
    let mut lines = Vec::new();
    loop {
        let line = server.output_line().await;
        let done = line.contains("observer@");
        lines.push(line);
        if done {
            break;
        }
    }
    let credentials = |email: &str| {
        lines
            .iter()
            .find(|line| line.contains(email))
            .and_then(|line| line.split_whitespace().last())
            .unwrap_or_else(|| panic!("{email} in {lines:?}"))
            .to_owned()
    };
    let delegate = Api::login(
        &server,
        "mexico@plenary.example",
        &credentials("mexico@plenary.example"),
    )
    .await;
    let (_, meetings) = delegate.get("/api/meetings").await;
    let meeting = &meetings[0];
    assert_eq!(meeting["theme"], "Human trafficking");
    let (_, detail) = delegate
        .get(&format!(
            "/api/meetings/{}",
            meeting["id"].as_str().expect("id")
        ))
        .await;
    assert_eq!(detail["delegations"].as_array().map(Vec::len), Some(12));
    let resolution = detail["resolutions"][0]["id"]
        .as_str()
        .expect("a resolution")
        .to_owned();
    let (_, view) = delegate
        .get(&format!("/api/resolutions/{resolution}"))
        .await;
    assert_eq!(
        view["permissions"]["edit_body"], true,
        "Mexico sponsors the draft"
    );
    let mut client = JsClient::spawn().await;
    client
        .connect(&server, &format!("{resolution}?token={}", delegate.token))
        .await;
    let paragraphs = client.eval("doc.getXmlFragment('body').length").await;
    assert_eq!(paragraphs, json!(18));
    let first = client.eval("helpers.xmlLines('body')[0]").await;
    // Yjs reads the italic opening words as a mark, as the editor will.
    assert!(
        first
            .as_str()
            .unwrap_or_default()
            .starts_with("preamble: <italic>Recalling</italic> the Protocol"),
        "{first}"
    );
    for email in ["secretariat@", "chair@", "observer@", "peru@"] {
        Api::login(
            &server,
            &format!("{email}plenary.example"),
            &credentials(email),
        )
        .await;
    }
    client.exit().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plenary_user_add_creates_an_account() {
    let db = TestDb::sqlite();
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_plenary"))
        .args([
            "user",
            "add",
            "--email",
            "chair@plenary.example",
            "--name",
            "La Presidenta",
            "--role",
            "chair",
            "--database-url",
            &db.url,
        ])
        .env("PLENARY_PASSWORD", "presiding with care")
        .output()
        .await
        .expect("run plenary user add");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let server = Server::start(&db, &[]).await;
    let chair = Api::login(&server, "chair@plenary.example", "presiding with care").await;
    let (_, me) = chair.get("/api/auth/me").await;
    assert_eq!(me["account"]["role"], "chair");
    assert_eq!(me["account"]["name"], "La Presidenta");
}

/// The scripting contract works with nothing but curl.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_scripting_contract_works_with_curl() {
    let db = TestDb::sqlite();
    let server = Server::start(&db, &[]).await;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scripts/contract.sh");
    let output = tokio::process::Command::new("bash")
        .arg(script)
        .arg(format!("http://{}", server.addr))
        .env("PLENARY_EMAIL", crate::support::ADMIN_EMAIL)
        .env("PLENARY_PASSWORD", crate::support::ADMIN_PASSWORD)
        .output()
        .await
        .expect("run bash (and curl)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(stdout.contains("contract OK"), "{stdout}");
}

/// No token or password ever appears in a log line, even at debug level.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn secrets_never_reach_the_log() {
    let db = TestDb::sqlite();
    let (server, log) = Server::start_logging(&db).await;
    let fixture = Fixture::new(&server).await;
    let wrong = reqwest::Client::new()
        .post(server.http_url("/api/auth/login"))
        .json(&json!({"email": crate::support::ADMIN_EMAIL, "password": "a-wrong-secret-password"}))
        .send()
        .await
        .expect("request");
    assert_eq!(wrong.status(), 401);
    let client = YrsClient::connect(&server, &fixture.room()).await;
    client.append("t", "x");
    client
        .wait_for("the echo", |c| c.mirror_text("t") == "x")
        .await;
    let forged = tokio_tungstenite::connect_async(format!(
        "{}/{}?token=forged-token-value",
        server.ws_url(),
        fixture.resolution
    ))
    .await;
    assert!(forged.is_err());
    fixture.admin.post("/api/auth/logout", json!({})).await;
    let log = log.lock().expect("lock").clone();
    assert!(
        log.contains("DEBUG") || log.contains("INFO"),
        "the server did log: {log}"
    );
    for secret in [
        fixture.admin.token.as_str(),
        crate::support::ADMIN_PASSWORD,
        "a-wrong-secret-password",
        "forged-token-value",
    ] {
        assert!(!log.contains(secret), "a secret appears in the log");
    }
}

/// Each account has its own API budget: one busy script does not slow others.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_rate_limits_are_per_account() {
    let db = TestDb::sqlite();
    let server = Server::start(&db, &["--api-rate", "1"]).await;
    let fixture = Fixture::new(&server).await;
    let other = fixture.account(&server, "observer", None).await;
    let mut limited = false;
    for _ in 0..20 {
        let (status, _) = fixture.admin.get("/api/meetings").await;
        if status == 429 {
            limited = true;
            break;
        }
        assert_eq!(status, 200);
    }
    assert!(
        limited,
        "a burst beyond the account's budget is refused with 429"
    );
    assert_eq!(
        other.get("/api/meetings").await.0,
        200,
        "another account is unaffected"
    );
}

/// Sockets that open while their session is being signed out never outlive
/// it: each is refused, or closed with 4401, however the sign-out and its
/// opening interleave (a node keeps the sessions it has read; see
/// `server/cache.rs` and `sync_document`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sockets_opening_during_a_sign_out_do_not_outlive_it() {
    let db = TestDb::sqlite();
    let server = Server::start(&db, &[]).await;
    let fixture = crate::support::Fixture::new(&server).await;
    for round in 0..10 {
        let session = Api::admin(&server).await;
        // Read once, so the node keeps it.
        assert_eq!(session.get("/api/auth/me").await.0, 200);
        let url = format!("{}/{}", server.ws_url(), fixture.room_for(&session));
        let attempts: Vec<_> = (0..20)
            .map(|_| {
                let url = url.clone();
                tokio::spawn(async move { tokio_tungstenite::connect_async(url.as_str()).await })
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(round)).await;
        let (status, _) = session.post("/api/auth/logout", json!({})).await;
        assert_eq!(status, 204);
        for attempt in attempts {
            match attempt.await.expect("the attempt ran") {
                Ok((mut socket, _)) => {
                    let (code, reason) = crate::support::read_until_close(&mut socket).await;
                    assert!(
                        code == 4401,
                        "round {round}: a socket of the ended session closed with {code} {reason}"
                    );
                }
                Err(tungstenite::Error::Http(response)) => {
                    assert!(
                        matches!(response.status().as_u16(), 401 | 503),
                        "round {round}: refused with {}",
                        response.status()
                    );
                }
                Err(error) => panic!("round {round}: {error}"),
            }
        }
        assert_eq!(session.get("/api/auth/me").await.0, 401);
    }
}

/// The server routes its API from one list per module and builds the OpenAPI
/// document from the same list only when it is asked for
/// (`app::api_routes!`): every operation the document describes is served,
/// and refuses a caller without a session (sign-in and first-run set-up
/// excepted, which answer one).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_operation_is_served() {
    let db = TestDb::sqlite();
    let server = Server::start(&db, &[]).await;
    let anonymous = Api {
        token: "not-a-token".into(),
        ..Api::admin(&server).await
    };
    let (status, document) = anonymous.get("/api/openapi.json").await;
    expect("anonymous", "the OpenAPI document", status, 200, &document);
    let paths = document["paths"].as_object().expect("paths");
    let mut operations = 0;
    for (path, item) in paths {
        let concrete = path
            .split('/')
            .map(|part| if part.starts_with('{') { "x1" } else { part })
            .collect::<Vec<_>>()
            .join("/");
        for method in item.as_object().expect("a path item").keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes())
                .expect("an HTTP method");
            let body = (method != reqwest::Method::GET).then(|| json!({}));
            let (status, answer) = anonymous.send(method.clone(), &concrete, body).await;
            let what = format!("{method} {path}");
            if path.starts_with("/api/auth/login") || path.starts_with("/api/setup") {
                assert!(
                    ![401, 404, 405].contains(&status),
                    "{what}: {status} {answer}"
                );
            } else {
                expect("anonymous", &what, status, 401, &answer);
            }
            operations += 1;
        }
    }
    assert!(operations >= 40, "{operations} operations documented");
}
