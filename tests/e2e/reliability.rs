//! Faults: a database that fills up or drops its connections, a thousand
//! unload/load races with writes in flight, online backups, and the memory
//! one hostile account can make the server hold.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use futures_util::SinkExt;
use plenary::sync::protocol::{self, AwarenessEntry};
use tokio_tungstenite::tungstenite::Message;
use yrs::updates::encoder::Encode;
use yrs::{Text, Transact};

use plenary::store::Database;
use plenary::store::sqlite::SqliteStore;
use plenary::sync::room::close;

use crate::support::{Connections, Fixture, InProcess, Server, TestDb, YrsClient, raw_socket};

fn sqlite_database(store: Arc<SqliteStore>) -> Database {
    Database {
        documents: store.clone(),
        directory: store,
        postgres: None,
    }
}

/// A full disk, as SQLite sees it (`max_page_count`): the write that does
/// not fit is refused and its document's connections are told why; nothing
/// is corrupted; once there is room again everything is there and writing
/// resumes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_refuses_writes_and_recovers() {
    let db = TestDb::sqlite();
    let server = InProcess::start(db.database().await, InProcess::config()).await;
    let fixture = Fixture::new(&server).await;
    let room = fixture.room();
    let writer = YrsClient::connect(&server, &room).await;
    writer.append("t", "Saved before the disk filled;");
    writer
        .wait_for("the first commit", |c| {
            c.mirror_text("t") == "Saved before the disk filled;"
        })
        .await;
    drop(writer);
    server.stop().await;

    // Reopen with no room to grow.
    let pages: i64 = {
        let store = SqliteStore::open(&db.url).await.expect("open");
        sqlx::query_scalar("pragma page_count")
            .fetch_one(store.pool())
            .await
            .expect("page count")
    };
    let full = Arc::new(
        SqliteStore::open_with(&db.url, &[("max_page_count", (pages + 2).to_string())])
            .await
            .expect("open"),
    );
    let server = InProcess::start(sqlite_database(full), InProcess::config()).await;
    let writer = YrsClient::connect(&server, &room).await;
    let big = "x".repeat(64 * 1024);
    for _ in 0..8 {
        writer.append("t", &big);
    }
    let (code, reason) = writer.wait_closed().await;
    assert_eq!(code, close::INTERNAL_ERROR, "{reason}");
    assert!(
        reason.contains("could not save"),
        "a clear reason: {reason}"
    );
    server.stop().await;

    // Nothing is corrupted.
    let store = SqliteStore::open(&db.url).await.expect("open");
    let check: String = sqlx::query_scalar("pragma integrity_check")
        .fetch_one(store.pool())
        .await
        .expect("integrity check");
    assert_eq!(check, "ok");
    drop(store);

    // Room again: the text written before is whole, and writing resumes.
    let server = InProcess::start(db.database().await, InProcess::config()).await;
    let reader = YrsClient::connect(&server, &room).await;
    assert!(
        reader
            .text("t")
            .starts_with("Saved before the disk filled;")
    );
    reader.append("t", " and after.");
    reader
        .wait_for("a commit after recovery", |c| {
            c.mirror_text("t").ends_with(" and after.")
        })
        .await;
    server.stop().await;
}

