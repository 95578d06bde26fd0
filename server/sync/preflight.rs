//! A walk over a client's yrs v1 update (or state vector) before yrs
//! decodes it.
//!
//! yrs 0.28 reserves memory for every count an update declares
//! (`try_reserve(len)`): a message of six bytes can make it allocate and
//! clear hundreds of megabytes before it finds that the bytes are missing
//! (found by `fuzz/update`, which slowed to 70 executions a second and
//! half a gigabyte of memory). It also decodes nested `Any` values by
//! recursion, so a deep enough nesting overflows the stack, which aborts the
//! whole process. This walk allocates nothing: it checks every count against
//! the bytes left (every element takes at least one byte) and bounds the
//! nesting, and refuses the message before yrs sees it. It mirrors yrs's
//! reader (`Update::decode`, `ItemContent::decode`, `Any::decode`,
//! `IdSet::decode`); anything it does not recognise, yrs refuses too.

/// The deepest nesting of arrays and maps in an `Any` value. yrs's own
/// JSON reader (embeds, formats) stops at serde_json's 128; documents made
/// by the browser client nest no `Any` at all.
pub const MAX_ANY_DEPTH: usize = 64;

/// The largest clock, or length, a message may state. yrs keeps clocks in
/// 32 bits and adds lengths to them unchecked: a struct near 2^32 wraps
/// around and later panics inside yrs (a division by zero in its block
/// search, found by `fuzz/frame`). No real client comes near 2^30 edits.
pub const MAX_CLOCK: u64 = 1 << 30;

/// The largest client id: 2^53 - 1, the largest integer a JavaScript
/// number holds exactly (yjs's clients are JavaScript).
pub const MAX_CLIENT: u64 = (1 << 53) - 1;

/// Why a message was refused before decoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    /// The message ends in the middle of a value.
    #[error("the message ends early (at byte {0})")]
    Truncated(usize),
    /// A declared count needs more bytes than the message has left.
    #[error("a count of {count} at byte {at} needs more than the {left} bytes left")]
    Count {
        /// The declared count.
        count: u64,
        /// Where it was read.
        at: usize,
        /// Bytes after it.
        left: usize,
    },
    /// Arrays or maps nested deeper than [`MAX_ANY_DEPTH`].
    #[error("values nested deeper than {MAX_ANY_DEPTH} levels")]
    TooDeep,
    /// A clock or length beyond [`MAX_CLOCK`], or structs reaching past
    /// twice that.
    #[error("a clock or length of {value} at byte {at} is out of range")]
    Clock {
        /// The value read (or the clock the structs reach).
        value: u64,
        /// Where it was read.
        at: usize,
    },
    /// A struct of length zero (an empty string, no values).
    #[error("an empty struct at byte {0}")]
    Empty(usize),
    /// A client's structs in two groups of one update (yjs writes one).
    #[error("client {client} appears twice in the update (at byte {at})")]
    RepeatedClient {
        /// The client id.
        client: u64,
        /// Where it appeared again.
        at: usize,
    },
    /// A struct that names as its origin or parent a struct of its own
    /// client that is not older than itself (itself, or one to come).
    #[error("a struct at byte {0} refers to itself or to a later struct of its client")]
    ForwardReference(usize),
    /// A struct of a client that starts after the document's clock for it
    /// and does not wait for the structs in between: yrs would integrate it
    /// at once, leaving a hole in the client's clocks (see [`check_gaps`]).
    #[error("client {client}'s structs jump from clock {expected} to {clock} (at byte {at})")]
    Gap {
        /// The client id.
        client: u64,
        /// The clock the document is at, or the group reached.
        expected: u64,
        /// The clock of the struct after the gap.
        clock: u64,
        /// Where the struct starts.
        at: usize,
    },
    /// A client id beyond [`MAX_CLIENT`].
    #[error("client id {client} at byte {at} is beyond 2^53 - 1")]
    Client {
        /// The id read.
        client: u64,
        /// Where it was read.
        at: usize,
    },
    /// A tag that yrs does not know either.
    #[error("unknown {what} {value} at byte {at}")]
    Unknown {
        /// What kind of tag.
        what: &'static str,
        /// Its value.
        value: u8,
        /// Where it was read.
        at: usize,
    },
}

struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Cursor<'_> {
    fn left(&self) -> usize {
        self.bytes.len() - self.at
    }

    fn byte(&mut self) -> Result<u8, ShapeError> {
        let byte = *self
            .bytes
            .get(self.at)
            .ok_or(ShapeError::Truncated(self.at))?;
        self.at += 1;
        Ok(byte)
    }

    /// A lib0 variable-length integer, signed or not (the continuation bit
    /// is the top bit of every byte in both); its value when it fits 64 bits.
    fn var(&mut self) -> Result<u64, ShapeError> {
        let mut value: u64 = 0;
        let mut shift = 0u32;
        loop {
            let byte = self.byte()?;
            if shift < 64 {
                value |= u64::from(byte & 0x7f) << shift;
            }
            shift += 7;
            if byte & 0x80 == 0 {
                return Ok(if shift > 70 { u64::MAX } else { value });
            }
        }
    }

    fn skip(&mut self, count: u64) -> Result<(), ShapeError> {
        match usize::try_from(count) {
            Ok(count) if count <= self.left() => {
                self.at += count;
                Ok(())
            }
            _ => Err(ShapeError::Truncated(self.bytes.len())),
        }
    }

    /// A length-prefixed buffer or string.
    fn buf(&mut self) -> Result<(), ShapeError> {
        let length = self.var()?;
        self.skip(length)
    }

    /// A clock or length, at most [`MAX_CLOCK`].
    fn clock(&mut self) -> Result<u64, ShapeError> {
        let at = self.at;
        let value = self.var()?;
        if value > MAX_CLOCK {
            return Err(ShapeError::Clock { value, at });
        }
        Ok(value)
    }

    /// A client id: JavaScript clients read them as doubles, so one
    /// beyond 2^53 would reach them as another client's id.
    fn client(&mut self) -> Result<u64, ShapeError> {
        let at = self.at;
        let client = self.var()?;
        if client > MAX_CLIENT {
            return Err(ShapeError::Client { client, at });
        }
        Ok(client)
    }

    /// An id: a client and a clock.
    fn id(&mut self) -> Result<(u64, u64), ShapeError> {
        Ok((self.client()?, self.clock()?))
    }

    /// A count of elements that take at least `each` bytes.
    fn count(&mut self, each: u64) -> Result<u64, ShapeError> {
        let at = self.at;
        let count = self.var()?;
        let left = self.left();
        if count.saturating_mul(each) > left as u64 {
            return Err(ShapeError::Count { count, at, left });
        }
        Ok(count)
    }
}

/// Whether a (checked) update creates shared types: only such an update can
/// nest them deeper, so only after one is the document's nesting measured.
/// An update the walk refuses counts as creating some.
pub fn creates_types(bytes: &[u8]) -> bool {
    let mut types = 0;
    walk_update(bytes, &mut types, &mut |_| Ok(())).map_or(true, |()| types > 0)
}

/// Checks a yrs v1 update (structs, then the delete set).
pub fn check_update(bytes: &[u8]) -> Result<(), ShapeError> {
    walk_update(bytes, &mut 0, &mut |_| Ok(()))
}

/// Checks that a (checked) update leaves no hole in any client's clocks,
/// given the clock the document is at for each client (`clock_of`).
///
/// yjs keeps a struct that starts after its client's clock pending until
/// the structs in between arrive. yrs 0.28 integrates it at once when it
/// depends on nothing missing, and marks the clocks in between as a hole (a
/// skip in its block store). A later update that overlaps such a hole makes
/// yrs split its own structs around what it already knows and free a piece
/// another piece still points to: a use after free (found by fuzz/update,
/// seen with valgrind; reproducer `fuzz/findings/update-9`), and the wrapped
/// subtraction of `update-8`. No client of ours writes such a struct (a
/// client's updates reach the server in order), so one is refused unless
/// its left origin is the clock just before it: yrs then keeps it pending
/// until every clock in between has arrived, as yjs would.
///
/// Returns the number of shared types the update creates (see
/// [`creates_types`]), read in the same walk.
pub fn check_gaps(bytes: &[u8], clock_of: impl Fn(u64) -> u64) -> Result<usize, ShapeError> {
    // The group being walked: its client and the clock it reached.
    let mut group: Option<(u64, u64)> = None;
    let mut types = 0;
    walk_update(bytes, &mut types, &mut |found| {
        let reached = match group {
            Some((client, reached)) if client == found.client => reached,
            _ => clock_of(found.client),
        };
        let waits = matches!(
            found.kind,
            StructKind::Item { origin: Some(origin) }
                if found.clock > 0 && origin == (found.client, found.clock - 1)
        );
        // A skip integrates nothing (it only separates structs).
        if found.clock > reached && !waits && !matches!(found.kind, StructKind::Skip) {
            return Err(ShapeError::Gap {
                client: found.client,
                expected: reached,
                clock: found.clock,
                at: found.at,
            });
        }
        if !matches!(found.kind, StructKind::Skip) {
            group = Some((found.client, reached.max(found.clock + found.length)));
        }
        Ok(())
    })?;
    Ok(types)
}

