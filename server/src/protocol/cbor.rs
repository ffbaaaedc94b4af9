//! The CBOR codec (`application/x-amz-cbor-1.1`): bodies to and from the
//! [`Value`] tree. Blobs are byte strings and timestamps integer epoch
//! milliseconds on the wire; requests may also tag seconds (tag 1).

use super::value::Value;
use crate::error::ApiError;
use std::collections::BTreeMap;

/// Decodes a CBOR body.
pub(crate) fn decode(body: &[u8]) -> Result<Value, ApiError> {
    let cbor: ciborium::Value = ciborium::from_reader(body)
        .map_err(|error| ApiError::serialization(format!("Malformed CBOR body: {error}")))?;
    from_cbor(cbor)
}

/// Encodes a body as CBOR.
pub(crate) fn encode(value: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    ciborium::into_writer(&to_cbor(value), &mut out).expect("CBOR into a Vec");
    out
}

fn from_cbor(cbor: ciborium::Value) -> Result<Value, ApiError> {
    Ok(match cbor {
        ciborium::Value::Null => Value::Null,
        ciborium::Value::Bool(b) => Value::Bool(b),
        ciborium::Value::Integer(i) => Value::Int(i128::from(i)),
        ciborium::Value::Float(f) => Value::Float(f),
        ciborium::Value::Text(s) => Value::Text(s),
        ciborium::Value::Bytes(b) => Value::Bytes(b),
        // Tag 1: epoch-based date/time in seconds.
        ciborium::Value::Tag(1, inner) => match *inner {
            ciborium::Value::Integer(i) => Value::Float(i128::from(i) as f64),
            ciborium::Value::Float(f) => Value::Float(f),
            _ => return Err(ApiError::serialization("Malformed CBOR timestamp".into())),
        },
        ciborium::Value::Tag(_, inner) => from_cbor(*inner)?,
        ciborium::Value::Array(items) => {
            Value::List(items.into_iter().map(from_cbor).collect::<Result<_, _>>()?)
        }
        ciborium::Value::Map(entries) => {
            let mut map = BTreeMap::new();
            for (key, value) in entries {
                let ciborium::Value::Text(key) = key else {
                    return Err(ApiError::serialization("CBOR map keys must be text".into()));
                };
                map.insert(key, from_cbor(value)?);
            }
            Value::Map(map)
        }
        _ => return Err(ApiError::serialization("Unsupported CBOR value".into())),
    })
}

fn to_cbor(value: &Value) -> ciborium::Value {
    match value {
        Value::Null => ciborium::Value::Null,
        Value::Bool(b) => ciborium::Value::Bool(*b),
        Value::Int(i) => match i64::try_from(*i) {
            Ok(i) => ciborium::Value::Integer(i.into()),
            Err(_) => ciborium::Value::Float(*i as f64),
        },
        Value::Float(f) => ciborium::Value::Float(*f),
        Value::Text(s) => ciborium::Value::Text(s.clone()),
        Value::Bytes(b) => ciborium::Value::Bytes(b.clone()),
        Value::Timestamp(ms) => ciborium::Value::Integer((*ms).into()),
        Value::List(items) => ciborium::Value::Array(items.iter().map(to_cbor).collect()),
        Value::Map(map) => ciborium::Value::Map(
            map.iter()
                .map(|(k, v)| (ciborium::Value::Text(k.clone()), to_cbor(v)))
                .collect(),
        ),
    }
}