/// A thousand times: connect, write, leave at once (the write still in
/// flight), with documents unloading as soon as they are idle and loading
/// again at the next connection: every other time the next client comes at
/// once, racing the unload; the other times after it. Nothing is missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_unload_load_races_lose_nothing() {
    let db = TestDb::sqlite();
    let mut config = InProcess::config();
    config.room.idle_unload = Duration::ZERO;
    // One script plays a thousand laptops: lift the per-account budgets.
    config.limits.sync_messages_per_second = 1_000_000;
    config.limits.sync_burst = 1_000_000;
    let server = InProcess::start(db.database().await, config).await;
    let fixture = Fixture::new(&server).await;
    let room = fixture.room();
    let rounds = 1000;
    let mut doc = yrs::Doc::new();
    for round in 0..rounds {
        let client = YrsClient::connect_doc(&server, &room, doc.clone()).await;
        client.append("t", &format!("[{round}]"));
        client.close();
        doc = client.doc.clone();
        if round % 2 == 1 {
            server.until_unloaded().await;
        }
    }
    // A client that left before hearing its write acknowledged may have had
    // it cut off with its connection; it sends it again when it comes back.
    let writer = YrsClient::connect_doc(&server, &room, doc.clone()).await;
    writer.wait_synced().await;
    let reader = YrsClient::connect(&server, &room).await;
    reader
        .wait_for("every write", |c| {
            let text = c.text("t");
            (0..rounds).all(|round| text.contains(&format!("[{round}]")))
        })
        .await;
    let loads = server
        .state
        .metrics()
        .documents_loaded
        .load(std::sync::atomic::Ordering::Relaxed);
    eprintln!("{rounds} rounds: the document was loaded {loads} times");
    assert!(
        loads >= (rounds / 2) as u64,
        "the document unloaded and loaded again and again: {loads} loads"
    );
    let stored = db
        .store()
        .await
        .load_document(&fixture.document())
        .await
        .expect("load");
    let replica = plenary::sync::crdt::Replica::load(&stored).expect("loads");
    let text = {
        use yrs::{GetString, Transact};
        replica
            .doc()
            .get_or_insert_text("t")
            .get_string(&replica.doc().transact())
    };
    assert!((0..rounds).all(|round| text.contains(&format!("[{round}]"))));
    server.stop().await;
}

