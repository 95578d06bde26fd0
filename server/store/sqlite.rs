//! The embedded default: SQLite in WAL mode.

use std::str::FromStr;
use std::time::Duration;

use async_trait::async_trait;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{Connection, Row, Sqlite, SqliteConnection, SqlitePool};

use super::appends::{Append, Appends, Commit, KeptConnection, answer_all, answer_each, refused};
use super::{NewUpdate, Store, StoreError, StoredDocument, StoredUpdate, now_millis};
use crate::ids::{DocumentId, Seq};

/// A SQLite database file.
///
/// Appends of every document go through one writer task that commits
/// whatever is waiting in one transaction ([`appends`](super::appends)):
/// SQLite has one writer at a time anyway, and with `synchronous=FULL` each
/// commit is a sync of the WAL.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    pool: SqlitePool,
    appends: Appends,
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `url` and migrates it.
    ///
    /// `synchronous=FULL`: a commit is on disk before it returns, so neither a
    /// crash of the process nor a power cut loses an update a client has seen.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, &[]).await
    }

    /// Opens with extra pragmas (tests use `max_page_count` to make the
    /// database "full" without filling a disk).
    pub async fn open_with(
        url: &str,
        pragmas: &[(&'static str, String)],
    ) -> Result<Self, StoreError> {
        let mut options = SqliteConnectOptions::from_str(url)?;
        for (name, value) in pragmas {
            options = options.pragma(*name, value.clone());
        }
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Full)
            .foreign_keys(true)
            .busy_timeout(Duration::from_secs(10));
        let pool = super::pool_options::<Sqlite>(8)
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/sqlite").run(&pool).await?;
        let appends = Appends::start(Writer {
            connection: KeptConnection::new(pool.clone()),
        });
        Ok(Self { pool, appends })
    }

    /// Writes a consistent copy of the database to `path` while it stays
    /// open for writing (`VACUUM INTO`: one read transaction, so the copy is
    /// of one moment). The file must not exist.
    pub async fn backup(&self, path: &std::path::Path) -> Result<(), StoreError> {
        let path = path.to_str().ok_or_else(|| {
            StoreError::Database(sqlx::Error::Configuration(
                "the backup path is not UTF-8".into(),
            ))
        })?;
        sqlx::query("vacuum into ?")
            .bind(path)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// The pool, for the other stores of the application that share this file.
    pub fn pool(&self) -> &SqlitePool {
        &self.pool
    }
}

const SELECT_DOCUMENT: &str = "select snapshot, snapshot_seq from documents where id = ?";
const SELECT_UPDATES: &str = "select seq, data, author, author_delegation from document_updates \
     where document_id = ? and seq > ? order by seq";
const SELECT_UPDATES_THROUGH: &str = "select seq, data, author, author_delegation from document_updates \
     where document_id = ? and seq > ? and seq <= ? order by seq";
const SELECT_LAST_SEQ: &str =
    "select coalesce(max(seq), 0) from document_updates where document_id = ?";
const UPDATE_SNAPSHOT: &str = "update documents set snapshot = ?, snapshot_seq = ?, updated_at = ? \
     where id = ? and snapshot_seq < ?";

#[async_trait]
impl Store for SqliteStore {
    async fn load_document(&self, document: &DocumentId) -> Result<StoredDocument, StoreError> {
        // One read transaction, so the snapshot and the log are of one moment.
        let mut transaction = self.pool.begin().await?;
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
        sqlx::query(UPDATE_SNAPSHOT)
            .bind(snapshot)
            .bind(through.0)
            .bind(now_millis())
            .bind(document.as_str())
            .bind(through.0)
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

use super::directory::imports::*;
super::directory::impl_directory!(SqliteStore, sqlx::sqlite::SqliteRow);

/// The writer task's side of SQLite. It keeps one connection: the pool
/// hands out its idle connections in turn, and a connection whose database
/// another one has written since its last transaction starts with an empty
/// page cache: every group read the pages of its indexes again (pread was a
/// tenth of the server's time under load). Its own writes keep its cache
/// valid.
struct Writer {
    connection: KeptConnection<Sqlite>,
}

impl Commit for Writer {
    async fn commit(&mut self, group: Vec<Append>) {
        match self.connection.take().await {
            Ok(mut held) => {
                // After a failure the next group takes a connection afresh,
                // and this one is closed, not put back: a transaction begun
                // by the group's query and left open by a failed rollback
                // would go with it to the pool.
                let committed = commit_group(&mut held, group).await;
                self.connection.give_back(held, committed);
            }
            Err(error) => answer_all(group, Err(error.into())),
        }
    }
}

/// Rows of one multi-row insert, at most (six parameters each; SQLite takes
/// up to 32,766 in one statement).
const ROWS_PER_INSERT: usize = 1000;

/// Rows of a group's query, at most, for it to be kept prepared. sqlx keeps
/// every statement it prepared on a connection (up to 100), and each size of
/// group is a statement of its own: a few small sizes recur, larger ones
/// seldom do, and each weighs tens of kilobytes kept (a heap profile of
/// `rooms` found 3 MB of them on the writer's connection).
const KEPT_ROWS: usize = 16;

/// Commits a group of appends. First all at once, in one round trip to
/// sqlx's SQLite thread: `begin immediate`, one statement for the documents,
/// one per [`ROWS_PER_INSERT`] updates and `commit`, sent as one query (each
/// statement its own round trip was a hand-over between threads and back, and
/// with a thousand documents typing at once the server spent its time on
/// those, not in SQLite). Should that fail for a group of several, it is
/// committed again one append at a time, so that only the append at fault is
/// refused: see [`commit_each`]. A group of one is answered with its own
/// error. Returns whether the group committed together.
async fn commit_group(connection: &mut SqliteConnection, group: Vec<Append>) -> bool {
    let now = now_millis();
    let together = insert_group(connection, &group, now, true).await;
    if together.is_err() {
        // A failed statement or commit leaves the transaction open or
        // already rolled back by SQLite; either way nothing of the group is
        // stored once this ran (its own error, when there was no
        // transaction left, says nothing new).
        let _ = sqlx::query("rollback").execute(&mut *connection).await;
    }
    match together {
        Ok(()) => {
            answer_all(group, Ok(()));
            return true;
        }
        Err(error) if group.len() == 1 => answer_all(group, Err(error)),
        Err(_) => commit_each(connection, group, now).await,
    }
    false
}

/// Inserts every append of a group, its documents then its updates, in one
/// query; with `transaction`, that query also begins and commits. A sequence
/// already taken is a [`StoreError::Conflict`].
async fn insert_group(
    connection: &mut SqliteConnection,
    group: &[Append],
    now: i64,
    transaction: bool,
) -> Result<(), StoreError> {
    let mut query =
        sqlx::QueryBuilder::<Sqlite>::new(if transaction { "begin immediate; " } else { "" });
    query.push("insert into documents (id, created_at, updated_at) ");
    query.push_values(group, |mut row, append| {
        row.push_bind(append.document.as_str())
            .push_bind(now)
            .push_bind(now);
    });
    // An existing row is left as it is: rewriting it (its `updated_at`)
    // added a page to every commit. See the `store` module.
    query.push(" on conflict (id) do nothing");
    let rows: Vec<(&DocumentId, Seq, &NewUpdate)> = group.iter().flat_map(Append::rows).collect();
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        query.push(
            "; insert into document_updates \
             (document_id, seq, data, author, author_delegation, created_at) ",
        );
        query.push_values(chunk, |mut row, (document, seq, update)| {
            row.push_bind(document.as_str())
                .push_bind(seq.0)
                .push_bind(&update.data[..])
                .push_bind(update.author.as_deref())
                .push_bind(update.delegation.as_deref())
                .push_bind(now);
        });
    }
    if transaction {
        query.push("; commit");
    }
    query
        .build()
        .persistent(rows.len() <= KEPT_ROWS)
        .execute(&mut *connection)
        .await
        .map_err(|error| refused(group, error))?;
    Ok(())
}

/// Commits a group one append at a time, each inside its own savepoint, so
/// one that fails (a conflict) is rolled back alone and answered with its
/// error while the others commit; if the commit itself fails (a full disk,
/// an I/O error), every append of the group is answered with that failure
/// and none is stored.
async fn commit_each(connection: &mut SqliteConnection, group: Vec<Append>, now: i64) {
    let outcome = async {
        let mut transaction = connection.begin().await?;
        let mut results = Vec::with_capacity(group.len());
        for append in &group {
            sqlx::query("savepoint append")
                .execute(&mut *transaction)
                .await?;
            let result =
                insert_group(&mut transaction, std::slice::from_ref(append), now, false).await;
            if result.is_err()
                && sqlx::query("rollback to append")
                    .execute(&mut *transaction)
                    .await
                    .is_err()
            {
                // The whole transaction went with the statement: its error
                // is the cause, and none of the group is stored.
                return result.map(|()| Vec::new());
            }
            sqlx::query("release append")
                .execute(&mut *transaction)
                .await?;
            results.push(result);
        }
        transaction.commit().await?;
        Ok::<_, StoreError>(results)
    }
    .await;
    match outcome {
        Ok(results) => answer_each(group, results),
        Err(error) => answer_all(group, Err(error)),
    }
}

#[cfg(test)]
mod tests {
    use tokio::sync::oneshot;

    use super::*;

    fn append(
        document: &str,
        first: i64,
        count: usize,
    ) -> (Append, oneshot::Receiver<Result<(), StoreError>>) {
        let (reply, answer) = oneshot::channel();
        let updates = (0..count)
            .map(|index| NewUpdate {
                data: bytes::Bytes::from(vec![index as u8; 3]),
                author: Some("account".into()),
                delegation: None,
            })
            .collect();
        let append = Append {
            document: DocumentId::parse(document).expect("a valid id"),
            first: Seq(first),
            updates,
            reply,
        };
        (append, answer)
    }

    /// A group commits in one go; a group holding an append whose sequence is
    /// taken is committed again one append at a time: that append alone is
    /// refused (a conflict) and stores nothing, the others commit.
    #[tokio::test]
    async fn a_group_commits_together_and_a_conflict_is_refused_alone() {
        let dir = tempfile::tempdir().expect("a temporary folder");
        let url = format!("sqlite://{}", dir.path().join("plenary.db").display());
        let store = SqliteStore::open(&url).await.expect("opens");
        let mut connection = store.pool().acquire().await.expect("a connection");

        let (first, first_answer) = append("preamble", 1, 3);
        let (second, second_answer) = append("operative", 1, 2);
        assert!(commit_group(&mut connection, vec![first, second]).await);
        assert!(matches!(first_answer.await, Ok(Ok(()))));
        assert!(matches!(second_answer.await, Ok(Ok(()))));

        let (before, before_answer) = append("annex", 1, 2);
        let (clash, clash_answer) = append("preamble", 3, 2);
        let (after, after_answer) = append("operative", 3, 1);
        assert!(!commit_group(&mut connection, vec![before, clash, after]).await);
        assert!(matches!(before_answer.await, Ok(Ok(()))));
        assert!(matches!(
            clash_answer.await,
            Ok(Err(StoreError::Conflict(_)))
        ));
        assert!(matches!(after_answer.await, Ok(Ok(()))));

        for (document, last) in [("preamble", 3), ("operative", 3), ("annex", 2)] {
            let id = DocumentId::parse(document).expect("a valid id");
            assert_eq!(store.last_seq(&id).await.expect("reads"), Seq(last));
        }
    }
}
