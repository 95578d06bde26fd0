//! Group commit across documents: every document's appends go through one
//! writer task per database, which takes whatever is waiting and commits it
//! together. A thousand documents taking an edit a second then cost a few
//! commits (and disk syncs) a second instead of a thousand. Each backend says
//! how a group is written ([`Commit`]); the queue, the grouping and the
//! answers are here.
//!
//! A group is everything that waited while the previous one committed. When
//! appends trickle in one at a time from many documents (each commit being
//! quicker than the gap between two of them), that would still be a commit and
//! a disk sync per append; so when other documents' appends are arriving fast
//! enough that one more is expected within [`GATHER`], the writer holds the
//! group open that long (see [`Gather`]). One document alone is never held.

use std::collections::VecDeque;
use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::{NewUpdate, StoreError, is_unique_violation};
use crate::ids::{DocumentId, Seq};

/// One document's appends, waiting for the writer task.
#[derive(Debug)]
pub(super) struct Append {
    pub document: DocumentId,
    pub first: Seq,
    pub updates: Vec<NewUpdate>,
    pub reply: oneshot::Sender<Result<(), StoreError>>,
}

impl Append {
    /// Its updates with their sequences.
    pub fn rows(&self) -> impl Iterator<Item = (&DocumentId, Seq, &NewUpdate)> {
        std::iter::successors(Some(self.first), |seq| Some(seq.next()))
            .zip(&self.updates)
            .map(|(seq, update)| (&self.document, seq, update))
    }
}

/// What a failed write of `group` is: a sequence already taken is a
/// [`StoreError::Conflict`] (named precisely for a group of one append),
/// anything else the database's error.
pub(super) fn refused(group: &[Append], error: sqlx::Error) -> StoreError {
    if !is_unique_violation(&error) {
        return StoreError::Database(error);
    }
    StoreError::Conflict(match group {
        [append] => format!(
            "{} already has one of updates {}..={}",
            append.document,
            append.first,
            Seq(append.first.0 + append.updates.len() as i64 - 1)
        ),
        _ => "an update of the group is already stored".into(),
    })
}

/// How a backend commits a group of appends. It answers every append of the
/// group: together when the group committed, or one by one so that only an
/// append at fault (a sequence another writer took) is refused.
pub(super) trait Commit: Send + 'static {
    fn commit(&mut self, group: Vec<Append>) -> impl Future<Output = ()> + Send;
}

/// The connection a writer task keeps from one group to the next: taken from
/// the pool when it has none, kept after a group that left it sound, closed
/// (not put back in the pool) after one that may not have, so that the next
/// group takes a fresh one.
pub(super) struct KeptConnection<DB: sqlx::Database> {
    pool: sqlx::Pool<DB>,
    connection: Option<sqlx::pool::PoolConnection<DB>>,
}

impl<DB: sqlx::Database> KeptConnection<DB> {
    pub fn new(pool: sqlx::Pool<DB>) -> Self {
        Self {
            pool,
            connection: None,
        }
    }

    /// The pool, for work beside the kept connection.
    pub fn pool(&self) -> &sqlx::Pool<DB> {
        &self.pool
    }

    /// The kept connection, or one from the pool.
    pub async fn take(&mut self) -> Result<sqlx::pool::PoolConnection<DB>, sqlx::Error> {
        match self.connection.take() {
            Some(connection) => Ok(connection),
            None => self.pool.acquire().await,
        }
    }

    /// Keeps `connection` for the next group if it is `sound`; closes it otherwise.
    pub fn give_back(&mut self, mut connection: sqlx::pool::PoolConnection<DB>, sound: bool) {
        if sound {
            self.connection = Some(connection);
        } else {
            connection.close_on_drop();
        }
    }
}

/// Appends waiting for the writer task, at most (back-pressure beyond).
const APPEND_QUEUE: usize = 4096;

/// Appends committed in one transaction, at most.
pub(super) const MAX_GROUP: usize = 512;

/// The way in to a database's writer task.
#[derive(Debug, Clone)]
pub(super) struct Appends {
    queue: mpsc::Sender<Append>,
}

impl Appends {
    /// Starts the writer task; it ends when the last handle is dropped.
    pub fn start(writer: impl Commit) -> Self {
        let (queue, waiting) = mpsc::channel(APPEND_QUEUE);
        tokio::spawn(write(writer, waiting));
        Self { queue }
    }

