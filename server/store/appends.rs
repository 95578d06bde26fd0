//! Group commit across documents: every document's appends go through one
//! writer task per database, which takes whatever is waiting and commits it
//! together. A thousand documents taking an edit a second then cost a few
//! commits (and disk syncs) a second instead of a thousand. Each backend says
//! how a group is written ([`Commit`]); the queue, the grouping and the
//! answers are here.

use std::future::Future;

use tokio::sync::{mpsc, oneshot};

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

/// The writer task: takes every append waiting (up to [`MAX_GROUP`]) and has
/// the backend commit them as one group.
async fn write(mut writer: impl Commit, mut waiting: mpsc::Receiver<Append>) {
    let mut group = Vec::with_capacity(MAX_GROUP);
    while waiting.recv_many(&mut group, MAX_GROUP).await > 0 {
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
