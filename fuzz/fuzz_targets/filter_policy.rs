//! Filter policies: compiling arbitrary bytes and matching the result against a
//! message derived from the same input never panics, at either scope.
//!
//! Input: policy bytes, a 0 byte, then message bytes. The message bytes are the
//! body, and every top-level key of the policy gets an attribute whose type the
//! first message byte picks and whose value is the message text.
#![no_main]
use libfuzzer_sys::fuzz_target;
use shardlog_topic::filter::{FilterPolicy, FilterScope};
use shardlog_topic::{AttributeValue, MessageAttribute, MessageAttributes};

const DATA_TYPES: [&str; 5] = [
    "String",
    "Number",
    "String.Array",
    "Binary",
    "Number.custom",
];

fn derived_attributes(policy: &str, message: &str, selector: u8) -> MessageAttributes {
    let Ok(serde_json::Value::Object(keys)) = serde_json::from_str(policy) else {
        return MessageAttributes::new();
    };
    keys.keys()
        .enumerate()
        .map(|(index, key)| {
            let data_type = DATA_TYPES[(selector as usize + index) % DATA_TYPES.len()];
            let value = if data_type == "Binary" {
                AttributeValue::Binary(message.as_bytes().to_vec())
            } else {
                AttributeValue::String(message.to_string())
            };
            let attribute = MessageAttribute {
                data_type: data_type.to_string(),
                value,
            };
            (key.clone(), attribute)
        })
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (policy, message) = (&data[..split], data.get(split + 1..).unwrap_or_default());
    let (Ok(policy), Ok(message)) = (std::str::from_utf8(policy), std::str::from_utf8(message))
    else {
        return;
    };
    let attributes = derived_attributes(policy, message, message.bytes().next().unwrap_or(0));
    for scope in [FilterScope::MessageAttributes, FilterScope::MessageBody] {
        if let Ok(compiled) = FilterPolicy::parse(policy, scope) {
            // Either answer is fine; the same input must give the same answer.
            let first = compiled.matches(&attributes, message);
            assert_eq!(first, compiled.matches(&attributes, message));
        }
    }
});
