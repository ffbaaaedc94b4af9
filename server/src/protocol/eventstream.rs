//! AWS event-stream framing (`application/vnd.amazon.eventstream`), the body of
//! SubscribeToShard's response, through `aws-smithy-eventstream` (the framing code of
//! AWS's own Rust SDKs) rather than by hand.
//!
//! ```text
//! +-------------+--------------+-------------+---------+---------+-------------+
//! | total_bytes | headers_bytes| prelude_crc | headers | payload | message_crc |
//! | u32 BE      | u32 BE       | u32 BE      |         |         | u32 BE      |
//! +-------------+--------------+-------------+---------+---------+-------------+
//! ```
//!
//! This module adds what the crate leaves to its caller: string headers from plain
//! `&str` pairs, a bound on the size of a message a decoder waits for, and a
//! decoder that owns its buffer.

use aws_smithy_eventstream::frame::{read_message_from, write_message_to};
use aws_smithy_types::event_stream::Header;
pub use aws_smithy_types::event_stream::{HeaderValue, Message};
use bytes::{Bytes, BytesMut};

/// Bytes of the prelude (two lengths and their CRC).
pub const PRELUDE_BYTES: usize = 12;
/// Bytes of the trailing message CRC.
pub const MESSAGE_CRC_BYTES: usize = 4;
/// Largest message this decoder accepts (the format's own limit is 16 MiB): a
/// corrupt length must not make a decoder buffer gigabytes while it waits.
pub const MESSAGE_BYTES_MAX: usize = 16 << 20;
const _: () = assert!(PRELUDE_BYTES == 4 + 4 + 4);

/// Why a message cannot be encoded or decoded.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The framing itself: a CRC, a length, a header (the crate's own message).
    #[error("event-stream frame: {0}")]
    Frame(#[from] aws_smithy_eventstream::error::Error),
    /// A prelude announcing more than [`MESSAGE_BYTES_MAX`].
    #[error("event-stream message of {0} bytes is over the {MESSAGE_BYTES_MAX} bytes limit")]
    TooLong(usize),
}

/// The string value of a message's header.
pub trait StringHeader {
    /// The value of the string header `name`, if the message has one.
    fn header(&self, name: &str) -> Option<&str>;
}

impl StringHeader for Message {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers()
            .iter()
            .find(|header| header.name().as_str() == name)
            .and_then(|header| header.value().as_string().ok())
            .map(|value| value.as_str())
    }
}

/// Encodes one message with string headers. The payload is taken as it is (a
/// `Vec<u8>` becomes `Bytes` without a copy) and written once, into the frame.
/// Fails on a header name over 255 bytes, a value over 65,535, or a message over
/// 4 GiB (the format's limits).
pub fn encode(headers: &[(&str, &str)], payload: impl Into<Bytes>) -> Result<Vec<u8>, FrameError> {
    let headers_bytes: usize = headers
        .iter()
        .map(|(name, value)| 1 + name.len() + 3 + value.len())
        .sum();
    let headers: Vec<Header> = headers
        .iter()
        .map(|(name, value)| {
            Header::new(
                name.to_string(),
                HeaderValue::String(value.to_string().into()),
            )
        })
        .collect();
    let message = Message::new_from_parts(headers, payload);
    let mut out = Vec::with_capacity(
        PRELUDE_BYTES + headers_bytes + message.payload().len() + MESSAGE_CRC_BYTES,
    );
    write_message_to(&message, &mut out)?;
    Ok(out)
}

/// The length the prelude of `bytes` announces, once its 4 bytes are there.
fn announced_bytes(bytes: &[u8]) -> Option<usize> {
    let prefix: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
    Some(u32::from_be_bytes(prefix) as usize)
}

/// Decodes the first message of `bytes`: `Ok(None)` when more bytes are needed,
/// otherwise the message and how many bytes it took.
pub fn decode(bytes: &[u8]) -> Result<Option<(Message, usize)>, FrameError> {
    match frame_bytes(bytes)? {
        None => Ok(None),
        Some(total) => {
            let message = read_message_from(&bytes[..total])?;
            Ok(Some((message, total)))
        }
    }
}

/// How many bytes the first message of `bytes` takes, once they are all there.
fn frame_bytes(bytes: &[u8]) -> Result<Option<usize>, FrameError> {
    let Some(total) = announced_bytes(bytes) else {
        return Ok(None);
    };
    if total > MESSAGE_BYTES_MAX {
        return Err(FrameError::TooLong(total));
    }
    // A length too short for a prelude is refused by the crate, not waited on.
    let wanted = total.max(PRELUDE_BYTES);
    Ok((bytes.len() >= wanted).then_some(total.min(bytes.len())))
}

