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
    /// Whether `message` is a JSON object of a message per protocol (with a
    /// `default`), as the publisher's MessageStructure said.
    #[serde(default)]
    pub structure_json: bool,
}

impl Published {
    /// The message for destinations of `protocol` (`sqs`, `http`, ...): the
    /// whole message, or with a JSON structure its entry for the protocol,
    /// else its `default`.
    pub fn message_for(&self, protocol: &str) -> String {
        if !self.structure_json {
            return self.message.clone();
        }
        let parsed: serde_json::Value = serde_json::from_str(&self.message).unwrap_or_default();
        parsed
            .get(protocol)
            .or_else(|| parsed.get("default"))
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_string()
    }
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
    use crate::message::{AttributeValue, MessageAttribute, MessageAttributes};
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
                structure_json: false,
            };
            prop_assert_eq!(Published::decode(&published.encode()).unwrap(), published);
        }
    }

    /// A JSON structure gives each protocol its entry, else the default; a
    /// plain message is the same for all.
    #[test]
    fn message_for_picks_the_protocol_entry() {
        let mut published = Published {
            message_id: "id".into(),
            published_ms: 0,
            subject: None,
            message: r#"{"default": "d", "sqs": "q"}"#.into(),
            attributes: MessageAttributes::new(),
            group_id: None,
            deduplication_id: None,
            structure_json: true,
        };
        assert_eq!(published.message_for("sqs"), "q");
        assert_eq!(published.message_for("http"), "d");
        published.structure_json = false;
        assert_eq!(published.message_for("sqs"), published.message);
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
