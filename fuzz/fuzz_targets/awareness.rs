//! An awareness message from a client, as the room handles it: decode the
//! payload, stamp the server's identity into each state, apply it under the
//! per-connection limits, then expire and remove the connection. Counts,
//! lengths, client ids beyond 2^53 and deeply nested JSON must all be refused
//! or handled without panic.
#![no_main]

use std::time::Duration;

use bytes::Bytes;
use libfuzzer_sys::fuzz_target;
use plenary::auth::Role;
use plenary::ids::{AccountId, ConnectionId, SessionId};
use plenary::sync::awareness::{Awareness, AwarenessLimits, stamp_identity};
use plenary::sync::protocol::{Message, decode_awareness, decode_frame, encode_awareness};
use plenary::sync::room::Identity;
use tokio::time::Instant;

fuzz_target!(|data: &[u8]| {
    let identity = Identity {
        account: AccountId("acc_fuzz".into()),
        session: SessionId("ses_fuzz".into()),
        name: "Ana Souza".into(),
        role: Role::Delegate,
        delegation: None,
        delegation_name: Some("Brasil".into()),
        expires_at: i64::MAX,
    };
    let limits = AwarenessLimits {
        clients_per_connection: 4,
        state_bytes: 4096,
    };
    // The same payload twice, from two connections: ownership must hold.
    let payload = Bytes::copy_from_slice(data);
    let Ok(entries) = decode_awareness(&payload) else {
        return;
    };
    let stamped = stamp_identity(entries, &identity);
    let mut awareness = Awareness::default();
    let now = Instant::now();
    for connection in [ConnectionId(1), ConnectionId(2)] {
        if let Ok(relayed) = awareness.apply(connection, stamped.clone(), now, limits) {
            // What the server relays decodes to exactly what it meant.
            let encoded = encode_awareness(&relayed);
            match decode_frame(&encoded).as_deref() {
                Ok([Message::Awareness(decoded)]) => assert_eq!(decoded, &relayed),
                other => panic!("relayed awareness does not decode: {other:?}"),
            }
        }
    }
    // What a joining client gets: every live state, in frames of a bounded size.
    let states = awareness.states();
    let mut decoded = Vec::new();
    for frame in awareness.encode_states() {
        match decode_frame(&frame).as_deref() {
            Ok([Message::Awareness(entries)]) if !entries.is_empty() => {
                decoded.extend_from_slice(entries)
            }
            other => panic!("a joiner's awareness does not decode: {other:?}"),
        }
    }
    assert_eq!(decoded, states);
    let _ = awareness.expire(now + Duration::from_secs(31));
    let _ = awareness.remove_connection(ConnectionId(1));
});
