//! The store's contract, the same tests on SQLite and PostgreSQL.

use bytes::Bytes;
use plenary::ids::{DocumentId, Seq};
use plenary::store::{NewUpdate, StoreError};
use yrs::{Doc, GetString, Text, Transact};

use crate::support::{Backend, Connections, TestDb};
use crate::test_both_dbs;

fn doc_id(name: &str) -> DocumentId {
    DocumentId::parse(name).expect("valid id")
}

/// `count` updates, each typing one more character into text "t".
pub fn typing_updates(count: usize) -> (Vec<Bytes>, String) {
    let doc = Doc::with_client_id(42);
    let text = doc.get_or_insert_text("t");
    let mut updates = Vec::with_capacity(count);
    let mut expected = String::with_capacity(count);
    for index in 0..count {
        let chunk = ((b'a' + (index % 26) as u8) as char).to_string();
        let mut transaction = doc.transact_mut();
        text.insert(&mut transaction, index as u32, &chunk);
        expected.push_str(&chunk);
        updates.push(Bytes::from(transaction.encode_update_v1()));
    }
    (updates, expected)
}

fn as_new(updates: &[Bytes]) -> Vec<NewUpdate> {
    updates
        .iter()
        .map(|data| NewUpdate {
            data: data.clone(),
            author: Some("account-1".into()),
            delegation: Some("delegation-1".into()),
        })
        .collect()
}

async fn appends_and_loads_in_order(db: TestDb) {
    let store = db.store().await;
    let document = doc_id("resolution-a");
    let empty = store.load_document(&document).await.expect("load");
    assert!(empty.snapshot.is_none() && empty.updates.is_empty());
    assert_eq!(empty.last_seq(), Seq(0));

    let (updates, expected) = typing_updates(10);
    store
        .append_updates(&document, Seq(1), &as_new(&updates[..4]))
        .await
        .expect("first group");
    store
        .append_updates(&document, Seq(5), &as_new(&updates[4..]))
        .await
        .expect("second group");
    let stored = store.load_document(&document).await.expect("load");
    assert_eq!(stored.last_seq(), Seq(10));
    let seqs: Vec<i64> = stored.updates.iter().map(|u| u.seq.0).collect();
    assert_eq!(seqs, (1..=10).collect::<Vec<_>>());
    let data: Vec<Vec<u8>> = stored.updates.iter().map(|u| u.data.clone()).collect();
    assert_eq!(data, updates.iter().map(|u| u.to_vec()).collect::<Vec<_>>());
    assert_eq!(text_of(&stored), expected);

    // Another document is another log.
    assert!(
        store
            .load_document(&doc_id("resolution-b"))
            .await
            .expect("load")
            .updates
            .is_empty()
    );
}
test_both_dbs!(
    appends_and_loads_in_order,
    appends_and_loads_in_order_sqlite,
    appends_and_loads_in_order_postgres
);

async fn a_taken_sequence_is_a_conflict_and_stores_nothing(db: TestDb) {
    let store = db.store().await;
    let document = doc_id("resolution-c");
    let (updates, _) = typing_updates(5);
    store
        .append_updates(&document, Seq(1), &as_new(&updates[..3]))
        .await
        .expect("append");
    // Seqs 3..5: 3 is taken, so none of 3, 4, 5 may be written.
    let error = store
        .append_updates(&document, Seq(3), &as_new(&updates[2..]))
        .await
        .expect_err("seq 3 is taken");
    assert!(matches!(error, StoreError::Conflict(_)), "{error:?}");
    let stored = store.load_document(&document).await.expect("load");
    assert_eq!(stored.last_seq(), Seq(3));
}
test_both_dbs!(
    a_taken_sequence_is_a_conflict_and_stores_nothing,
    a_taken_sequence_is_a_conflict_and_stores_nothing_sqlite,
    a_taken_sequence_is_a_conflict_and_stores_nothing_postgres
);

