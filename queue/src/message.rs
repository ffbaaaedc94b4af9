//! The message record codec (see `FORMAT.md`, "Message record").

use crate::error::{Error, Result};
use crate::types::{AttributeValue, BodyDigest, MessageAttribute, MessageAttributes, MessageId};

const VERSION: u8 = 1;
const FLAG_GROUP: u8 = 1;
const FLAG_DEDUP: u8 = 2;
const FLAG_SOURCE: u8 = 4;
const FLAG_TRACE: u8 = 8;
const FLAG_DIGEST: u8 = 16;
const FLAGS_KNOWN: u8 = FLAG_GROUP | FLAG_DEDUP | FLAG_SOURCE | FLAG_TRACE | FLAG_DIGEST;

const AT_VERSION: usize = 0;
const AT_FLAGS: usize = AT_VERSION + 1;
const AT_ATTRIBUTE_COUNT: usize = AT_FLAGS + 1;
const AT_BODY_LEN: usize = AT_ATTRIBUTE_COUNT + 2;
const AT_MESSAGE_ID: usize = AT_BODY_LEN + 4;
const AT_SENT_MS: usize = AT_MESSAGE_ID + 16;
const AT_VISIBLE_FROM_MS: usize = AT_SENT_MS + 8;
const AT_RECEIVE_COUNT_BASE: usize = AT_VISIBLE_FROM_MS + 8;
const AT_RESERVED: usize = AT_RECEIVE_COUNT_BASE + 4;
const HEADER_LEN: usize = AT_RESERVED + 4;
const _: () = assert!(HEADER_LEN == 48);

/// Most message attributes per message.
pub const ATTRIBUTES_MAX: usize = 10;
/// Longest group or deduplication id, in bytes.
pub const ID_BYTES_MAX: usize = 128;
/// Longest AWSTraceHeader system attribute, in bytes.
pub const TRACE_HEADER_BYTES_MAX: usize = 4096;

/// A message as stored in the message log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredMessage {
    /// The id returned by the send.
    pub message_id: MessageId,
    /// When the send was accepted (ms).
    pub sent_ms: u64,
    /// Not deliverable before this (ms): sent plus delay.
    pub visible_from_ms: u64,
    /// Receives counted before this message reached this queue (redrive).
    pub receive_count_base: u32,
    /// FIFO message group.
    pub group_id: Option<String>,
    /// FIFO deduplication id (given or derived from the body).
    pub deduplication_id: Option<String>,
    /// In a dead-letter queue: the queue the message was moved from.
    pub source_queue: Option<String>,
    /// The AWSTraceHeader system attribute given on send.
    pub trace_header: Option<String>,
    /// The body.
    pub body: Vec<u8>,
    /// The body's digest, if the sender took it (records written before it was
    /// stored, and messages SNS delivers, have none).
    pub body_digest: Option<BodyDigest>,
    /// Message attributes.
    pub attributes: MessageAttributes,
}

/// Bytes of body plus attributes, as the MaximumMessageSize limit counts them.
pub fn message_size_bytes(body: &[u8], attributes: &MessageAttributes) -> usize {
    body.len()
        + attributes
            .iter()
            .map(|(name, attribute)| {
                let value = match &attribute.value {
                    AttributeValue::String(text) => text.len(),
                    AttributeValue::Binary(bytes) => bytes.len(),
                };
                name.len() + attribute.data_type.len() + value
            })
            .sum::<usize>()
}

/// Checks the parts of a message the record format bounds.
pub fn validate_parts(attributes: &MessageAttributes, ids: [Option<&str>; 2]) -> Result<()> {
    let invalid = |parameter, reason: String| Err(Error::InvalidParameter { parameter, reason });
    if attributes.len() > ATTRIBUTES_MAX {
        return invalid(
            "MessageAttributes",
            format!("{} attributes; at most {ATTRIBUTES_MAX}", attributes.len()),
        );
    }
    for (name, attribute) in attributes {
        if name.is_empty() || name.len() > 255 {
            return invalid("MessageAttributes", "a name has 1 to 255 bytes".into());
        }
        if attribute.data_type.is_empty() || attribute.data_type.len() > 255 {
            return invalid(
                "MessageAttributes",
                format!("the data type of {name} has 1 to 255 bytes"),
            );
        }
    }
    for id in ids.into_iter().flatten() {
        if id.is_empty() || id.len() > ID_BYTES_MAX {
            return invalid(
                "MessageGroupId",
                format!("group and deduplication ids have 1 to {ID_BYTES_MAX} characters"),
            );
        }
    }
    Ok(())
}

