//! The producers' PutRecords bodies and answers. The load generator runs on the
//! same cores as the server it measures, so it must cost far less than the
//! server: each call's body is written into one reused buffer (the payload
//! encoded once, per record only its key written), and of the answer only what
//! the bench uses is read (the failed count and where the first record went),
//! without building a tree of the 500 entries.

use super::http::Wire;
use base64::Engine as _;
use serde::de::{DeserializeOwned, IgnoredAny, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;

/// A producer's PutRecords body, re-encoded per call into the same buffer.
pub struct PutBody {
    wire: Wire,
    stream: String,
    /// The payload as the wire carries it: raw bytes (CBOR), or base64 text
    /// between JSON quotes (JSON, so that a record's `Data` is one copy).
    data: Vec<u8>,
    body: Vec<u8>,
}

impl PutBody {
    /// The body of PutRecords calls to `stream` whose every record carries `payload`.
    pub fn new(wire: Wire, stream: &str, payload: &[u8]) -> PutBody {
        let data = match wire {
            Wire::Cbor => payload.to_vec(),
            Wire::Json => {
                let text = base64::engine::general_purpose::STANDARD.encode(payload);
                // Base64 text needs no JSON escaping.
                format!("\"{text}\"").into_bytes()
            }
        };
        PutBody {
            wire,
            stream: stream.to_string(),
            data,
            body: Vec::new(),
        }
    }

    /// The body of one call: a record per key, in order.
    pub fn encode(&mut self, keys: &[String]) -> &[u8] {
        self.body.clear();
        match self.wire {
            Wire::Json => self.encode_json(keys),
            Wire::Cbor => {
                let request = Request {
                    stream_name: &self.stream,
                    records: Records {
                        data: &self.data,
                        keys,
                    },
                };
                ciborium::into_writer(&request, &mut self.body).expect("CBOR into a Vec");
            }
        }
        &self.body
    }

    fn encode_json(&mut self, keys: &[String]) {
        let body = &mut self.body;
        body.extend_from_slice(b"{\"StreamName\":");
        serde_json::to_writer(&mut *body, &self.stream).expect("JSON into a Vec");
        body.extend_from_slice(b",\"Records\":[");
        for (index, key) in keys.iter().enumerate() {
            if index > 0 {
                body.push(b',');
            }
            body.extend_from_slice(b"{\"Data\":");
            body.extend_from_slice(&self.data);
            body.extend_from_slice(b",\"PartitionKey\":");
            serde_json::to_writer(&mut *body, key).expect("JSON into a Vec");
            body.push(b'}');
        }
        body.extend_from_slice(b"]}");
    }
}

/// PutRecords' input as the CBOR wire carries it (borrowed: nothing is copied
/// but into the body).
#[derive(Serialize)]
struct Request<'a> {
    #[serde(rename = "StreamName")]
    stream_name: &'a str,
    #[serde(rename = "Records")]
    records: Records<'a>,
}

/// One record per key, each with the same data.
struct Records<'a> {
    data: &'a [u8],
    keys: &'a [String],
}

impl Serialize for Records<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut records = serializer.serialize_seq(Some(self.keys.len()))?;
        for key in self.keys {
            records.serialize_element(&Entry {
                data: Blob(self.data),
                partition_key: key,
            })?;
        }
        records.end()
    }
}

#[derive(Serialize)]
struct Entry<'a> {
    #[serde(rename = "Data")]
    data: Blob<'a>,
    #[serde(rename = "PartitionKey")]
    partition_key: &'a str,
}

/// A blob: a CBOR byte string.
struct Blob<'a>(&'a [u8]);

impl Serialize for Blob<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_bytes(self.0)
    }
}

/// What the bench reads of a PutRecords answer.
#[derive(Debug, Deserialize)]
pub struct PutAnswer {
    /// Records the server refused.
    #[serde(rename = "FailedRecordCount", default)]
    pub failed: u64,
    /// Where the first record went, if the answer says.
    #[serde(rename = "Records", default)]
    pub first: First,
}

/// The first entry of the answer's records; the others are skipped unread.
#[derive(Debug, Default)]
pub struct First(pub Option<Placed>);

/// Where a record went, or why it did not.
#[derive(Debug, Deserialize)]
pub struct Placed {
    /// Its shard.
    #[serde(rename = "ShardId")]
    pub shard_id: Option<String>,
    /// Its sequence number.
    #[serde(rename = "SequenceNumber")]
    pub sequence_number: Option<String>,
    /// Why it failed.
    #[serde(rename = "ErrorCode")]
    pub error_code: Option<String>,
    /// The server's words about it.
    #[serde(rename = "ErrorMessage")]
    pub error_message: Option<String>,
}

impl<'de> Deserialize<'de> for First {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<First, D::Error> {
        struct FirstVisitor;
        impl<'de> Visitor<'de> for FirstVisitor {
            type Value = First;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a list of records")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<First, A::Error> {
                let first = seq.next_element::<Placed>()?;
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(First(first))
            }
        }
        deserializer.deserialize_seq(FirstVisitor)
    }
}

