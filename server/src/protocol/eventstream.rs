//! AWS event-stream framing (`application/vnd.amazon.eventstream`), the body of
//! SubscribeToShard's response.
//!
//! ```text
//! +-------------+--------------+-------------+---------+---------+-------------+
//! | total_bytes | headers_bytes| prelude_crc | headers | payload | message_crc |
//! | u32 BE      | u32 BE       | u32 BE      |         |         | u32 BE      |
//! +-------------+--------------+-------------+---------+---------+-------------+
//! ```
//!
//! `prelude_crc` is the CRC32 (IEEE) of the first 8 bytes; `message_crc` the CRC32 of
//! everything before it. A header is: name length (u8), name, value type (u8), value.
//! This module writes string headers (type 7: u16 BE length, UTF-8) and reads every
//! header type the format defines.

use std::fmt;

/// Bytes of the prelude (two lengths and their CRC).
pub const PRELUDE_BYTES: usize = 12;
/// Bytes of the trailing message CRC.
pub const MESSAGE_CRC_BYTES: usize = 4;
/// Largest message this decoder accepts (the format's own limit is 16 MiB).
pub const MESSAGE_BYTES_MAX: usize = 16 << 20;
const _: () = assert!(PRELUDE_BYTES == 4 + 4 + 4);

/// A header value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeaderValue {
    /// Type 0 / 1.
    Bool(bool),
    /// Type 2.
    Byte(i8),
    /// Type 3.
    Short(i16),
    /// Type 4.
    Int(i32),
    /// Type 5.
    Long(i64),
    /// Type 6.
    Bytes(Vec<u8>),
    /// Type 7.
    String(String),
    /// Type 8: ms since the epoch.
    Timestamp(i64),
    /// Type 9.
    Uuid([u8; 16]),
}

/// One decoded message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Headers in wire order.
    pub headers: Vec<(String, HeaderValue)>,
    /// The payload.
    pub payload: Vec<u8>,
}

impl Message {
    /// The value of a string header.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find_map(|(key, value)| match value {
            HeaderValue::String(text) if key == name => Some(text.as_str()),
            _ => None,
        })
    }
}

/// Why bytes are not a valid message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DecodeError {
    /// The prelude's CRC does not match its 8 bytes.
    PreludeChecksum {
        /// CRC in the message.
        expected: u32,
        /// CRC of the bytes.
        actual: u32,
    },
    /// The message CRC does not match.
    MessageChecksum {
        /// CRC in the message.
        expected: u32,
        /// CRC of the bytes.
        actual: u32,
    },
    /// Lengths that cannot describe a message.
    BadLength(String),
    /// A header that cannot be parsed.
    BadHeader(String),
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::PreludeChecksum { expected, actual } => {
                write!(f, "prelude CRC {actual:#010x} != {expected:#010x}")
            }
            DecodeError::MessageChecksum { expected, actual } => {
                write!(f, "message CRC {actual:#010x} != {expected:#010x}")
            }
            DecodeError::BadLength(why) => write!(f, "bad length: {why}"),
            DecodeError::BadHeader(why) => write!(f, "bad header: {why}"),
        }
    }
}

impl std::error::Error for DecodeError {}

/// Encodes one message with string headers. Header names are at most 255 bytes and
/// values at most 65,535 (the format's limits; the callers' are fixed and short).
pub fn encode(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    encode_with(headers, payload.len(), |out| out.extend_from_slice(payload))
}

/// Encodes one message whose payload `write_payload` appends to the buffer (about
/// `payload_bytes_hint` bytes), so that large payloads are written once, in place.
pub fn encode_with(
    headers: &[(&str, &str)],
    payload_bytes_hint: usize,
    write_payload: impl FnOnce(&mut Vec<u8>),
) -> Vec<u8> {
    let headers_bytes: usize = headers
        .iter()
        .map(|(name, value)| 1 + name.len() + 1 + 2 + value.len())
        .sum();
    let mut out =
        Vec::with_capacity(PRELUDE_BYTES + headers_bytes + payload_bytes_hint + MESSAGE_CRC_BYTES);
    out.resize(PRELUDE_BYTES, 0);
    for (name, value) in headers {
        assert!(name.len() <= u8::MAX as usize, "header name too long");
        assert!(value.len() <= u16::MAX as usize, "header value too long");
        out.push(name.len() as u8);
        out.extend_from_slice(name.as_bytes());
        out.push(7);
        out.extend_from_slice(&(value.len() as u16).to_be_bytes());
        out.extend_from_slice(value.as_bytes());
    }
    write_payload(&mut out);
    let total_bytes = out.len() + MESSAGE_CRC_BYTES;
    assert!(total_bytes <= u32::MAX as usize, "message too long");
    out[0..4].copy_from_slice(&(total_bytes as u32).to_be_bytes());
    out[4..8].copy_from_slice(&(headers_bytes as u32).to_be_bytes());
    let prelude_crc = crc32fast::hash(&out[0..8]);
    out[8..12].copy_from_slice(&prelude_crc.to_be_bytes());
    let message_crc = crc32fast::hash(&out);
    out.extend_from_slice(&message_crc.to_be_bytes());
    out
}

