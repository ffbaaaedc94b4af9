//! Request and response bodies in both wire formats, as one tree.
//!
//! `application/x-amz-json-1.1` (`json`): blobs are base64 strings,
//! timestamps epoch seconds (floating point). `application/x-amz-cbor-1.1`
//! (`cbor`): blobs are byte strings, timestamps integer epoch
//! milliseconds. Handlers see one [`Value`] tree either way and answer with one;
//! the codec of the request encodes the answer.

use super::wire::{Blob, Timestamp};
use crate::error::ApiError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;

/// A decoded body.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    /// Null.
    Null,
    /// Boolean.
    Bool(bool),
    /// Integer.
    Int(i128),
    /// Floating point.
    Float(f64),
    /// Text (in JSON also a base64 blob).
    Text(String),
    /// Bytes (CBOR blobs; encoded as base64 text in JSON).
    Bytes(Vec<u8>),
    /// A timestamp, ms since the epoch (validation turns a request's into this).
    Timestamp(u64),
    /// A list.
    List(Vec<Value>),
    /// A structure or map.
    Map(BTreeMap<String, Value>),
}

/// The wire format of a request, which its response uses too.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `application/x-amz-json-1.1`.
    Json,
    /// `application/x-amz-cbor-1.1`.
    Cbor,
}

impl Format {
    /// From a Content-Type header; `None` for a type this API does not speak.
    pub fn from_content_type(content_type: &str) -> Option<Format> {
        let essence = content_type.split(';').next().unwrap_or("").trim();
        match essence {
            "application/x-amz-json-1.1" => Some(Format::Json),
            "application/x-amz-cbor-1.1" | "application/cbor" => Some(Format::Cbor),
            _ => None,
        }
    }

    /// The Content-Type of responses.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Json => "application/x-amz-json-1.1",
            Format::Cbor => "application/x-amz-cbor-1.1",
        }
    }

    /// Decodes a request body (an empty body is an empty structure).
    pub fn decode(self, body: &[u8]) -> Result<Value, ApiError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Ok(Value::Map(BTreeMap::new()));
        }
        let value = match self {
            Format::Json => super::json::decode(body)?,
            Format::Cbor => super::cbor::decode(body)?,
        };
        match value {
            Value::Map(_) => Ok(value),
            _ => Err(ApiError::serialization(
                "The request body must be a structure".into(),
            )),
        }
    }

    /// Encodes a response tree (as [`Format::serialize`] does).
    pub fn encode(self, value: &Value) -> Vec<u8> {
        self.serialize(value)
    }

    /// Encodes a response body: one serde codec per format (serde_json, ciborium),
    /// which the wire types of [`wire`](super::wire) tell apart.
    pub fn serialize<T: Serialize + ?Sized>(self, body: &T) -> Vec<u8> {
        let mut out = Vec::new();
        self.serialize_into(body, &mut out);
        out
    }

    /// Appends a response body to `out` (an event-stream frame being built).
    pub fn serialize_into<T: Serialize + ?Sized>(self, body: &T, out: &mut Vec<u8>) {
        match self {
            Format::Json => serde_json::to_writer(out, body).expect("response bodies serialize"),
            Format::Cbor => ciborium::into_writer(body, out).expect("CBOR into a Vec"),
        }
    }
}

/// A tree written as the typed responses are: blobs and timestamps through the
/// wire types, integers beyond 64 bits as floats.
impl Serialize for Value {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            Value::Null => serializer.serialize_unit(),
            Value::Bool(b) => serializer.serialize_bool(*b),
            Value::Int(i) => match i64::try_from(*i) {
                Ok(i) => serializer.serialize_i64(i),
                Err(_) => serializer.serialize_f64(*i as f64),
            },
            Value::Float(f) => serializer.serialize_f64(*f),
            Value::Text(text) => serializer.serialize_str(text),
            Value::Bytes(bytes) => Blob(bytes.as_slice()).serialize(serializer),
            Value::Timestamp(ms) => Timestamp(*ms).serialize(serializer),
            Value::List(items) => serializer.collect_seq(items),
            Value::Map(map) => serializer.collect_map(map),
        }
    }
}

/// Typed access to a request structure, with Kinesis's error for each misuse.
#[derive(Debug, Clone, Copy)]
pub struct Fields<'a> {
    map: &'a BTreeMap<String, Value>,
    format: Format,
}

