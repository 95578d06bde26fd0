//! A long history loads and syncs; compaction keeps the log bounded.

use std::time::{Duration, Instant};

use plenary::ids::{DocumentId, Seq};
use plenary::store::{DynStore, NewUpdate};

use crate::storage::typing_updates;
use crate::support::{Fixture, InProcess, TestDb, YrsClient};
use crate::test_both_dbs;

const HISTORY: usize = 100_000;

async fn log_len(store: &DynStore, document: &DocumentId) -> usize {
    store
        .load_document(document)
        .await
        .expect("load")
        .updates
        .len()
}

async fn wait_log_at_most(store: &DynStore, document: &DocumentId, bound: usize) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let len = log_len(store, document).await;
        if len <= bound {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the log still holds {len} updates"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_hundred_thousand_updates_load_and_compaction_bounds_the_log(db: TestDb) {
    let database = db.database().await;
    let store = database.documents.clone();
    // Loaded from the raw log, with compaction out of the way.
    let mut config = InProcess::config();
    config.room.compact_after = u64::MAX;
    let server = InProcess::start(database.clone(), config).await;
    let fixture = Fixture::new(&server).await;
    let document = fixture.document();
    let room = fixture.room();
    // Seq 1 is the skeleton the server wrote when it created the resolution.
    let first = 2;
    let (updates, expected) = typing_updates(HISTORY);
    for (batch, chunk) in updates.chunks(5000).enumerate() {
        let rows: Vec<NewUpdate> = chunk
            .iter()
            .map(|data| NewUpdate {
                data: data.clone(),
                author: None,
                delegation: None,
            })
            .collect();
        store
            .append_updates(&document, Seq(first + (batch * 5000) as i64), &rows)
            .await
            .expect("seed the history");
    }
    assert_eq!(log_len(&store, &document).await, HISTORY + 1);

    let started = Instant::now();
    let client = YrsClient::connect(&server, &room).await;
    eprintln!(
        "{HISTORY} updates loaded and synced in {:?}",
        started.elapsed()
    );
    assert_eq!(client.text("t"), expected);
    drop(client);
    server.stop().await;

    // With compaction on, the next commit folds the log.
    let mut config = InProcess::config();
    config.room.compact_after = 500;
    let server = InProcess::start(database.clone(), config).await;
    let writer = YrsClient::connect(&server, &room).await;
    writer.append("t", "!");
    wait_log_at_most(&store, &document, 500).await;

    // Steady writing keeps it bounded.
    for _ in 0..3000 {
        writer.append("t", ".");
    }
    let total = expected.len() + 1 + 3000;
    writer
        .wait_for("every echo", |c| c.mirror_len("t") as usize == total)
        .await;
    wait_log_at_most(&store, &document, 1000).await;
    let fresh = YrsClient::connect(&server, &room).await;
    assert_eq!(fresh.text("t").len(), total);
    server.stop().await;

    let stored = store.load_document(&document).await.expect("load");
    assert!(stored.snapshot.is_some());
    assert_eq!(stored.last_seq(), Seq((1 + HISTORY + 1 + 3000) as i64));
    let replica = plenary::sync::crdt::Replica::load(&stored).expect("loads");
    let text = replica.doc().get_or_insert_text("t");
    use yrs::{GetString, Transact};
    assert_eq!(text.get_string(&replica.doc().transact()).len(), total);
}
test_both_dbs!(
    a_hundred_thousand_updates_load_and_compaction_bounds_the_log,
    a_hundred_thousand_updates_load_and_compaction_bounds_the_log_sqlite,
    a_hundred_thousand_updates_load_and_compaction_bounds_the_log_postgres
);