/// Many documents appending at once (SQLite commits them together, in one
/// transaction): every append lands in its own document, in order; one that
/// conflicts is refused alone, and stores nothing, while the others commit.
async fn concurrent_appends_of_many_documents_commit_independently(db: TestDb) {
    let store = db.store().await;
    let (updates, expected) = typing_updates(6);
    let clash = doc_id("committee-clash");
    store
        .append_updates(&clash, Seq(1), &as_new(&updates[..2]))
        .await
        .expect("first append");
    let mut appends = Vec::new();
    for index in 0..64 {
        let store = store.clone();
        let updates = updates.clone();
        appends.push(tokio::spawn(async move {
            let document = doc_id(&format!("committee-{index}"));
            store
                .append_updates(&document, Seq(1), &as_new(&updates[..3]))
                .await?;
            store
                .append_updates(&document, Seq(4), &as_new(&updates[3..]))
                .await
        }));
    }
    // Seq 2 is taken: refused, in the middle of the others.
    let refused = store
        .append_updates(&clash, Seq(2), &as_new(&updates[2..]))
        .await
        .expect_err("seq 2 is taken");
    assert!(matches!(refused, StoreError::Conflict(_)), "{refused:?}");
    for append in appends {
        append.await.expect("joins").expect("appends");
    }
    for index in 0..64 {
        let stored = store
            .load_document(&doc_id(&format!("committee-{index}")))
            .await
            .expect("load");
        assert_eq!(stored.last_seq(), Seq(6));
        assert_eq!(text_of(&stored), expected);
    }
    let stored = store.load_document(&clash).await.expect("load");
    assert_eq!(stored.last_seq(), Seq(2));
}
test_both_dbs!(
    concurrent_appends_of_many_documents_commit_independently,
    concurrent_appends_of_many_documents_commit_independently_sqlite,
    concurrent_appends_of_many_documents_commit_independently_postgres
);

/// Appends that wait while the database is locked are committed as one
/// group when it frees (both backends gather every document's appends into
/// one transaction). In such a group, an append whose sequence is taken is
/// refused alone and stores nothing; the others commit.
async fn a_taken_sequence_in_a_group_is_refused_alone(db: TestDb) {
    let store = db.store().await;
    let (updates, expected) = typing_updates(4);
    let clash = doc_id("group-clash");
    store
        .append_updates(&clash, Seq(1), &as_new(&updates[..2]))
        .await
        .expect("first append");
    let lock = WriteLock::take(&db).await;
    let append = |name: String, first: i64, updates: Vec<NewUpdate>| {
        let store = store.clone();
        tokio::spawn(async move {
            store
                .append_updates(&doc_id(&name), Seq(first), &updates)
                .await
        })
    };
    // The writer waits for the lock with this one...
    let blocked = append("group-first".into(), 1, as_new(&updates));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    // ...while these queue behind it, to go together.
    let mut grouped: Vec<_> = (0..8)
        .map(|index| append(format!("group-{index}"), 1, as_new(&updates)))
        .collect();
    let refused = append(clash.to_string(), 2, as_new(&updates[2..]));
    grouped.push(append("group-last".into(), 1, as_new(&updates)));
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    lock.release().await;

    blocked.await.expect("joins").expect("commits");
    for append in grouped {
        append
            .await
            .expect("joins")
            .expect("commits with its group");
    }
    let error = refused.await.expect("joins").expect_err("seq 2 is taken");
    assert!(matches!(error, StoreError::Conflict(_)), "{error:?}");
    let names = (0..8).map(|index| format!("group-{index}"));
    for name in names.chain(["group-first".into(), "group-last".into()]) {
        let stored = store.load_document(&doc_id(&name)).await.expect("load");
        assert_eq!(stored.last_seq(), Seq(4), "{name}");
        assert_eq!(text_of(&stored), expected, "{name}");
    }
    let stored = store.load_document(&clash).await.expect("load");
    assert_eq!(stored.last_seq(), Seq(2), "nothing of the refused append");
}
test_both_dbs!(
    a_taken_sequence_in_a_group_is_refused_alone,
    a_taken_sequence_in_a_group_is_refused_alone_sqlite,
    a_taken_sequence_in_a_group_is_refused_alone_postgres
);

/// Another connection holding the database's write lock (SQLite's
/// `begin immediate`; on PostgreSQL a lock on the log's table).
struct WriteLock(Locked);

enum Locked {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl WriteLock {
    async fn take(db: &TestDb) -> WriteLock {
        use sqlx::Connection;
        WriteLock(match db.backend {
            Backend::Sqlite => {
                let mut connection = sqlx::SqliteConnection::connect(&db.url)
                    .await
                    .expect("connects");
                sqlx::query("begin immediate")
                    .execute(&mut connection)
                    .await
                    .expect("takes the write lock");
                Locked::Sqlite(connection)
            }
            Backend::Postgres => {
                let mut connection = sqlx::PgConnection::connect(&db.url)
                    .await
                    .expect("connects");
                sqlx::query("begin")
                    .execute(&mut connection)
                    .await
                    .expect("begins");
                sqlx::query("lock table document_updates in exclusive mode")
                    .execute(&mut connection)
                    .await
                    .expect("locks the log");
                Locked::Postgres(connection)
            }
        })
    }