    /// Appends `updates` at `first`, … and waits until they are committed
    /// (or refused).
    pub async fn append(
        &self,
        document: &DocumentId,
        first: Seq,
        updates: &[NewUpdate],
    ) -> Result<(), StoreError> {
        let (reply, answer) = oneshot::channel();
        let append = Append {
            document: document.clone(),
            first,
            updates: updates.to_vec(),
            reply,
        };
        let gone = || StoreError::Batch("the database writer has stopped".into());
        self.queue.send(append).await.map_err(|_| gone())?;
        answer.await.map_err(|_| gone())?
    }
}

/// How long a group is held open for other documents' appends, at most.
pub(super) const GATHER: Duration = Duration::from_millis(5);

/// How far back the writer looks to tell how fast other documents append.
const WINDOW: Duration = Duration::from_millis(100);

/// Appends of other documents within [`WINDOW`] that make one more expected
/// within [`GATHER`] (at a steady rate); a group this large is committed as is.
const SIBLINGS: usize = (WINDOW.as_micros() / GATHER.as_micros()) as usize;

/// Appends remembered, at most (beyond, the oldest are forgotten early).
const REMEMBERED: usize = 1024;

/// Whether holding a group open for [`GATHER`] would gather more: whether
/// documents not in the group appended at least [`SIBLINGS`] times over the
/// last [`WINDOW`] (PostgreSQL's `commit_delay` with `commit_siblings`, by
/// rate). The documents of the group are left out of the count: a room has
/// one commit in flight at a time, so a document being edited alone, however
/// fast, would only be delayed.
#[derive(Debug, Default)]
struct Gather {
    /// When each recent append was taken, and (a hash of) its document.
    recent: VecDeque<(Instant, u64)>,
    hasher: RandomState,
}

impl Gather {
    fn document(&self, append: &Append) -> u64 {
        self.hasher.hash_one(append.document.as_str())
    }

    /// Whether to hold `group`, just taken at `now`, open for [`GATHER`].
    fn hold(&mut self, group: &[Append], now: Instant) -> bool {
        while self
            .recent
            .front()
            .is_some_and(|(at, _)| now.duration_since(*at) > WINDOW)
        {
            self.recent.pop_front();
        }
        if group.len() >= SIBLINGS {
            return false;
        }
        let mine: Vec<u64> = group.iter().map(|append| self.document(append)).collect();
        self.recent
            .iter()
            .filter(|(_, document)| !mine.contains(document))
            .nth(SIBLINGS - 1)
            .is_some()
    }

    /// Remembers the appends of a group taken at `now`.
    fn record(&mut self, group: &[Append], now: Instant) {
        for append in group {
            if self.recent.len() == REMEMBERED {
                self.recent.pop_front();
            }
            self.recent.push_back((now, self.document(append)));
        }
    }
}

