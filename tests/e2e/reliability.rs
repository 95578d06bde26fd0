//! Faults: a database that fills up or drops its connections, a thousand
//! unload/load races with writes in flight, and online backups.

use std::sync::Arc;
use std::time::Duration;

use plenary::store::Database;
use plenary::store::sqlite::SqliteStore;
use plenary::sync::room::close;

use crate::support::{Fixture, InProcess, Server, TestDb, YrsClient};

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
/// again at the next connection. Nothing is missing.
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
        loads >= (rounds / 10) as u64,
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
            use sqlx::Connection;
            let mut admin = sqlx::PgConnection::connect(&db.url).await.expect("connect");
            sqlx::query("select pg_terminate_backend(pid) from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()")
                .execute(&mut admin)
                .await
                .expect("terminate every connection");
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
