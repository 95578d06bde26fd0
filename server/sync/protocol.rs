//! The y-websocket wire protocol: reading and writing frames.
//!
//! Specification: y-protocols `PROTOCOL.md`, `sync.js`, `awareness.js` and
//! `auth.js` (<https://github.com/yjs/y-protocols>); integers and byte strings
//! are lib0 `varUint` and `varUint8Array`
//! (<https://github.com/dmonad/lib0/blob/main/encoding.js>).
//!
//! We read frames ourselves rather than through `yrs::sync::MessageReader`,
//! because that reader stops silently at a truncated message and accepts any
//! tag as `Custom`; here a frame is accepted only if every message in it is
//! complete and known, and the cursor ends exactly at the end of the frame.
//! Nothing is allocated from a length before that length is checked against
//! the bytes that are actually there.

use bytes::{BufMut, Bytes, BytesMut};

/// `messageSync`.
pub const MESSAGE_SYNC: u64 = 0;
/// `messageAwareness`.
pub const MESSAGE_AWARENESS: u64 = 1;
/// `messageAuth`.
pub const MESSAGE_AUTH: u64 = 2;
/// `messageQueryAwareness`.
pub const MESSAGE_QUERY_AWARENESS: u64 = 3;

/// `messageYjsSyncStep1`.
pub const SYNC_STEP_1: u64 = 0;
/// `messageYjsSyncStep2`.
pub const SYNC_STEP_2: u64 = 1;
/// `messageYjsUpdate`.
pub const SYNC_UPDATE: u64 = 2;

/// `messagePermissionDenied` inside an auth message.
pub const AUTH_PERMISSION_DENIED: u64 = 0;

/// The largest integer a JavaScript peer can represent exactly (2^53 − 1).
/// Yjs client ids and awareness clocks are JavaScript numbers.
pub const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// One decoded protocol message. Byte payloads are slices of the frame they
/// came in, not copies.
#[derive(Debug, Clone, PartialEq)]
pub enum Message {
    /// `[0, 0, stateVector]`: "send me what I am missing".
    SyncStep1(Bytes),
    /// `[0, 1, update]`: the answer to step 1 (for a client, its offline edits).
    SyncStep2(Bytes),
    /// `[0, 2, update]`: an incremental update.
    Update(Bytes),
    /// `[1, awarenessUpdate]`: presence states.
    Awareness(Vec<AwarenessEntry>),
    /// `[2, kind, reason]`: an auth message (kind 0: permission denied).
    /// Servers send it; from a client it is read and ignored.
    Auth {
        /// 0 for permission denied.
        kind: u64,
        /// Why, in words.
        reason: String,
    },
    /// `[3]`: "send me every awareness state".
    QueryAwareness,
}

/// One client's state in an awareness message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwarenessEntry {
    /// The Yjs client id (at most 2^53 − 1).
    pub client: u64,
    /// Incremented by the client at each change or renewal.
    pub clock: u64,
    /// The state as JSON text, or `None` when the client removed it (`"null"`).
    pub state: Option<String>,
}

/// Why a frame was refused. Each maps to one websocket close code
/// (see `connection.rs` and docs/protocol.md).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// A message ends before its last field does.
    #[error("truncated message")]
    Truncated,
    /// A varint longer than 64 bits.
    #[error("integer too large")]
    IntegerOverflow,
    /// A top-level message type that the protocol does not define.
    #[error("unknown message type {0}")]
    UnknownMessageType(u64),
    /// A sync message other than step 1, step 2 or update.
    #[error("unknown sync message type {0}")]
    UnknownSyncType(u64),
    /// A frame with no message in it.
    #[error("empty frame")]
    Empty,
    /// An awareness payload whose entries do not fill it exactly, or a
    /// client id or clock beyond what JavaScript can represent.
    #[error("malformed awareness message: {0}")]
    Awareness(&'static str),
    /// An awareness state that is not valid UTF-8 JSON.
    #[error("awareness state is not JSON")]
    AwarenessJson,
}

/// A cursor over one frame.
struct Reader<'a> {
    frame: &'a Bytes,
    position: usize,
}

impl<'a> Reader<'a> {
    fn new(frame: &'a Bytes) -> Self {
        Self { frame, position: 0 }
    }

    fn remaining(&self) -> usize {
        self.frame.len() - self.position
    }

