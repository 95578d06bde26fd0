//! The yrs document behind a room: loading it from the store, applying
//! updates, and answering sync requests. Plain functions and types, no I/O.

use std::panic::{AssertUnwindSafe, catch_unwind};

use bytes::Bytes;
use yrs::updates::decoder::Decode;
use yrs::updates::encoder::Encode;
use yrs::{Doc, Options, ReadTxn, StateVector, Transact, Update};

use super::{preflight, protocol};
use crate::store::StoredDocument;

/// Why an update or state vector from a client was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidUpdate {
    /// The bytes are not a yrs v1 update (or state vector).
    #[error("cannot decode: {0}")]
    Decode(String),
    /// The update decoded but yrs refused to integrate it.
    #[error("cannot apply: {0}")]
    Apply(String),
    /// Too much content waits for updates that never came: a client cannot
    /// make the server hold an unbounded amount of it.
    #[error("too many updates wait for missing ones (more than {MAX_PENDING_BYTES} bytes)")]
    TooMuchPending,
    /// yrs integrated the update but can no longer encode the document: it
    /// panics re-merging some pending structs it accepted (yrs 0.28.1,
    /// `merge_pending_v1`). Found by fuzzing; such an update is refused.
    #[error("the document could not be encoded with it")]
    Unencodable,
    /// The update nests shared types deeper than [`MAX_TYPE_DEPTH`]: yrs
    /// deletes nested types by recursion, and a deep enough nesting would
    /// overflow the stack when it is deleted.
    #[error("shared types nested deeper than {MAX_TYPE_DEPTH} levels")]
    TooDeep,
    /// Structs that would leave a hole in their client's clocks
    /// ([`preflight::check_gaps`]); refused before yrs saw them, so nothing
    /// changed.
    #[error("{0}")]
    Gap(String),
    /// yrs left a hole in this client's clocks all the same: the replica
    /// must be rebuilt.
    #[error("client {0}'s clocks would have a hole")]
    Hole(u64),
}

/// The deepest nesting of shared types a document may hold. A resolution
/// needs three (the body, a paragraph, its text).
pub const MAX_TYPE_DEPTH: usize = 32;

/// Whether any shared type of `doc` lies deeper than [`MAX_TYPE_DEPTH`],
/// found without recursion. Every type's sequence is read in one walk over
/// its items with yrs's text diff, which yields every embedded type (yrs's
/// array iterator loops for ever on a string with characters beyond the
/// basic plane in a sequence that is not a text, and slices strings one
/// character at a time: found by fuzz/update and fuzz/frame); its map is
/// read by key. Run only after an update that creates types or settles
/// pending structs. The diff follows the items' links: the preflight
/// refuses the updates that could link them into a loop (a client twice in
/// one update made the loop of fuzz/update's `update-5`; a struct that is
/// its own origin or parent).
fn nests_too_deep<T: ReadTxn>(transaction: &T) -> bool {
    use yrs::branch::BranchPtr;
    use yrs::types::text::YChange;
    use yrs::{Map, MapRef, Out, Text, TextRef};
    let mut pending: Vec<(BranchPtr, usize)> = transaction
        .root_refs()
        .filter_map(|(_, root)| root.try_branch().map(|branch| (BranchPtr::from(branch), 1)))
        .collect();
    let mut children: Vec<Out> = Vec::new();
    while let Some((branch, depth)) = pending.pop() {
        if depth > MAX_TYPE_DEPTH {
            return true;
        }
        children.clear();
        children.extend(
            TextRef::from(branch)
                .diff(transaction, YChange::identity)
                .into_iter()
                .map(|chunk| chunk.insert),
        );
        let map = MapRef::from(branch);
        children.extend(map.iter(transaction).map(|(_, value)| value));
        for child in children.drain(..) {
            if let Some(inner) = child.try_branch() {
                pending.push((BranchPtr::from(inner), depth + 1));
            }
        }
    }
    false
}

/// The most pending content (structs and deletions waiting for missing
/// dependencies) a document may hold, encoded.
pub const MAX_PENDING_BYTES: usize = 1024 * 1024;

/// Why a stored document could not be rebuilt.
#[derive(Debug, thiserror::Error)]
pub enum CorruptDocument {
    /// A stored update (or the snapshot) does not decode or apply.
    #[error("stored update {seq} is unreadable: {reason}")]
    Unreadable {
        /// The log sequence of the bad row (0 for the snapshot).
        seq: i64,
        /// What yrs said.
        reason: String,
    },
}

/// Updates applied per transaction when a document is rebuilt.
const LOAD_CHUNK: usize = 64;

