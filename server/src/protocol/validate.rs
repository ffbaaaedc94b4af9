//! Request validation from the service model, in AWS's order and words:
//!
//! 1. the body is type-checked as a whole against the operation's input shape;
//!    the first value of the wrong type is a `SerializationException` worded as
//!    AWS's (Coral) deserializer words it;
//! 2. then every modelled constraint (required members, lengths, value ranges,
//!    patterns, enums) is checked and all failures are reported together in one
//!    `ValidationException` ("2 validation errors detected: Value ... at 'x'
//!    failed to satisfy constraint: ...; ...");
//! 3. only then does the action look anything up.
//!
//! Members the model does not know are passed through untouched (this server has
//! extensions, and AWS ignores unknown members).

use crate::error::{ApiError, Violations};
use crate::protocol::model::{Kind, Model, Shape};
use crate::protocol::value::{Format, Value};
use std::collections::BTreeMap;
use std::fmt::{self, Write as _};

/// AWS reports at most this many constraint failures in one message.
const ERRORS_REPORTED_MAX: usize = 10;

/// Decodes `body`, the input of `action` in `model`, and validates it. The result
/// has the model's types: blobs are bytes (also in JSON) and integers are whole.
/// An action the model does not know is only decoded (the dispatcher answers it).
pub fn request(
    model: &Model,
    action: &str,
    format: Format,
    body: &[u8],
) -> Result<Value, ApiError> {
    let Some(operation) = model.operation(action) else {
        return format.decode(body);
    };
    let Some(input) = operation.input.as_deref() else {
        return format.decode(body);
    };
    if body.iter().all(u8::is_ascii_whitespace) {
        // AWS answers an empty body with a bare SerializationException.
        return Err(ApiError::serialization(String::new()));
    }
    let value = typed(model, input, format, format.decode(body)?)?;
    let mut errors = Vec::new();
    check(model, input, &value, &Path::Root, &mut errors);
    if errors.is_empty() {
        return Ok(value);
    }
    errors.truncate(ERRORS_REPORTED_MAX);
    // The texts are this module's own: which kinds were reported is read from them.
    let violations = Violations {
        missing_member: errors.iter().any(|text| text.ends_with(NULL_TEXT)),
        enum_value: errors.iter().any(|text| text.contains(ENUM_TEXT)),
    };
    let plural = if errors.len() == 1 { "" } else { "s" };
    Err(ApiError::violated(
        format!(
            "{} validation error{plural} detected: {}",
            errors.len(),
            errors.join("; ")
        ),
        violations,
    ))
}

/// Values this server accepts beyond the model, which its actions check
/// themselves: zstd compression (an extension), and bucket ARNs and buffer
/// sizes, which the Firehose actions refuse with their own InvalidArgumentException
/// (as the client tests expect).
fn served_beyond_model(shape_name: &str, value: &Value) -> bool {
    match (shape_name, value) {
        ("CompressionFormat" | "ParquetCompression", Value::Text(text)) => text == "ZSTD",
        ("BucketARN" | "SizeInMBs", _) => true,
        // SQS's deprecated ReceiveMessage.AttributeNames is modelled as queue
        // attribute names, but SQS takes message system attribute names there.
        ("QueueAttributeName", Value::Text(text)) => crate::protocol::model::sqs()
            .shape("MessageSystemAttributeName")
            .enum_values
            .as_ref()
            .is_some_and(|names| names.contains(text)),
        _ => false,
    }
}

