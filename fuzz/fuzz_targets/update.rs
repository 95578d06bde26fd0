//! Updates from a client, applied in turn to a replica of a real resolution
//! as the room applies them: arbitrary bytes split into several updates, so
//! that one may depend on another that never comes (pending structs, which
//! must stay bounded per document), then the body read through the schema.
//! Also the stored-document path: the same bytes folded as a log; and the
//! relay: the updates that applied, merged into one frame as a room merges a
//! committed batch (`merge_updates_v1`), which must not panic either.
#![no_main]

use libfuzzer_sys::fuzz_target;
use plenary::document::{numbers, read_body, read_update};
use plenary::sync::crdt::{MAX_PENDING_BYTES, decode_update};
use plenary::sync::preflight::{ShapeError, check_update};
use yrs::updates::decoder::Decode;

fuzz_target!(|data: &[u8]| {
    let Some((&split, rest)) = data.split_first() else {
        return;
    };
    // Up to four updates, cut at positions the first byte chooses.
    let parts = usize::from(split % 4) + 1;
    let size = rest.len().div_ceil(parts).max(1);
    let mut replica = plenary_fuzz_seed::replica();
    let mut applied: Vec<&[u8]> = Vec::new();
    for chunk in rest.chunks(size) {
        // The preflight walk refuses nothing yrs would read: what it calls
        // truncated or unknown, yrs refuses too (counts beyond the message
        // and deep nesting are not asked of yrs: that is what they guard).
        if let Err(ShapeError::Truncated(_) | ShapeError::Unknown { .. }) = check_update(chunk) {
            let yrs = std::panic::catch_unwind(|| yrs::Update::decode_v1(chunk));
            assert!(
                !matches!(yrs, Ok(Ok(_))),
                "the preflight refused an update yrs decodes"
            );
        }
        let _ = read_update(chunk).map(|blocks| numbers(&blocks));
        let Ok(update) = decode_update(chunk) else {
            continue;
        };
        if replica.apply(update, chunk).is_err() {
            replica = plenary_fuzz_seed::replica();
            applied.clear();
        } else {
            applied.push(chunk);
        }
        let pending = replica.pending_bytes();
        assert!(
            pending <= MAX_PENDING_BYTES,
            "{pending} pending bytes kept after apply"
        );
    }
    if applied.len() > 1 {
        let _ = yrs::merge_updates_v1(applied.iter().copied());
    }
    let blocks = read_body(replica.doc());
    let _ = numbers(&blocks);
    // `apply` refuses any update that would leave the document unencodable.
    assert!(replica.full_state().is_ok(), "an accepted update broke encoding");
});

#[path = "../seed.rs"]
mod plenary_fuzz_seed;