/// What the walk tells a visitor of each struct.
struct Found {
    client: u64,
    clock: u64,
    length: u64,
    kind: StructKind,
    at: usize,
}

enum StructKind {
    Skip,
    Gc,
    Item { origin: Option<(u64, u64)> },
}

fn walk_update(
    bytes: &[u8],
    types: &mut usize,
    visit: &mut dyn FnMut(Found) -> Result<(), ShapeError>,
) -> Result<(), ShapeError> {
    let mut cursor = Cursor { bytes, at: 0 };
    // Each client: its struct count, id and first clock.
    let clients = cursor.count(3)?;
    let mut seen = Vec::new();
    for _ in 0..clients {
        let structs = cursor.count(1)?;
        let at = cursor.at;
        let client = cursor.client()?;
        // yrs would merge a client's second group into its first, clocks
        // overlapping: two structs with one id, which left dangling
        // pointers in a map of yrs (a segfault, found by fuzz/update).
        if seen.contains(&client) {
            return Err(ShapeError::RepeatedClient { client, at });
        }
        seen.push(client);
        let mut clock = cursor.clock()?;
        for _ in 0..structs {
            let at = cursor.at;
            let (length, kind) = check_struct(&mut cursor, types, (client, clock))?;
            if length == 0 {
                // yjs never writes one; yrs's block search divides by zero
                // on it (block_store.rs:60, found by fuzz/update).
                return Err(ShapeError::Empty(at));
            }
            visit(Found {
                client,
                clock,
                length,
                kind,
                at,
            })?;
            clock += length;
            if clock > 2 * MAX_CLOCK {
                return Err(ShapeError::Clock { value: clock, at });
            }
        }
    }
    check_delete_set(&mut cursor)
}

/// Checks a v1 state vector (client, clock pairs).
pub fn check_state_vector(bytes: &[u8]) -> Result<(), ShapeError> {
    let mut cursor = Cursor { bytes, at: 0 };
    let clients = cursor.count(2)?;
    for _ in 0..clients {
        cursor.client()?;
        let at = cursor.at;
        let clock = cursor.var()?;
        if clock > 2 * MAX_CLOCK {
            return Err(ShapeError::Clock { value: clock, at });
        }
    }
    Ok(())
}

fn check_delete_set(cursor: &mut Cursor<'_>) -> Result<(), ShapeError> {
    let clients = cursor.count(2)?;
    for _ in 0..clients {
        cursor.client()?;
        let ranges = cursor.count(2)?;
        for _ in 0..ranges {
            cursor.clock()?;
            cursor.clock()?; // length
        }
    }
    Ok(())
}

const GC: u8 = 0;
const SKIP: u8 = 10;
const HAS_ORIGIN: u8 = 0b1000_0000;
const HAS_RIGHT_ORIGIN: u8 = 0b0100_0000;
const HAS_PARENT_SUB: u8 = 0b0010_0000;

/// Checks one struct, `own` its id; returns its length (the clocks it
/// takes) and kind. Its origins and parent, when they are structs of its own client,
/// must be older than itself: a client refers only to what existed when it
/// wrote (a struct that is its own parent is a loop yrs follows).
fn check_struct(
    cursor: &mut Cursor<'_>,
    types: &mut usize,
    own: (u64, u64),
) -> Result<(u64, StructKind), ShapeError> {
    let at = cursor.at;
    let info = cursor.byte()?;
    if info == GC {
        return Ok((cursor.clock()?, StructKind::Gc));
    }
    if info == SKIP {
        return Ok((cursor.clock()?, StructKind::Skip));
    }
    let older = |(client, clock): (u64, u64)| {
        if client == own.0 && clock >= own.1 {
            Err(ShapeError::ForwardReference(at))
        } else {
            Ok(())
        }
    };
    let mut origin = None;
    if info & HAS_ORIGIN != 0 {
        let id = cursor.id()?;
        older(id)?;
        origin = Some(id);
    }
    if info & HAS_RIGHT_ORIGIN != 0 {
        older(cursor.id()?)?;
    }
    if info & (HAS_ORIGIN | HAS_RIGHT_ORIGIN) == 0 {
        if cursor.var()? == 1 {
            cursor.buf()?; // a root type's name
        } else {
            older(cursor.id()?)?; // the parent's
        }
        if info & HAS_PARENT_SUB != 0 {
            cursor.buf()?; // a map key
        }
    }
    let kind = info & 0b1111;
    if kind == 7 {
        *types += 1;
    }
    Ok((check_content(cursor, kind)?, StructKind::Item { origin }))
}

