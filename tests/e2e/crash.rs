//! SIGKILL at a random moment under steady writing: nothing any client has
//! seen from the server is lost, and nothing at all once writers reconnect.

use std::collections::BTreeSet;
use std::time::Duration;

use rand::{RngExt, SeedableRng};
use yrs::{ReadTxn, Transact};

use crate::support::{Fixture, Server, TestDb, YrsClient, seed};
use crate::test_both_dbs;

const WRITERS: usize = 4;
const ROUNDS: usize = 20;

fn tokens(text: &str) -> BTreeSet<String> {
    text.split(';')
        .filter(|token| !token.is_empty())
        .map(str::to_owned)
        .collect()
}

async fn nothing_seen_is_lost_after_sigkill(db: TestDb) {
    let seed = seed("crash");
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut server = Server::start(&db, &[]).await;
    let room = Fixture::new(&server).await.room();
    let mut written: BTreeSet<String> = BTreeSet::new();
    let mut docs: Vec<(yrs::Doc, yrs::Doc)> = (0..WRITERS)
        .map(|_| (yrs::Doc::new(), yrs::Doc::new()))
        .collect();

    for round in 0..ROUNDS {
        let mut writers = Vec::new();
        for (doc, mirror) in &docs {
            writers.push(YrsClient::reconnect(&server, &room, doc.clone(), mirror.clone()).await);
        }
        let kill_after = Duration::from_millis(rng.random_range(50..500));
        let deadline = tokio::time::Instant::now() + kill_after;
        let mut n = 0;
        while tokio::time::Instant::now() < deadline {
            for (index, writer) in writers.iter().enumerate() {
                let token = format!("r{round}w{index}n{n}");
                writer.append("t", &format!("{token};"));
                written.insert(token);
            }
            n += 1;
            tokio::time::sleep(Duration::from_millis(rng.random_range(0..3))).await;
        }
        server.kill9().await;
        for writer in &writers {
            writer.wait_closed().await;
        }
        let seen: BTreeSet<String> = writers
            .iter()
            .flat_map(|writer| tokens(&writer.mirror_text("t")))
            .collect();
        assert!(
            !seen.is_empty(),
            "seed {seed}: the clients saw something before the kill"
        );

        server.restart().await;
        let fresh = YrsClient::connect(&server, &room).await;
        let stored = tokens(&fresh.text("t"));
        let lost: Vec<&String> = seen.difference(&stored).collect();
        assert!(
            lost.is_empty(),
            "seed {seed}, round {round}: {} updates seen by clients were lost after SIGKILL: {lost:?}",
            lost.len()
        );
        docs = writers
            .iter()
            .map(|writer| (writer.doc.clone(), writer.mirror.clone()))
            .collect();
    }

    // The writers reconnect with their documents: every update arrives.
    let mut writers = Vec::new();
    for (doc, mirror) in &docs {
        writers.push(YrsClient::reconnect(&server, &room, doc.clone(), mirror.clone()).await);
    }
    let everything = writers[0].text("t");
    let fresh = YrsClient::connect(&server, &room).await;
    let arrived = fresh
        .wait_until(|c| tokens(&c.text("t")).is_superset(&written))
        .await;
    if !arrived {
        let text = fresh.text("t");
        let stored = tokens(&text);
        let missing: Vec<&String> = written.difference(&stored).collect();
        // Words nobody wrote: a word split by another, and what split it.
        let strange: Vec<&String> = stored.difference(&written).collect();
        let held: Vec<String> = writers
            .iter()
            .map(|writer| {
                let text = tokens(&writer.text("t"));
                let sv = writer.doc.transact().state_vector();
                format!(
                    "writer {} holds {} of them, state vector {sv:?}",
                    writer.client_id,
                    missing
                        .iter()
                        .filter(|token| text.contains(**token))
                        .count()
                )
            })
            .collect();
        panic!(
            "seed {seed}: {} updates never reached a fresh client: {missing:?} \
             (words nobody wrote: {strange:?}); \
             the fresh client's state vector {:?}, pending {:?}; {held:?}",
            missing.len(),
            fresh.doc.transact().state_vector(),
            fresh.doc.transact().store().pending_update().is_some(),
        );
    }
    assert!(tokens(&everything).is_subset(&written));
    server.kill9().await;
}
test_both_dbs!(
    nothing_seen_is_lost_after_sigkill,
    nothing_seen_is_lost_after_sigkill_sqlite,
    nothing_seen_is_lost_after_sigkill_postgres
);
