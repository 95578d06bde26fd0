//! Seeded, replayable: many clients, random edits, disconnects, offline
//! edits, reconnects and one restart; every replica, a fresh client and a
//! fresh load from the store end equal.

use std::sync::Arc;

use rand::rngs::StdRng;
use rand::{Rng, RngExt, SeedableRng};
use yrs::updates::decoder::Decode;
use yrs::{Doc, GetString, ReadTxn, StateVector, Text, Transact, Update};

use crate::support::{Fixture, InProcess, TestDb, YrsClient, seed};
use crate::test_both_dbs;

const CLIENTS: usize = 5;
const STEPS: usize = 200;

struct Replica {
    doc: Doc,
    mirror: Doc,
    online: Option<YrsClient>,
}

fn random_word(rng: &mut StdRng) -> String {
    const WORDS: [&str; 8] = [
        "trafficking ",
        "víctimas ",
        "protection ",
        "Parlement ",
        "proteção ",
        "urges ",
        "(a) ",
        "; ",
    ];
    WORDS[rng.random_range(0..WORDS.len())].to_owned()
}

fn text_len(doc: &Doc) -> u32 {
    doc.get_or_insert_text("t").len(&doc.transact())
}

fn text_of(doc: &Doc) -> String {
    doc.get_or_insert_text("t").get_string(&doc.transact())
}

/// One random edit, sent if the replica is online, kept locally if not.
fn edit(replica: &Replica, rng: &mut StdRng) {
    let len = text_len(&replica.doc);
    let delete = len > 10 && rng.random_bool(0.25);
    match &replica.online {
        Some(client) if delete => {
            let index = rng.random_range(0..len - 5);
            client.delete("t", index, rng.random_range(1..5));
        }
        Some(client) => client.insert("t", rng.random_range(0..=len), &random_word(rng)),
        None => {
            let text = replica.doc.get_or_insert_text("t");
            let mut txn = replica.doc.transact_mut();
            if delete {
                let index = rng.random_range(0..len - 5);
                text.remove_range(&mut txn, index, rng.random_range(1..5));
            } else {
                text.insert(&mut txn, rng.random_range(0..=len), &random_word(rng));
            }
        }
    }
}

async fn replicas_converge_through_disconnects_and_a_restart(db: TestDb) {
    let seed = seed("randomized");
    let mut rng = StdRng::seed_from_u64(seed);
    let database = db.database().await;
    let store = database.documents.clone();
    let mut server = InProcess::start(database.clone(), InProcess::config()).await;
    let fixture = Fixture::new(&server).await;
    let room = fixture.room();
    let mut replicas: Vec<Replica> = Vec::new();
    for _ in 0..CLIENTS {
        // UTF-16 offsets, as in Yjs: every index is a character boundary.
        let doc = Doc::with_options(yrs::Options {
            client_id: yrs::ClientID::new(rng.next_u64() >> 12),
            offset_kind: yrs::OffsetKind::Utf16,
            ..yrs::Options::default()
        });
        let mirror = Doc::new();
        let client = YrsClient::reconnect(&server, &room, doc.clone(), mirror.clone()).await;
        replicas.push(Replica {
            doc,
            mirror,
            online: Some(client),
        });
    }
    for step in 0..STEPS {
        if step == STEPS / 2 {
            server.stop().await;
            for replica in &mut replicas {
                if let Some(client) = replica.online.take() {
                    client.wait_closed().await;
                }
            }
            server = InProcess::start(database.clone(), InProcess::config()).await;
        }
        let index = rng.random_range(0..CLIENTS);
        let roll: f64 = rng.random();
        let replica = &mut replicas[index];
        if roll < 0.08 {
            if let Some(client) = replica.online.take() {
                client.close();
                client.wait_closed().await;
            }
        } else if roll < 0.2 {
            if replica.online.is_none() {
                replica.online = Some(
                    YrsClient::reconnect(
                        &server,
                        &room,
                        replica.doc.clone(),
                        replica.mirror.clone(),
                    )
                    .await,
                );
            }
        } else {
            edit(replica, &mut rng);
        }
        if rng.random_bool(0.1) {
            tokio::task::yield_now().await;
        }
    }

    // Everyone comes back; the expected text merges every replica.
    for replica in &mut replicas {
        if replica.online.is_none() {
            replica.online = Some(
                YrsClient::reconnect(&server, &room, replica.doc.clone(), replica.mirror.clone())
                    .await,
            );
        }
    }
    let merged = Doc::new();
    for replica in &replicas {
        let state = replica
            .doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        merged
            .transact_mut()
            .apply_update(Update::decode_v1(&state).expect("decodes"))
            .expect("applies");
    }
    let expected = text_of(&merged);
    assert!(!expected.is_empty(), "seed {seed}: something was typed");
    for (index, replica) in replicas.iter().enumerate() {
        let client = replica.online.as_ref().expect("online");
        client
            .wait_for(&format!("replica {index} to converge (seed {seed})"), |c| {
                c.text("t") == expected
            })
            .await;
    }
    let fresh = YrsClient::connect(&server, &room).await;
    assert_eq!(fresh.text("t"), expected, "seed {seed}: a fresh client");
    drop(replicas);
    server.stop().await;

    let stored = store
        .load_document(&fixture.document())
        .await
        .expect("load");
    let loaded = plenary::sync::crdt::Replica::load(&stored).expect("loads");
    assert_eq!(
        text_of(loaded.doc()),
        expected,
        "seed {seed}: a fresh load from the store"
    );
    let _ = Arc::strong_count(&store);
}
test_both_dbs!(
    replicas_converge_through_disconnects_and_a_restart,
    replicas_converge_through_disconnects_and_a_restart_sqlite,
    replicas_converge_through_disconnects_and_a_restart_postgres
);
