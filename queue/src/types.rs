//! Values that cross the queue API: names, ids, handles, attributes, the clock.

use crate::error::{Error, Result};
use std::collections::BTreeMap;
use std::fmt;

/// Longest queue name, `.fifo` included.
pub const QUEUE_NAME_CHARS_MAX: usize = 80;

/// A valid queue name: 1 to 80 letters, digits, `-` and `_`; a FIFO queue's name
/// ends in `.fifo` (counted in the 80).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct QueueName(String);

impl QueueName {
    /// Checks `name` against the naming rules.
    pub fn new(name: &str) -> Result<QueueName> {
        let invalid = |reason| Error::InvalidQueueName {
            name: name.to_string(),
            reason,
        };
        if name.is_empty() || name.len() > QUEUE_NAME_CHARS_MAX {
            return Err(invalid("a queue name has 1 to 80 characters"));
        }
        let stem = name.strip_suffix(".fifo").unwrap_or(name);
        if stem.is_empty() {
            return Err(invalid("a FIFO queue name needs characters before .fifo"));
        }
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if !stem.chars().all(allowed) {
            return Err(invalid(
                "a queue name has only letters, digits, - and _ (and a final .fifo)",
            ));
        }
        Ok(QueueName(name.to_string()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether the name makes a FIFO queue.
    pub fn is_fifo(&self) -> bool {
        self.0.ends_with(".fifo")
    }
}

impl<'de> serde::Deserialize<'de> for QueueName {
    fn deserialize<D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        QueueName::new(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Display for QueueName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A message's id: a random (version 4) UUID.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MessageId(pub uuid::Uuid);

impl MessageId {
    /// A new random id.
    pub fn random() -> MessageId {
        MessageId(uuid::Uuid::new_v4())
    }
}

impl fmt::Display for MessageId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.hyphenated().fmt(f)
    }
}

/// The MD5 digest of a message body, taken once at send (where the sender's
/// answer needs it anyway) and stored with the message, so that a receive, whose
/// answer carries it too, does not hash the body again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct BodyDigest(pub [u8; 16]);

impl BodyDigest {
    /// The digest of `body`.
    pub fn of(body: &[u8]) -> BodyDigest {
        use md5::Digest;
        BodyDigest(md5::Md5::digest(body).into())
    }
}

/// A FIFO message's sequence number: its position in the queue's message log,
/// so it grows with every send and is never reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SequenceNumber(pub u64);

/// Proof of one receive of one message: which queue, which message (log position
/// and id) and which receive (the receive count it was issued at). A handle stops
/// working once the message is received again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ReceiptHandle {
    /// The queue's id (never reused, so a handle cannot outlive its queue).
    pub queue_id: u64,
    /// The message's position in the queue's message log.
    pub position: u64,
    /// The receive count the handle was issued at (1 for the first receive).
    pub attempt: u32,
    /// The message's id.
    pub message_id: MessageId,
}

const HANDLE_VERSION: u8 = 1;
const HANDLE_LEN: usize = 1 + 8 + 8 + 4 + 16;

impl ReceiptHandle {
    /// Parses the text form ([`fmt::Display`]: lowercase hex of a versioned encoding).
    pub fn parse(text: &str) -> Result<ReceiptHandle> {
        let invalid = |reason| Error::ReceiptHandleInvalid { reason };
        if text.len() != HANDLE_LEN * 2 || !text.is_ascii() {
            return Err(invalid("wrong length"));
        }
        let mut bytes = [0u8; HANDLE_LEN];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&text[2 * i..2 * i + 2], 16)
                .map_err(|_| invalid("not hexadecimal"))?;
        }
        if bytes[0] != HANDLE_VERSION {
            return Err(invalid("unknown version"));
        }
        let u64_at = |at: usize| u64::from_le_bytes(bytes[at..at + 8].try_into().expect("8 bytes"));
        let attempt = u32::from_le_bytes(bytes[17..21].try_into().expect("4 bytes"));
        if attempt == 0 {
            return Err(invalid("receive count zero"));
        }
        let id: [u8; 16] = bytes[21..37].try_into().expect("16 bytes");
        Ok(ReceiptHandle {
            queue_id: u64_at(1),
            position: u64_at(9),
            attempt,
            message_id: MessageId(uuid::Uuid::from_bytes(id)),
        })
    }
}

impl fmt::Display for ReceiptHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The hex of the handle's bytes: the integers little-endian (so their
        // byte-swapped values' hex), the id as its bytes (its big-endian u128).
        // Five integer formats, not one per byte: a receive writes ten handles.
        write!(
            f,
            "{HANDLE_VERSION:02x}{:016x}{:016x}{:08x}{:032x}",
            self.queue_id.swap_bytes(),
            self.position.swap_bytes(),
            self.attempt.swap_bytes(),
            self.message_id.0.as_u128()
        )
    }
}

/// The value of a message attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttributeValue {
    /// A String or Number attribute (transport type 1).
    String(String),
    /// A Binary attribute (transport type 2).
    Binary(Vec<u8>),
}

/// A message attribute: a data type (`String`, `Number`, `Binary`, optionally
/// with a `.custom` suffix) and a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageAttribute {
    /// The data type as given.
    pub data_type: String,
    /// The value.
    pub value: AttributeValue,
}

/// Message attributes by name (sorted, as checksums over them need).
pub type MessageAttributes = BTreeMap<String, MessageAttribute>;

/// The clock (shared with the topics through the segment crate): injectable so
/// that tests of visibility, delay, retention and deduplication windows never sleep.
pub use shardlog_segment::clock::{Clock, ManualClock, SystemClock};
