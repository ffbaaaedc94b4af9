//! Typed requests: a request that validation has already checked against the
//! model (so its members have the model's types: blobs as bytes, whole integers)
//! is read into the action's own serde struct, in place of looking its fields up
//! by name one at a time.
//!
//! ```text
//! #[derive(Deserialize)]
//! #[serde(rename_all = "PascalCase")]
//! struct ListStreamsInput {
//!     limit: Option<i128>,
//!     exclusive_start_stream_name: Option<String>,
//! }
//! let input: ListStreamsInput = typed::read(&request)?;
//! ```
//!
//! A null member of a structure reads as absent.

use super::value::Value;
use crate::error::ApiError;
use serde::de::value::{MapDeserializer, SeqDeserializer};
use serde::de::{self, IntoDeserializer, Visitor};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

/// Reads the validated request `request`, a structure, into `T`.
pub(crate) fn read<'de, T: Deserialize<'de>>(request: &'de Value) -> Result<T, ApiError> {
    // The codecs and validation only hand on structures; anything else is a
    // malformed request, not a reason to panic.
    let Value::Map(map) = request else {
        return Err(ApiError::serialization("Expected a structure".into()));
    };
    T::deserialize(Members(map))
        .map_err(|error| ApiError::serialization(format!("Malformed request: {error}")))
}

/// A typed response as the tree the query-protocol and JSON 1.0 writers take, for
/// the services (SQS, SNS) whose answers still leave through that tree. Fails only
/// for a type serde_json cannot represent (a map with non-text keys), which is a
/// bug in the response type, so it is reported as an internal error.
pub(crate) fn respond<T: serde::Serialize>(response: &T) -> Result<Value, ApiError> {
    serde_json::to_value(response)
        .map(super::json::from_json)
        .map_err(|error| ApiError::internal(format!("response not encodable: {error}")))
}

/// A typed response written as JSON, straight from the type (the JSON 1.0
/// answers that need no tree), into a buffer of `capacity_bytes` (at least 128)
/// to start with: an answer that carries message bodies (ten of 1 KiB) would
/// otherwise grow its buffer from 128 bytes, copying what it holds at each of
/// seven doublings. Fails as [`respond`] does.
pub(crate) fn respond_json<T: serde::Serialize>(
    response: &T,
    capacity_bytes: usize,
) -> Result<Vec<u8>, ApiError> {
    let mut answer = Vec::with_capacity(capacity_bytes.max(128));
    serde_json::to_writer(&mut answer, response)
        .map_err(|error| ApiError::internal(format!("response not encodable: {error}")))?;
    Ok(answer)
}

/// Why a value could not be read into the requested type. Validation leaves
/// little room for it: a type narrower than the model's.
#[derive(Debug)]
pub(crate) struct ReadError(String);

impl fmt::Display for ReadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ReadError {}

impl de::Error for ReadError {
    fn custom<T: fmt::Display>(message: T) -> Self {
        ReadError(message.to_string())
    }
}

/// A structure's members, null ones left out.
struct Members<'de>(&'de BTreeMap<String, Value>);

impl<'de> Members<'de> {
    fn visit<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ReadError> {
        let present = self
            .0
            .iter()
            .filter(|(_, value)| **value != Value::Null)
            .map(|(name, value)| (name.as_str(), Reader(value)));
        let mut members = MapDeserializer::new(present);
        let read = visitor.visit_map(&mut members)?;
        members.end()?;
        Ok(read)
    }
}

impl<'de> de::Deserializer<'de> for Members<'de> {
    type Error = ReadError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ReadError> {
        self.visit(visitor)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf option unit unit_struct newtype_struct seq tuple tuple_struct map
        struct enum identifier ignored_any
    }
}

/// One value of the tree.
struct Reader<'de>(&'de Value);

impl<'de> IntoDeserializer<'de, ReadError> for Reader<'de> {
    type Deserializer = Self;

    fn into_deserializer(self) -> Self {
        self
    }
}

