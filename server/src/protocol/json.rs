//! JSON request bodies (`application/x-amz-json-1.1`) into the [`Value`] tree that
//! validation checks. Responses are written by serde_json (`Format::encode`).

use super::value::Value;
use crate::error::ApiError;

/// Decodes a JSON body.
pub(crate) fn decode(body: &[u8]) -> Result<Value, ApiError> {
    let json: serde_json::Value = serde_json::from_slice(body)
        .map_err(|error| ApiError::serialization(format!("Malformed JSON body: {error}")))?;
    Ok(from_json(json))
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