/// Every entry of an answer, read only to say why records failed.
#[derive(Deserialize)]
struct FullAnswer {
    #[serde(rename = "Records", default)]
    records: Vec<Placed>,
}

/// Reads a PutRecords answer in `wire`.
pub fn read_answer(wire: Wire, answer: &[u8]) -> Result<PutAnswer, String> {
    decode(wire, answer)
}

/// Why the records of a PutRecords answer that counted `failed` failed: the
/// first failed entry's error.
pub fn failure(wire: Wire, answer: &[u8], failed: u64) -> String {
    let first = decode::<FullAnswer>(wire, answer).ok().and_then(|full| {
        full.records
            .into_iter()
            .find(|record| record.error_code.is_some())
    });
    match first {
        Some(Placed {
            error_code,
            error_message,
            ..
        }) => format!(
            "PutRecords: {failed} records failed, the first with {}: {}",
            error_code.unwrap_or_default(),
            error_message.unwrap_or_default()
        ),
        None => format!("PutRecords: {failed} records failed (no entry says why)"),
    }
}

fn decode<T: DeserializeOwned>(wire: Wire, answer: &[u8]) -> Result<T, String> {
    match wire {
        Wire::Json => serde_json::from_slice(answer).map_err(|e| e.to_string()),
        Wire::Cbor => ciborium::from_reader(answer).map_err(|e| e.to_string()),
    }
    .map_err(|error| format!("PutRecords answered with {error}"))
}

#[cfg(test)]
mod tests {
    //! The bodies are the PutRecords input of each wire; answers are read in both.
    use super::*;
    use serde_json::{json, Value};

    fn keys() -> Vec<String> {
        vec!["k1".to_string(), "a\"b".to_string()]
    }

    /// The JSON body parses to the input a JSON encoder would write, keys escaped.
    #[test]
    fn json_body_is_the_put_records_input() {
        let mut body = PutBody::new(Wire::Json, "s\"1", b"hi");
        let parsed: Value = serde_json::from_slice(body.encode(&keys())).unwrap();
        let expected = json!({"StreamName": "s\"1", "Records": [
            {"Data": "aGk=", "PartitionKey": "k1"},
            {"Data": "aGk=", "PartitionKey": "a\"b"},
        ]});
        assert_eq!(parsed, expected);
        // The buffer is reused: a second call's body is that call's alone.
        let parsed: Value = serde_json::from_slice(body.encode(&keys()[..1])).unwrap();
        assert_eq!(parsed["Records"].as_array().map(Vec::len), Some(1));
    }

    /// The CBOR body carries the data as a byte string and the keys as text.
    #[test]
    fn cbor_body_carries_bytes() {
        let mut body = PutBody::new(Wire::Cbor, "s", b"hi");
        let value: ciborium::Value = ciborium::from_reader(body.encode(&keys())).unwrap();
        let text = |s: &str| ciborium::Value::Text(s.into());
        let record = |key: &str| {
            ciborium::Value::Map(vec![
                (text("Data"), ciborium::Value::Bytes(b"hi".to_vec())),
                (text("PartitionKey"), text(key)),
            ])
        };
        let expected = ciborium::Value::Map(vec![
            (text("StreamName"), text("s")),
            (
                text("Records"),
                ciborium::Value::Array(vec![record("k1"), record("a\"b")]),
            ),
        ]);
        assert_eq!(value, expected);
    }

    /// The failed count and the first record are read from either wire; a failed
    /// record's error is found for the message; a malformed answer is an error.
    #[test]
    fn answers_are_read_in_both_wires() {
        let answer = json!({"FailedRecordCount": 1, "Records": [
            {"ShardId": "shardId-000000000001", "SequenceNumber": "42"},
            {"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow down"},
        ]});
        let json = serde_json::to_vec(&answer).unwrap();
        let mut cbor = Vec::new();
        ciborium::into_writer(&answer, &mut cbor).unwrap();
        for (wire, bytes) in [(Wire::Json, json), (Wire::Cbor, cbor)] {
            let read = read_answer(wire, &bytes).unwrap();
            assert_eq!(read.failed, 1);
            let first = read.first.0.unwrap();
            assert_eq!(first.shard_id.as_deref(), Some("shardId-000000000001"));
            assert_eq!(first.sequence_number.as_deref(), Some("42"));
            let why = failure(wire, &bytes, read.failed);
            assert!(
                why.contains("ProvisionedThroughputExceededException: slow down"),
                "{why}"
            );
        }
        assert!(read_answer(Wire::Json, b"{\"FailedRecordCount\":").is_err());
        let empty = read_answer(Wire::Json, b"{}").unwrap();
        assert!(empty.failed == 0 && empty.first.0.is_none());
    }
}