/// Decodes a client's update. Runs on the connection's task, so decoding is
/// spread over the cores; yrs has panicked on crafted input before, so a
/// panic is caught here, at the trust boundary, and becomes an error.
///
/// [`preflight`] walks the bytes first: yrs would reserve memory for any
/// count the update declares, and recurse once per level of nesting.
pub fn decode_update(bytes: &[u8]) -> Result<Update, InvalidUpdate> {
    preflight::check_update(bytes).map_err(|error| InvalidUpdate::Decode(error.to_string()))?;
    match catch_unwind(|| Update::decode_v1(bytes)) {
        Ok(Ok(update)) => Ok(update),
        Ok(Err(error)) => Err(InvalidUpdate::Decode(error.to_string())),
        Err(_) => Err(InvalidUpdate::Decode("decoder panicked".into())),
    }
}

/// Decodes a client's state vector (sync step 1).
pub fn decode_state_vector(bytes: &[u8]) -> Result<StateVector, InvalidUpdate> {
    preflight::check_state_vector(bytes)
        .map_err(|error| InvalidUpdate::Decode(error.to_string()))?;
    match catch_unwind(|| StateVector::decode_v1(bytes)) {
        Ok(Ok(state_vector)) => Ok(state_vector),
        Ok(Err(error)) => Err(InvalidUpdate::Decode(error.to_string())),
        Err(_) => Err(InvalidUpdate::Decode("decoder panicked".into())),
    }
}

/// Applies an update to a scratch document, with every panic of yrs caught:
/// in `apply_update`, and in the commit that runs when the transaction is
/// dropped, which happens here and never while a panic unwinds (a second
/// panic during an unwind aborts the process).
pub fn apply_guarded(doc: &Doc, update: Update) -> Result<(), InvalidUpdate> {
    let mut transaction = doc.transact_mut();
    let applied = catch_unwind(AssertUnwindSafe(|| transaction.apply_update(update)));
    let committed = end(transaction);
    match applied {
        Ok(Ok(())) if committed => Ok(()),
        Ok(Ok(())) => Err(InvalidUpdate::Apply("commit panicked".into())),
        Ok(Err(error)) => Err(InvalidUpdate::Apply(error.to_string())),
        Err(_) => Err(InvalidUpdate::Apply("apply panicked".into())),
    }
}

/// Ends (commits) a transaction, catching a panic of yrs's commit; false if
/// it panicked.
fn end(transaction: yrs::TransactionMut<'_>) -> bool {
    catch_unwind(AssertUnwindSafe(move || drop(transaction))).is_ok()
}

/// What applying an update did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    /// The update added content, deletions or pending structs: store and relay it.
    Changed,
    /// Everything in it was already known: neither store nor relay it again.
    Unchanged,
}

/// A document replica, with its encodings cached between changes.
pub struct Replica {
    doc: Doc,
    encoded: Encoded,
}

/// Encodings of the document, kept until its next change. A reconnect storm
/// asks for the same one a thousand times over: the whole document from
/// clients that start empty, and from clients that were up to date when
/// they lost the connection, the answer to one and the same state vector
/// (no structs, and every deletion the document holds, which yrs gathers
/// by walking all its blocks). Each is kept framed as the sync step 2 that
/// carries it, so that answering a client copies nothing.
#[derive(Default)]
struct Encoded {
    full: Option<Answer>,
    /// The last answer to a state vector that is not empty, and that vector.
    diff: Option<(StateVector, Answer)>,
}

/// An update framed as a sync step 2 (`[0, 1, update]`): what answers a
/// client's sync step 1.
#[derive(Clone)]
pub struct Answer {
    framed: Bytes,
    /// Where the update starts in `framed`.
    update: usize,
}

impl Answer {
    /// Frames `update` (one copy of it).
    pub fn new(update: &[u8]) -> Self {
        let framed = protocol::encode_sync_step2(update);
        Self {
            update: framed.len() - update.len(),
            framed,
        }
    }

    /// The update alone (the same bytes, not a copy).
    fn update(&self) -> Bytes {
        self.framed.slice(self.update..)
    }

    /// The sync step 2 (a cheap clone).
    pub fn framed(&self) -> Bytes {
        self.framed.clone()
    }
}

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Replica").finish_non_exhaustive()
    }
}

fn new_doc() -> Doc {
    // Garbage collection stays on: versions are kept as snapshots in the
    // store, not by keeping every deleted item alive in memory.
    Doc::with_options(Options {
        skip_gc: false,
        ..Options::default()
    })
}

impl Replica {
    /// An empty document.
    pub fn empty() -> Self {
        Self {
            doc: new_doc(),
            encoded: Encoded::default(),
        }
    }

    /// Rebuilds a document from its snapshot and log.
    pub fn load(stored: &StoredDocument) -> Result<Self, CorruptDocument> {
        let snapshot = stored.snapshot.iter().map(|data| (0, data.as_slice()));
        let log = stored
            .updates
            .iter()
            .map(|update| (update.seq.0, update.data.as_slice()));
        Self::build(&snapshot.chain(log).collect::<Vec<_>>())
    }

