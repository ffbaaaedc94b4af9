//! Values that cross the topic layer's boundary: names, endpoints, ids.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Most characters of a topic name (with `.fifo`).
pub const TOPIC_NAME_CHARS_MAX: usize = 256;
/// The suffix that makes a topic FIFO.
pub const FIFO_SUFFIX: &str = ".fifo";

/// A valid topic name: 1 to 256 ASCII letters, digits, `-` and `_`, and for a
/// FIFO topic the `.fifo` suffix.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TopicName(String);

impl TopicName {
    /// Checks `name` against the naming rules.
    pub fn new(name: &str) -> Result<TopicName> {
        let invalid = |reason| Error::InvalidTopicName {
            name: name.to_string(),
            reason,
        };
        if name.is_empty() || name.chars().count() > TOPIC_NAME_CHARS_MAX {
            return Err(invalid("1 to 256 characters"));
        }
        let stem = name.strip_suffix(FIFO_SUFFIX).unwrap_or(name);
        let allowed = |c: char| c.is_ascii_alphanumeric() || c == '-' || c == '_';
        if stem.is_empty() || !stem.chars().all(allowed) {
            return Err(invalid(
                "only ASCII letters, digits, hyphens and underscores (and a .fifo suffix)",
            ));
        }
        Ok(TopicName(name.to_string()))
    }

    /// Whether the name ends in `.fifo`.
    pub fn is_fifo(&self) -> bool {
        self.0.ends_with(FIFO_SUFFIX)
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TopicName {
    type Error = Error;
    fn try_from(name: String) -> Result<TopicName> {
        TopicName::new(&name)
    }
}

impl From<TopicName> for String {
    fn from(name: TopicName) -> String {
        name.0
    }
}

impl fmt::Display for TopicName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a subscription is delivered to. The server gives each its meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Protocol {
    /// A queue of this server.
    Sqs,
    /// A delivery stream of this server.
    Firehose,
    /// An HTTP endpoint (confirmation needed).
    Http,
    /// An HTTPS endpoint (confirmation needed).
    Https,
}

impl Protocol {
    /// Whether the endpoint must confirm the subscription before it gets notifications.
    pub fn needs_confirmation(self) -> bool {
        matches!(self, Protocol::Http | Protocol::Https)
    }
}

/// Where a subscription delivers: a protocol and its address (a queue ARN, a
/// delivery stream ARN, a URL), kept as given.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Endpoint {
    /// The protocol.
    pub protocol: Protocol,
    /// The address.
    pub address: String,
}

/// A subscription's id (a UUID, the last part of its ARN).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SubscriptionId(pub String);

impl SubscriptionId {
    /// A new random id.
    pub fn random() -> SubscriptionId {
        SubscriptionId(uuid::Uuid::new_v4().to_string())
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for SubscriptionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Names follow SNS's rules: characters, length, and the FIFO suffix.
    #[test]
    fn topic_names_are_checked() {
        assert!(TopicName::new("orders-1_a").is_ok());
        assert!(TopicName::new("orders.fifo").unwrap().is_fifo());
        assert!(!TopicName::new("orders").unwrap().is_fifo());
        for bad in ["", ".fifo", "a.b", "a b", "ü", &"a".repeat(257)] {
            assert!(
                matches!(TopicName::new(bad), Err(Error::InvalidTopicName { .. })),
                "{bad}"
            );
        }
        assert!(TopicName::new(&"a".repeat(256)).is_ok());
    }
}
