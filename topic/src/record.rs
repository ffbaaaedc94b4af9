//! A published message as the topic's log keeps it (see `FORMAT.md`, "Message
//! record"): a version byte, then the message as JSON.

use crate::message::MessageAttributes;
use serde::{Deserialize, Serialize};

const VERSION: u8 = 1;

/// A message published to a topic.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Published {
    /// Its id (a UUID), as the publisher was told.
    pub message_id: String,
    /// When it was published (ms since the epoch).
    pub published_ms: u64,
    /// The subject, if any.
    pub subject: Option<String>,
    /// The message.
    pub message: String,
    /// Its attributes.
    pub attributes: MessageAttributes,
    /// FIFO: the message group.
    pub group_id: Option<String>,
    /// FIFO: the deduplication id (given, or the SHA-256 of the message).
    pub deduplication_id: Option<String>,
}

impl Published {
    /// The record's bytes.
    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![VERSION];
        serde_json::to_writer(&mut out, self).expect("a message always serializes");
        out
    }

    /// Decodes one record.
    pub fn decode(bytes: &[u8]) -> Result<Published, String> {
        match bytes.split_first() {
            Some((&VERSION, json)) => serde_json::from_slice(json).map_err(|e| e.to_string()),
            Some((version, _)) => Err(format!("message record version {version}")),
            None => Err("empty message record".into()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::message::{AttributeValue, MessageAttribute};
    use proptest::prelude::*;

    proptest! {
        /// Any message survives encoding and decoding unchanged.
        #[test]
        fn records_round_trip(message in ".*", subject in proptest::option::of(".{0,100}"),
                              value in proptest::collection::vec(any::<u8>(), 0..20), ms in any::<u64>()) {
            let published = Published {
                message_id: "id".into(),
                published_ms: ms,
                subject,
                message,
                attributes: [("b".to_string(), MessageAttribute {
                    data_type: "Binary".into(),
                    value: AttributeValue::Binary(value),
                })].into(),
                group_id: Some("g".into()),
                deduplication_id: None,
            };
            prop_assert_eq!(Published::decode(&published.encode()).unwrap(), published);
        }
    }

    /// An unknown version or an empty record is an error, not a panic.
    #[test]
    fn bad_records_are_errors() {
        assert!(Published::decode(&[]).is_err());
        assert!(Published::decode(&[9, b'{', b'}'])
            .unwrap_err()
            .contains("version 9"));
        assert!(Published::decode(&[1, b'{']).is_err());
    }
}
