//! The JSON codec (`application/x-amz-json-1.1`): bodies to and from the
//! [`Value`] tree. Blobs are base64 text and timestamps epoch seconds on the wire.

use super::value::Value;
use crate::error::ApiError;
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;

/// Decodes a JSON body.
pub(crate) fn decode(body: &[u8]) -> Result<Value, ApiError> {
    let json: serde_json::Value = serde_json::from_slice(body)
        .map_err(|error| ApiError::serialization(format!("Malformed JSON body: {error}")))?;
    Ok(from_json(json))
}

/// Encodes a body as JSON.
pub(crate) fn encode(value: &Value) -> Vec<u8> {
    serde_json::to_vec(&to_json(value)).expect("JSON values serialize")
}

fn from_json(json: serde_json::Value) -> Value {
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

fn to_json(value: &Value) -> serde_json::Value {
    match value {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => serde_json::Value::Bool(*b),
        Value::Int(i) => match i64::try_from(*i) {
            Ok(i) => serde_json::Value::from(i),
            Err(_) => serde_json::Value::from(*i as f64),
        },
        Value::Float(f) => serde_json::Value::from(*f),
        Value::Text(s) => serde_json::Value::String(s.clone()),
        Value::Bytes(b) => serde_json::Value::String(STANDARD.encode(b)),
        Value::Timestamp(ms) => serde_json::Value::from(*ms as f64 / 1000.0),
        Value::List(items) => serde_json::Value::Array(items.iter().map(to_json).collect()),
        Value::Map(map) => {
            serde_json::Value::Object(map.iter().map(|(k, v)| (k.clone(), to_json(v))).collect())
        }
    }
}