/// Type-checks `value` against the named shape, converting where AWS does.
/// Timestamps become [`Value::Timestamp`] (ms) here, the one place that knows
/// what the request's format means by a number.
fn typed(model: &Model, shape_name: &str, format: Format, value: Value) -> Result<Value, ApiError> {
    if value == Value::Null {
        return Ok(value);
    }
    let shape = model.shape(shape_name);
    Ok(match (&shape.kind, value) {
        (Kind::String, value @ Value::Text(_)) => value,
        (Kind::Integer | Kind::Long, value @ Value::Int(_)) => value,
        (Kind::Integer | Kind::Long, Value::Float(f)) if f.is_finite() => {
            Value::Int(f.floor() as i128)
        }
        (Kind::Double, value @ (Value::Int(_) | Value::Float(_))) => value,
        (Kind::Timestamp, value @ (Value::Int(_) | Value::Float(_))) => {
            Value::Timestamp(timestamp_ms(shape_name, format, &value)?)
        }
        (Kind::Boolean, value @ Value::Bool(_)) => value,
        (Kind::Boolean, Value::Text(text)) => match text.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => {
                return Err(ApiError::serialization(format!(
                    "'{}' can not be converted to an Boolean",
                    text.to_uppercase()
                )))
            }
        },
        (Kind::Blob, value @ Value::Bytes(_)) => value,
        (Kind::Blob, Value::Text(text)) => Value::Bytes(base64_blob(&text)?),
        (Kind::List(member), Value::List(items)) => Value::List(
            items
                .into_iter()
                .map(|item| typed(model, member, format, item))
                .collect::<Result<_, _>>()?,
        ),
        (Kind::Map(_, member), Value::Map(entries)) => Value::Map(
            entries
                .into_iter()
                .map(|(key, item)| Ok((key, typed(model, member, format, item)?)))
                .collect::<Result<_, ApiError>>()?,
        ),
        (Kind::Structure { members, .. }, Value::Map(mut entries)) => {
            // In model order, so that the first error is the one AWS reports;
            // converted in place, so that no member name is copied (PutRecords
            // has 500 records of three members each).
            for (name, member) in members {
                if let Some(item) = entries.get_mut(name) {
                    *item = typed(model, member, format, std::mem::replace(item, Value::Null))?;
                }
            }
            Value::Map(entries)
        }
        (kind, value) => return Err(ApiError::serialization(mismatch(kind, &value))),
    })
}

/// A timestamp in ms: epoch seconds (JSON numbers, CBOR floats and tag 1,
/// which the CBOR codec decodes as a float) or epoch milliseconds (CBOR integers).
fn timestamp_ms(shape_name: &str, format: Format, value: &Value) -> Result<u64, ApiError> {
    let ms = match (value, format) {
        (Value::Int(seconds), Format::Json) => u64::try_from(*seconds)
            .ok()
            .and_then(|seconds| seconds.checked_mul(1000)),
        (Value::Int(ms), Format::Cbor) => u64::try_from(*ms).ok(),
        (Value::Float(seconds), _) if seconds.is_finite() && *seconds >= 0.0 => {
            Some((seconds * 1000.0) as u64)
        }
        _ => None,
    };
    ms.ok_or_else(|| ApiError::serialization(format!("Field '{shape_name}' must be a timestamp")))
}

/// Coral's words for a value of the wrong type.
fn mismatch(expected: &Kind, found: &Value) -> String {
    match (expected, found) {
        (_, Value::List(_)) => "Start of list found where not expected".into(),
        (Kind::List(_), _) => "Expected list or null".into(),
        (_, Value::Map(_)) => "Start of structure or map found where not expected.".into(),
        (Kind::Map(..), _) => "Expected map or null".into(),
        (Kind::Structure { .. }, _) => "Expected null".into(),
        (kind, found) => {
            let class = match found {
                Value::Bool(_) => "java.lang.Boolean",
                Value::Int(_) | Value::Float(_) | Value::Timestamp(_) => {
                    "com.amazon.coral.value.json.numbers.TruncatingBigNumber"
                }
                Value::Bytes(_) => "java.nio.HeapByteBuffer",
                _ => "java.lang.String",
            };
            let target = match kind {
                Kind::Integer => "an Integer",
                Kind::Long => "an Long",
                Kind::Double => "an Double",
                Kind::Boolean => "an Boolean",
                Kind::Blob => "a Blob",
                Kind::Timestamp => "milliseconds since epoch",
                _ => "an String",
            };
            format!("class {class} can not be converted to {target}")
        }
    }
}

/// A JSON blob: standard base64, as AWS decodes it.
fn base64_blob(text: &str) -> Result<Vec<u8>, ApiError> {
    // SIMD decoding (the blob is most of a PutRecords body). It is as strict as
    // the checks below (padding, alphabet, canonical last character); they
    // only run for a blob it refused, to word the error as AWS does.
    if let Ok(bytes) = base64_simd::STANDARD.decode_to_vec(text) {
        return Ok(bytes);
    }
    let refuse = |why: String| {
        ApiError::serialization(format!("'{text}' can not be converted to a Blob: {why}"))
    };
    if !text.len().is_multiple_of(4) {
        return Err(refuse(format!(
            "Base64 encoded length is expected a multiple of 4 bytes but found: {}",
            text.len()
        )));
    }
    let trimmed = text.trim_end_matches('=');
    if let Some(bad) = trimmed
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '+' || *c == '/'))
    {
        return Err(refuse(format!("Invalid Base64 character: '{bad}'")));
    }
    Err(refuse(
        "Invalid last non-pad Base64 character dectected".into(),
    ))
}

