//! The Kinesis CBOR wire (`application/x-amz-cbor-1.1`, what the Java SDK and KPL
//! send) for callers that build their requests as JSON: members named `Data`
//! (base64 text in JSON) travel as byte strings, and answers come back as the
//! JSON the same call over JSON 1.1 would give for blobs (base64 text). CBOR
//! timestamps (integer ms) are not converted to JSON's seconds: callers that
//! read them use the JSON wire.

use super::{service_error, Client, ClientError, TARGET_PREFIX};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use serde_json::Value;

/// The Content-Type of the CBOR wire.
const CONTENT_TYPE: &str = "application/x-amz-cbor-1.1";
/// The member name of Kinesis's blobs (PutRecord(s)' and GetRecords' `Data`).
const BLOB_MEMBER: &str = "Data";

impl Client {
    /// POSTs `body` as `Kinesis_20131202.<action>` in CBOR and returns the answer as
    /// JSON (see the module documentation for what is converted).
    pub fn call_cbor(&self, action: &str, body: &Value) -> Result<Value, ClientError> {
        let mut encoded = Vec::new();
        ciborium::into_writer(&to_cbor(body, false)?, &mut encoded)
            .map_err(|error| ClientError::Decode(format!("encoding {action}: {error}")))?;
        let mut answer = Vec::new();
        let status = self.send((TARGET_PREFIX, action), CONTENT_TYPE, &encoded, &mut answer)?;
        if answer.iter().all(u8::is_ascii_whitespace) {
            return match status {
                400.. => Err(service_error(status, "")),
                _ => Ok(Value::Object(serde_json::Map::new())),
            };
        }
        let json = answer_json(action, status, &answer)?;
        if status >= 400 {
            return Err(service_error(status, &json.to_string()));
        }
        Ok(json)
    }

    /// POSTs `body`, already CBOR, as `Kinesis_20131202.<action>` and reads the CBOR
    /// answer into `answer` (cleared first), as [`Client::send_json`] does for JSON.
    pub fn send_cbor(
        &self,
        action: &str,
        body: &[u8],
        answer: &mut Vec<u8>,
    ) -> Result<(), ClientError> {
        let status = self.send((TARGET_PREFIX, action), CONTENT_TYPE, body, answer)?;
        if status < 400 {
            return Ok(());
        }
        let text = match answer.iter().all(u8::is_ascii_whitespace) {
            true => String::new(),
            false => answer_json(action, status, answer)?.to_string(),
        };
        Err(service_error(status, &text))
    }
}

/// A CBOR answer of `action` (HTTP `status`) as JSON.
fn answer_json(action: &str, status: u16, answer: &[u8]) -> Result<Value, ClientError> {
    let cbor: ciborium::Value = ciborium::from_reader(answer).map_err(|error| {
        ClientError::Decode(format!("{action} answered HTTP {status} with {error}"))
    })?;
    to_json(cbor)
}

/// `value` as CBOR; `blob`: it is a `Data` member, base64 text to send as bytes.
fn to_cbor(value: &Value, blob: bool) -> Result<ciborium::Value, ClientError> {
    Ok(match value {
        Value::Null => ciborium::Value::Null,
        Value::Bool(b) => ciborium::Value::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => ciborium::Value::Integer(i.into()),
            (None, Some(u)) => ciborium::Value::Integer(u.into()),
            (None, None) => ciborium::Value::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(text) if blob => {
            let bytes = STANDARD
                .decode(text)
                .map_err(|error| ClientError::Decode(format!("Data is not base64: {error}")))?;
            ciborium::Value::Bytes(bytes)
        }
        Value::String(text) => ciborium::Value::Text(text.clone()),
        Value::Array(items) => ciborium::Value::Array(
            items
                .iter()
                .map(|item| to_cbor(item, false))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(members) => ciborium::Value::Map(
            members
                .iter()
                .map(|(name, item)| {
                    let item = to_cbor(item, name == BLOB_MEMBER)?;
                    Ok((ciborium::Value::Text(name.clone()), item))
                })
                .collect::<Result<_, ClientError>>()?,
        ),
    })
}

/// A CBOR answer as JSON: byte strings as base64 text, tags as their content.
fn to_json(value: ciborium::Value) -> Result<Value, ClientError> {
    Ok(match value {
        ciborium::Value::Null => Value::Null,
        ciborium::Value::Bool(b) => Value::Bool(b),
        ciborium::Value::Integer(i) => {
            let i = i128::from(i);
            match (i64::try_from(i), u64::try_from(i)) {
                (Ok(i), _) => Value::from(i),
                (_, Ok(u)) => Value::from(u),
                _ => Value::from(i as f64),
            }
        }
        ciborium::Value::Float(f) => Value::from(f),
        ciborium::Value::Text(text) => Value::String(text),
        ciborium::Value::Bytes(bytes) => Value::String(STANDARD.encode(bytes)),
        ciborium::Value::Tag(_, inner) => to_json(*inner)?,
        ciborium::Value::Array(items) => {
            Value::Array(items.into_iter().map(to_json).collect::<Result<_, _>>()?)
        }
        ciborium::Value::Map(entries) => {
            let mut members = serde_json::Map::new();
            for (name, item) in entries {
                let ciborium::Value::Text(name) = name else {
                    return Err(ClientError::Decode("a CBOR map key is not text".into()));
                };
                members.insert(name, to_json(item)?);
            }
            Value::Object(members)
        }
        other => return Err(ClientError::Decode(format!("unexpected CBOR {other:?}"))),
    })
}

#[cfg(test)]
mod tests {
    //! The JSON-to-CBOR conversion of requests and answers.
    use super::*;
    use serde_json::json;

    /// `Data` members go as bytes, other text as text; answers' bytes come back
    /// as base64 and integers as integers, so that a JSON caller reads both wires alike.
    #[test]
    fn data_members_travel_as_bytes() {
        let body = json!({"StreamName": "s", "Limit": 5, "Records": [{"Data": "aGk=", "PartitionKey": "k"}]});
        let cbor = to_cbor(&body, false).unwrap();
        let ciborium::Value::Map(members) = &cbor else {
            panic!("a map: {cbor:?}")
        };
        let records = &members
            .iter()
            .find(|(k, _)| k.as_text() == Some("Records"))
            .unwrap()
            .1;
        let record = &records.as_array().unwrap()[0];
        let data = record
            .as_map()
            .unwrap()
            .iter()
            .find(|(k, _)| k.as_text() == Some("Data"));
        assert_eq!(data.unwrap().1, ciborium::Value::Bytes(b"hi".to_vec()));
        assert_eq!(
            to_json(cbor).unwrap(),
            json!({"StreamName": "s", "Limit": 5, "Records": [{"Data": "aGk=", "PartitionKey": "k"}]})
        );
        let bad = json!({"Data": "not base64!"});
        assert!(matches!(to_cbor(&bad, false), Err(ClientError::Decode(_))));
    }
}