fn type_error(name: &str, expected: &str) -> ApiError {
    ApiError::serialization(format!("Field '{name}' must be {expected}"))
}

impl<'a> Fields<'a> {
    /// Fields of a structure.
    pub fn new(value: &'a Value, format: Format) -> Result<Self, ApiError> {
        match value {
            Value::Map(map) => Ok(Fields { map, format }),
            _ => Err(ApiError::serialization("Expected a structure".into())),
        }
    }

    /// The wire format the fields came in.
    pub fn format(&self) -> Format {
        self.format
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.map.get(name).filter(|value| **value != Value::Null)
    }

    /// The whole structure read into an action's typed request (see `typed`).
    pub(crate) fn typed<T: serde::Deserialize<'a>>(&self) -> Result<T, ApiError> {
        super::typed::read(self.map)
    }

    /// An optional string.
    pub fn str(&self, name: &str) -> Result<Option<&'a str>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Text(text)) => Ok(Some(text)),
            Some(_) => Err(type_error(name, "a string")),
        }
    }

    /// A required string.
    pub fn required_str(&self, name: &str) -> Result<&'a str, ApiError> {
        self.str(name)?.ok_or_else(|| ApiError::missing(name))
    }

    /// An optional integer.
    pub fn int(&self, name: &str) -> Result<Option<i128>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Int(i)) => Ok(Some(*i)),
            Some(Value::Float(f)) if f.fract() == 0.0 && f.is_finite() => Ok(Some(*f as i128)),
            Some(_) => Err(type_error(name, "an integer")),
        }
    }

    /// An optional boolean.
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(type_error(name, "a boolean")),
        }
    }

    /// A required blob: base64 text in JSON, bytes in CBOR.
    pub fn required_blob(&self, name: &str) -> Result<Vec<u8>, ApiError> {
        match self.get(name) {
            None => Err(ApiError::missing(name)),
            Some(Value::Bytes(bytes)) => Ok(bytes.clone()),
            Some(Value::Text(text)) if self.format == Format::Json => STANDARD
                .decode(text)
                .map_err(|_| type_error(name, "base64-encoded binary data")),
            Some(_) => Err(type_error(name, "binary data")),
        }
    }

    /// An optional list.
    pub fn list(&self, name: &str) -> Result<Option<&'a [Value]>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(Value::List(items)) => Ok(Some(items)),
            Some(_) => Err(type_error(name, "a list")),
        }
    }

    /// An optional nested structure.
    pub fn structure(&self, name: &str) -> Result<Option<Fields<'a>>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(value @ Value::Map(_)) => Fields::new(value, self.format).map(Some),
            Some(_) => Err(type_error(name, "a structure")),
        }
    }

    /// An optional list of strings (empty when absent).
    pub fn string_list(&self, name: &str) -> Result<Vec<String>, ApiError> {
        self.list(name)?
            .unwrap_or_default()
            .iter()
            .map(|item| match item {
                Value::Text(text) => Ok(text.clone()),
                _ => Err(type_error(name, "a list of strings")),
            })
            .collect()
    }

    /// Every member of the structure or map, in name order.
    pub fn entries(&self) -> impl Iterator<Item = (&'a String, &'a Value)> {
        self.map.iter().filter(|(_, value)| **value != Value::Null)
    }

    /// An optional map of string to string.
    pub fn string_map(&self, name: &str) -> Result<BTreeMap<String, String>, ApiError> {
        match self.get(name) {
            None => Ok(BTreeMap::new()),
            Some(Value::Map(map)) => map
                .iter()
                .map(|(key, value)| match value {
                    Value::Text(text) => Ok((key.clone(), text.clone())),
                    _ => Err(type_error(name, "a map of strings")),
                })
                .collect(),
            Some(_) => Err(type_error(name, "a map")),
        }
    }
}

/// Builds a response structure.
#[derive(Debug, Default)]
pub struct Out(BTreeMap<String, Value>);

impl Out {
    /// An empty structure.
    pub fn new() -> Self {
        Out::default()
    }

    /// Adds a field.
    pub fn with(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.0.insert(name.to_string(), value.into());
        self
    }