    fn read_var_uint(&mut self) -> Result<u64, FrameError> {
        let mut value: u64 = 0;
        let mut shift = 0u32;
        loop {
            let byte = *self.frame.get(self.position).ok_or(FrameError::Truncated)?;
            self.position += 1;
            let bits = u64::from(byte & 0x7f);
            if shift >= 64 || (shift > 0 && bits >> (64 - shift) != 0) {
                return Err(FrameError::IntegerOverflow);
            }
            value |= bits << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
            shift += 7;
        }
    }

    /// A `varUint8Array`, as a slice of the frame. The length is checked
    /// against the bytes left before anything is taken.
    fn read_bytes(&mut self) -> Result<Bytes, FrameError> {
        let length = self.read_var_uint()?;
        let length = usize::try_from(length).map_err(|_| FrameError::Truncated)?;
        if length > self.remaining() {
            return Err(FrameError::Truncated);
        }
        let bytes = self.frame.slice(self.position..self.position + length);
        self.position += length;
        Ok(bytes)
    }
}

/// Reads every message of a frame. The frame is refused as a whole if any
/// message in it is malformed, so nothing of a bad frame is ever applied.
pub fn decode_frame(frame: &Bytes) -> Result<Vec<Message>, FrameError> {
    let mut reader = Reader::new(frame);
    let mut messages = Vec::new();
    if reader.remaining() == 0 {
        return Err(FrameError::Empty);
    }
    while reader.remaining() > 0 {
        messages.push(decode_message(&mut reader)?);
    }
    Ok(messages)
}

fn decode_message(reader: &mut Reader<'_>) -> Result<Message, FrameError> {
    match reader.read_var_uint()? {
        MESSAGE_SYNC => match reader.read_var_uint()? {
            SYNC_STEP_1 => Ok(Message::SyncStep1(reader.read_bytes()?)),
            SYNC_STEP_2 => Ok(Message::SyncStep2(reader.read_bytes()?)),
            SYNC_UPDATE => Ok(Message::Update(reader.read_bytes()?)),
            other => Err(FrameError::UnknownSyncType(other)),
        },
        MESSAGE_AWARENESS => {
            let payload = reader.read_bytes()?;
            Ok(Message::Awareness(decode_awareness(&payload)?))
        }
        MESSAGE_AUTH => {
            let kind = reader.read_var_uint()?;
            let reason = String::from_utf8_lossy(&reader.read_bytes()?).into_owned();
            Ok(Message::Auth { kind, reason })
        }
        MESSAGE_QUERY_AWARENESS => Ok(Message::QueryAwareness),
        other => Err(FrameError::UnknownMessageType(other)),
    }
}

/// Reads an awareness update (the payload of `[1, …]`).
pub fn decode_awareness(payload: &Bytes) -> Result<Vec<AwarenessEntry>, FrameError> {
    let mut reader = Reader::new(payload);
    let count = reader.read_var_uint()?;
    // Each entry takes at least three bytes: bound the count before reserving.
    if count > (reader.remaining() / 3) as u64 {
        return Err(FrameError::Awareness("more entries than bytes"));
    }
    let mut entries = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let client = reader.read_var_uint()?;
        let clock = reader.read_var_uint()?;
        let json = reader.read_bytes()?;
        if client > MAX_SAFE_INTEGER || clock > MAX_SAFE_INTEGER {
            return Err(FrameError::Awareness("client id or clock beyond 2^53"));
        }
        let json = std::str::from_utf8(&json).map_err(|_| FrameError::AwarenessJson)?;
        let state = if json == "null" {
            None
        } else {
            // A state that JSON.parse would throw on must not reach the other
            // clients: their message handler would fail on it.
            serde_json::from_str::<serde::de::IgnoredAny>(json)
                .map_err(|_| FrameError::AwarenessJson)?;
            Some(json.to_owned())
        };
        entries.push(AwarenessEntry {
            client,
            clock,
            state,
        });
    }
    if reader.remaining() != 0 {
        return Err(FrameError::Awareness("trailing bytes"));
    }
    Ok(entries)
}

fn write_var_uint(buffer: &mut BytesMut, mut value: u64) {
    while value >= 0x80 {
        buffer.put_u8((value as u8 & 0x7f) | 0x80);
        value >>= 7;
    }
    buffer.put_u8(value as u8);
}

fn write_bytes(buffer: &mut BytesMut, bytes: &[u8]) {
    write_var_uint(buffer, bytes.len() as u64);
    buffer.put_slice(bytes);
}