fn check_content(cursor: &mut Cursor<'_>, kind: u8) -> Result<u64, ShapeError> {
    let at = cursor.at;
    let mut length = 1;
    match kind {
        // Deleted: a length.
        1 => length = cursor.clock()?,
        // JSON: yrs reads one string more than the count says.
        2 => {
            let strings = cursor.count(1)?;
            for _ in 0..=strings {
                cursor.buf()?;
            }
            length = strings + 1;
        }
        // A string: its length in UTF-16 units (yrs's clocks count them).
        4 => {
            let bytes = cursor.var()?;
            let start = cursor.at;
            cursor.skip(bytes)?;
            let text = &cursor.bytes[start..cursor.at];
            length = match std::str::from_utf8(text) {
                Ok(text) => text.chars().map(|c| c.len_utf16() as u64).sum(),
                // yrs refuses it too.
                Err(_) => bytes,
            };
        }
        // Binary, embed (JSON text).
        3 | 5 => cursor.buf()?,
        // Format: key and JSON text.
        6 => {
            cursor.buf()?;
            cursor.buf()?;
        }
        // A shared type: its kind, and an XML element's tag.
        7 => {
            let type_ref = cursor.byte()?;
            match type_ref {
                3 => cursor.buf()?,
                0..=2 | 4..=6 | 9 | 15 => {}
                value => {
                    return Err(ShapeError::Unknown {
                        what: "type",
                        value,
                        at: cursor.at - 1,
                    });
                }
            }
        }
        // Any values.
        8 => {
            let values = cursor.count(1)?;
            for _ in 0..values {
                check_any(cursor, 0)?;
            }
            length = values;
        }
        // A sub-document: its guid and options.
        9 => {
            cursor.buf()?;
            check_any(cursor, 0)?;
        }
        value => {
            return Err(ShapeError::Unknown {
                what: "content",
                value,
                at,
            });
        }
    }
    Ok(length)
}