/// The writer task: takes every append waiting (up to [`MAX_GROUP`]), holds
/// the group open while [`Gather`] says more is coming, and has the backend
/// commit it.
async fn write(mut writer: impl Commit, mut waiting: mpsc::Receiver<Append>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    let mut gather = Gather::default();
    while waiting.recv_many(&mut group, MAX_GROUP).await > 0 {
        let taken = Instant::now();
        if gather.hold(&group, taken) {
            let until = taken + GATHER;
            while group.len() < MAX_GROUP {
                let room = MAX_GROUP - group.len();
                let more = waiting.recv_many(&mut group, room);
                match tokio::time::timeout_at(until, more).await {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
            }
        }
        gather.record(&group, taken);
        writer.commit(std::mem::take(&mut group)).await;
    }
}

/// Answers each append of a group with its own outcome (in the same order).
pub(super) fn answer_each(
    group: Vec<Append>,
    outcomes: impl IntoIterator<Item = Result<(), StoreError>>,
) {
    for (append, outcome) in group.into_iter().zip(outcomes) {
        let _ = append.reply.send(outcome);
    }
}

/// Answers every append of a group with the same outcome.
pub(super) fn answer_all(group: Vec<Append>, outcome: Result<(), StoreError>) {
    match outcome {
        Ok(()) => {
            for append in group {
                let _ = append.reply.send(Ok(()));
            }
        }
        Err(error) => {
            // The first gets the error itself; the others what it said.
            let shared = error.to_string();
            let mut error = Some(error);
            for append in group {
                let failure = error
                    .take()
                    .unwrap_or_else(|| StoreError::Batch(shared.clone()));
                let _ = append.reply.send(Err(failure));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;

    /// When a group was committed, and its documents.
    type Group = (Instant, Vec<String>);

    /// A backend that commits nothing but notes when each group came and
    /// which documents it held.
    #[derive(Clone, Default)]
    struct Recorder {
        groups: Arc<Mutex<Vec<Group>>>,
    }

    impl Commit for Recorder {
        async fn commit(&mut self, group: Vec<Append>) {
            let documents = group.iter().map(|a| a.document.to_string()).collect();
            if let Ok(mut groups) = self.groups.lock() {
                groups.push((Instant::now(), documents));
            }
            answer_all(group, Ok(()));
        }
    }

    impl Recorder {
        fn groups(&self) -> Vec<Group> {
            self.groups.lock().map(|g| g.clone()).unwrap_or_default()
        }
    }

    fn update() -> Vec<NewUpdate> {
        vec![NewUpdate {
            data: bytes::Bytes::from_static(&[0, 0]),
            author: None,
            delegation: None,
        }]
    }

    fn document(name: &str) -> DocumentId {
        DocumentId::parse(name).expect("a valid name")
    }

    /// Appends `documents[i]` at `start + i × gap`, each waiting for its answer;
    /// returns when each was sent and answered.
    async fn trickle(
        appends: &Appends,
        documents: Vec<DocumentId>,
        gap: Duration,
    ) -> Vec<(Instant, Instant)> {
        let start = Instant::now();
        let sends = documents.into_iter().enumerate().map(|(i, doc)| {
            let appends = appends.clone();
            tokio::spawn(async move {
                tokio::time::sleep_until(start + gap * i as u32).await;
                let sent = Instant::now();
                appends
                    .append(&doc, Seq(1), &update())
                    .await
                    .expect("committed");
                (sent, Instant::now())
            })
        });
        futures_util::future::join_all(sends)
            .await
            .into_iter()
            .map(|joined| joined.expect("the sender ran"))
            .collect()
    }

    /// A thousand documents typing an edit a second each: appends come one a
    /// millisecond, each commit quicker than the gap. Once the writer has
    /// seen them come, it holds each group open for [`GATHER`] and commits
    /// several together; nobody waits longer than that.
    #[tokio::test(start_paused = true)]
    async fn many_documents_trickling_in_are_gathered() {
        let recorder = Recorder::default();
        let appends = Appends::start(recorder.clone());
        let documents = (0..200).map(|i| document(&format!("doc-{i}"))).collect();
        let times = trickle(&appends, documents, Duration::from_millis(1)).await;

        assert!(
            times
                .iter()
                .all(|(sent, answered)| *answered - *sent <= GATHER)
        );
        let groups = recorder.groups();
        assert_eq!(groups.iter().map(|(_, g)| g.len()).sum::<usize>(), 200);
        // Until enough has been seen, each is committed at once, alone.
        assert!(groups[..SIBLINGS].iter().all(|(_, g)| g.len() == 1));
        assert_eq!(
            groups[..SIBLINGS]
                .iter()
                .map(|(at, _)| *at)
                .collect::<Vec<_>>(),
            times[..SIBLINGS]
                .iter()
                .map(|(sent, _)| *sent)
                .collect::<Vec<_>>()
        );
        // Then appends arriving within GATHER of each other share a commit.
        let gathered = &groups[SIBLINGS + 1..groups.len() - 1];
        assert!(
            gathered
                .iter()
                .all(|(_, g)| g.len() as u128 >= GATHER.as_millis()),
            "{:?}",
            groups.iter().map(|(_, g)| g.len()).collect::<Vec<_>>()
        );
        assert!(
            groups.len() < 200 / 3,
            "{} commits for 200 appends",
            groups.len()
        );
    }

    /// One document edited alone, however fast, is committed as soon as its
    /// append comes: its room waits for each commit before sending the next
    /// batch, so holding the group open could only delay it.
    #[tokio::test(start_paused = true)]
    async fn one_document_is_never_held() {
        let recorder = Recorder::default();
        let appends = Appends::start(recorder.clone());
        let documents = (0..200).map(|_| document("plenary")).collect();
        let times = trickle(&appends, documents, Duration::from_millis(1)).await;

        assert!(times.iter().all(|(sent, answered)| sent == answered));
        assert_eq!(recorder.groups().len(), 200);
    }

    /// What was seen more than [`WINDOW`] ago says nothing of what comes next.
    #[tokio::test(start_paused = true)]
    async fn a_pause_forgets_the_rate() {
        let recorder = Recorder::default();
        let appends = Appends::start(recorder.clone());
        let documents = (0..100).map(|i| document(&format!("doc-{i}"))).collect();
        trickle(&appends, documents, Duration::from_millis(1)).await;
        tokio::time::sleep(WINDOW * 2).await;

        let late = trickle(&appends, vec![document("late")], Duration::ZERO).await;
        assert_eq!(late[0].0, late[0].1, "committed at once");
        assert_eq!(recorder.groups().last().map(|(_, g)| g.len()), Some(1));
    }
}