impl StoredMessage {
    /// Encodes the record. The caller validated the parts ([`validate_parts`]).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len_hint());
        self.encode_into(&mut out);
        out
    }

    /// About the record's length (exact without ids, trace header and attributes).
    pub fn encoded_len_hint(&self) -> usize {
        HEADER_LEN + 16 + self.body.len() + 64
    }

    /// Appends the record to `out` (see [`StoredMessage::encode`]).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        let start = out.len();
        let flag = |present: bool, bit: u8| if present { bit } else { 0 };
        let flags = flag(self.group_id.is_some(), FLAG_GROUP)
            | flag(self.deduplication_id.is_some(), FLAG_DEDUP)
            | flag(self.source_queue.is_some(), FLAG_SOURCE)
            | flag(self.trace_header.is_some(), FLAG_TRACE)
            | flag(self.body_digest.is_some(), FLAG_DIGEST);
        out.push(VERSION);
        out.push(flags);
        out.extend_from_slice(&(self.attributes.len() as u16).to_le_bytes());
        out.extend_from_slice(&(self.body.len() as u32).to_le_bytes());
        out.extend_from_slice(self.message_id.0.as_bytes());
        out.extend_from_slice(&self.sent_ms.to_le_bytes());
        out.extend_from_slice(&self.visible_from_ms.to_le_bytes());
        out.extend_from_slice(&self.receive_count_base.to_le_bytes());
        out.extend_from_slice(&[0; 4]);
        debug_assert_eq!(out.len() - start, HEADER_LEN);
        for id in [&self.group_id, &self.deduplication_id, &self.source_queue]
            .into_iter()
            .flatten()
        {
            put_short(out, id.as_bytes());
        }
        if let Some(trace) = &self.trace_header {
            let len = u16::try_from(trace.len()).expect("validated: at most 4096 bytes");
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(trace.as_bytes());
        }
        if let Some(BodyDigest(digest)) = &self.body_digest {
            out.extend_from_slice(digest);
        }
        out.extend_from_slice(&self.body);
        for (name, attribute) in &self.attributes {
            put_short(out, name.as_bytes());
            put_short(out, attribute.data_type.as_bytes());
            let (kind, value) = match &attribute.value {
                AttributeValue::String(text) => (1u8, text.as_bytes()),
                AttributeValue::Binary(bytes) => (2u8, bytes.as_slice()),
            };
            out.push(kind);
            out.extend_from_slice(&(value.len() as u32).to_le_bytes());
            out.extend_from_slice(value);
        }
    }

    /// Decodes and checks a record.
    pub fn decode(bytes: &[u8]) -> std::result::Result<StoredMessage, String> {
        let mut reader = Reader { bytes, at: 0 };
        let header = reader.take(HEADER_LEN)?;
        if header[AT_VERSION] != VERSION {
            return Err(format!("message record version {}", header[AT_VERSION]));
        }
        let flags = header[AT_FLAGS];
        if flags & !FLAGS_KNOWN != 0 || header[AT_RESERVED..HEADER_LEN] != [0; 4] {
            return Err(format!("unknown flags {flags:#x} or reserved bytes set"));
        }
        let le_u64 = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().expect("8"));
        let le_u32 = |at: usize| u32::from_le_bytes(header[at..at + 4].try_into().expect("4"));
        let attribute_count =
            u16::from_le_bytes([header[AT_ATTRIBUTE_COUNT], header[AT_ATTRIBUTE_COUNT + 1]]);
        if attribute_count as usize > ATTRIBUTES_MAX {
            return Err(format!("{attribute_count} message attributes"));
        }
        let id: [u8; 16] = header[AT_MESSAGE_ID..AT_SENT_MS].try_into().expect("16");
        let group_id = (flags & FLAG_GROUP != 0)
            .then(|| reader.short_text())
            .transpose()?;
        let deduplication_id = (flags & FLAG_DEDUP != 0)
            .then(|| reader.short_text())
            .transpose()?;
        let source_queue = (flags & FLAG_SOURCE != 0)
            .then(|| reader.short_text())
            .transpose()?;
        let trace_header = (flags & FLAG_TRACE != 0)
            .then(|| {
                let len = u16::from_le_bytes(reader.take(2)?.try_into().expect("2"));
                utf8(reader.take(len as usize)?)
            })
            .transpose()?;
        let body_digest = (flags & FLAG_DIGEST != 0)
            .then(|| {
                reader
                    .take(16)
                    .map(|d| BodyDigest(d.try_into().expect("16")))
            })
            .transpose()?;
        let body = reader.take(le_u32(AT_BODY_LEN) as usize)?.to_vec();
        let mut attributes = MessageAttributes::new();
        for _ in 0..attribute_count {
            let name = reader.short_text()?;
            let data_type = reader.short_text()?;
            let kind = reader.take(1)?[0];
            let len = u32::from_le_bytes(reader.take(4)?.try_into().expect("4")) as usize;
            let raw = reader.take(len)?;
            let value = match kind {
                1 => AttributeValue::String(utf8(raw)?),
                2 => AttributeValue::Binary(raw.to_vec()),
                other => return Err(format!("attribute value kind {other}")),
            };
            if attributes
                .insert(name, MessageAttribute { data_type, value })
                .is_some()
            {
                return Err("an attribute name appears twice".into());
            }
        }
        if reader.at != bytes.len() {
            return Err(format!(
                "{} bytes after the record",
                bytes.len() - reader.at
            ));
        }
        Ok(StoredMessage {
            message_id: MessageId(uuid::Uuid::from_bytes(id)),
            sent_ms: le_u64(AT_SENT_MS),
            visible_from_ms: le_u64(AT_VISIBLE_FROM_MS),
            receive_count_base: le_u32(AT_RECEIVE_COUNT_BASE),
            group_id,
            deduplication_id,
            source_queue,
            trace_header,
            body,
            body_digest,
            attributes,
        })
    }
}

