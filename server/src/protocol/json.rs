//! JSON request bodies (`application/x-amz-json-1.1`) into the [`Value`] tree that
//! validation checks. Responses are written by serde_json (`Format::encode`).

use super::value::Value;
use crate::error::ApiError;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use std::collections::BTreeMap;
use std::fmt;

/// Decodes a JSON body straight into the tree (no serde_json tree in between:
/// a PutRecords body of 500 records would otherwise be built twice).
pub(crate) fn decode(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice::<Tree>(body)
        .map(|tree| tree.0)
        .map_err(|error| ApiError::serialization(format!("Malformed JSON body: {error}")))
}

/// A serde_json tree as a [`Value`] tree (numbers as integers where they are whole).
pub(crate) fn from_json(json: serde_json::Value) -> Value {
    match json {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i128::from(i)),
            None => match n.as_u64() {
                Some(u) => Value::Int(i128::from(u)),
                None => Value::Float(n.as_f64().unwrap_or(f64::NAN)),
            },
        },
        serde_json::Value::String(s) => Value::Text(s),
        serde_json::Value::Array(items) => Value::List(items.into_iter().map(from_json).collect()),
        serde_json::Value::Object(map) => {
            Value::Map(map.into_iter().map(|(k, v)| (k, from_json(v))).collect())
        }
    }
}

/// A JSON document read as a [`Value`], with the numbers of [`from_json`]:
/// whole numbers that fit 64 bits are integers, all others floats.
struct Tree(Value);

impl<'de> Deserialize<'de> for Tree {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Tree, D::Error> {
        deserializer.deserialize_any(TreeVisitor)
    }
}

struct TreeVisitor;

impl<'de> Visitor<'de> for TreeVisitor {
    type Value = Tree;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E: de::Error>(self) -> Result<Tree, E> {
        Ok(Tree(Value::Null))
    }

    fn visit_bool<E: de::Error>(self, b: bool) -> Result<Tree, E> {
        Ok(Tree(Value::Bool(b)))
    }

    fn visit_i64<E: de::Error>(self, n: i64) -> Result<Tree, E> {
        Ok(Tree(Value::Int(i128::from(n))))
    }

    fn visit_u64<E: de::Error>(self, n: u64) -> Result<Tree, E> {
        Ok(Tree(Value::Int(i128::from(n))))
    }

    fn visit_f64<E: de::Error>(self, f: f64) -> Result<Tree, E> {
        Ok(Tree(Value::Float(f)))
    }

    fn visit_str<E: de::Error>(self, text: &str) -> Result<Tree, E> {
        Ok(Tree(Value::Text(text.to_owned())))
    }

    fn visit_string<E: de::Error>(self, text: String) -> Result<Tree, E> {
        Ok(Tree(Value::Text(text)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Tree, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(Tree(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Tree(Value::List(items)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Tree, A::Error> {
        let mut entries = BTreeMap::new();
        // A repeated key keeps its last value, as serde_json's own map does.
        while let Some((key, Tree(value))) = map.next_entry::<String, Tree>()? {
            entries.insert(key, value);
        }
        Ok(Tree(Value::Map(entries)))
    }
}

#[cfg(test)]
mod tests {
    //! The direct decoder reads every JSON document as the serde_json tree did.
    use super::*;
    use proptest::prelude::*;

    /// JSON documents of every kind of value, nested.
    fn documents() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::Bool),
            any::<i64>().prop_map(serde_json::Value::from),
            any::<u64>().prop_map(serde_json::Value::from),
            any::<f64>()
                .prop_filter("finite", |f| f.is_finite())
                .prop_map(serde_json::Value::from),
            ".*".prop_map(serde_json::Value::String),
        ];
        leaf.prop_recursive(4, 64, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(serde_json::Value::Array),
                prop::collection::btree_map(".{0,6}", inner, 0..8)
                    .prop_map(|map| serde_json::Value::Object(map.into_iter().collect())),
            ]
        })
    }

    proptest! {
        /// Decoding text straight into the tree gives what decoding it into
        /// serde_json's tree and converting gives (numbers, escapes, nesting).
        #[test]
        fn decodes_as_the_serde_json_tree(document in documents()) {
            let text = serde_json::to_vec(&document).unwrap();
            let through_serde_json: serde_json::Value = serde_json::from_slice(&text).unwrap();
            prop_assert_eq!(decode(&text).unwrap(), from_json(through_serde_json));
        }
    }

    /// Repeated keys keep the last value; a malformed body is a SerializationException.
    #[test]
    fn repeated_keys_and_malformed_bodies() {
        let Value::Map(map) =
            decode(br#"{"a":1,"a":"x","b":1.5,"c":18446744073709551615}"#).unwrap()
        else {
            panic!("a structure")
        };
        assert_eq!(map["a"], Value::Text("x".into()));
        assert_eq!(map["b"], Value::Float(1.5));
        assert_eq!(map["c"], Value::Int(i128::from(u64::MAX)));
        let error = decode(br#"{"a":"#).unwrap_err();
        assert_eq!(error.code, "SerializationException");
        assert!(
            error.message.starts_with("Malformed JSON body"),
            "{}",
            error.message
        );
    }
}
