//! CBOR request bodies (`application/x-amz-cbor-1.1`) into the [`Value`] tree that
//! validation checks: blobs are byte strings, timestamps integer epoch ms or tagged
//! seconds (tag 1). Responses are written by ciborium (`Format::encode`).

use super::value::Value;
use crate::error::ApiError;
use std::collections::BTreeMap;

/// Decodes a CBOR body.
pub(crate) fn decode(body: &[u8]) -> Result<Value, ApiError> {
    let cbor: ciborium::Value = ciborium::from_reader(body)
        .map_err(|error| ApiError::serialization(format!("Malformed CBOR body: {error}")))?;
    from_cbor(cbor)
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
