//! Filter policies agree with a plain reference matcher on random policies and
//! messages, at attribute scope and, with the same message as a JSON body, at
//! body scope.

use proptest::prelude::*;
use serde_json::{json, Value};
use shardlog_topic::filter::{FilterPolicy, FilterScope};
use shardlog_topic::{AttributeValue, MessageAttribute, MessageAttributes};

/// A condition as the reference understands it.
#[derive(Debug, Clone)]
enum Cond {
    Str(String),
    Num(i32),
    Prefix(String),
    Suffix(String),
    IgnoreCase(String),
    NotIn(Vec<String>),
    Above(i32),
    Between(i32, i32),
    Exists(bool),
}

/// A message value as the reference understands it.
#[derive(Debug, Clone, PartialEq)]
enum Val {
    S(String),
    N(i32),
}

/// An attribute of the generated message.
#[derive(Debug, Clone)]
enum Attr {
    Text(String),
    Number(i32),
    Array(Vec<Val>),
    Binary,
}

type Keys = Vec<(String, Vec<Cond>)>;

#[derive(Debug, Clone)]
struct Policy {
    keys: Keys,
    or: Option<(Keys, Keys)>,
}

fn word() -> impl Strategy<Value = String> {
    prop::sample::select(vec!["x", "xy", "yx", "Xy", "y", ""]).prop_map(str::to_string)
}

fn cond() -> impl Strategy<Value = Cond> {
    prop_oneof![
        word().prop_map(Cond::Str),
        (-3..4i32).prop_map(Cond::Num),
        word().prop_map(Cond::Prefix),
        word().prop_map(Cond::Suffix),
        word().prop_map(Cond::IgnoreCase),
        prop::collection::vec(word(), 1..3).prop_map(Cond::NotIn),
        (-3..4i32).prop_map(Cond::Above),
        (-3..0i32, 0..4i32).prop_map(|(low, high)| Cond::Between(low, high)),
        any::<bool>().prop_map(Cond::Exists),
    ]
}

fn keys(names: &'static [&'static str]) -> impl Strategy<Value = Keys> {
    prop::sample::subsequence(names.to_vec(), 1..=names.len()).prop_flat_map(|chosen| {
        let conditions = prop::collection::vec(prop::collection::vec(cond(), 1..3), chosen.len());
        conditions.prop_map(move |conds| chosen.iter().map(|n| n.to_string()).zip(conds).collect())
    })
}

fn policy() -> impl Strategy<Value = Policy> {
    let or = prop::option::of((keys(&["c", "d"]), keys(&["d", "e"])));
    (keys(&["a", "b"]), or).prop_map(|(keys, or)| Policy { keys, or })
}

fn value() -> impl Strategy<Value = Val> {
    prop_oneof![word().prop_map(Val::S), (-4..5i32).prop_map(Val::N)]
}

fn attr() -> impl Strategy<Value = Attr> {
    prop_oneof![
        word().prop_map(Attr::Text),
        (-4..5i32).prop_map(Attr::Number),
        prop::collection::vec(value(), 0..3).prop_map(Attr::Array),
        Just(Attr::Binary),
    ]
}

fn message() -> impl Strategy<Value = Vec<(String, Attr)>> {
    let names = ["a", "b", "c", "d", "e"];
    prop::collection::vec(prop::option::of(attr()), names.len()).prop_map(move |attrs| {
        names
            .iter()
            .zip(attrs)
            .filter_map(|(name, attr)| attr.map(|a| (name.to_string(), a)))
            .collect()
    })
}

// ---- The reference: one obvious rule per condition. ----

fn reference_value(cond: &Cond, value: &Val) -> bool {
    match (cond, value) {
        (Cond::Str(s), Val::S(v)) => s == v,
        (Cond::Num(n), Val::N(v)) => n == v,
        (Cond::Prefix(p), Val::S(v)) => v.starts_with(p.as_str()),
        (Cond::Suffix(p), Val::S(v)) => v.ends_with(p.as_str()),
        (Cond::IgnoreCase(p), Val::S(v)) => p.to_lowercase() == v.to_lowercase(),
        (Cond::NotIn(list), Val::S(v)) => !list.contains(v),
        (Cond::NotIn(_), Val::N(_)) => true,
        (Cond::Above(n), Val::N(v)) => v > n,
        (Cond::Between(low, high), Val::N(v)) => low <= v && v < high,
        _ => false,
    }
}

fn reference_key(conds: &[Cond], attr: Option<&Attr>) -> bool {
    let values = match attr {
        None | Some(Attr::Binary) => return conds.iter().any(|c| matches!(c, Cond::Exists(false))),
        Some(Attr::Text(s)) => vec![Val::S(s.clone())],
        Some(Attr::Number(n)) => vec![Val::N(*n)],
        Some(Attr::Array(items)) => items.clone(),
    };
    conds.iter().any(|c| match c {
        Cond::Exists(wanted) => *wanted,
        _ => values.iter().any(|v| reference_value(c, v)),
    })
}

