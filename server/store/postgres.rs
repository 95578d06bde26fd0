//! PostgreSQL, for several nodes sharing one database.

use std::time::Duration;

use async_trait::async_trait;
use sqlx::postgres::PgConnectOptions;
use sqlx::{PgExecutor, PgPool, Postgres, Row};

use super::appends::{Append, Appends, Commit, KeptConnection, answer_all, answer_each, refused};
use super::{NewUpdate, Store, StoreError, StoredDocument, StoredUpdate, now_millis};
use crate::ids::{DocumentId, Seq};

/// A PostgreSQL database.
///
/// Appends of every document go through one writer task per node that
/// commits whatever is waiting in one statement ([`appends`](super::appends)):
/// with `synchronous_commit=on` each commit waits for a flush of the
/// write-ahead log, and a thousand documents taking an edit a second were a
/// thousand transactions a second.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    appends: Appends,
}

impl PostgresStore {
    /// Connects to `url` and migrates the database.
    ///
    /// `synchronous_commit=on` is set on every connection: a commit has reached
    /// the write-ahead log on disk before an update is relayed, whatever the
    /// server's default.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let options: PgConnectOptions = url
            .parse::<PgConnectOptions>()?
            .options([("synchronous_commit", "on")]);
        let pool = super::pool_options::<Postgres>(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        let appends = Appends::start(Writer {
            connection: KeptConnection::new(pool.clone()),
        });
        Ok(Self { pool, appends })
    }