    /// Rebuilds a document stored as a snapshot alone (given framed, as the
    /// room serves it while this runs), keeping the snapshot as its full
    /// state: it is the whole document as yrs encoded it.
    pub fn from_snapshot(snapshot: Answer) -> Result<Self, CorruptDocument> {
        let mut replica = Self::build(&[(0, &snapshot.update())])?;
        replica.encoded.full = Some(snapshot);
        Ok(replica)
    }

    /// Applies stored updates, each with its sequence (0: the snapshot).
    fn build(all: &[(i64, &[u8])]) -> Result<Self, CorruptDocument> {
        let replica = Self::empty();
        // A few dozen updates per transaction: yrs merges adjacent blocks only
        // when a transaction ends, and one transaction over a long typing
        // history grows quadratic (100,000 keystrokes: 15 s in one
        // transaction, 65 ms in transactions of 64).
        for chunk in all.chunks(LOAD_CHUNK) {
            let mut transaction = replica.doc.transact_mut();
            let mut failure = None;
            for &(seq, data) in chunk {
                let unreadable = |reason: String| CorruptDocument::Unreadable { seq, reason };
                let outcome = decode_update(data).and_then(|update| {
                    match catch_unwind(AssertUnwindSafe(|| transaction.apply_update(update))) {
                        Ok(Ok(())) => Ok(()),
                        Ok(Err(error)) => Err(InvalidUpdate::Apply(error.to_string())),
                        Err(_) => Err(InvalidUpdate::Apply("apply panicked".into())),
                    }
                });
                if let Err(error) = outcome {
                    failure = Some(unreadable(error.to_string()));
                    break;
                }
            }
            let last = chunk.last().map_or(0, |&(seq, _)| seq);
            if !end(transaction) && failure.is_none() {
                failure = Some(CorruptDocument::Unreadable {
                    seq: last,
                    reason: "commit panicked".into(),
                });
            }
            if let Some(failure) = failure {
                return Err(failure);
            }
        }
        Ok(replica)
    }

    /// Applies an update from a client.
    ///
    /// yrs panics on some crafted updates, while applying them, while
    /// committing them, or later, when it encodes the document. Every one of
    /// those runs here under `catch_unwind`, and the transaction is never
    /// dropped while a panic unwinds (its commit would panic again, and a
    /// panic during unwinding aborts the process). An update that leaves
    /// pending structs behind, or changes a document that holds some, is
    /// checked by encoding the whole document (kept as the cached full
    /// state), so `full_state` and `diff` never meet pending structs yrs
    /// cannot encode.
    ///
    /// On `Err` the replica may hold part of the update: the caller must
    /// rebuild it from the store before serving anyone from it.
    ///
    /// `raw` is the update's bytes (`update` decoded from them): structs
    /// that would leave a hole in their client's clocks are refused before
    /// yrs sees them ([`preflight::check_gaps`]), and the nesting of shared
    /// types is measured afterwards only when the update creates some
    /// ([`preflight::creates_types`]): typing creates none, so the walk over
    /// the document runs seldom.
    pub fn apply(&mut self, update: Update, raw: &[u8]) -> Result<Applied, InvalidUpdate> {
        let mut creates_types = true;
        let mut transaction = self.doc.transact_mut();
        let outcome = catch_unwind(AssertUnwindSafe(|| {
            let before = transaction.state_vector();
            let types = preflight::check_gaps(raw, |client| {
                u64::from(before.get(&yrs::block::ClientID::new(client)))
            })
            .map_err(|error| InvalidUpdate::Gap(error.to_string()))?;
            creates_types = types > 0;
            let pending_before = pending_fingerprint(&transaction);
            transaction
                .apply_update(update)
                .map_err(|error| InvalidUpdate::Apply(error.to_string()))?;
            // The check above keeps yrs from integrating anything past a
            // hole; should it still have, the update is refused (the
            // caller rebuilds the replica) before anything else touches it.
            if let Some(client) = leaves_hole(&transaction) {
                return Err(InvalidUpdate::Hole(client));
            }
            let pending_after = pending_fingerprint(&transaction);
            // Pending structs (missing dependencies) change neither the
            // insert nor the delete set, but must be stored all the same, or
            // they would be gone after a restart.
            let changed = !transaction.insert_set().is_empty()
                || !transaction.delete_set().is_empty()
                || pending_after != pending_before;
            Ok((changed, pending_before.is_some(), pending_after))
        }));
        // The commit runs in the transaction's `drop`; it runs here, never
        // during an unwind, and its own panic is caught.
        let committed = end(transaction);
        let (changed, was_pending, pending_after) = match outcome {
            Ok(Ok(applied)) => applied,
            Ok(Err(error)) => return Err(error),
            Err(_) => return Err(InvalidUpdate::Apply("apply panicked".into())),
        };
        if !committed {
            return Err(InvalidUpdate::Apply("commit panicked".into()));
        }
        if let Some((update, deletions)) = &pending_after
            && update.len() + deletions.len() > MAX_PENDING_BYTES
        {
            // The caller rebuilds the replica without this update.
            return Err(InvalidUpdate::TooMuchPending);
        }
        if !changed {
            return Ok(Applied::Unchanged);
        }
        self.encoded = Encoded::default();
        // Structs that were pending may have been integrated by this update,
        // types among them.
        if creates_types || was_pending || pending_after.is_some() {
            let doc = &self.doc;
            match catch_unwind(AssertUnwindSafe(|| nests_too_deep(&doc.transact()))) {
                Ok(false) => {}
                Ok(true) => return Err(InvalidUpdate::TooDeep),
                Err(_) => return Err(InvalidUpdate::Apply("reading the types panicked".into())),
            }
        }
        // yrs merges the pending structs into every encoding of the document,
        // and some merges panic: while anything is pending, every change is
        // checked by encoding the document (rare: pending structs wait for
        // updates a client has not sent yet).
        if pending_after.is_some() {
            self.encoded.full = Some(Answer::new(&self.encode_full_state()?));
        }
        Ok(Applied::Changed)
    }