fn be_u32(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

/// Decodes the first message of `bytes`: `Ok(None)` when more bytes are needed,
/// otherwise the message and how many bytes it took.
pub fn decode(bytes: &[u8]) -> Result<Option<(Message, usize)>, DecodeError> {
    if bytes.len() < PRELUDE_BYTES {
        return Ok(None);
    }
    let total_bytes = be_u32(&bytes[0..4]) as usize;
    let headers_bytes = be_u32(&bytes[4..8]) as usize;
    let prelude_crc = be_u32(&bytes[8..12]);
    let actual = crc32fast::hash(&bytes[0..8]);
    if actual != prelude_crc {
        return Err(DecodeError::PreludeChecksum {
            expected: prelude_crc,
            actual,
        });
    }
    if total_bytes > MESSAGE_BYTES_MAX
        || total_bytes < PRELUDE_BYTES + MESSAGE_CRC_BYTES + headers_bytes
    {
        return Err(DecodeError::BadLength(format!(
            "total {total_bytes} bytes with {headers_bytes} bytes of headers"
        )));
    }
    if bytes.len() < total_bytes {
        return Ok(None);
    }
    let crc_at = total_bytes - MESSAGE_CRC_BYTES;
    let expected = be_u32(&bytes[crc_at..total_bytes]);
    let actual = crc32fast::hash(&bytes[..crc_at]);
    if actual != expected {
        return Err(DecodeError::MessageChecksum { expected, actual });
    }
    let headers_end = PRELUDE_BYTES + headers_bytes;
    let headers = decode_headers(&bytes[PRELUDE_BYTES..headers_end])?;
    let message = Message {
        headers,
        payload: bytes[headers_end..crc_at].to_vec(),
    };
    Ok(Some((message, total_bytes)))
}

/// Takes `n` bytes from the front of `rest`.
fn take<'a>(rest: &mut &'a [u8], n: usize) -> Result<&'a [u8], DecodeError> {
    if rest.len() < n {
        return Err(DecodeError::BadHeader(format!(
            "{n} bytes wanted, {} left",
            rest.len()
        )));
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Ok(head)
}

fn decode_headers(mut rest: &[u8]) -> Result<Vec<(String, HeaderValue)>, DecodeError> {
    let mut headers = Vec::new();
    while !rest.is_empty() {
        let name_bytes = take(&mut rest, 1)?[0] as usize;
        let name = String::from_utf8(take(&mut rest, name_bytes)?.to_vec())
            .map_err(|_| DecodeError::BadHeader("name is not UTF-8".into()))?;
        let kind = take(&mut rest, 1)?[0];
        let fixed = |rest: &mut &[u8], n: usize| -> Result<[u8; 8], DecodeError> {
            let mut out = [0u8; 8];
            out[8 - n..].copy_from_slice(take(rest, n)?);
            Ok(out)
        };
        let value = match kind {
            0 => HeaderValue::Bool(true),
            1 => HeaderValue::Bool(false),
            2 => HeaderValue::Byte(take(&mut rest, 1)?[0] as i8),
            3 => HeaderValue::Short(i64::from_be_bytes(fixed(&mut rest, 2)?) as i16),
            4 => HeaderValue::Int(i64::from_be_bytes(fixed(&mut rest, 4)?) as i32),
            5 => HeaderValue::Long(i64::from_be_bytes(fixed(&mut rest, 8)?)),
            6 | 7 => {
                let length = u16::from_be_bytes([take(&mut rest, 1)?[0], take(&mut rest, 1)?[0]]);
                let raw = take(&mut rest, length as usize)?.to_vec();
                if kind == 6 {
                    HeaderValue::Bytes(raw)
                } else {
                    HeaderValue::String(String::from_utf8(raw).map_err(|_| {
                        DecodeError::BadHeader(format!("value of {name} is not UTF-8"))
                    })?)
                }
            }
            8 => HeaderValue::Timestamp(i64::from_be_bytes(fixed(&mut rest, 8)?)),
            9 => {
                let mut uuid = [0u8; 16];
                uuid.copy_from_slice(take(&mut rest, 16)?);
                HeaderValue::Uuid(uuid)
            }
            other => {
                return Err(DecodeError::BadHeader(format!(
                    "unknown value type {other} of {name}"
                )))
            }
        };
        headers.push((name, value));
    }
    Ok(headers)
}