/// Collects the constraint failures of `value` (already typed) at `path`.
fn check(model: &Model, shape_name: &str, value: &Value, path: &Path, errors: &mut Vec<String>) {
    let shape = model.shape(shape_name);
    match (&shape.kind, value) {
        (Kind::Structure { members, required }, Value::Map(entries)) => {
            for (name, member) in members {
                let at = Path::Member(path, name);
                match entries.get(name).filter(|v| **v != Value::Null) {
                    Some(item) => check(model, member, item, &at, errors),
                    None if required.contains(name) => errors.push(failure(None, &at, NULL_TEXT)),
                    None => {}
                }
            }
        }
        (Kind::List(member), Value::List(items)) => {
            bounds(shape, items.len(), value, path, "length", errors);
            let member_shape = model.shape(member);
            if matches!(member_shape.kind, Kind::Structure { .. }) {
                for (index, item) in items.iter().enumerate() {
                    check(model, member, item, &Path::Item(path, index), errors);
                }
            } else if items.iter().any(|item| {
                !served_beyond_model(member, item)
                    && !scalar_failures(member_shape, item).is_empty()
            }) {
                let all = constraint_texts(member_shape).join(", ");
                errors.push(failure(
                    Some(value),
                    path,
                    &format!("Member must satisfy constraint: [{all}]"),
                ));
            }
        }
        (Kind::Map(key, member), Value::Map(entries)) => {
            bounds(shape, entries.len(), value, path, "length", errors);
            let key_shape = model.shape(key);
            let keys_fail = entries
                .keys()
                .any(|key| !text_failures(key_shape, key).is_empty());
            if keys_fail {
                let all = constraint_texts(key_shape).join(", ");
                errors.push(failure(
                    Some(value),
                    path,
                    &format!("Map keys must satisfy constraint: [{all}]"),
                ));
            }
            let value_shape = model.shape(member);
            let values_fail = entries
                .values()
                .any(|v| !scalar_failures(value_shape, v).is_empty());
            if values_fail {
                let all = constraint_texts(value_shape).join(", ");
                errors.push(failure(
                    Some(value),
                    path,
                    &format!("Map value must satisfy constraint: [{all}]"),
                ));
            }
        }
        (_, scalar) => {
            if served_beyond_model(shape_name, scalar) {
                return;
            }
            for text in scalar_failures(shape, scalar) {
                errors.push(failure(Some(scalar), path, &text));
            }
        }
    }
}

/// The failed constraints of a string, number or blob, in AWS's order: pattern,
/// enum, then the lower and the upper bound.
fn scalar_failures(shape: &Shape, value: &Value) -> Vec<String> {
    let mut failed = Vec::new();
    match value {
        Value::Text(text) => return text_failures(shape, text),
        Value::Bytes(bytes) => length_failures(shape, bytes.len() as i128, "length", &mut failed),
        Value::Int(n) => match (shape.min, shape.max) {
            // A value with both bounds is worded as one range.
            (Some(min), Some(max)) if (*n as f64) < min || (*n as f64) > max => {
                failed.push(format!(
                    "Member must have value between {} and {}",
                    min as i64, max as i64
                ))
            }
            _ => length_failures(shape, *n, "value", &mut failed),
        },
        Value::Float(f) => {
            if shape.min.is_some_and(|min| *f < min) {
                failed.push(bound_text(
                    "value",
                    "greater",
                    shape.min.unwrap_or_default(),
                ));
            }
            if shape.max.is_some_and(|max| *f > max) {
                failed.push(bound_text("value", "less", shape.max.unwrap_or_default()));
            }
        }
        _ => {}
    }
    failed
}

