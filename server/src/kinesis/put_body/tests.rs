//! The one-pass reader vouches for exactly the PutRecords bodies that
//! validation accepts, and reads them as the typed request reads them.
use super::*;
use crate::kinesis::requests::PutRecordsInput;
use crate::protocol::{model, typed, validate};
use proptest::prelude::*;

/// One record as the general path reads it: payload, key, hash key.
type Read = (Vec<u8>, String, Option<String>);

/// The stream and records of `body` as validation and the typed request read
/// them, or `None` if validation refuses the body.
fn general(format: Format, body: &[u8]) -> Option<(Option<String>, Option<String>, Vec<Read>)> {
    let tree = validate::request(model::kinesis(), "PutRecords", format, body).ok()?;
    let input: PutRecordsInput<'_> = typed::read(&tree).ok()?;
    let records = input.records.iter().map(|record| {
        let data = record.data.0.to_vec();
        let key = record.partition_key.to_string();
        (data, key, record.explicit_hash_key.clone())
    });
    let stream = input.stream;
    Some((stream.stream_name, stream.stream_arn, records.collect()))
}

/// The same, as the one-pass reader reads it.
fn one_pass(format: Format, body: &[u8]) -> Option<(Option<String>, Option<String>, Vec<Read>)> {
    let read = PutRecordsBody::read(model::kinesis(), format, body)?;
    let records = read.records().map(|record| {
        let hash_key = record.explicit_hash_key.map(str::to_string);
        (
            record.data.to_vec(),
            record.partition_key.to_string(),
            hash_key,
        )
    });
    let records = records.collect();
    Some((read.stream.stream_name, read.stream.stream_arn, records))
}

fn json(document: &serde_json::Value) -> Vec<u8> {
    serde_json::to_vec(document).unwrap()
}

fn cbor(document: &ciborium::Value) -> Vec<u8> {
    let mut body = Vec::new();
    ciborium::into_writer(document, &mut body).unwrap();
    body
}

fn text(text: &str) -> ciborium::Value {
    ciborium::Value::Text(text.into())
}

/// A request in both formats: a stream name, and records of payload, key and
/// hash key (base64 in JSON, bytes in CBOR).
fn both(stream: &str, records: &[Read]) -> (Vec<u8>, Vec<u8>) {
    let json_records = records.iter().map(|(data, key, hash_key)| {
        let mut record = serde_json::json!({
            "Data": base64_simd::STANDARD.encode_to_string(data),
            "PartitionKey": key,
        });
        if let Some(hash_key) = hash_key {
            record["ExplicitHashKey"] = hash_key.as_str().into();
        }
        record
    });
    let json_records: Vec<_> = json_records.collect();
    let cbor_records = records.iter().map(|(data, key, hash_key)| {
        let mut record = vec![
            (text("Data"), ciborium::Value::Bytes(data.clone())),
            (text("PartitionKey"), text(key)),
        ];
        if let Some(hash_key) = hash_key {
            record.push((text("ExplicitHashKey"), text(hash_key)));
        }
        ciborium::Value::Map(record)
    });
    let cbor_body = ciborium::Value::Map(vec![
        (text("StreamName"), text(stream)),
        (
            text("Records"),
            ciborium::Value::Array(cbor_records.collect()),
        ),
    ]);
    let json_body = serde_json::json!({"StreamName": stream, "Records": json_records});
    (json(&json_body), cbor(&cbor_body))
}

fn records() -> impl Strategy<Value = Vec<Read>> {
    let record = (
        prop::collection::vec(any::<u8>(), 0..24),
        // Empty and over-long keys, and keys beyond ASCII, break the model's bounds.
        prop_oneof![".{0,3}", "[a-é]{250,258}"],
        prop::option::of("0|[0-9]{1,3}|x"),
    );
    prop::collection::vec(record, 0..5)
}

proptest! {
    /// Over bodies that break the model's constraints or not, the reader vouches
    /// exactly when validation accepts, and reads what the typed request reads.
    #[test]
    fn vouches_exactly_for_what_validation_accepts(
        stream in "[a-z]{1,4}|[a-z;]{0,3}",
        records in records(),
    ) {
        let (json_body, cbor_body) = both(&stream, &records);
        for (format, body) in [(Format::Json, json_body), (Format::Cbor, cbor_body)] {
            let expected = general(format, &body);
            prop_assert_eq!(one_pass(format, &body), expected, "{:?}", format);
        }
    }

    /// No body makes the reader panic, and what it vouches for, validation
    /// accepts the same (truncated, mutated and random bodies).
    #[test]
    fn never_vouches_for_what_validation_refuses(
        records in records(),
        cut in any::<prop::sample::Index>(),
        flip in any::<(prop::sample::Index, u8)>(),
    ) {
        let (json_body, cbor_body) = both("s", &records);
        for (format, mut body) in [(Format::Json, json_body), (Format::Cbor, cbor_body)] {
            let at = flip.0.index(body.len());
            body[at] ^= flip.1;
            let truncated = &body[..cut.index(body.len() + 1)];
            for body in [&body[..], truncated] {
                if let Some(read) = one_pass(format, body) {
                    prop_assert_eq!(Some(read), general(format, body));
                }
            }
        }
    }
}