/// Splits a byte stream into messages as the bytes arrive.
#[derive(Debug, Default)]
pub struct Decoder {
    buffer: BytesMut,
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
    pub fn next_message(&mut self) -> Result<Option<Message>, FrameError> {
        let Some(total) = frame_bytes(&self.buffer)? else {
            return Ok(None);
        };
        // The frame leaves the buffer whether or not it is valid, so that one bad
        // message is reported once; the payload is cut from it without a copy.
        let frame = self.buffer.split_to(total).freeze();
        Ok(Some(read_message_from(frame)?))
    }

    /// Bytes received but not yet part of a complete message.
    pub fn pending_bytes(&self) -> usize {
        self.buffer.len()
    }
}

#[cfg(test)]
mod tests {
    //! decode(encode(x)) == x for any headers and payload; any flipped byte is refused;
    //! the bytes are those of the format.
    use super::*;
    use proptest::prelude::*;

    fn message_strategy() -> impl Strategy<Value = (Vec<(String, String)>, Vec<u8>)> {
        (
            proptest::collection::vec(("[a-z:-]{1,20}", ".{0,40}"), 0..5),
            proptest::collection::vec(any::<u8>(), 0..300),
        )
    }

    fn strings(message: &Message) -> Vec<(String, String)> {
        message
            .headers()
            .iter()
            .map(|header| {
                let value = header.value().as_string().expect("a string header");
                (
                    header.name().as_str().to_string(),
                    value.as_str().to_string(),
                )
            })
            .collect()
    }

    proptest! {
        /// Encoding then decoding gives back the same headers and payload, in pieces too.
        #[test]
        fn round_trip((headers, payload) in message_strategy(), cut in 0usize..400) {
            let refs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            let bytes = encode(&refs, payload.clone()).unwrap();
            let (message, used) = decode(&bytes).unwrap().unwrap();
            prop_assert_eq!(used, bytes.len());
            prop_assert_eq!(&message.payload()[..], &payload[..]);
            prop_assert_eq!(&strings(&message), &headers);
            let mut decoder = Decoder::new();
            let cut = cut.min(bytes.len());
            decoder.push(&bytes[..cut]);
            if cut < bytes.len() {
                prop_assert!(decoder.next_message().unwrap().is_none());
                decoder.push(&bytes[cut..]);
            }
            prop_assert_eq!(decoder.next_message().unwrap(), Some(message));
            prop_assert_eq!(decoder.pending_bytes(), 0);
        }

        /// Flipping any bit of a message makes decoding it fail (a CRC or a length).
        #[test]
        fn flipped_byte_fails((headers, payload) in message_strategy(), at in any::<usize>(), bit in 0u8..8) {
            let refs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            let mut bytes = encode(&refs, payload).unwrap();
            let at = at % bytes.len();
            bytes[at] ^= 1 << bit;
            // The whole stream is there: a length that now asks for more is refused too.
            let decoded = read_message_from(&bytes[..]);
            prop_assert!(decoded.is_err(), "flip at {} decoded as {:?}", at, decoded);
        }
    }

    /// A SubscribeToShard event's bytes are exactly the format's (built independently
    /// from the specification, CRC-32 by zlib), as the hand-written encoder made them.
    #[test]
    fn known_event_bytes() {
        let headers = [
            (":message-type", "event"),
            (":event-type", "SubscribeToShardEvent"),
            (":content-type", "application/json"),
        ];
        let bytes = encode(&headers, &b"{\"Records\":[]}"[..]).unwrap();
        let expected = "000000790000005b6d59d5ab0d3a6d6573736167652d747970650700056576656e74\
            0b3a6576656e742d74797065070015537562736372696265546f53686172644576656e74\
            0d3a636f6e74656e742d747970650700106170706c69636174696f6e2f6a736f6e\
            7b225265636f726473223a5b5d7d735b5733";
        let hex: String = bytes.iter().map(|byte| format!("{byte:02x}")).collect();
        assert_eq!(hex, expected);
    }

    /// A prelude announcing more than the limit is refused at once, not waited on.
    #[test]
    fn oversized_prelude_is_refused() {
        let mut decoder = Decoder::new();
        decoder.push(&((MESSAGE_BYTES_MAX + 1) as u32).to_be_bytes());
        assert!(matches!(
            decoder.next_message(),
            Err(FrameError::TooLong(total)) if total == MESSAGE_BYTES_MAX + 1
        ));
    }

    /// A header value over the format's 65,535 bytes is an error, not a panic.
    #[test]
    fn overlong_header_is_an_error() {
        let long = "x".repeat(70_000);
        assert!(encode(&[("name", long.as_str())], Bytes::new()).is_err());
    }
}