/// The failed constraints of a string (a value or a map key): pattern, enum,
/// then the bounds of its length.
fn text_failures(shape: &Shape, text: &str) -> Vec<String> {
    let mut failed = Vec::new();
    if let Some(pattern) = &shape.pattern {
        if !pattern.matches(text) {
            failed.push(pattern_text(&pattern.source));
        }
    }
    if let Some(values) = &shape.enum_values {
        if !values.iter().any(|value| value == text) {
            failed.push(enum_text(values));
        }
    }
    // Java counts a string's length in UTF-16 code units; counting them
    // walks the whole text, so only for shapes that bound the length
    // (an SQS message body has no bound and is up to 1 MiB).
    if shape.min.is_some() || shape.max.is_some() {
        length_failures(
            shape,
            text.encode_utf16().count() as i128,
            "length",
            &mut failed,
        );
    }
    failed
}

fn length_failures(shape: &Shape, n: i128, what: &str, failed: &mut Vec<String>) {
    let n = n as f64;
    if let Some(min) = shape.min.filter(|min| n < *min) {
        failed.push(bound_text(what, "greater", min));
    }
    if let Some(max) = shape.max.filter(|max| n > *max) {
        failed.push(bound_text(what, "less", max));
    }
}

fn bounds(
    shape: &Shape,
    len: usize,
    value: &Value,
    path: &Path,
    what: &str,
    errors: &mut Vec<String>,
) {
    let mut failed = Vec::new();
    length_failures(shape, len as i128, what, &mut failed);
    for text in failed {
        errors.push(failure(Some(value), path, &text));
    }
}

/// Every constraint of a member shape, as Coral lists them for a list's members
/// or a map's keys and values: upper bound, lower bound, pattern, enum.
fn constraint_texts(shape: &Shape) -> Vec<String> {
    let mut texts = Vec::new();
    if let Some(max) = shape.max {
        texts.push(bound_text("length", "less", max));
    }
    if let Some(min) = shape.min {
        texts.push(bound_text("length", "greater", min));
    }
    if let Some(pattern) = &shape.pattern {
        texts.push(pattern_text(&pattern.source));
    }
    if let Some(values) = &shape.enum_values {
        texts.push(enum_text(values));
    }
    texts
}

/// A required member's failure.
const NULL_TEXT: &str = "Member must not be null";
/// The start of an enum constraint's failure.
const ENUM_TEXT: &str = "Member must satisfy enum value set";

fn bound_text(what: &str, direction: &str, bound: f64) -> String {
    let bound = if bound.fract() == 0.0 && bound.abs() < 1e18 {
        format!("{}", bound as i64)
    } else {
        format!("{bound}")
    };
    format!("Member must have {what} {direction} than or equal to {bound}")
}

fn pattern_text(source: &str) -> String {
    format!("Member must satisfy regular expression pattern: {source}")
}

fn enum_text(values: &[String]) -> String {
    format!("{ENUM_TEXT}: [{}]", values.join(", "))
}

/// Where a value sits in the request, as AWS words it (`records.1.member.data`):
/// kept as links on the stack and written only when a failure names it, since
/// almost every request has none (a SendMessageBatch of 10 would otherwise build
/// a dozen strings per entry).
enum Path<'a> {
    /// The request itself (an empty path).
    Root,
    /// A structure's member, named with its first letter in lower case.
    Member(&'a Path<'a>, &'a str),
    /// A list's item (from 0; written from 1, followed by `.member`).
    Item(&'a Path<'a>, usize),
}

impl Path<'_> {
    fn is_empty(&self) -> bool {
        match self {
            Path::Root => true,
            Path::Member(parent, name) => parent.is_empty() && name.is_empty(),
            Path::Item(..) => false,
        }
    }
}

impl fmt::Display for Path<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Path::Root => Ok(()),
            Path::Member(parent, name) => {
                if !parent.is_empty() && !name.is_empty() {
                    write!(f, "{parent}.")?;
                } else {
                    write!(f, "{parent}")?;
                }
                let mut chars = name.chars();
                if let Some(first) = chars.next() {
                    for lower in first.to_lowercase() {
                        f.write_char(lower)?;
                    }
                }
                f.write_str(chars.as_str())
            }
            Path::Item(parent, index) if parent.is_empty() => write!(f, "{}.member", index + 1),
            Path::Item(parent, index) => write!(f, "{parent}.{}.member", index + 1),
        }
    }
}

/// `Value '<value>' at '<path>' failed to satisfy constraint: <text>`.
fn failure(value: Option<&Value>, path: &Path, text: &str) -> String {
    let shown = match value {
        None => "null".to_string(),
        Some(value) => format!("'{}'", render(value)),
    };
    format!("Value {shown} at '{path}' failed to satisfy constraint: {text}")
}