    /// Runs a server-side change as one local transaction; returns the update
    /// it made, or `None` if it changed nothing.
    pub fn edit(
        &mut self,
        change: Box<dyn FnOnce(&mut yrs::TransactionMut) + Send>,
    ) -> Result<Option<Bytes>, InvalidUpdate> {
        let mut transaction = self.doc.transact_mut();
        if catch_unwind(AssertUnwindSafe(|| change(&mut transaction))).is_err() {
            return Err(InvalidUpdate::Apply("the change panicked".into()));
        }
        if transaction.insert_set().is_empty() && transaction.delete_set().is_empty() {
            return Ok(None);
        }
        let update = transaction.encode_update_v1();
        drop(transaction);
        self.encoded = Encoded::default();
        Ok(Some(Bytes::from(update)))
    }

    /// The encoded state vector, for the server's own sync step 1.
    pub fn state_vector(&self) -> Vec<u8> {
        self.doc.transact().state_vector().encode_v1()
    }

    /// What a peer with `state_vector` is missing, framed as the sync step 2
    /// that answers its step 1; cached for the next peer with the same vector
    /// until the next change.
    pub fn sync_answer(&mut self, state_vector: &StateVector) -> Result<Bytes, InvalidUpdate> {
        self.answer(state_vector).map(|answer| answer.framed)
    }

    /// The same answer, unframed (the tests apply it to their peers).
    #[cfg(test)]
    fn diff(&mut self, state_vector: &StateVector) -> Result<Bytes, InvalidUpdate> {
        self.answer(state_vector).map(|answer| answer.update())
    }

    fn answer(&mut self, state_vector: &StateVector) -> Result<Answer, InvalidUpdate> {
        if state_vector.is_empty() {
            return self.full_answer();
        }
        if let Some((asked, answer)) = &self.encoded.diff
            && asked == state_vector
        {
            return Ok(answer.clone());
        }
        let doc = &self.doc;
        let update = catch_unwind(AssertUnwindSafe(|| {
            doc.transact().encode_state_as_update_v1(state_vector)
        }))
        .map_err(|_| InvalidUpdate::Unencodable)?;
        let answer = Answer::new(&update);
        self.encoded.diff = Some((state_vector.clone(), answer.clone()));
        Ok(answer)
    }

    /// The whole document as one update, cached until the next change.
    pub fn full_state(&mut self) -> Result<Bytes, InvalidUpdate> {
        self.full_answer().map(|answer| answer.update())
    }

    fn full_answer(&mut self) -> Result<Answer, InvalidUpdate> {
        if let Some(answer) = &self.encoded.full {
            return Ok(answer.clone());
        }
        let answer = Answer::new(&self.encode_full_state()?);
        self.encoded.full = Some(answer.clone());
        Ok(answer)
    }

    fn encode_full_state(&self) -> Result<Bytes, InvalidUpdate> {
        catch_unwind(AssertUnwindSafe(|| {
            Bytes::from(
                self.doc
                    .transact()
                    .encode_state_as_update_v1(&StateVector::default()),
            )
        }))
        .map_err(|_| InvalidUpdate::Unencodable)
    }

    /// Bytes of pending structs and deletions held for updates whose
    /// dependencies have not arrived (bounded by `MAX_PENDING_BYTES`).
    pub fn pending_bytes(&self) -> usize {
        pending_fingerprint(&self.doc.transact())
            .map(|(update, deletions)| update.len() + deletions.len())
            .unwrap_or_default()
    }

    /// The yrs document, for reading its content.
    pub fn doc(&self) -> &Doc {
        &self.doc
    }
}

/// A client whose clocks the transaction's inserts reach beyond its state
/// vector clock: yrs stops the state vector at the first hole (a skip).
fn leaves_hole(transaction: &yrs::TransactionMut<'_>) -> Option<u64> {
    let state_vector = transaction.state_vector();
    transaction
        .insert_set()
        .iter()
        .find_map(|(&client, ranges)| {
            let reached = ranges.iter().map(|range| range.end).max()?;
            (reached > state_vector.get(&client)).then_some(client.get())
        })
}