fn check_any(cursor: &mut Cursor<'_>, depth: usize) -> Result<(), ShapeError> {
    if depth > MAX_ANY_DEPTH {
        return Err(ShapeError::TooDeep);
    }
    let at = cursor.at;
    match cursor.byte()? {
        // undefined, null, false, true
        127 | 126 | 121 | 120 => {}
        // integer
        125 => {
            cursor.var()?;
        }
        // float32
        124 => cursor.skip(4)?,
        // float64, bigint
        123 | 122 => cursor.skip(8)?,
        // string, buffer
        119 | 116 => cursor.buf()?,
        // map: key and value pairs
        118 => {
            let entries = cursor.count(2)?;
            for _ in 0..entries {
                cursor.buf()?;
                check_any(cursor, depth + 1)?;
            }
        }
        // array
        117 => {
            let items = cursor.count(1)?;
            for _ in 0..items {
                check_any(cursor, depth + 1)?;
            }
        }
        value => {
            return Err(ShapeError::Unknown {
                what: "value",
                value,
                at,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use yrs::updates::encoder::Encode;
    use yrs::{Any, Array, Doc, GetString, Map, ReadTxn, StateVector, Text, Transact, XmlFragment};

    fn full(doc: &Doc) -> Vec<u8> {
        doc.transact()
            .encode_state_as_update_v1(&StateVector::default())
    }

    #[test]
    fn clocks_after_text_beyond_the_basic_plane_are_counted_in_utf16() {
        // "😀😀" takes 4 clocks (8 bytes); "Z" (right origin: the first
        // emoji) is clock 4, "Y" (origin: the last unit) clock 5.
        let doc = Doc::with_client_id(9);
        let text = doc.get_or_insert_text("t");
        text.insert(&mut doc.transact_mut(), 0, "😀😀");
        text.insert(&mut doc.transact_mut(), 0, "Z");
        let end = text.len(&doc.transact());
        text.insert(&mut doc.transact_mut(), end, "Y");
        assert_eq!(text.get_string(&doc.transact()), "Z😀😀Y");
        assert_eq!(check_update(&full(&doc)), Ok(()));
    }

    #[test]
    fn a_client_in_two_groups_is_refused() {
        // Two groups of client 5, each one string struct in root "t".
        let update = [
            2, 1, 5, 0, 4, 1, 1, b't', 1, b'a', 1, 5, 1, 4, 1, 1, b't', 1, b'b', 0,
        ];
        assert!(matches!(
            check_update(&update),
            Err(ShapeError::RepeatedClient { client: 5, .. })
        ));
        // One group of two structs is fine.
        let update = [
            1, 2, 5, 0, 4, 1, 1, b't', 1, b'a', 4, 1, 1, b't', 1, b'b', 0,
        ];
        assert_eq!(check_update(&update), Ok(()));
    }

    #[test]
    fn structs_past_a_hole_in_their_clients_clocks_are_refused_unless_they_wait() {
        let doc = Doc::with_client_id(5);
        let text = doc.get_or_insert_text("t");
        text.insert(&mut doc.transact_mut(), 0, "Urges");
        let after_urges = doc.transact().state_vector();
        // At the end: its left origin is the clock just before it.
        text.insert(&mut doc.transact_mut(), 5, " States");
        let waits = doc.transact().encode_state_as_update_v1(&after_urges);
        // At the start: no left origin.
        text.insert(&mut doc.transact_mut(), 0, "The ");
        let mut after_states = after_urges.clone();
        after_states.set_max(yrs::block::ClientID::new(5), 12);
        let skips = doc.transact().encode_state_as_update_v1(&after_states);
        let everything = full(&doc);

        // A document that has all of client 5 before each: nothing missing.
        assert!(check_gaps(&waits, |_| 5).is_ok());
        assert!(check_gaps(&skips, |_| 12).is_ok());
        assert!(check_gaps(&everything, |_| 0).is_ok());
        assert!(check_gaps(&everything, |_| 16).is_ok());
        // The document lacks "Urges": " States" waits for it (pending), as yjs does.
        assert!(check_gaps(&waits, |_| 0).is_ok());
        // It lacks " States": "The " would be integrated past a hole.
        assert!(matches!(
            check_gaps(&skips, |_| 5),
            Err(ShapeError::Gap {
                client: 5,
                expected: 5,
                clock: 12,
                ..
            })
        ));
        // Another client's clocks are not this one's.
        assert_eq!(
            check_gaps(&skips, |client| if client == 5 { 12 } else { 0 }),
            Ok(0)
        );
    }

    #[test]
    fn a_struct_that_refers_to_itself_or_a_later_struct_is_refused() {
        // Client 5's struct at clock 0 whose parent is (5, 0): itself.
        let update = [1, 1, 5, 0, 4, 0, 5, 0, 1, b'a', 0];
        assert_eq!(check_update(&update), Err(ShapeError::ForwardReference(4)));
        // Its origin (5, 3): a struct it has not written yet.
        let update = [1, 1, 5, 0, 0x80 | 4, 5, 3, 1, b'a', 0];
        assert_eq!(check_update(&update), Err(ShapeError::ForwardReference(4)));
        // Another client's struct, at any clock, is a dependency: pending.
        let update = [1, 1, 5, 0, 0x80 | 4, 6, 3, 1, b'a', 0];
        assert_eq!(check_update(&update), Ok(()));
    }

    #[test]
    fn real_updates_of_every_kind_pass() {
        let doc = Doc::with_client_id(u64::from(u32::MAX) + 7);
        let text = doc.get_or_insert_text("t");
        let map = doc.get_or_insert_map("m");
        let array = doc.get_or_insert_array("a");
        let fragment = doc.get_or_insert_xml_fragment("body");
        {
            let mut txn = doc.transact_mut();
            text.insert(&mut txn, 0, "Reconociendo la trata de personas ");
            text.format(
                &mut txn,
                0,
                5,
                std::collections::HashMap::from([("bold".into(), Any::Bool(true))]),
            );
            text.remove_range(&mut txn, 3, 4);
            map.insert(&mut txn, "n", 2.5);
            map.insert(&mut txn, "i", -42i64);
            map.insert(&mut txn, "s", "état");
            map.insert(&mut txn, "b", Any::Buffer(vec![1u8, 2, 3].into()));
            map.insert(
                &mut txn,
                "nested",
                Any::from(vec![
                    Any::from(vec![Any::Null, Any::Undefined]),
                    Any::Bool(false),
                ]),
            );
            array.insert_range(&mut txn, 0, [1, 2, 3]);
            let paragraph = fragment.push_back(&mut txn, yrs::XmlElementPrelim::empty("p"));
            paragraph.push_back(&mut txn, yrs::XmlTextPrelim::new("Insta"));
        }
        let update = full(&doc);
        assert_eq!(check_update(&update), Ok(()));
        let state_vector = doc.transact().state_vector().encode_v1();
        assert_eq!(check_state_vector(&state_vector), Ok(()));
        // And what yrs decodes of it is what the walk let through.
        let copy = Doc::new();
        copy.transact_mut()
            .apply_update(yrs::Update::decode_v1(&update).expect("decodes"))
            .expect("applies");
        let text = copy.get_or_insert_text("t");
        assert_eq!(
            text.get_string(&copy.transact()),
            "Reciendo la trata de personas "
        );
    }

    #[test]
    fn a_count_larger_than_the_message_is_refused_before_allocating() {
        // One client with 2^28 structs, in six bytes.
        let bomb = [0x01, 0x80, 0x80, 0x80, 0x80, 0x01];
        assert!(matches!(
            check_update(&bomb),
            Err(ShapeError::Count {
                count: 268_435_456,
                ..
            })
        ));
        assert!(matches!(
            check_state_vector(&[0xff, 0xff, 0xff, 0x7f]),
            Err(ShapeError::Count { .. })
        ));
    }

    use yrs::updates::decoder::Decode;

    #[test]
    fn deep_nesting_is_refused_before_yrs_recurses() {
        // An update with one Any content nesting arrays 100,000 deep: yrs
        // would recurse once per level.
        let mut update = vec![1, 1, 5, 0]; // one client (5) with one struct at clock 0
        update.push(8); // Any content, no origins: parent info follows
        update.extend([1, 1, b'a']); // parent: the root type "a"
        update.push(1); // one value
        for _ in 0..100_000 {
            update.extend([117, 1]); // an array of one…
        }
        update.push(126); // …null
        update.push(0); // empty delete set
        assert_eq!(check_update(&update), Err(ShapeError::TooDeep));
    }

    #[test]
    fn client_ids_beyond_2_pow_53_are_refused() {
        let mut client = Vec::new();
        let mut value = MAX_CLIENT + 1;
        while value >= 0x80 {
            client.push((value as u8 & 0x7f) | 0x80);
            value >>= 7;
        }
        client.push(value as u8);
        // One string struct of that client.
        let mut update = vec![1, 1];
        update.extend(&client);
        update.extend([0, 4, 1, 1, b't', 1, b'x', 0]);
        assert!(matches!(
            check_update(&update),
            Err(ShapeError::Client { .. })
        ));
        let mut state_vector = vec![1];
        state_vector.extend(&client);
        state_vector.push(3);
        assert!(matches!(
            check_state_vector(&state_vector),
            Err(ShapeError::Client { .. })
        ));
    }

    #[test]
    fn clocks_near_the_32_bit_limit_are_refused() {
        // A string struct at clock 2^32 - 1: yrs would wrap the clock.
        let mut update = vec![1, 1, 5];
        update.extend([0xff, 0xff, 0xff, 0xff, 0x0f]);
        update.extend([4, 1, 1, b't', 1, b'x', 0]);
        assert!(matches!(
            check_update(&update),
            Err(ShapeError::Clock { .. })
        ));
        // A deletion range of 2^31.
        let deletion = [0, 1, 5, 1, 0, 0x80, 0x80, 0x80, 0x80, 0x08];
        assert!(matches!(
            check_update(&deletion),
            Err(ShapeError::Clock { .. })
        ));
    }

    #[test]
    fn truncated_and_unknown_input_is_refused() {
        let doc = Doc::with_client_id(1);
        let text = doc.get_or_insert_text("t");
        text.insert(&mut doc.transact_mut(), 0, "Decide");
        let update = full(&doc);
        for cut in 0..update.len() {
            assert!(check_update(&update[..cut]).is_err(), "cut at {cut}");
        }
        assert!(matches!(
            check_update(&[1, 1, 5, 0, 11, 1, 1, b'a', 0]),
            Err(ShapeError::Unknown { .. })
        ));
    }
}