/// A value as Java's `toString` shows it in AWS messages.
fn render(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Int(n) => n.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Text(text) => text.clone(),
        Value::Bytes(bytes) => format!(
            "java.nio.HeapByteBuffer[pos=0 lim={0} cap={0}]",
            bytes.len()
        ),
        Value::Timestamp(ms) => ms.to_string(),
        Value::List(items) => format!(
            "[{}]",
            items.iter().map(render).collect::<Vec<_>>().join(", ")
        ),
        Value::Map(entries) => render_map(entries),
    }
}

fn render_map(entries: &BTreeMap<String, Value>) -> String {
    let shown: Vec<String> = entries
        .iter()
        .map(|(key, value)| format!("{key}={}", render(value)))
        .collect();
    format!("{{{}}}", shown.join(", "))
}

#[cfg(test)]
mod tests {
    //! Validation against the Kinesis and Firehose models, in AWS's words.
    use super::*;
    use crate::protocol::model;
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;
    use proptest::prelude::*;

    proptest! {
        /// JSON blobs are decoded exactly as strictly as the base64 crate's
        /// standard engine decodes (padding, alphabet, canonical last character),
        /// to the same bytes: text near base64, and real base64 of any bytes.
        #[test]
        fn blobs_decode_as_strict_base64(
            near in "[A-Za-z0-9+/=]{0,16}|[A-Za-z0-9+/= _.-]{0,40}",
            bytes in prop::collection::vec(any::<u8>(), 0..200),
        ) {
            let expected = STANDARD.decode(&near).ok();
            prop_assert_eq!(base64_blob(&near).ok(), expected);
            prop_assert_eq!(base64_blob(&STANDARD.encode(&bytes)).unwrap(), bytes);
        }
    }

    fn kinesis(action: &str, body: &str) -> Result<Value, ApiError> {
        request(model::kinesis(), action, Format::Json, body.as_bytes())
    }