fn put_short(out: &mut Vec<u8>, bytes: &[u8]) {
    let len = u8::try_from(bytes.len()).expect("validated: at most 255 bytes");
    out.push(len);
    out.extend_from_slice(bytes);
}

fn utf8(bytes: &[u8]) -> std::result::Result<String, String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| "text is not UTF-8".to_string())
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, len: usize) -> std::result::Result<&'a [u8], String> {
        let end = self
            .at
            .checked_add(len)
            .filter(|end| *end <= self.bytes.len());
        let end = end.ok_or_else(|| {
            format!(
                "record ends at {} bytes, {len} more needed at {}",
                self.bytes.len(),
                self.at
            )
        })?;
        let slice = &self.bytes[self.at..end];
        self.at = end;
        Ok(slice)
    }

    fn short_text(&mut self) -> std::result::Result<String, String> {
        let len = self.take(1)?[0] as usize;
        if len == 0 {
            return Err("empty name or id".into());
        }
        utf8(self.take(len)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn arb_attribute() -> impl Strategy<Value = MessageAttribute> {
        let value = prop_oneof![
            ".{0,20}".prop_map(AttributeValue::String),
            proptest::collection::vec(any::<u8>(), 0..20).prop_map(AttributeValue::Binary),
        ];
        ("[A-Za-z.]{1,12}", value)
            .prop_map(|(data_type, value)| MessageAttribute { data_type, value })
    }

    fn arb_message() -> impl Strategy<Value = StoredMessage> {
        (
            any::<u128>(),
            any::<(u64, u64, u32)>(),
            proptest::option::of("[a-z0-9]{1,128}"),
            proptest::option::of("[a-z0-9]{1,128}"),
            proptest::collection::vec(any::<u8>(), 0..200),
            proptest::collection::btree_map("[a-zA-Z_]{1,20}", arb_attribute(), 0..=10),
            proptest::option::of("[a-z0-9-]{1,80}"),
            (
                proptest::option::of(".{0,300}"),
                proptest::option::of(any::<[u8; 16]>()),
            ),
        )
            .prop_map(
                |(id, times, group_id, dedup, body, attributes, source_queue, extras)| {
                    let (trace_header, digest) = extras;
                    let (sent_ms, visible_from_ms, base) = times;
                    StoredMessage {
                        message_id: MessageId(uuid::Uuid::from_u128(id)),
                        sent_ms,
                        visible_from_ms,
                        receive_count_base: base,
                        group_id,
                        deduplication_id: dedup,
                        source_queue,
                        trace_header,
                        body,
                        body_digest: digest.map(BodyDigest),
                        attributes,
                    }
                },
            )
    }

    proptest! {
        /// Every message decodes to itself, and every strict prefix of its record fails.
        #[test]
        fn round_trip_and_truncation(message in arb_message(), cut in any::<prop::sample::Index>()) {
            let bytes = message.encode();
            prop_assert_eq!(StoredMessage::decode(&bytes).unwrap(), message);
            let cut = cut.index(bytes.len());
            prop_assert!(StoredMessage::decode(&bytes[..cut]).is_err());
        }
    }

    /// A record with a byte too many or an unknown version is rejected.
    #[test]
    fn trailing_bytes_and_versions_are_rejected() {
        let message = StoredMessage {
            message_id: MessageId(uuid::Uuid::from_u128(7)),
            sent_ms: 1,
            visible_from_ms: 2,
            receive_count_base: 0,
            group_id: None,
            deduplication_id: None,
            source_queue: None,
            trace_header: None,
            body: b"hello".to_vec(),
            body_digest: None,
            attributes: MessageAttributes::new(),
        };
        let mut bytes = message.encode();
        bytes.push(0);
        assert!(StoredMessage::decode(&bytes)
            .unwrap_err()
            .contains("after the record"));
        bytes.pop();
        bytes[0] = 2;
        assert!(StoredMessage::decode(&bytes)
            .unwrap_err()
            .contains("version"));
    }
}

#[cfg(test)]
mod golden {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// The version 1 bytes of a FIFO message with one attribute of each kind: a
    /// change to the encoding that breaks stored messages fails here.
    #[test]
    fn version_1_bytes() {
        let mut attributes = MessageAttributes::new();
        let string = AttributeValue::String("v".into());
        attributes.insert(
            "a".into(),
            MessageAttribute {
                data_type: "String".into(),
                value: string,
            },
        );
        let binary = AttributeValue::Binary(vec![0xff]);
        attributes.insert(
            "b".into(),
            MessageAttribute {
                data_type: "Binary".into(),
                value: binary,
            },
        );
        let message = StoredMessage {
            message_id: MessageId(uuid::Uuid::from_u128(
                0x0011_2233_4455_6677_8899_aabb_ccdd_eeff,
            )),
            sent_ms: 0x0102_0304_0506_0708,
            visible_from_ms: 0x1112_1314_1516_1718,
            receive_count_base: 3,
            group_id: Some("g".into()),
            deduplication_id: Some("d".into()),
            source_queue: None,
            trace_header: None,
            body: b"body".to_vec(),
            body_digest: None,
            attributes,
        };
        let hex = hex(&message.encode());
        assert_eq!(hex, GOLDEN);
        let bytes: Vec<u8> = (0..GOLDEN.len() / 2)
            .map(|i| u8::from_str_radix(&GOLDEN[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        assert_eq!(StoredMessage::decode(&bytes).unwrap(), message);
    }

    /// Version 1 bytes with the later flags: a source queue (bit 2) and a trace
    /// header (bit 3).
    #[test]
    fn version_1_bytes_with_source_and_trace() {
        let hex = hex(&source_and_trace().encode());
        assert_eq!(hex, GOLDEN_SOURCE_TRACE);
    }

    /// The message of [`GOLDEN_SOURCE_TRACE`].
    fn source_and_trace() -> StoredMessage {
        StoredMessage {
            message_id: MessageId(uuid::Uuid::from_u128(
                0x0001_0203_0405_0607_0809_0a0b_0c0d_0e0f,
            )),
            sent_ms: 5,
            visible_from_ms: 6,
            receive_count_base: 0,
            group_id: None,
            deduplication_id: None,
            source_queue: Some("src".into()),
            trace_header: Some("t".into()),
            body: b"body".to_vec(),
            body_digest: None,
            attributes: MessageAttributes::new(),
        }
    }

    /// Version 1 bytes with the body's digest (bit 4), between the trace header
    /// and the body; the digest is MD5's.
    #[test]
    fn version_1_bytes_with_digest() {
        let message = StoredMessage {
            source_queue: None,
            trace_header: None,
            body: b"hello".to_vec(),
            body_digest: Some(BodyDigest::of(b"hello")),
            ..source_and_trace()
        };
        let hex = hex(&message.encode());
        assert_eq!(hex, GOLDEN_DIGEST);
        let decoded = StoredMessage::decode(&message.encode()).unwrap();
        assert_eq!(decoded, message);
    }

    const GOLDEN_DIGEST: &str = concat!(
        "011000000500000000010203040506070809",
        "0a0b0c0d0e0f050000000000000006000000",
        "000000000000000000000000",
        "5d41402abc4b2a76b9719d911017c592",
        "68656c6c6f",
    );

    const GOLDEN_SOURCE_TRACE: &str = "010c000004000000000102030405060708090a0b0c0d0e0f05000000000000000600000000000000000000000000000003737263010074626f6479";

    const GOLDEN: &str = concat!(
        "010302000400000000112233445566778899aabbccddeeff0807060504030201",
        "1817161514131211030000000000000001670164626f6479016106537472696e",
        "6701010000007601620642696e6172790201000000ff",
    );
}