/// PostgreSQL drops every connection mid-run (as in a restart): the server
/// reconnects and nothing any client had seen is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_dropping_every_connection_loses_nothing() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let server = Server::start(&db, &[]).await;
    let fixture = Fixture::new(&server).await;
    let room = fixture.room();
    let mut doc = yrs::Doc::new();
    let mut mirror = yrs::Doc::new();
    let mut seen = std::collections::BTreeSet::new();
    for round in 0..6 {
        let writer = YrsClient::reconnect(&server, &room, doc.clone(), mirror.clone()).await;
        for n in 0..20 {
            writer.append("t", &format!("[{round}-{n}]"));
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        if round % 2 == 1 {
            db.drop_connections(Connections::All).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        let text = writer.mirror_text("t");
        seen.extend(
            text.split(']')
                .filter(|t| !t.is_empty())
                .map(|t| format!("{t}]")),
        );
        doc = writer.doc.clone();
        mirror = writer.mirror.clone();
        writer.close();
    }
    // The server still answers, and a fresh client has everything seen.
    let ready = reqwest::get(server.http_url("/readyz"))
        .await
        .expect("request");
    assert_eq!(ready.status(), 200);
    let fresh = YrsClient::connect(&server, &room).await;
    let text = fresh.text("t");
    let lost: Vec<&String> = seen
        .iter()
        .filter(|token| !text.contains(token.as_str()))
        .collect();
    assert!(
        lost.is_empty(),
        "lost after the database dropped its connections: {lost:?}"
    );
    // And once the writer reconnects, everything it wrote arrives.
    let writer = YrsClient::reconnect(&server, &room, doc, mirror).await;
    drop(writer);
    fresh
        .wait_for("every write", |c| {
            let text = c.text("t");
            (0..6).all(|round| (0..20).all(|n| text.contains(&format!("[{round}-{n}]"))))
        })
        .await;
}

/// `plenary backup` copies the database while it is written; the copy opens
/// with every document whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_online_backup_restores_whole() {
    let db = TestDb::sqlite();
    let server = Server::start(&db, &[]).await;
    let fixture = Fixture::new(&server).await;
    let (second, second_room) = fixture.new_room().await;
    let first_writer = YrsClient::connect(&server, &fixture.room()).await;
    let second_writer = YrsClient::connect(&server, &second_room).await;
    first_writer.append("t", "First resolution;");
    second_writer.append("t", "Second resolution;");
    first_writer
        .wait_for("the first", |c| c.mirror_text("t") == "First resolution;")
        .await;
    second_writer
        .wait_for("the second", |c| c.mirror_text("t") == "Second resolution;")
        .await;

    // Keep writing while the backup runs.
    let writing = tokio::spawn({
        let room = fixture.room();
        let addr = server.addr;
        async move {
            let url = format!("ws://{addr}/sync/{room}");
            let client = YrsClient::connect_url(&url, yrs::Doc::new()).await;
            client.wait_synced().await;
            for n in 0..200 {
                client.append("t", &format!(" {n}"));
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            client
        }
    });
    let copy = db.dir().join("backup.db");
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_plenary"))
        .args(["backup", "--database-url", &db.url, "--output"])
        .arg(&copy)
        .output()
        .await
        .expect("run plenary backup");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let _ = writing.await;

    // The copy serves as a database of its own.
    let restored_url = format!("sqlite://{}", copy.display());
    let restored = TestDb::from_url(&restored_url);
    let server2 = Server::start(&restored, &[]).await;
    let first = YrsClient::connect(&server2, &fixture.room()).await;
    assert!(first.text("t").starts_with("First resolution;"));
    let second_client =
        YrsClient::connect(&server2, &format!("{second}?token={}", fixture.admin.token)).await;
    assert_eq!(second_client.text("t"), "Second resolution;");
    let _ = server;
}

/// One account, doing everything a client may to make the server hold
/// memory (every connection it may open, each with the largest awareness
/// states, each asking for the whole document again and again without ever
/// reading), adds no more than the documented bound: per connection, its
/// outbound bytes plus one document frame, two frames being read and its
/// awareness states. The slow readers are closed; everyone else carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_account_adds_a_bounded_amount_of_server_memory() {
    const CONNECTIONS: usize = 8;
    const MIB: u64 = 1024 * 1024;
    const OUTBOUND_BYTES: u64 = 4 * MIB;
    const MAX_FRAME: u64 = 2 * MIB;
    const DOCUMENT_CHARS: usize = 1 << 20;
    let db = TestDb::sqlite();
    let server = Server::start(
        &db,
        &[
            "--connections-per-account",
            &CONNECTIONS.to_string(),
            "--outbound-bytes",
            &OUTBOUND_BYTES.to_string(),
            "--max-frame-bytes",
            &MAX_FRAME.to_string(),
        ],
    )
    .await;
    let fixture = Fixture::new(&server).await;
    let author = YrsClient::connect(&server, &fixture.room()).await;
    author.append("t", &"x".repeat(DOCUMENT_CHARS));
    let bystander = YrsClient::connect(&server, &fixture.room()).await;
    bystander
        .wait_for("the document", |c| {
            c.mirror_text("t").len() == DOCUMENT_CHARS
        })
        .await;
    let observer = fixture.person(&server, "Press", "observer", None).await;
    let room = fixture.room_for(&observer);

    let mut sockets = Vec::new();
    for _ in 0..CONNECTIONS {
        sockets.push(raw_socket(&server, &room).await);
    }
    // One more is refused.
    match tokio_tungstenite::connect_async(format!("{}/{room}", server.ws_url())).await {
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            assert_eq!(response.status(), 429);
        }
        other => panic!("a connection over the limit: {:?}", other.map(|_| "open")),
    }

    let pid = server.pid().expect("the server runs");
    let baseline = rss_bytes(pid).expect("the server's RSS");
    let peak = Arc::new(AtomicU64::new(baseline));
    let attacking = Arc::new(AtomicBool::new(true));
    let sampling = tokio::spawn({
        let (peak, attacking) = (peak.clone(), attacking.clone());
        async move {
            while attacking.load(Ordering::Relaxed) {
                if let Some(rss) = rss_bytes(pid) {
                    peak.fetch_max(rss, Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    });

    // Every connection: eight awareness states of 16,000 bytes, then 250
    // requests for the whole document (1 MiB each), never reading.
    let note = format!("{{\"note\":\"{}\"}}", "n".repeat(15_980));
    let step1 = protocol::encode_sync_step1(&yrs::StateVector::default().encode_v1());
    let attacks = sockets.into_iter().enumerate().map(|(index, mut socket)| {
        let entries: Vec<AwarenessEntry> = (0..8)
            .map(|n| AwarenessEntry {
                client: (index * 8 + n + 1) as u64,
                clock: 1,
                state: Some(note.clone()),
            })
            .collect();
        let step1 = step1.clone();
        async move {
            let _ = socket
                .send(Message::Binary(protocol::encode_awareness(&entries)))
                .await;
            for _ in 0..250 {
                if socket.send(Message::Binary(step1.clone())).await.is_err() {
                    break;
                }
            }
            socket
        }
    });
    let sockets = futures_util::future::join_all(attacks).await;
    // The server closes each of them as a slow consumer.
    let closed = || async { server.metric("plenary_slow_consumers_closed_total").await as usize };
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while closed().await < CONNECTIONS {
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {} of {CONNECTIONS} slow readers were closed",
            closed().await
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    attacking.store(false, Ordering::Relaxed);
    sampling.await.expect("the sampler");
    drop(sockets);

    let document_frame = DOCUMENT_CHARS as u64 + 64 * 1024;
    let per_connection =
        OUTBOUND_BYTES + document_frame + 2 * MAX_FRAME + 8 * 16 * 1024 + 256 * 1024;
    let bound = CONNECTIONS as u64 * per_connection + MIB;
    let added = peak.load(Ordering::Relaxed).saturating_sub(baseline);
    eprintln!(
        "one account added at most {:.1} MiB to the server (bound {:.1} MiB)",
        added as f64 / MIB as f64,
        bound as f64 / MIB as f64
    );
    assert!(
        added <= bound,
        "the server grew by {added} bytes, over the bound of {bound}"
    );

    // Everyone else carried on.
    assert!(author.closed().is_none() && bystander.closed().is_none());
    author.append("t", " and more");
    bystander
        .wait_for("an edit after the attack", |c| {
            c.mirror_text("t").ends_with(" and more")
        })
        .await;
}

/// A process's resident memory, in bytes (Linux `/proc`).
fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

/// After a crash the server may lack a client's last edits (they were not
/// committed yet); the client, typing on, sends updates that start past
/// what the server has. The server answers with its state vector, the
/// client's sync step 2 brings the missing edits, and nothing is lost or
/// refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_update_past_what_the_server_has_gets_a_resync_not_a_refusal() {
    let db = TestDb::sqlite();
    let server = InProcess::start(db.database().await, InProcess::config()).await;
    let fixture = Fixture::new(&server).await;
    let room = fixture.room();
    let writer = YrsClient::connect(&server, &room).await;
    writer.insert("t", 0, "Urges");
    writer
        .wait_for("the first edit", |c| c.mirror_text("t") == "Urges")
        .await;
    // An edit the server never got (as if lost in a crash) …
    {
        let text = writer.doc.get_or_insert_text("t");
        text.insert(&mut writer.doc.transact_mut(), 0, "all ");
    }
    // … then typing at the start (no left origin): past the server's clock.
    writer.insert("t", 0, "The ");
    writer
        .wait_for("every edit, after the resync", |c| {
            c.mirror_text("t") == "The all Urges"
        })
        .await;
    assert_eq!(writer.closed(), None);
    let reader = YrsClient::connect(&server, &room).await;
    reader
        .wait_for("a fresh client's copy", |c| c.text("t") == "The all Urges")
        .await;
}