    /// The pool, for the other stores of the application that share this database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

const SELECT_DOCUMENT: &str = "select snapshot, snapshot_seq from documents where id = $1";
const SELECT_UPDATES: &str = "select seq, data, author, author_delegation from document_updates \
     where document_id = $1 and seq > $2 order by seq";
const SELECT_UPDATES_THROUGH: &str = "select seq, data, author, author_delegation from document_updates \
     where document_id = $1 and seq > $2 and seq <= $3 order by seq";
const SELECT_LAST_SEQ: &str =
    "select coalesce(max(seq), 0)::bigint from document_updates where document_id = $1";
/// A group of appends, of one document or several, and the documents' rows,
/// in one statement: one round trip, and one transaction without `begin` and
/// `commit` of its own. A sequence already taken fails the whole statement
/// (the documents' rows included). The rows of `documents` are written in a
/// data-modifying `with`, which runs to completion whether or not the main
/// insert reads it, and which the foreign key of the updates, checked at the
/// end of the statement, sees. An existing row is left as it is (see the
/// `store` module): updating it made a new version of it, and took its
/// lock, for every commit. The documents come sorted and distinct.
const APPEND_GROUP: &str = "with written as ( \
         insert into documents (id, created_at, updated_at) \
         select id, $7, $7 from unnest($1::text[]) as id \
         on conflict (id) do nothing) \
     insert into document_updates (document_id, seq, data, author, author_delegation, created_at) \
     select document, seq, data, author, delegation, $7 \
     from unnest($2::text[], $3::bigint[], $4::bytea[], $5::text[], $6::text[]) \
          as batch (document, seq, data, author, delegation)";
const UPDATE_SNAPSHOT: &str = "update documents set snapshot = $1, snapshot_seq = $2, updated_at = $3 \
     where id = $4 and snapshot_seq < $2";

#[async_trait]
impl Store for PostgresStore {
    async fn load_document(&self, document: &DocumentId) -> Result<StoredDocument, StoreError> {
        // Repeatable read: the snapshot and the log are of one moment even if
        // a compaction commits between the two reads.
        let mut transaction = self.pool.begin().await?;
        sqlx::query("set transaction isolation level repeatable read, read only")
            .execute(&mut *transaction)
            .await?;
        let Some(row) = sqlx::query(SELECT_DOCUMENT)
            .bind(document.as_str())
            .fetch_optional(&mut *transaction)
            .await?
        else {
            return Ok(StoredDocument::default());
        };
        let snapshot: Option<Vec<u8>> = row.try_get("snapshot")?;
        let snapshot_seq = Seq(row.try_get("snapshot_seq")?);
        let updates = sqlx::query(SELECT_UPDATES)
            .bind(document.as_str())
            .bind(snapshot_seq.0)
            .fetch_all(&mut *transaction)
            .await?
            .into_iter()
            .map(|row| {
                Ok(StoredUpdate {
                    seq: Seq(row.try_get("seq")?),
                    data: row.try_get("data")?,
                    author: row.try_get("author")?,
                    delegation: row.try_get("author_delegation")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        transaction.commit().await?;
        Ok(StoredDocument {
            snapshot,
            snapshot_seq,
            updates,
        })
    }

    async fn append_updates(
        &self,
        document: &DocumentId,
        first: Seq,
        updates: &[NewUpdate],
    ) -> Result<(), StoreError> {
        self.appends.append(document, first, updates).await
    }

    async fn write_snapshot(
        &self,
        document: &DocumentId,
        snapshot: &[u8],
        through: Seq,
    ) -> Result<(), StoreError> {
        let mut transaction = self.pool.begin().await?;
        // One node at a time compacts a document; another that finds the
        // lock taken leaves it (the log stays whole either way).
        let locked: bool = sqlx::query_scalar("select pg_try_advisory_xact_lock(hashtext($1))")
            .bind(document.as_str())
            .fetch_one(&mut *transaction)
            .await?;
        if !locked {
            return Ok(());
        }
        sqlx::query(UPDATE_SNAPSHOT)
            .bind(snapshot)
            .bind(through.0)
            .bind(now_millis())
            .bind(document.as_str())
            .execute(&mut *transaction)
            .await?;
        transaction.commit().await?;
        Ok(())
    }

    async fn load_through(
        &self,
        document: &DocumentId,
        through: Seq,
    ) -> Result<StoredDocument, StoreError> {
        let mut transaction = self.pool.begin().await?;
        let (snapshot, snapshot_seq) = match sqlx::query(SELECT_DOCUMENT)
            .bind(document.as_str())
            .fetch_optional(&mut *transaction)
            .await?
        {
            Some(row) => {
                let snapshot_seq = Seq(row.try_get("snapshot_seq")?);
                if snapshot_seq <= through {
                    (row.try_get::<Option<Vec<u8>>, _>("snapshot")?, snapshot_seq)
                } else {
                    (None, Seq(0))
                }
            }
            None => return Ok(StoredDocument::default()),
        };
        let snapshot_seq = if snapshot.is_some() {
            snapshot_seq
        } else {
            Seq(0)
        };
        let updates = sqlx::query(SELECT_UPDATES_THROUGH)
            .bind(document.as_str())
            .bind(snapshot_seq.0)
            .bind(through.0)
            .fetch_all(&mut *transaction)
            .await?
            .into_iter()
            .map(|row| {
                Ok(StoredUpdate {
                    seq: Seq(row.try_get("seq")?),
                    data: row.try_get("data")?,
                    author: row.try_get("author")?,
                    delegation: row.try_get("author_delegation")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        transaction.commit().await?;
        Ok(StoredDocument {
            snapshot,
            snapshot_seq,
            updates,
        })
    }

    async fn history(
        &self,
        document: &DocumentId,
        through: Seq,
    ) -> Result<Vec<StoredUpdate>, StoreError> {
        let rows = sqlx::query(SELECT_UPDATES_THROUGH)
            .bind(document.as_str())
            .bind(0i64)
            .bind(through.0)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok(StoredUpdate {
                    seq: Seq(row.try_get("seq")?),
                    data: row.try_get("data")?,
                    author: row.try_get("author")?,
                    delegation: row.try_get("author_delegation")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    async fn updates_after(
        &self,
        document: &DocumentId,
        after: Seq,
    ) -> Result<Vec<StoredUpdate>, StoreError> {
        let rows = sqlx::query(SELECT_UPDATES)
            .bind(document.as_str())
            .bind(after.0)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|row| {
                Ok(StoredUpdate {
                    seq: Seq(row.try_get("seq")?),
                    data: row.try_get("data")?,
                    author: row.try_get("author")?,
                    delegation: row.try_get("author_delegation")?,
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    async fn last_seq(&self, document: &DocumentId) -> Result<Seq, StoreError> {
        let seq: i64 = sqlx::query_scalar(SELECT_LAST_SEQ)
            .bind(document.as_str())
            .fetch_one(&self.pool)
            .await?;
        Ok(Seq(seq))
    }

    async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("select 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// The writer task's side of PostgreSQL. It keeps one connection: taking
/// one from the pool and giving it back for every group were a ping each
/// (sqlx tests a connection on its way back), and a task spawned to give it
/// back.
struct Writer {
    connection: KeptConnection<Postgres>,
}

impl Commit for Writer {
    /// The group in one statement; should that fail for a group of several
    /// (another node took a sequence of one of its documents), each append
    /// again in a statement of its own, at once, so that only the one at
    /// fault is refused.
    async fn commit(&mut self, group: Vec<Append>) {
        let now = now_millis();
        let together = match self.connection.take().await {
            Ok(mut held) => {
                let together = append_group(&mut *held, &group, now).await;
                // A refused statement leaves its connection as it was (one
                // statement, its own transaction); any other failure may not.
                let sound = matches!(together, Ok(()) | Err(StoreError::Conflict(_)));
                self.connection.give_back(held, sound);
                together
            }
            Err(error) => Err(error.into()),
        };
        if together.is_ok() || group.len() == 1 {
            return answer_all(group, together);
        }
        let pool = self.connection.pool();
        let alone = futures_util::future::join_all(
            group
                .iter()
                .map(|append| append_group(pool, std::slice::from_ref(append), now)),
        )
        .await;
        answer_each(group, alone);
    }
}

/// Writes a group with [`APPEND_GROUP`]. A sequence already taken is a
/// [`StoreError::Conflict`].
async fn append_group(
    executor: impl PgExecutor<'_>,
    group: &[Append],
    now: i64,
) -> Result<(), StoreError> {
    let documents: std::collections::BTreeSet<&str> = group
        .iter()
        .map(|append| append.document.as_str())
        .collect();
    let count = group.iter().map(|append| append.updates.len()).sum();
    let mut ids = Vec::with_capacity(count);
    let mut seqs = Vec::with_capacity(count);
    let mut data = Vec::with_capacity(count);
    let mut authors = Vec::with_capacity(count);
    let mut delegations = Vec::with_capacity(count);
    for (document, seq, update) in group.iter().flat_map(Append::rows) {
        ids.push(document.as_str());
        seqs.push(seq.0);
        data.push(&update.data[..]);
        authors.push(update.author.as_deref());
        delegations.push(update.delegation.as_deref());
    }
    sqlx::query(APPEND_GROUP)
        .bind(documents.into_iter().collect::<Vec<_>>())
        .bind(ids)
        .bind(seqs)
        .bind(data)
        .bind(authors)
        .bind(delegations)
        .bind(now)
        .execute(executor)
        .await
        .map_err(|error| refused(group, error))?;
    Ok(())
}

use super::directory::imports::*;
super::directory::impl_directory!(PostgresStore, sqlx::postgres::PgRow);