    async fn release(self) {
        match self.0 {
            Locked::Sqlite(mut connection) => {
                sqlx::query("commit")
                    .execute(&mut connection)
                    .await
                    .expect("releases");
            }
            Locked::Postgres(mut connection) => {
                sqlx::query("commit")
                    .execute(&mut connection)
                    .await
                    .expect("releases");
            }
        }
    }
}

async fn a_snapshot_folds_the_log_prefix(db: TestDb) {
    let store = db.store().await;
    let document = doc_id("resolution-d");
    let (updates, expected) = typing_updates(30);
    store
        .append_updates(&document, Seq(1), &as_new(&updates))
        .await
        .expect("append");
    let mut prefix = store.load_document(&document).await.expect("load");
    prefix.updates.retain(|u| u.seq <= Seq(20));
    let snapshot = plenary::sync::crdt::fold(&prefix).expect("fold");
    store
        .write_snapshot(&document, &snapshot, Seq(20))
        .await
        .expect("snapshot");
    let stored = store.load_document(&document).await.expect("load");
    assert_eq!(stored.snapshot_seq, Seq(20));
    assert_eq!(stored.updates.len(), 10, "the log keeps only what follows");
    assert_eq!(stored.last_seq(), Seq(30));
    assert_eq!(text_of(&stored), expected);

    // An older snapshot never replaces a newer one.
    store
        .write_snapshot(&document, b"not even an update", Seq(10))
        .await
        .expect("no-op");
    let again = store.load_document(&document).await.expect("load");
    assert_eq!(again.snapshot_seq, Seq(20));
    assert_eq!(text_of(&again), expected);
    // And the log continues after the snapshot.
    let (more, _) = typing_updates(31);
    store
        .append_updates(&document, Seq(31), &as_new(&more[30..]))
        .await
        .expect("append after snapshot");
    assert_eq!(
        store
            .load_document(&document)
            .await
            .expect("load")
            .last_seq(),
        Seq(31)
    );
}
test_both_dbs!(
    a_snapshot_folds_the_log_prefix,
    a_snapshot_folds_the_log_prefix_sqlite,
    a_snapshot_folds_the_log_prefix_postgres
);

async fn reopening_keeps_everything_and_durability_is_on(db: TestDb) {
    let document = doc_id("resolution-e");
    let (updates, expected) = typing_updates(3);
    {
        let store = db.store().await;
        store
            .append_updates(&document, Seq(1), &as_new(&updates))
            .await
            .expect("append");
    }
    // Opening again re-runs the migrations harmlessly.
    let store = db.store().await;
    assert_eq!(
        text_of(&store.load_document(&document).await.expect("load")),
        expected
    );
    store.ping().await.expect("ping");

    match db.backend {
        Backend::Sqlite => {
            let store = plenary::store::sqlite::SqliteStore::open(&db.url)
                .await
                .expect("open");
            let journal: String = sqlx::query_scalar("pragma journal_mode")
                .fetch_one(store.pool())
                .await
                .expect("pragma");
            let synchronous: i64 = sqlx::query_scalar("pragma synchronous")
                .fetch_one(store.pool())
                .await
                .expect("pragma");
            assert_eq!(journal, "wal");
            assert_eq!(synchronous, 2, "synchronous=FULL");
        }
        Backend::Postgres => {
            let store = plenary::store::postgres::PostgresStore::open(&db.url)
                .await
                .expect("open");
            let synchronous: String = sqlx::query_scalar("show synchronous_commit")
                .fetch_one(store.pool())
                .await
                .expect("show");
            assert_eq!(synchronous, "on");
            // Snapshots are stored without pglz (migration 0005).
            let storage: i8 = sqlx::query_scalar(
                "select attstorage from pg_attribute \
                 where attrelid = 'documents'::regclass and attname = 'snapshot'",
            )
            .fetch_one(store.pool())
            .await
            .expect("reads the catalog");
            assert_eq!(storage as u8, b'e', "snapshot storage is external");
        }
    }
}
test_both_dbs!(
    reopening_keeps_everything_and_durability_is_on,
    reopening_keeps_everything_and_durability_is_on_sqlite,
    reopening_keeps_everything_and_durability_is_on_postgres
);

fn text_of(stored: &plenary::store::StoredDocument) -> String {
    let replica = plenary::sync::crdt::Replica::load(stored).expect("loads");
    let text = replica.doc().get_or_insert_text("t");
    text.get_string(&replica.doc().transact())
}

/// The sessions not yet expired (what a node that missed notices checks its
/// sockets against), each with its account as it is now and whether it
/// ended early: revoked, or its account disabled.
async fn the_unexpired_sessions_say_which_ended(db: TestDb) {
    use plenary::auth::{Account, Role, Session};
    use plenary::ids::{AccountId, SessionId};
    use plenary::store::directory::{NewAccount, NewSession};

    let directory = db.database().await.directory;
    let now = 1_800_000_000_000;
    for (id, disabled) in [("account-on", false), ("account-off", true)] {
        directory
            .create_account(&NewAccount {
                account: Account {
                    id: AccountId(id.into()),
                    email: format!("{id}@example.org"),
                    name: format!("Name of {id}"),
                    role: Role::Delegate,
                    delegation_id: None,
                    disabled,
                    created_at: now,
                },
                password_hash: "not used".into(),
            })
            .await
            .expect("create an account");
    }
    let sessions = [
        ("live", "account-on", now + 60_000),
        ("expired", "account-on", now - 1),
        ("revoked", "account-on", now + 60_000),
        ("of-a-disabled-account", "account-off", now + 60_000),
    ];
    for (index, (id, account, expires_at)) in sessions.into_iter().enumerate() {
        directory
            .create_session(&NewSession {
                session: Session {
                    id: SessionId(id.into()),
                    account_id: AccountId(account.into()),
                    created_at: now - 120_000,
                    expires_at,
                },
                token_hash: vec![index as u8; 32],
            })
            .await
            .expect("create a session");
    }
    directory
        .revoke_session(&SessionId("revoked".into()), now - 10)
        .await
        .expect("revoke");
    let mut found = directory
        .unexpired_sessions(now)
        .await
        .expect("unexpired sessions");
    found.sort_by(|a, b| a.signed_in.session.id.0.cmp(&b.signed_in.session.id.0));
    let seen: Vec<(&str, bool)> = found
        .iter()
        .map(|s| (s.signed_in.session.id.0.as_str(), s.ended))
        .collect();
    assert_eq!(
        seen,
        [
            ("live", false),
            ("of-a-disabled-account", true),
            ("revoked", true)
        ]
    );
    let live = &found[0].signed_in;
    assert_eq!(live.account.name, "Name of account-on");
    assert_eq!(live.session.expires_at, now + 60_000);
    assert_eq!(live.delegation_name, None);
}

test_both_dbs!(
    the_unexpired_sessions_say_which_ended,
    the_unexpired_sessions_say_which_ended_sqlite,
    the_unexpired_sessions_say_which_ended_postgres
);

/// PostgreSQL drops every connection while the store is idle (a restart, a
/// failover). A pooled connection idle for a second or more is checked
/// before it is used, so the next read finds a live one; the writer's own
/// connection went too, so at most the first group after it fails, storing
/// nothing, and the next commits.
#[tokio::test]
async fn postgres_dropping_idle_connections_costs_at_most_one_commit() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let store = db.store().await;
    let document = doc_id("resolution-idle");
    let (updates, expected) = typing_updates(3);
    store
        .append_updates(&document, Seq(1), &as_new(&updates[..1]))
        .await
        .expect("append");
    store.load_document(&document).await.expect("load");
    db.drop_connections(Connections::All).await;
    // Longer than the store's idle time before a ping.
    tokio::time::sleep(plenary::store::PING_AFTER_IDLE + std::time::Duration::from_millis(200))
        .await;
    let stored = store
        .load_document(&document)
        .await
        .expect("a read after the connections were dropped");
    assert_eq!(stored.last_seq(), Seq(1));
    if store
        .append_updates(&document, Seq(2), &as_new(&updates[1..2]))
        .await
        .is_err()
    {
        let stored = store.load_document(&document).await.expect("load");
        assert_eq!(stored.last_seq(), Seq(1), "a failed group stores nothing");
        store
            .append_updates(&document, Seq(2), &as_new(&updates[1..2]))
            .await
            .expect("the group after a failed one commits");
    }
    store
        .append_updates(&document, Seq(3), &as_new(&updates[2..]))
        .await
        .expect("append");
    let stored = store.load_document(&document).await.expect("load");
    assert_eq!(stored.last_seq(), Seq(3));
    assert_eq!(text_of(&stored), expected);
}