/// What the reader does not know (unknown, repeated or null members, CBOR tags
/// and text blobs, trailing bytes) is left to the general path, which answers.
#[test]
fn unfamiliar_bodies_are_left_to_validation() {
    let record = r#"{"Data":"aGk=","PartitionKey":"k"}"#;
    for body in [
        format!(r#"{{"StreamName":"s","Records":[{record}],"Extra":1}}"#),
        format!(r#"{{"StreamName":"s","StreamName":"t","Records":[{record}]}}"#),
        format!(r#"{{"StreamName":null,"Records":[{record}]}}"#),
        r#"{"StreamName":"s","Records":[{"Data":"aGk=","PartitionKey":"k","Data":"aGk="}]}"#.into(),
        r#"{"StreamName":"s","Records":[{"Data":"aGk=","PartitionKey":"k","ExplicitHashKey":null}]}"#.into(),
        r#"{"StreamName":"s","Records":[{"Data":"aGk=","PartitionKey":"k","Other":1}]}"#.into(),
    ] {
        assert!(one_pass(Format::Json, body.as_bytes()).is_none(), "{body}");
        assert!(general(Format::Json, body.as_bytes()).is_some(), "{body}");
    }
    let record = |data: ciborium::Value| {
        ciborium::Value::Map(vec![
            (text("Data"), data),
            (text("PartitionKey"), text("k")),
        ])
    };
    let request = |record: ciborium::Value| {
        ciborium::Value::Map(vec![
            (text("StreamName"), text("s")),
            (text("Records"), ciborium::Value::Array(vec![record])),
        ])
    };
    let bytes = ciborium::Value::Bytes(b"hi".to_vec());
    let tagged = ciborium::Value::Tag(1, Box::new(bytes.clone()));
    let as_text = text("aGk=");
    let mut trailing = cbor(&request(record(bytes.clone())));
    trailing.push(0);
    for body in [
        cbor(&request(record(tagged))),
        cbor(&request(record(as_text))),
        trailing,
    ] {
        assert!(one_pass(Format::Cbor, &body).is_none(), "{body:?}");
    }
    assert!(one_pass(Format::Cbor, &cbor(&request(record(bytes)))).is_some());
}

/// Indefinite-length maps and lists (the Java SDK's) and escaped JSON strings
/// are read as validation reads them.
#[test]
fn indefinite_lengths_and_escapes() {
    let mut body = vec![0xbf];
    body.extend(cbor(&text("StreamName")));
    body.extend(cbor(&text("s")));
    body.extend(cbor(&text("Records")));
    body.push(0x9f);
    for key in ["a", "b"] {
        body.push(0xbf);
        body.extend(cbor(&text("Data")));
        body.extend(cbor(&ciborium::Value::Bytes(key.as_bytes().to_vec())));
        body.extend(cbor(&text("PartitionKey")));
        body.extend(cbor(&text(key)));
        body.push(0xff);
    }
    body.extend([0xff, 0xff]);
    let read = one_pass(Format::Cbor, &body).expect("read in one pass");
    assert_eq!(read.2.len(), 2);
    assert_eq!(Some(read), general(Format::Cbor, &body));
    let escaped =
        br#"{"StreamName":"s","Records":[{"Data":"aG\u006b=","PartitionKey":"\u00e9\"k"}]}"#;
    let read = one_pass(Format::Json, escaped).expect("read in one pass");
    assert_eq!(read.2[0], (b"hi".to_vec(), "é\"k".to_string(), None));
    assert_eq!(Some(read), general(Format::Json, escaped));
}

/// Payloads are read as a JSON string's raw bytes, unchecked as UTF-8: what
/// the check would have refused (a lone surrogate, a control character, bytes
/// that are not UTF-8) or what is no string (a list of numbers) is still never
/// vouched for.
#[test]
fn raw_payload_bytes_refuse_what_text_refuses() {
    let body = |data: &[u8]| {
        let mut body = br#"{"StreamName":"s","Records":[{"Data":"#.to_vec();
        body.extend_from_slice(data);
        body.extend_from_slice(br#","PartitionKey":"k"}]}"#);
        body
    };
    for data in [
        &br#""aGk\ud800""#[..],
        b"\"aG\tk=\"",
        b"\"aG\xffk=\"",
        b"\"\xc3\xa9\"",
        b"[104, 105]",
    ] {
        assert!(one_pass(Format::Json, &body(data)).is_none(), "{data:?}");
    }
    assert!(one_pass(Format::Json, &body(b"\"aGk=\"")).is_some());
}

/// The model requires no member the reader does not know, so that a body it
/// vouches for never lacks one.
#[test]
fn the_model_requires_only_known_members() {
    let model = model::kinesis();
    for (shape, known) in [
        ("PutRecordsInput", REQUEST_MEMBERS),
        ("PutRecordsRequestEntry", ENTRY_MEMBERS),
    ] {
        let Kind::Structure { required, .. } = &model.shape(shape).kind else {
            panic!("{shape} is a structure")
        };
        assert!(
            required.iter().all(|name| known.contains(&name.as_str())),
            "{shape} requires {required:?}"
        );
    }
}

/// CBOR payloads are borrowed where they lie in the body (no copy per record);
/// JSON ones are decoded into one buffer.
#[test]
fn cbor_payloads_are_borrowed_from_the_body() {
    let records = [(b"payload".to_vec(), "k".to_string(), None)];
    let (json_body, cbor_body) = both("s", &records);
    let read = PutRecordsBody::read(model::kinesis(), Format::Cbor, &cbor_body).unwrap();
    let data = read.records().next().unwrap().data;
    assert_eq!(data, b"payload");
    assert!(cbor_body.as_ptr_range().contains(&data.as_ptr()));
    let read = PutRecordsBody::read(model::kinesis(), Format::Json, &json_body).unwrap();
    let data = read.records().next().unwrap().data;
    assert_eq!(data, b"payload");
    assert!(!json_body.as_ptr_range().contains(&data.as_ptr()));
}
