//! Newtype identifiers, so that a document name, a log sequence and a connection
//! number can never be swapped by accident.

use std::fmt;

use serde::{Deserialize, Serialize};

/// The longest document name we accept. Room names travel unencoded in the
/// y-websocket URL, so they are kept short and URL-safe.
pub const MAX_DOCUMENT_ID_LEN: usize = 64;

/// The name of a live document: `[A-Za-z0-9_-]{1,64}`.
///
/// The y-websocket client appends the room name to the URL without encoding
/// it, so anything outside this alphabet could not round-trip.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DocumentId(String);

/// Why a string is not a valid [`DocumentId`].
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum InvalidDocumentId {
    /// The name is empty or longer than [`MAX_DOCUMENT_ID_LEN`].
    #[error("a document name has 1 to {MAX_DOCUMENT_ID_LEN} characters")]
    Length,
    /// The name holds a character outside `[A-Za-z0-9_-]`.
    #[error("a document name uses only letters, digits, '-' and '_'")]
    Alphabet,
}

impl DocumentId {
    /// Checks `name` and wraps it.
    pub fn parse(name: &str) -> Result<Self, InvalidDocumentId> {
        if name.is_empty() || name.len() > MAX_DOCUMENT_ID_LEN {
            return Err(InvalidDocumentId::Length);
        }
        if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(InvalidDocumentId::Alphabet);
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as stored and as used in URLs.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for DocumentId {
    type Error = InvalidDocumentId;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<DocumentId> for String {
    fn from(value: DocumentId) -> Self {
        value.0
    }
}

impl fmt::Display for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DocumentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DocumentId({})", self.0)
    }
}

/// Length of the random identifiers of meetings, delegations, resolutions
/// and accounts: 16 characters of base 62, about 95 bits.
pub const RANDOM_ID_LEN: usize = 16;

/// A fresh random identifier, URL-safe (and so a valid [`DocumentId`]).
pub fn random_id() -> String {
    use rand::RngExt;
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut rng = rand::rng();
    (0..RANDOM_ID_LEN)
        .map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char)
        .collect()
}

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
        #[serde(transparent)]
        #[schema(value_type = String)]
        pub struct $name(pub String);

        impl $name {
            /// A fresh random id.
            pub fn generate() -> Self {
                Self(random_id())
            }

            /// The id as stored and as used in URLs.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// An account (a person who signs in).
    AccountId
);
string_id!(
    /// A meeting of the network.
    MeetingId
);
string_id!(
    /// A delegation (a country's parliament) at a meeting.
    DelegationId
);
string_id!(
    /// A resolution; also the name of its live document.
    ResolutionId
);
string_id!(
    /// A sign-in session.
    SessionId
);

impl ResolutionId {
    /// The live document holding this resolution's body.
    pub fn document(&self) -> Result<DocumentId, InvalidDocumentId> {
        DocumentId::parse(&self.0)
    }
}

/// Position of an update in a document's log. The first update is 1; 0 means
/// "nothing yet" (a snapshot through 0 holds no update).
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
pub struct Seq(pub i64);

impl Seq {
    /// The sequence after this one.
    pub fn next(self) -> Seq {
        Seq(self.0 + 1)
    }
}

impl fmt::Display for Seq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A websocket connection, unique within one server process.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnectionId(pub u64);

impl fmt::Display for ConnectionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "c{}", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_ids_are_valid_document_names() {
        let id = ResolutionId::generate();
        assert_eq!(id.as_str().len(), RANDOM_ID_LEN);
        assert!(id.document().is_ok());
        assert_ne!(id, ResolutionId::generate());
    }

    #[test]
    fn document_ids_are_url_safe() {
        assert!(DocumentId::parse("resolution-7_A").is_ok());
        assert_eq!(DocumentId::parse(""), Err(InvalidDocumentId::Length));
        assert_eq!(
            DocumentId::parse(&"a".repeat(65)),
            Err(InvalidDocumentId::Length)
        );
        assert_eq!(DocumentId::parse("a/b"), Err(InvalidDocumentId::Alphabet));
        assert_eq!(DocumentId::parse("a?b"), Err(InvalidDocumentId::Alphabet));
        assert_eq!(DocumentId::parse("café"), Err(InvalidDocumentId::Alphabet));
    }
}
