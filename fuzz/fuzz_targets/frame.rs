//! A whole websocket frame from a client, as the connection and the room
//! handle it: decode every message, then decode and apply what a sync
//! message carries to a replica of a real resolution, answer a step 1, and
//! read the body back through the schema. Nothing may panic or abort, and no
//! length or count in the frame may allocate more than the frame justifies.
#![no_main]

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use plenary::document::read_body;
use plenary::sync::crdt::{decode_state_vector, decode_update};
use plenary::sync::protocol::{Message, decode_frame};

fuzz_target!(|data: &[u8]| {
    let frame = Bytes::copy_from_slice(data);
    let Ok(messages) = decode_frame(&frame) else {
        return;
    };
    let mut replica = plenary_fuzz_seed::replica();
    for message in messages {
        match message {
            Message::SyncStep1(state_vector) => {
                if let Ok(state_vector) = decode_state_vector(&state_vector)
                    && replica.sync_answer(&state_vector).is_err()
                {
                    replica = plenary_fuzz_seed::replica();
                }
            }
            Message::SyncStep2(raw) | Message::Update(raw) => {
                if let Ok(update) = decode_update(&raw)
                    && replica.apply(update, &raw).is_err()
                {
                    // The room rebuilds the replica from the store.
                    replica = plenary_fuzz_seed::replica();
                }
            }
            Message::Awareness(_) | Message::Auth { .. } | Message::QueryAwareness => {}
        }
    }
    let _ = read_body(replica.doc());
    // `apply` refuses any update that would leave the document unencodable.
    assert!(replica.full_state().is_ok(), "an accepted update broke encoding");
});

#[path = "../seed.rs"]
mod plenary_fuzz_seed;