fn sync_message(kind: u64, payload: &[u8]) -> Bytes {
    let mut buffer = BytesMut::with_capacity(payload.len() + 8);
    write_var_uint(&mut buffer, MESSAGE_SYNC);
    write_var_uint(&mut buffer, kind);
    write_bytes(&mut buffer, payload);
    buffer.freeze()
}

/// `[0, 0, stateVector]`.
pub fn encode_sync_step1(state_vector: &[u8]) -> Bytes {
    sync_message(SYNC_STEP_1, state_vector)
}

/// `[0, 1, update]`.
pub fn encode_sync_step2(update: &[u8]) -> Bytes {
    sync_message(SYNC_STEP_2, update)
}

/// `[0, 2, update]`.
pub fn encode_update(update: &[u8]) -> Bytes {
    sync_message(SYNC_UPDATE, update)
}

/// `[1, awarenessUpdate]`.
pub fn encode_awareness<'a, I>(entries: I) -> Bytes
where
    I: IntoIterator<Item = &'a AwarenessEntry>,
    I::IntoIter: Clone,
{
    encode_awareness_states(
        entries
            .into_iter()
            .map(|entry| (entry.client, entry.clock, entry.state.as_deref())),
    )
}

/// The most bytes of states one awareness frame carries before the next
/// begins (a state larger than this goes alone). A socket's writer keeps the
/// size of the largest frame it ever wrote (tungstenite's buffer does not
/// shrink): the states of a thousand clients in one frame, which everyone
/// joining a large meeting gets, left ~150 KB with each socket.
pub const AWARENESS_FRAME_BYTES: usize = 8 * 1024;

/// The most frames [`encode_awareness_frames`] makes of fewer bytes than
/// this many frames of [`AWARENESS_FRAME_BYTES`] (with more, its frames grow
/// instead), whatever the states' sizes: a connection's queue holds a bounded
/// number of frames, and every state of a room must fit in it.
pub const AWARENESS_FRAMES: usize = 64;

/// [`encode_awareness_states`] in frames of about [`AWARENESS_FRAME_BYTES`]
/// each (or of 1/[`AWARENESS_FRAMES`] of the whole, if larger), in order;
/// none for no entry. A state larger than a frame goes alone; there are at
/// most [`AWARENESS_FRAMES`] of those, so at most twice that many frames.
pub fn encode_awareness_frames<'a>(
    entries: impl Iterator<Item = (u64, u64, Option<&'a str>)>,
) -> Vec<Bytes> {
    let size = |&(client, clock, json): &(u64, u64, Option<&str>)| {
        var_uint_len(client) + var_uint_len(clock) + json.map_or(4, str::len) + 5
    };
    let entries: Vec<_> = entries.collect();
    let total: usize = entries.iter().map(size).sum();
    let budget = AWARENESS_FRAME_BYTES.max(total.div_ceil(AWARENESS_FRAMES));
    let mut frames = Vec::new();
    let mut start = 0;
    let mut bytes = 0;
    for (index, entry) in entries.iter().enumerate() {
        let size = size(entry);
        if index > start && bytes + size > budget {
            frames.push(encode_awareness_states(
                entries[start..index].iter().copied(),
            ));
            start = index;
            bytes = 0;
        }
        bytes += size;
    }
    if start < entries.len() {
        frames.push(encode_awareness_states(entries[start..].iter().copied()));
    }
    frames
}

/// [`encode_awareness`] from each entry's client, clock and state (`None`:
/// removed), written once into a buffer of the exact size: a room sends
/// every state it holds to each client that joins.
pub fn encode_awareness_states<'a>(
    entries: impl Iterator<Item = (u64, u64, Option<&'a str>)> + Clone,
) -> Bytes {
    let state = |state: Option<&'a str>| state.unwrap_or("null").as_bytes();
    let (count, payload) = entries
        .clone()
        .fold((0u64, 0usize), |(count, bytes), entry| {
            let (client, clock, json) = entry;
            let json = state(json);
            (
                count + 1,
                bytes
                    + var_uint_len(client)
                    + var_uint_len(clock)
                    + var_uint_len(json.len() as u64)
                    + json.len(),
            )
        });
    let payload = var_uint_len(count) + payload;
    let mut buffer = BytesMut::with_capacity(
        var_uint_len(MESSAGE_AWARENESS) + var_uint_len(payload as u64) + payload,
    );
    write_var_uint(&mut buffer, MESSAGE_AWARENESS);
    write_var_uint(&mut buffer, payload as u64);
    write_var_uint(&mut buffer, count);
    for (client, clock, json) in entries {
        write_var_uint(&mut buffer, client);
        write_var_uint(&mut buffer, clock);
        write_bytes(&mut buffer, state(json));
    }
    buffer.freeze()
}