fn reference_all(keys: &Keys, message: &[(String, Attr)]) -> bool {
    keys.iter().all(|(name, conds)| {
        let attr = message.iter().find(|(n, _)| n == name).map(|(_, a)| a);
        reference_key(conds, attr)
    })
}

fn reference(policy: &Policy, message: &[(String, Attr)]) -> bool {
    reference_all(&policy.keys, message)
        && policy
            .or
            .as_ref()
            .is_none_or(|(l, r)| reference_all(l, message) || reference_all(r, message))
}

// ---- Turning the generated values into the real inputs. ----

fn cond_json(cond: &Cond) -> Value {
    match cond {
        Cond::Str(s) => json!(s),
        Cond::Num(n) => json!(n),
        Cond::Prefix(p) => json!({ "prefix": p }),
        Cond::Suffix(p) => json!({ "suffix": p }),
        Cond::IgnoreCase(p) => json!({ "equals-ignore-case": p }),
        Cond::NotIn(list) => json!({ "anything-but": list }),
        Cond::Above(n) => json!({ "numeric": [">", n] }),
        Cond::Between(low, high) => json!({ "numeric": [">=", low, "<", high] }),
        Cond::Exists(b) => json!({ "exists": b }),
    }
}

fn keys_json(keys: &Keys) -> serde_json::Map<String, Value> {
    keys.iter()
        .map(|(name, conds)| {
            (
                name.clone(),
                Value::Array(conds.iter().map(cond_json).collect()),
            )
        })
        .collect()
}

fn policy_json(policy: &Policy) -> String {
    let mut root = keys_json(&policy.keys);
    if let Some((left, right)) = &policy.or {
        root.insert("$or".into(), json!([keys_json(left), keys_json(right)]));
    }
    Value::Object(root).to_string()
}

fn value_json(value: &Val) -> Value {
    match value {
        Val::S(s) => json!(s),
        Val::N(n) => json!(n),
    }
}

fn attributes(message: &[(String, Attr)]) -> MessageAttributes {
    let attribute = |data_type: &str, value: AttributeValue| MessageAttribute {
        data_type: data_type.to_string(),
        value,
    };
    message
        .iter()
        .map(|(name, attr)| {
            let converted = match attr {
                Attr::Text(s) => attribute("String", AttributeValue::String(s.clone())),
                Attr::Number(n) => attribute("Number", AttributeValue::String(n.to_string())),
                Attr::Array(items) => {
                    let elements: Vec<Value> = items.iter().map(value_json).collect();
                    attribute(
                        "String.Array",
                        AttributeValue::String(json!(elements).to_string()),
                    )
                }
                Attr::Binary => attribute("Binary", AttributeValue::Binary(b"x".to_vec())),
            };
            (name.clone(), converted)
        })
        .collect()
}

/// The message as a JSON body: the same values, Binary attributes left out
/// (the reference sees those as absent too).
fn body(message: &[(String, Attr)]) -> String {
    let fields: serde_json::Map<String, Value> = message
        .iter()
        .filter_map(|(name, attr)| {
            let value = match attr {
                Attr::Text(s) => json!(s),
                Attr::Number(n) => json!(n),
                Attr::Array(items) => items.iter().map(value_json).collect(),
                Attr::Binary => return None,
            };
            Some((name.clone(), value))
        })
        .collect();
    Value::Object(fields).to_string()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    /// The compiled policy decides every message as the reference does.
    #[test]
    fn compiled_policy_agrees_with_reference(policy in policy(), message in message()) {
        let json = policy_json(&policy);
        let compiled = FilterPolicy::parse(&json, FilterScope::MessageAttributes)
            .map_err(|e| TestCaseError::fail(format!("{json}: {e}")))?;
        prop_assert_eq!(
            compiled.matches(&attributes(&message), ""),
            reference(&policy, &message),
            "policy {} message {:?}", json, message
        );
    }

    /// At body scope the compiled policy decides the same message, as a JSON body, as the reference does.
    #[test]
    fn body_scope_agrees_with_reference(policy in policy(), message in message()) {
        let json = policy_json(&policy);
        let compiled = FilterPolicy::parse(&json, FilterScope::MessageBody)
            .map_err(|e| TestCaseError::fail(format!("{json}: {e}")))?;
        let body = body(&message);
        // A body key holding [] has no values: to a policy it is absent.
        let as_seen: Vec<(String, Attr)> = message
            .iter()
            .filter(|(_, attr)| !matches!(attr, Attr::Array(items) if items.is_empty()))
            .cloned()
            .collect();
        prop_assert_eq!(
            compiled.matches(&MessageAttributes::new(), &body),
            reference(&policy, &as_seen),
            "policy {} body {}", json, body
        );
    }
}