/// Splits a byte stream into messages as the bytes arrive.
#[derive(Debug, Default)]
pub struct Decoder {
    buffer: Vec<u8>,
}

impl Decoder {
    /// An empty decoder.
    pub fn new() -> Self {
        Decoder::default()
    }

    /// Adds bytes read from the stream.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next complete message, if the bytes so far hold one.
    pub fn next_message(&mut self) -> Result<Option<Message>, DecodeError> {
        match decode(&self.buffer)? {
            None => Ok(None),
            Some((message, used)) => {
                self.buffer.drain(..used);
                Ok(Some(message))
            }
        }
    }

    /// Bytes received but not yet part of a complete message.
    pub fn pending_bytes(&self) -> usize {
        self.buffer.len()
    }
}

#[cfg(test)]
mod tests {
    //! decode(encode(x)) == x for any headers and payload; any flipped byte is refused.
    use super::*;
    use proptest::prelude::*;

    fn message_strategy() -> impl Strategy<Value = (Vec<(String, String)>, Vec<u8>)> {
        (
            proptest::collection::vec(("[a-z:-]{1,20}", ".{0,40}"), 0..5),
            proptest::collection::vec(any::<u8>(), 0..300),
        )
    }

    proptest! {
        /// Encoding then decoding gives back the same headers and payload, in pieces too.
        #[test]
        fn round_trip((headers, payload) in message_strategy(), cut in 0usize..400) {
            let refs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            let bytes = encode(&refs, &payload);
            let (message, used) = decode(&bytes).unwrap().unwrap();
            prop_assert_eq!(used, bytes.len());
            prop_assert_eq!(&message.payload, &payload);
            let expected: Vec<(String, HeaderValue)> = headers
                .iter()
                .map(|(n, v)| (n.clone(), HeaderValue::String(v.clone())))
                .collect();
            prop_assert_eq!(&message.headers, &expected);
            let mut decoder = Decoder::new();
            let cut = cut.min(bytes.len());
            decoder.push(&bytes[..cut]);
            if cut < bytes.len() {
                prop_assert_eq!(decoder.next_message().unwrap(), None);
                decoder.push(&bytes[cut..]);
            }
            prop_assert_eq!(decoder.next_message().unwrap(), Some(message));
            prop_assert_eq!(decoder.pending_bytes(), 0);
        }

        /// Flipping any bit of a message makes decoding fail a CRC (or the lengths).
        #[test]
        fn flipped_byte_fails((headers, payload) in message_strategy(), at in any::<usize>(), bit in 0u8..8) {
            let refs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            let mut bytes = encode(&refs, &payload);
            let at = at % bytes.len();
            bytes[at] ^= 1 << bit;
            let decoded = decode(&bytes);
            prop_assert!(
                matches!(decoded, Err(DecodeError::PreludeChecksum { .. }) | Err(DecodeError::MessageChecksum { .. })),
                "flip at {} decoded as {:?}", at, decoded
            );
        }
    }

    /// A known message: the prelude of an empty message is 16/0 with its CRC.
    #[test]
    fn empty_message_layout() {
        let bytes = encode(&[], b"");
        assert_eq!(bytes.len(), 16);
        assert_eq!(&bytes[0..8], &[0, 0, 0, 16, 0, 0, 0, 0]);
        assert_eq!(be_u32(&bytes[8..12]), crc32fast::hash(&bytes[0..8]));
    }
}