/// How many bytes `value` takes as a variable-length integer.
fn var_uint_len(value: u64) -> usize {
    (64 - (value | 1).leading_zeros() as usize).div_ceil(7)
}

/// `[2, 0, reason]`: the y-protocols permission-denied message.
pub fn encode_permission_denied(reason: &str) -> Bytes {
    let mut buffer = BytesMut::with_capacity(reason.len() + 4);
    write_var_uint(&mut buffer, MESSAGE_AUTH);
    write_var_uint(&mut buffer, AUTH_PERMISSION_DENIED);
    write_bytes(&mut buffer, reason.as_bytes());
    buffer.freeze()
}

/// `[3]`.
pub fn encode_query_awareness() -> Bytes {
    Bytes::from_static(&[MESSAGE_QUERY_AWARENESS as u8])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(bytes: &[u8]) -> Bytes {
        Bytes::copy_from_slice(bytes)
    }

    #[test]
    fn reads_each_sync_message() {
        assert_eq!(
            decode_frame(&frame(&[0, 0, 1, 0])),
            Ok(vec![Message::SyncStep1(frame(&[0]))])
        );
        assert_eq!(
            decode_frame(&frame(&[0, 1, 2, 0, 0])),
            Ok(vec![Message::SyncStep2(frame(&[0, 0]))])
        );
        assert_eq!(
            decode_frame(&frame(&[0, 2, 2, 0, 0])),
            Ok(vec![Message::Update(frame(&[0, 0]))])
        );
        assert_eq!(
            decode_frame(&frame(&[3])),
            Ok(vec![Message::QueryAwareness])
        );
    }

    #[test]
    fn reads_several_messages_in_one_frame() {
        let mut bytes = encode_sync_step1(&[0]).to_vec();
        bytes.extend_from_slice(&encode_update(&[0, 0]));
        bytes.extend_from_slice(&encode_query_awareness());
        let messages = decode_frame(&Bytes::from(bytes)).expect("valid frame");
        assert_eq!(messages.len(), 3);
    }

    #[test]
    fn refuses_a_truncated_message_even_after_a_good_one() {
        let mut bytes = encode_update(&[0, 0]).to_vec();
        bytes.extend_from_slice(&[0, 2, 5, 0]);
        assert_eq!(
            decode_frame(&Bytes::from(bytes)),
            Err(FrameError::Truncated)
        );
        assert_eq!(
            decode_frame(&frame(&[0, 2, 0x80])),
            Err(FrameError::Truncated)
        );
        assert_eq!(decode_frame(&frame(&[0])), Err(FrameError::Truncated));
        assert_eq!(decode_frame(&frame(&[])), Err(FrameError::Empty));
    }

    #[test]
    fn refuses_unknown_types_and_huge_integers() {
        assert_eq!(
            decode_frame(&frame(&[9])),
            Err(FrameError::UnknownMessageType(9))
        );
        assert_eq!(
            decode_frame(&frame(&[0, 7, 0])),
            Err(FrameError::UnknownSyncType(7))
        );
        let mut huge = vec![0, 2];
        huge.extend_from_slice(&[0xff; 11]);
        assert_eq!(
            decode_frame(&Bytes::from(huge)),
            Err(FrameError::IntegerOverflow)
        );
        // A length of 2^62 is refused before anything is reserved.
        let mut long = vec![0, 2];
        long.extend_from_slice(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40]);
        assert_eq!(decode_frame(&Bytes::from(long)), Err(FrameError::Truncated));
    }

    #[test]
    fn awareness_round_trips() {
        let entries = vec![
            AwarenessEntry {
                client: MAX_SAFE_INTEGER,
                clock: 3,
                state: Some(r#"{"user":{"name":"Ana"}}"#.into()),
            },
            AwarenessEntry {
                client: 7,
                clock: 9,
                state: None,
            },
        ];
        let bytes = encode_awareness(&entries);
        assert_eq!(decode_frame(&bytes), Ok(vec![Message::Awareness(entries)]));
    }

    #[test]
    fn many_states_go_in_frames_of_a_bounded_size_in_order() {
        let state = |index: u64, bytes: usize| AwarenessEntry {
            client: index,
            clock: index + 1,
            state: Some(format!(r#"{{"n":"{}"}}"#, "x".repeat(bytes))),
        };
        // A thousand presence states of about 150 bytes, one larger than a
        // frame, and a removal.
        let mut entries: Vec<AwarenessEntry> = (0..1000).map(|index| state(index, 140)).collect();
        entries.insert(500, state(5000, 3 * AWARENESS_FRAME_BYTES));
        entries.push(AwarenessEntry {
            client: 7000,
            clock: 2,
            state: None,
        });
        let frames = encode_awareness_frames(
            entries
                .iter()
                .map(|entry| (entry.client, entry.clock, entry.state.as_deref())),
        );
        let mut decoded = Vec::new();
        for frame in &frames {
            match decode_frame(frame).as_deref() {
                Ok([Message::Awareness(part)]) => {
                    assert!(!part.is_empty());
                    assert!(
                        frame.len() <= AWARENESS_FRAME_BYTES + 64 || part.len() == 1,
                        "a frame of {} bytes holds {} states",
                        frame.len(),
                        part.len()
                    );
                    decoded.extend_from_slice(part);
                }
                other => panic!("not one awareness message: {other:?}"),
            }
        }
        assert_eq!(decoded, entries);
        assert!(
            frames.len() >= 1000 * 150 / AWARENESS_FRAME_BYTES,
            "{} frames",
            frames.len()
        );
        assert!(encode_awareness_frames(std::iter::empty()).is_empty());

        // A thousand states each larger than a frame (a client may send up
        // to 16 KiB): still few enough frames for a connection's queue.
        let large: Vec<AwarenessEntry> = (0..1000)
            .map(|index| state(index, AWARENESS_FRAME_BYTES + 100))
            .collect();
        let frames = encode_awareness_frames(
            large
                .iter()
                .map(|entry| (entry.client, entry.clock, entry.state.as_deref())),
        );
        assert!(
            frames.len() <= 2 * AWARENESS_FRAMES,
            "{} frames",
            frames.len()
        );
        let count: usize = frames
            .iter()
            .map(|frame| match decode_frame(frame).as_deref() {
                Ok([Message::Awareness(part)]) => part.len(),
                other => panic!("not one awareness message: {other:?}"),
            })
            .sum();
        assert_eq!(count, 1000);
    }

    #[test]
    fn awareness_is_encoded_in_a_buffer_of_its_exact_size() {
        // Lengths that take one, two and three bytes as variable-length
        // integers: the states' and the whole message's.
        for (count, state_bytes) in [(0, 0), (1, 10), (2, 200), (3, 20_000), (300, 100)] {
            let entries: Vec<AwarenessEntry> = (0..count)
                .map(|index| AwarenessEntry {
                    client: 1 << (index % 50),
                    clock: index,
                    state: Some(format!(r#"{{"n":"{}"}}"#, "x".repeat(state_bytes))),
                })
                .collect();
            let bytes = encode_awareness(&entries);
            assert_eq!(
                decode_frame(&bytes),
                Ok(vec![Message::Awareness(entries.clone())])
            );
            let buffer = bytes.try_into_mut().expect("the only reference");
            assert_eq!(buffer.capacity(), buffer.len(), "{count} × {state_bytes}");
        }
        for value in [0, 1, 127, 128, 16_383, 16_384, u64::MAX] {
            let mut buffer = BytesMut::new();
            write_var_uint(&mut buffer, value);
            assert_eq!(var_uint_len(value), buffer.len(), "{value}");
        }
    }

    #[test]
    fn awareness_refuses_bad_json_and_unsafe_ids() {
        let bad = AwarenessEntry {
            client: 1,
            clock: 1,
            state: Some("{not json".into()),
        };
        assert_eq!(
            decode_frame(&encode_awareness([&bad])),
            Err(FrameError::AwarenessJson)
        );
        let unsafe_id = AwarenessEntry {
            client: MAX_SAFE_INTEGER + 1,
            clock: 1,
            state: None,
        };
        assert!(matches!(
            decode_frame(&encode_awareness([&unsafe_id])),
            Err(FrameError::Awareness(_))
        ));
        // A count of a million entries in a ten-byte payload.
        assert!(matches!(
            decode_frame(&frame(&[1, 4, 0xc0, 0x84, 0x3d, 0])),
            Err(FrameError::Awareness(_))
        ));
    }

    #[test]
    fn varints_match_lib0() {
        let mut buffer = BytesMut::new();
        write_var_uint(&mut buffer, 300);
        assert_eq!(&buffer[..], &[0xac, 0x02]);
        let bytes = buffer.freeze();
        assert_eq!(Reader::new(&bytes).read_var_uint(), Ok(300));
    }
}
