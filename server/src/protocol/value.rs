//! Request and response bodies in both wire formats, as one tree.
//!
//! `application/x-amz-json-1.1` (`json`): blobs are base64 strings,
//! timestamps epoch seconds (floating point). `application/x-amz-cbor-1.1`
//! (`cbor`): blobs are byte strings, timestamps integer epoch
//! milliseconds. A request decodes to one [`Value`] tree either way, which
//! validation checks and each action reads into its own struct (`typed::read`);
//! the codec of the request encodes the answer.

use super::wire::{Blob, Timestamp};
use crate::error::ApiError;
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

#[cfg(test)]
mod tests {
    //! Both codecs: blobs, timestamps, errors on malformed bodies.
    use super::*;

    /// JSON blobs arrive as base64 text (validation decodes them) and CBOR blobs
    /// as bytes; answers write bytes as base64 and timestamps as seconds in JSON,
    /// as bytes and milliseconds in CBOR.
    #[test]
    fn blobs_and_timestamps_in_both_formats() {
        let json = br#"{"Data":"aGVsbG8=","Limit":10}"#;
        let Value::Map(map) = Format::Json.decode(json).unwrap() else {
            panic!("a structure")
        };
        assert_eq!(map["Data"], Value::Text("aGVsbG8=".into()));
        assert_eq!(map["Limit"], Value::Int(10));
        let cbor_in = ciborium::Value::Map(vec![(
            ciborium::Value::Text("Data".into()),
            ciborium::Value::Bytes(b"hello".to_vec()),
        )]);
        let mut body = Vec::new();
        ciborium::into_writer(&cbor_in, &mut body).unwrap();
        let Value::Map(map) = Format::Cbor.decode(&body).unwrap() else {
            panic!("a structure")
        };
        assert_eq!(map["Data"], Value::Bytes(b"hello".to_vec()));
        let out = Value::Map(BTreeMap::from([
            ("Data".to_string(), Value::Bytes(b"hi".to_vec())),
            ("T".to_string(), Value::Timestamp(1500)),
        ]));
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

    /// Malformed bodies, and a body that is not a structure, are SerializationExceptions.
    #[test]
    fn malformed_bodies() {
        for body in [&b"{"[..], b"[1,2]", b"\"text\""] {
            let error = Format::Json.decode(body).unwrap_err();
            assert_eq!(error.code, "SerializationException");
        }
        assert!(Format::Cbor.decode(&[0xff, 0x00]).is_err());
    }
}