    /// A wrong JSON type anywhere is a SerializationException, before any constraint.
    #[test]
    fn type_errors_come_first() {
        let error = kinesis("AddTagsToStream", r#"{"Tags":"23"}"#).unwrap_err();
        assert_eq!(error.code, "SerializationException");
        assert_eq!(error.message, "Expected map or null");
        let error = kinesis("PutRecord", r#"{"StreamName":"a;","Data":true}"#).unwrap_err();
        assert_eq!(
            error.message,
            "class java.lang.Boolean can not be converted to a Blob"
        );
        let error = kinesis("CreateStream", r#"{"StreamName":"s","ShardCount":"1"}"#).unwrap_err();
        assert_eq!(
            error.message,
            "class java.lang.String can not be converted to an Integer"
        );
        let error = kinesis("PutRecords", r#"{"Records":[[]]}"#).unwrap_err();
        assert_eq!(error.message, "Start of list found where not expected");
        let error = kinesis("PutRecord", r#"{"Data":"abc","PartitionKey":"k"}"#).unwrap_err();
        assert_eq!(error.message, "'abc' can not be converted to a Blob: Base64 encoded length is expected a multiple of 4 bytes but found: 3");
        let error = kinesis("ListStreams", "").unwrap_err();
        assert_eq!(error.code, "SerializationException");
    }

    /// All constraint failures are reported together, in model order.
    #[test]
    fn constraints_are_collected() {
        let error = kinesis("PutRecords", r#"{"StreamName":"","Records":[]}"#).unwrap_err();
        assert_eq!(error.code, "ValidationException");
        assert_eq!(
            error.message,
            "3 validation errors detected: \
             Value '[]' at 'records' failed to satisfy constraint: Member must have length greater than or equal to 1; \
             Value '' at 'streamName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+; \
             Value '' at 'streamName' failed to satisfy constraint: Member must have length greater than or equal to 1"
        );
        let error = kinesis(
            "PutRecords",
            r#"{"StreamName":"s","Records":[{"Data":""}]}"#,
        )
        .unwrap_err();
        assert_eq!(error.message, "1 validation error detected: Value null at 'records.1.member.partitionKey' failed to satisfy constraint: Member must not be null");
        let error = kinesis(
            "CreateStream",
            r#"{"StreamName":"s","ShardCount":0,"StreamModeDetails":{"StreamMode":"X"}}"#,
        )
        .unwrap_err();
        assert!(error.message.starts_with("2 validation errors detected: Value '0' at 'shardCount' failed to satisfy constraint: Member must have value greater than or equal to 1; Value 'X' at 'streamModeDetails.streamMode' failed to satisfy constraint: Member must satisfy enum value set: [PROVISIONED, ON_DEMAND]"), "{}", error.message);
        let error = kinesis(
            "RemoveTagsFromStream",
            &format!(r#"{{"StreamName":"s","TagKeys":["{}"]}}"#, "k".repeat(129)),
        )
        .unwrap_err();
        assert!(error.message.ends_with("failed to satisfy constraint: Member must satisfy constraint: [Member must have length less than or equal to 128, Member must have length greater than or equal to 1]"), "{}", error.message);
    }

    /// A valid body comes back typed: JSON blobs as bytes, whole integers.
    #[test]
    fn valid_bodies_are_typed() {
        let value = kinesis(
            "PutRecord",
            r#"{"StreamName":"s","Data":"aGk=","PartitionKey":"k","Extra":1}"#,
        )
        .unwrap();
        let Value::Map(fields) = value else {
            panic!("a structure")
        };
        assert_eq!(fields["Data"], Value::Bytes(b"hi".to_vec()));
        assert_eq!(fields["Extra"], Value::Int(1));
        let value = kinesis("ListStreams", r#"{"Limit":2.7}"#).unwrap();
        let Value::Map(fields) = value else {
            panic!("a structure")
        };
        assert_eq!(fields["Limit"], Value::Int(2));
    }

    /// A timestamp reaches actions as ms whatever its wire form: JSON seconds
    /// (whole or not), CBOR integer ms, CBOR tag-1 seconds; a negative one is a
    /// SerializationException.
    #[test]
    fn timestamps_become_milliseconds() {
        let position = |format: Format, body: &[u8]| {
            let model = crate::protocol::model::kinesis();
            let value = request(model, "GetShardIterator", format, body)?;
            let Value::Map(fields) = value else {
                panic!("a structure")
            };
            Ok::<_, ApiError>(fields["Timestamp"].clone())
        };
        let json = |timestamp: &str| {
            let body = format!(
                r#"{{"StreamName":"s","ShardId":"0","ShardIteratorType":"AT_TIMESTAMP","Timestamp":{timestamp}}}"#
            );
            position(Format::Json, body.as_bytes())
        };
        assert_eq!(
            json("1700000000").unwrap(),
            Value::Timestamp(1_700_000_000_000)
        );
        assert_eq!(
            json("1700000000.25").unwrap(),
            Value::Timestamp(1_700_000_000_250)
        );
        assert_eq!(json("-1").unwrap_err().code, "SerializationException");
        let cbor = |timestamp: ciborium::Value| {
            let text = |t: &str| ciborium::Value::Text(t.into());
            let body = ciborium::Value::Map(vec![
                (text("StreamName"), text("s")),
                (text("ShardId"), text("0")),
                (text("ShardIteratorType"), text("AT_TIMESTAMP")),
                (text("Timestamp"), timestamp),
            ]);
            let mut bytes = Vec::new();
            ciborium::into_writer(&body, &mut bytes).unwrap();
            position(Format::Cbor, &bytes)
        };
        let ms = ciborium::Value::Integer(1_700_000_000_250u64.into());
        assert_eq!(cbor(ms).unwrap(), Value::Timestamp(1_700_000_000_250));
        let tagged = ciborium::Value::Tag(1, Box::new(ciborium::Value::Float(1_700_000_000.5)));
        assert_eq!(cbor(tagged).unwrap(), Value::Timestamp(1_700_000_000_500));
    }

    /// Firehose tag keys and values follow the model's patterns.
    #[test]
    fn firehose_tag_patterns() {
        let body = r#"{"DeliveryStreamName":"d","Tags":[{"Key":"a;b","Value":"v"}]}"#;
        let error = request(
            model::firehose(),
            "TagDeliveryStream",
            Format::Json,
            body.as_bytes(),
        )
        .unwrap_err();
        assert_eq!(error.code, "ValidationException");
        assert!(error.message.contains("at 'tags.1.member.key' failed to satisfy constraint: Member must satisfy regular expression pattern"), "{}", error.message);
    }
}
