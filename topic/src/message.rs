//! A published message's attributes, as filter policies and sinks see them.

use std::collections::BTreeMap;

/// An attribute's value as it was published.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum AttributeValue {
    /// A `String`, `String.Array` (a JSON array as text) or `Number` attribute.
    String(String),
    /// A `Binary` attribute.
    Binary(Vec<u8>),
}

/// A message attribute: its data type (`String`, `String.Array`, `Number`,
/// `Binary`, optionally with a `.custom` suffix) and its value.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct MessageAttribute {
    /// The data type as published.
    pub data_type: String,
    /// The value.
    pub value: AttributeValue,
}

impl MessageAttribute {
    /// The data type without its custom suffix: `Number.float` is `Number`.
    pub fn base_type(&self) -> &str {
        self.data_type
            .split_once('.')
            .map_or(self.data_type.as_str(), |(base, rest)| {
                // `String.Array` is a type of its own, not a custom `String`.
                if base == "String" && rest == "Array" {
                    self.data_type.as_str()
                } else {
                    base
                }
            })
    }
}

/// Message attributes by name.
pub type MessageAttributes = BTreeMap<String, MessageAttribute>;

#[cfg(test)]
mod tests {
    use super::*;

    /// A custom suffix is dropped from the base type, but String.Array keeps its name.
    #[test]
    fn base_type_drops_custom_suffixes_only() {
        let attribute = |data_type: &str| MessageAttribute {
            data_type: data_type.to_string(),
            value: AttributeValue::String("1".into()),
        };
        assert_eq!(attribute("Number.float").base_type(), "Number");
        assert_eq!(attribute("String").base_type(), "String");
        assert_eq!(attribute("String.Array").base_type(), "String.Array");
        assert_eq!(attribute("Binary.png").base_type(), "Binary");
    }
}