fn pending_fingerprint<T: ReadTxn>(transaction: &T) -> Option<(Vec<u8>, Vec<u8>)> {
    let store = transaction.store();
    if store.pending_update().is_none() && store.pending_ds().is_none() {
        return None;
    }
    Some((
        store
            .pending_update()
            .map(|pending| pending.update.encode_v1())
            .unwrap_or_default(),
        store
            .pending_ds()
            .map(|ds| ds.encode_v1())
            .unwrap_or_default(),
    ))
}

/// Folds a stored document into one update (compaction). The result holds
/// exactly what `stored` holds; deleted content is garbage-collected.
pub fn fold(stored: &StoredDocument) -> Result<Vec<u8>, CorruptDocument> {
    let mut replica = Replica::load(stored)?;
    let state = replica
        .full_state()
        .map_err(|error| CorruptDocument::Unreadable {
            seq: stored.updates.last().map_or(0, |update| update.seq.0),
            reason: error.to_string(),
        })?;
    Ok(state.to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::Seq;
    use crate::store::StoredUpdate;
    use yrs::{GetString, Text};

    fn edit(client: u64, f: impl FnOnce(&Doc)) -> Vec<u8> {
        let doc = Doc::with_client_id(client);
        f(&doc);
        doc.transact()
            .encode_state_as_update_v1(&StateVector::default())
    }

    fn text(replica: &Replica) -> String {
        let text = replica.doc().get_or_insert_text("t");
        text.get_string(&replica.doc().transact())
    }

    /// A short resolution, as the fuzz targets start from.
    fn seeded() -> Replica {
        use crate::document::{Block, BlockKind, Inline, body_update};
        let blocks = vec![
            Block::new(
                BlockKind::Preamble,
                vec![
                    Inline::italic("Recordando"),
                    Inline::plain(" el Protocolo,"),
                ],
            ),
            Block::new(
                BlockKind::Operative,
                vec![Inline::plain("Exhorte les États ;")],
            ),
        ];
        let mut replica = Replica::empty();
        let raw = body_update(&blocks);
        let update = decode_update(&raw).expect("valid");
        assert_eq!(replica.apply(update, &raw), Ok(Applied::Changed));
        replica
    }

    /// Applies `update`, as the room does: on a refusal the replica is
    /// rebuilt (here: started again). Whatever happens, it still encodes.
    fn apply_like_the_room(replica: &mut Replica, update: &[u8]) {
        let Ok(decoded) = decode_update(update) else {
            return;
        };
        if replica.apply(decoded, update).is_err() {
            *replica = seeded();
        }
        assert!(replica.full_state().is_ok());
    }

    /// What the fuzzer found (fuzz/findings/): yrs 0.28.1 accepted these
    /// updates, then panicked encoding the document with their pending
    /// structs, outside any `catch_unwind`. Each is now refused, and the
    /// document answers every sync request afterwards.
    #[test]
    fn updates_yrs_cannot_encode_are_refused_and_the_document_still_encodes() {
        use crate::sync::protocol::{Message, decode_frame};
        let update_cases: [&[u8]; 9] = [
            include_bytes!("../../fuzz/findings/update-yrs-abort-1"),
            include_bytes!("../../fuzz/findings/update-2"),
            include_bytes!("../../fuzz/findings/update-3"),
            include_bytes!("../../fuzz/findings/update-4"),
            // A sequence whose items a crafted update links into a loop:
            // the nesting walk once followed it for ever.
            include_bytes!("../../fuzz/findings/update-5"),
            // A client in two groups of one update, and structs that are
            // their own parent: yrs left a dangling pointer in a map (a
            // segfault reading it).
            include_bytes!("../../fuzz/findings/update-6"),
            // A string with characters beyond the basic plane in a type
            // that is not a text: yrs's array iterator never ends on it.
            include_bytes!("../../fuzz/findings/update-7"),
            // A block that does not fit the skip yrs thinks it fills: an
            // overflow (checked: a caught panic; unchecked: a use after free).
            include_bytes!("../../fuzz/findings/update-8"),
            // Structs past a hole, then structs overlapping it: yrs split its
            // own structs around the hole and freed one still pointed to.
            include_bytes!("../../fuzz/findings/update-9"),
        ];
        for data in update_cases {
            // The stored-document reader of the `update` target, too.
            let _ = crate::document::read_update(data);
        }
        for data in update_cases {
            // As the `update` target: the first byte cuts the rest in 1–4 updates.
            let (split, rest) = data.split_first().expect("not empty");
            let size = rest.len().div_ceil(usize::from(split % 4) + 1).max(1);
            let mut replica = seeded();
            for chunk in rest.chunks(size) {
                apply_like_the_room(&mut replica, chunk);
            }
        }
        let frame_cases: [&[u8]; 6] = [
            include_bytes!("../../fuzz/findings/frame-yrs-abort-1"),
            include_bytes!("../../fuzz/findings/frame-yrs-abort-2"),
            include_bytes!("../../fuzz/findings/frame-3"),
            include_bytes!("../../fuzz/findings/frame-4"),
            include_bytes!("../../fuzz/findings/frame-5"),
            // An item between neighbours of two different types: yrs linked
            // it into both, and its garbage collector freed items still
            // linked (a use after free; fixed in vendor/yrs).
            include_bytes!("../../fuzz/findings/frame-6"),
        ];
        for data in frame_cases {
            let messages = decode_frame(&Bytes::copy_from_slice(data)).expect("decodes");
            let mut replica = seeded();
            for message in messages {
                match message {
                    Message::SyncStep2(update) | Message::Update(update) => {
                        apply_like_the_room(&mut replica, &update);
                    }
                    _ => {}
                }
            }
            assert!(replica.diff(&StateVector::default()).is_ok());
        }
    }

    /// Elements nested deeper than the limit are refused (yrs would
    /// overflow the stack deleting them); the refused update is not kept by
    /// the room, which rebuilds the replica from the store.
    #[test]
    fn shared_types_nested_too_deep_are_refused() {
        use yrs::{XmlElementPrelim, XmlFragment};
        let author = Doc::with_client_id(9);
        let body = author.get_or_insert_xml_fragment("body");
        let mut sv = StateVector::default();
        let mut updates = Vec::new();
        {
            let mut element =
                body.push_back(&mut author.transact_mut(), XmlElementPrelim::empty("p"));
            for _ in 0..MAX_TYPE_DEPTH + 4 {
                element =
                    element.push_back(&mut author.transact_mut(), XmlElementPrelim::empty("x"));
                let update = author.transact().encode_state_as_update_v1(&sv);
                sv = author.transact().state_vector();
                updates.push(update);
            }
        }
        let mut replica = Replica::empty();
        let mut refused = None;
        for (index, update) in updates.iter().enumerate() {
            assert!(preflight::creates_types(update));
            if let Err(error) = replica.apply(decode_update(update).expect("valid"), update) {
                refused = Some((index, error));
                break;
            }
        }
        // body (1) > p (2) > x … : the x at depth 33 is refused.
        assert_eq!(refused, Some((MAX_TYPE_DEPTH - 2, InvalidUpdate::TooDeep)));
        // Typing creates no types.
        let typing = edit(3, |doc| {
            doc.get_or_insert_text("t")
                .insert(&mut doc.transact_mut(), 0, "Decide");
        });
        assert!(!preflight::creates_types(&typing));
    }

    #[test]
    fn a_repeated_update_changes_nothing() {
        let update = edit(1, |doc| {
            let text = doc.get_or_insert_text("t");
            text.insert(&mut doc.transact_mut(), 0, "Recalling");
        });
        let mut replica = Replica::empty();
        let first = replica.apply(decode_update(&update).expect("valid"), &update);
        let second = replica.apply(decode_update(&update).expect("valid"), &update);
        assert_eq!(first, Ok(Applied::Changed));
        assert_eq!(second, Ok(Applied::Unchanged));
        assert_eq!(text(&replica), "Recalling");
    }

    #[test]
    fn a_pending_update_counts_as_a_change_and_survives_folding() {
        let doc = Doc::with_client_id(7);
        let text = doc.get_or_insert_text("t");
        text.insert(&mut doc.transact_mut(), 0, "Urges ");
        let sv = doc.transact().state_vector();
        text.insert(&mut doc.transact_mut(), 6, "States");
        let first = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let second = doc.transact().encode_state_as_update_v1(&sv);

        let mut replica = Replica::empty();
        // The second half arrives first: yrs keeps it pending.
        assert_eq!(
            replica.apply(decode_update(&second).expect("valid"), &second),
            Ok(Applied::Changed)
        );
        assert_eq!(text_of(&replica), "");
        let stored = StoredDocument {
            snapshot: None,
            snapshot_seq: Seq(0),
            updates: vec![StoredUpdate {
                seq: Seq(1),
                data: second.clone(),
                author: None,
                delegation: None,
            }],
        };
        let folded = fold(&stored).expect("folds");
        let mut reloaded = Replica::load(&StoredDocument {
            snapshot: Some(folded),
            snapshot_seq: Seq(1),
            updates: vec![],
        })
        .expect("loads");
        assert_eq!(
            reloaded.apply(decode_update(&first).expect("valid"), &first),
            Ok(Applied::Changed)
        );
        assert_eq!(text_of(&reloaded), "Urges States");
    }

    fn text_of(replica: &Replica) -> String {
        text(replica)
    }

    #[test]
    fn pending_content_is_bounded() {
        let mut replica = Replica::empty();
        // Updates of a client whose first update never arrives.
        let doc = Doc::with_client_id(9);
        let text = doc.get_or_insert_text("t");
        text.insert(&mut doc.transact_mut(), 0, "lost first update");
        let mut refused = false;
        for round in 0..200 {
            let chunk = "x".repeat(8 * 1024);
            let update = {
                let mut txn = doc.transact_mut();
                // At the end: each waits for the one before (a struct
                // that did not would be refused, see `check_gaps`).
                let end = text.len(&txn);
                text.insert(&mut txn, end, &chunk);
                txn.encode_update_v1()
            };
            match replica.apply(decode_update(&update).expect("valid"), &update) {
                Ok(_) => assert!(round < 200),
                Err(InvalidUpdate::TooMuchPending) => {
                    refused = true;
                    break;
                }
                Err(other) => panic!("{other}"),
            }
        }
        assert!(refused, "the pending content hit its bound");
    }

    #[test]
    fn structs_past_a_hole_are_refused_and_the_replica_still_serves() {
        let doc = Doc::with_client_id(5);
        let text = doc.get_or_insert_text("t");
        text.insert(&mut doc.transact_mut(), 0, "Urges");
        let first = doc
            .transact()
            .encode_state_as_update_v1(&StateVector::default());
        let insert_at_start = |what: &str| {
            let mut txn = doc.transact_mut();
            text.insert(&mut txn, 0, what);
            txn.encode_update_v1()
        };
        let lost = insert_at_start("all ");
        let past_the_hole = insert_at_start("The ");
        let mut replica = Replica::empty();
        assert_eq!(
            replica.apply(decode_update(&first).expect("valid"), &first),
            Ok(Applied::Changed)
        );
        // Client 5's clocks 5..9 never came: "The " (clock 9) would be
        // integrated past them.
        let refused = replica.apply(
            decode_update(&past_the_hole).expect("valid"),
            &past_the_hole,
        );
        assert!(matches!(refused, Err(InvalidUpdate::Gap(_))), "{refused:?}");
        assert_eq!(text_of(&replica), "Urges");
        // In order, both apply.
        for update in [&lost, &past_the_hole] {
            assert_eq!(
                replica.apply(decode_update(update).expect("valid"), update),
                Ok(Applied::Changed)
            );
        }
        assert_eq!(text_of(&replica), "The all Urges");
    }

    /// yrs (vendor/yrs.patch) refuses an item whose neighbours or parent lie
    /// in different shared types; integrated, it would be linked into a list
    /// it does not belong to, and yrs's garbage collector would free items
    /// still linked (fuzz/findings/frame-6).
    #[test]
    fn an_item_between_two_shared_types_is_refused_and_the_replica_still_serves() {
        let author = edit(5, |doc| {
            doc.get_or_insert_text("t")
                .insert(&mut doc.transact_mut(), 0, "Urges");
            doc.get_or_insert_text("u")
                .insert(&mut doc.transact_mut(), 0, "States");
        });
        // Client 5: "Urges" is 0..5 in "t", "States" 5..11 in "u".
        let crafted: [&[u8]; 2] = [
            // Client 7's "Z", origin (5, 1) in "t", right origin (5, 6) in "u".
            &[1, 1, 7, 0, 0x80 | 0x40 | 4, 5, 1, 5, 6, 1, b'Z', 0],
            // Client 5's "sX" from clock 10 with the explicit parent "t": yrs
            // cuts off the "s" it has, and the "X" left has the origin (5, 10),
            // the last "s" of "States" in "u".
            &[1, 1, 5, 10, 4, 1, 1, b't', 2, b's', b'X', 0],
        ];
        for update in crafted {
            let mut replica = Replica::empty();
            replica
                .apply(decode_update(&author).expect("valid"), &author)
                .expect("applies");
            let refused = replica.apply(decode_update(update).expect("decodes"), update);
            assert!(
                matches!(&refused, Err(InvalidUpdate::Apply(reason)) if reason.contains("another shared type")),
                "{refused:?}"
            );
            let u = replica.doc().get_or_insert_text("u");
            assert_eq!(text(&replica), "Urges");
            assert_eq!(u.get_string(&replica.doc().transact()), "States");
            assert!(replica.full_state().is_ok());
            // A real edit still applies.
            let more = edit(8, |doc| {
                doc.get_or_insert_text("v")
                    .insert(&mut doc.transact_mut(), 0, "Decides");
            });
            assert_eq!(
                replica.apply(decode_update(&more).expect("valid"), &more),
                Ok(Applied::Changed)
            );
        }
    }

    /// yrs (vendor/yrs.patch) guesses where a clock lies in a client's
    /// blocks before it searches them: three writers insert and delete at
    /// random, in runs of one to four characters that the others then cut
    /// (so that a client's blocks differ in length, and origins fall inside
    /// them), and every document, the replica's too, holds what a plain
    /// string holds after the same edits.
    #[test]
    fn edits_anywhere_in_blocks_of_every_length_land_where_they_were_made() {
        let writers: Vec<Doc> = (1..=3).map(Doc::with_client_id).collect();
        let mut replica = Replica::empty();
        let mut expected = String::new();
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = |bound: u32| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((seed >> 33) % u64::from(bound.max(1))) as u32
        };
        for step in 0..3000 {
            let at_writer = next(3) as usize;
            let writer = &writers[at_writer];
            let text = writer.get_or_insert_text("t");
            let update = {
                let mut transaction = writer.transact_mut();
                let length = text.len(&transaction);
                if length > 8 && next(4) == 0 {
                    let at = next(length);
                    let count = (1 + next(3)).min(length - at);
                    text.remove_range(&mut transaction, at, count);
                    expected.replace_range(at as usize..(at + count) as usize, "");
                } else {
                    let at = next(length + 1);
                    let run: String = (0..=next(4))
                        .map(|index| char::from(b'a' + ((step + index) % 26) as u8))
                        .collect();
                    text.insert(&mut transaction, at, &run);
                    expected.insert_str(at as usize, &run);
                }
                transaction.encode_update_v1()
            };
            for (index, other) in writers.iter().enumerate() {
                if index == at_writer {
                    continue;
                }
                other
                    .transact_mut()
                    .apply_update(decode_update(&update).expect("valid"))
                    .expect("applies");
            }
            replica
                .apply(decode_update(&update).expect("valid"), &update)
                .expect("applies");
        }
        for writer in &writers {
            let text = writer.get_or_insert_text("t");
            assert_eq!(text.get_string(&writer.transact()), expected);
        }
        assert_eq!(text(&replica), expected);
        let reloaded = Replica::load(&StoredDocument {
            snapshot: Some(replica.full_state().expect("encodes").to_vec()),
            snapshot_seq: Seq(1),
            updates: Vec::new(),
        })
        .expect("loads");
        assert_eq!(text(&reloaded), expected);
    }

    #[test]
    fn garbage_is_refused() {
        assert!(decode_update(&[0xff, 0xff, 0xff]).is_err());
        assert!(decode_state_vector(&[0x05]).is_err());
    }

    #[test]
    fn the_full_state_is_cached_until_the_next_change() {
        let mut replica = Replica::empty();
        let empty = replica.full_state().expect("encodes");
        assert_eq!(replica.full_state().expect("encodes"), empty);
        let update = edit(2, |doc| {
            doc.get_or_insert_text("t")
                .insert(&mut doc.transact_mut(), 0, "Decides");
        });
        replica
            .apply(decode_update(&update).expect("valid"), &update)
            .expect("applies");
        assert_ne!(replica.full_state().expect("encodes"), empty);
        assert_eq!(text(&replica), "Decides");
    }

    #[test]
    fn the_answer_to_a_state_vector_is_cached_until_the_next_change() {
        let mut replica = seeded();
        // A peer that held everything when it lost its connection.
        let peer = Doc::with_client_id(9);
        let state = replica.full_state().expect("encodes");
        peer.transact_mut()
            .apply_update(decode_update(&state).expect("valid"))
            .expect("applies");
        let asked = peer.transact().state_vector();
        let answer = replica.diff(&asked).expect("encodes");
        let again = replica.diff(&asked).expect("encodes");
        assert_eq!(again, answer);
        // The same bytes, not an equal encoding made again.
        assert_eq!(again.as_ptr(), answer.as_ptr(), "answered from the cache");
        // Framed as the sync step 2 once, around the same bytes.
        let step2 = replica.sync_answer(&asked).expect("encodes");
        assert_eq!(step2, protocol::encode_sync_step2(&answer));
        assert_eq!(step2.as_ptr_range().end, answer.as_ptr_range().end);
        let update = edit(3, |doc| {
            doc.get_or_insert_text("t")
                .insert(&mut doc.transact_mut(), 0, "Further ");
        });
        apply_like_the_room(&mut replica, &update);
        let after = replica.diff(&asked).expect("encodes");
        assert_ne!(after, answer, "a change is answered, not the cached answer");
        peer.transact_mut()
            .apply_update(decode_update(&after).expect("valid"))
            .expect("applies");
        let peer_text = peer.get_or_insert_text("t").get_string(&peer.transact());
        assert_eq!(peer_text, text(&replica));
        // Another vector is answered for itself, not from the cache.
        let other = Doc::with_client_id(10);
        other
            .transact_mut()
            .apply_update(decode_update(&update).expect("valid"))
            .expect("applies");
        let answer = replica
            .diff(&other.transact().state_vector())
            .expect("encodes");
        other
            .transact_mut()
            .apply_update(decode_update(&answer).expect("valid"))
            .expect("applies");
        assert_eq!(
            other.transact().state_vector(),
            replica.doc().transact().state_vector()
        );
    }
}