    /// Adds a field when present.
    pub fn maybe(self, name: &str, value: Option<impl Into<Value>>) -> Self {
        match value {
            Some(value) => self.with(name, value),
            None => self,
        }
    }
}

impl From<Out> for Value {
    fn from(out: Out) -> Value {
        Value::Map(out.0)
    }
}

impl From<&str> for Value {
    fn from(text: &str) -> Value {
        Value::Text(text.to_string())
    }
}

impl From<shardlog_engine::ShardId> for Value {
    fn from(shard: shardlog_engine::ShardId) -> Value {
        Value::Text(shard.to_string())
    }
}

impl From<String> for Value {
    fn from(text: String) -> Value {
        Value::Text(text)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

impl From<u64> for Value {
    fn from(n: u64) -> Value {
        Value::Int(i128::from(n))
    }
}

impl From<usize> for Value {
    fn from(n: usize) -> Value {
        Value::Int(n as i128)
    }
}

impl From<u32> for Value {
    fn from(n: u32) -> Value {
        Value::Int(i128::from(n))
    }
}

impl From<Vec<Value>> for Value {
    fn from(items: Vec<Value>) -> Value {
        Value::List(items)
    }
}

#[cfg(test)]
mod tests {
    //! Both codecs: blobs, timestamps, errors on malformed bodies.
    use super::*;

    /// JSON blobs are base64 and timestamps seconds; CBOR blobs are bytes and
    /// timestamps milliseconds; both decode to the same fields.
    #[test]
    fn blobs_and_timestamps_in_both_formats() {
        let json = br#"{"Data":"aGVsbG8=","Timestamp":1700000000.5,"Limit":10}"#;
        let value = Format::Json.decode(json).unwrap();
        let fields = Fields::new(&value, Format::Json).unwrap();
        assert_eq!(fields.required_blob("Data").unwrap(), b"hello");
        assert_eq!(fields.int("Limit").unwrap(), Some(10));
        let cbor_in = ciborium::Value::Map(vec![
            (
                ciborium::Value::Text("Data".into()),
                ciborium::Value::Bytes(b"hello".to_vec()),
            ),
            (
                ciborium::Value::Text("Timestamp".into()),
                ciborium::Value::Integer(1_700_000_000_500u64.into()),
            ),
        ]);
        let mut body = Vec::new();
        ciborium::into_writer(&cbor_in, &mut body).unwrap();
        let value = Format::Cbor.decode(&body).unwrap();
        let fields = Fields::new(&value, Format::Cbor).unwrap();
        assert_eq!(fields.required_blob("Data").unwrap(), b"hello");
        let out: Value = Out::new()
            .with("Data", Value::Bytes(b"hi".to_vec()))
            .with("T", Value::Timestamp(1500))
            .into();
        assert_eq!(Format::Json.encode(&out), br#"{"Data":"aGk=","T":1.5}"#);
        let decoded: ciborium::Value =
            ciborium::from_reader(&Format::Cbor.encode(&out)[..]).unwrap();
        let ciborium::Value::Map(entries) = decoded else {
            panic!("a map")
        };
        assert!(entries.contains(&(
            ciborium::Value::Text("Data".into()),
            ciborium::Value::Bytes(b"hi".to_vec())
        )));
        assert!(entries.contains(&(
            ciborium::Value::Text("T".into()),
            ciborium::Value::Integer(1500.into())
        )));
    }

    /// Malformed bodies and wrong field types are SerializationExceptions.
    #[test]
    fn malformed_bodies() {
        for body in [&b"{"[..], b"[1,2]", b"\"text\""] {
            let error = Format::Json.decode(body).unwrap_err();
            assert_eq!(error.code, "SerializationException");
        }
        let value = Format::Json
            .decode(br#"{"StreamName":5,"Data":"!!"}"#)
            .unwrap();
        let fields = Fields::new(&value, Format::Json).unwrap();
        assert_eq!(
            fields.str("StreamName").unwrap_err().code,
            "SerializationException"
        );
        assert_eq!(
            fields.required_blob("Data").unwrap_err().code,
            "SerializationException"
        );
        assert_eq!(
            fields.required_str("Missing").unwrap_err().code,
            "ValidationException"
        );
        assert!(Format::Cbor.decode(&[0xff, 0x00]).is_err());
    }
}