impl<'de> de::Deserializer<'de> for Reader<'de> {
    type Error = ReadError;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ReadError> {
        match self.0 {
            Value::Null => visitor.visit_unit(),
            Value::Bool(b) => visitor.visit_bool(*b),
            Value::Int(n) => match i64::try_from(*n) {
                Ok(n) => visitor.visit_i64(n),
                Err(_) => visitor.visit_i128(*n),
            },
            Value::Float(f) => visitor.visit_f64(*f),
            Value::Text(text) => visitor.visit_borrowed_str(text),
            Value::Bytes(bytes) => visitor.visit_borrowed_bytes(bytes),
            Value::Timestamp(ms) => visitor.visit_u64(*ms),
            Value::List(items) => {
                let mut items = SeqDeserializer::new(items.iter().map(Reader));
                let read = visitor.visit_seq(&mut items)?;
                items.end()?;
                Ok(read)
            }
            Value::Map(map) => Members(map).visit(visitor),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ReadError> {
        match self.0 {
            Value::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    /// Enums of the model are strings; their values are checked by validation.
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, ReadError> {
        match self.0 {
            Value::Text(text) => visitor.visit_enum(text.as_str().into_deserializer()),
            _ => self.deserialize_any(visitor).map_err(|_| {
                de::Error::custom(format!("{name} must be one of {}", variants.join(", ")))
            }),
        }
    }

    /// A map (not a structure) keeps its null values, so that an entry without a
    /// value is refused where the value's type needs one, rather than dropped.
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, ReadError> {
        match self.0 {
            Value::Map(map) => {
                let entries = map.iter().map(|(key, value)| (key.as_str(), Reader(value)));
                let mut entries = MapDeserializer::new(entries);
                let read = visitor.visit_map(&mut entries)?;
                entries.end()?;
                Ok(read)
            }
            _ => self.deserialize_any(visitor),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes
        byte_buf unit unit_struct newtype_struct seq tuple tuple_struct struct
        identifier ignored_any
    }
}

#[cfg(test)]
mod tests {
    //! Validated trees read into typed requests.
    use super::*;
    use crate::protocol::value::Format;

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Input {
        name: String,
        count: Option<i128>,
        #[serde(rename = "StreamARN")]
        arn: Option<String>,
        mode: Option<Mode>,
        #[serde(default)]
        tags: BTreeMap<String, String>,
        keys: Option<Vec<String>>,
        nested: Option<Nested>,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "SCREAMING_SNAKE_CASE")]
    enum Mode {
        OnDemand,
        Provisioned,
    }

    #[derive(Debug, Deserialize, PartialEq)]
    #[serde(rename_all = "PascalCase")]
    struct Nested {
        flag: bool,
    }

    fn read_json(json: &str) -> Result<Input, ApiError> {
        read(&Format::Json.decode(json.as_bytes()).unwrap())
    }

    /// Every kind of member reads into its field; null and absent members are None.
    #[test]
    fn members_read_into_fields() {
        let input = read_json(
            r#"{"Name":"s","Count":3,"StreamARN":null,"Mode":"ON_DEMAND","Tags":{"a":"b"},
                "Keys":["x","y"],"Nested":{"Flag":true},"Unknown":1}"#,
        )
        .unwrap();
        assert_eq!(
            input,
            Input {
                name: "s".into(),
                count: Some(3),
                arn: None,
                mode: Some(Mode::OnDemand),
                tags: BTreeMap::from([("a".into(), "b".into())]),
                keys: Some(vec!["x".into(), "y".into()]),
                nested: Some(Nested { flag: true }),
            }
        );
        let input = read_json(r#"{"Name":"s","Mode":"PROVISIONED","Tags":null}"#).unwrap();
        assert_eq!(input.mode, Some(Mode::Provisioned));
        assert!(input.tags.is_empty() && input.count.is_none());
    }

    /// A value the type cannot hold, or a request that is not a structure, is a
    /// SerializationException, never a panic.
    #[test]
    fn mismatches_are_serialization_errors() {
        for json in [
            r#"{"Count":1}"#,
            r#"{"Name":1}"#,
            r#"{"Name":"s","Mode":"SOMETIMES"}"#,
            r#"{"Name":"s","Keys":[1]}"#,
        ] {
            let error = read_json(json).unwrap_err();
            assert_eq!(error.code, "SerializationException", "{json}");
        }
        let error = read::<Input>(&Value::List(Vec::new())).unwrap_err();
        assert_eq!(error.code, "SerializationException");
    }

    #[derive(serde::Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Output {
        queue_url: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        next_token: Option<String>,
        count: u32,
        entries: Vec<Nested2>,
    }

    #[derive(serde::Serialize)]
    #[serde(rename_all = "PascalCase")]
    struct Nested2 {
        id: String,
    }

    /// A typed response becomes the tree its writers take: names as renamed,
    /// skipped members absent, numbers whole, lists in order.
    #[test]
    fn responses_become_the_tree() {
        let output = Output {
            queue_url: "u".into(),
            next_token: None,
            count: 7,
            entries: vec![Nested2 { id: "a".into() }, Nested2 { id: "b".into() }],
        };
        let entry = |id: &str| Value::Map(BTreeMap::from([("Id".into(), Value::Text(id.into()))]));
        let expected = Value::Map(BTreeMap::from([
            ("QueueUrl".into(), Value::Text("u".into())),
            ("Count".into(), Value::Int(7)),
            ("Entries".into(), Value::List(vec![entry("a"), entry("b")])),
        ]));
        assert_eq!(respond(&output).unwrap(), expected);
    }

    /// A map entry without a value is a SerializationException, not dropped:
    /// maps keep their nulls where structures treat a null member as absent.
    #[test]
    fn map_entries_need_values() {
        let error = read_json(r#"{"Name":"s","Tags":{"a":null}}"#).unwrap_err();
        assert_eq!(error.code, "SerializationException");
        let input = read_json(r#"{"Name":"s","Tags":{"a":"b"},"Count":null}"#).unwrap();
        assert_eq!(input.tags.len(), 1);
    }
}
