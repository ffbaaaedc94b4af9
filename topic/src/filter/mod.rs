//! Subscription filter policies: compiled once when a subscription's
//! `FilterPolicy` is set, matched against every published message.
//!
//! A policy is a JSON object of keys (message attribute names, or with
//! [`FilterScope::MessageBody`] keys of the JSON body, nested as the body is)
//! to arrays of conditions: keys are ANDed, a key's conditions ORed, and `$or`
//! holds alternative objects. Compiling flattens the policy into its
//! alternatives (every `$or` choice spelled out), which is also how AWS counts
//! its limits, so matching is "any alternative whose every key matches".
//!
//! [`PolicyError`]'s messages use AWS's words where AWS's are known, since the
//! server shows them after "Invalid parameter: FilterPolicy: ".

mod compile;
mod condition;

use serde_json::Value;

use crate::message::{AttributeValue, MessageAttributes};
use compile::{Alternative, Leaf};
use condition::{Condition, Scalar};

pub use compile::{COMBINATIONS_MAX, KEYS_MAX};

/// The largest policy AWS accepts, in bytes.
pub const POLICY_BYTES_MAX: usize = 256 * 1024;

/// What a policy's keys name: the message's attributes (AWS's default) or the
/// keys of its JSON body (`FilterPolicyScope=MessageBody`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FilterScope {
    /// Keys are message attribute names.
    #[default]
    MessageAttributes,
    /// Keys are (nested) keys of the message body, parsed as JSON.
    MessageBody,
}

/// A compiled filter policy.
#[derive(Debug, Clone, PartialEq)]
pub struct FilterPolicy {
    scope: FilterScope,
    alternatives: Vec<Alternative>,
}

/// Why a filter policy was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PolicyError {
    /// The policy is larger than 256 KiB.
    #[error("Filter policy is too large: {policy_bytes} bytes, at most 262144 are allowed")]
    TooLarge {
        /// The policy's size.
        policy_bytes: usize,
    },
    /// The policy is not JSON.
    #[error("failed to parse JSON. {detail}")]
    Json {
        /// The parser's account of the problem.
        detail: String,
    },
    /// The policy is JSON but not an object.
    #[error("Filter policy must be a JSON object")]
    NotAnObject,
    /// A key holds neither an array of conditions nor (body scope) an object.
    #[error("\"{key}\" must be an object or an array")]
    FieldNotArray {
        /// The key.
        key: String,
    },
    /// A key holds an object at attribute scope.
    #[error("Filter policy scope MessageAttributes does not support nested filter policy")]
    NestedAtAttributeScope,
    /// An array of conditions (or of anything-but values) is empty.
    #[error("Empty arrays are not allowed")]
    EmptyArray,
    /// A condition is an array, or a value is neither string, number, boolean nor null.
    #[error("Match value must be String, number, true, false, or null")]
    BadMatchValue,
    /// A condition object does not hold exactly one operator.
    #[error("Only one key allowed in match expression")]
    MatchExpressionKeys,
    /// A condition object names an operator that does not exist.
    #[error("Unrecognized match type {name}")]
    UnrecognizedMatchType {
        /// The operator.
        name: String,
    },
    /// `prefix`, `suffix`, `equals-ignore-case` or `cidr` was given a non-string.
    #[error("{operator} match pattern must be a string")]
    PatternNotString {
        /// The operator.
        operator: &'static str,
    },
    /// `exists` was given something other than a boolean.
    #[error("exists match pattern must be either true or false.")]
    ExistsNotBoolean,
    /// `anything-but` was given a boolean or null.
    #[error("Value of anything-but must be an array or single string/number value.")]
    AnythingButValue,
    /// An `anything-but` list holds something other than strings and numbers.
    #[error("Inside anything but list, start|null|boolean is not supported.")]
    AnythingButListType,
    /// `anything-but` was given an operator it does not combine with.
    #[error("Unsupported anything-but pattern: {name}")]
    UnsupportedAnythingBut {
        /// The operator.
        name: String,
    },
    /// `numeric` was not given an array.
    #[error("Value of numeric must be an array.")]
    NumericNotArray,
    /// `numeric` was given no operator or more than two.
    #[error("Too many elements in numeric expression")]
    NumericTooManyElements,
    /// `numeric` names an operator that does not exist.
    #[error("Unrecognized numeric range operator: {operator}")]
    NumericOperator {
        /// The operator as written.
        operator: String,
    },
    /// An operator of `numeric` is not followed by a number.
    #[error("Value of {operator} must be numeric")]
    NumericValueNotNumber {
        /// The operator.
        operator: String,
    },
    /// The operators of `numeric` do not form a range (a lower bound, then an upper one).
    #[error("Bad numeric range operator: {operator}")]
    NumericBadRange {
        /// The misplaced operator.
        operator: String,
    },
    /// A numeric range's lower bound is not below its upper bound.
    #[error("Bottom must be less than top")]
    NumericBottomAboveTop,
    /// A number is outside ±1e9 or has more than five decimal places.
    #[error("Numeric value {value} is out of range: numbers must be between -1000000000 and 1000000000 with at most 5 decimal places")]
    NumberOutOfRange {
        /// The number as written.
        value: String,
    },
    /// A CIDR block without exactly one `/`.
    #[error("Malformed CIDR, one '/' required")]
    CidrMalformed,
    /// A CIDR block whose address or prefix length is not valid.
    #[error("Nonstandard IP address: {cidr}")]
    CidrAddress {
        /// The block as written.
        cidr: String,
    },
    /// More than 150 combinations of values.
    #[error("Filter policy is too complex")]
    TooComplex {
        /// The policy's combinations, as AWS counts them.
        combinations: u64,
    },
    /// An alternative of the policy has more than five keys.
    #[error("Filter policy can not have more than 5 keys")]
    TooManyKeys {
        /// The keys of the largest offending alternative.
        keys: usize,
    },
}

impl FilterPolicy {
    /// Parses and compiles a policy, enforcing AWS's limits.
    pub fn parse(json: &str, scope: FilterScope) -> Result<FilterPolicy, PolicyError> {
        if json.len() > POLICY_BYTES_MAX {
            return Err(PolicyError::TooLarge {
                policy_bytes: json.len(),
            });
        }
        let root: Value = serde_json::from_str(json).map_err(|e| PolicyError::Json {
            detail: e.to_string(),
        })?;
        let alternatives = compile::compile(&root, scope)?;
        Ok(FilterPolicy {
            scope,
            alternatives,
        })
    }

    /// The scope the policy was compiled for.
    pub fn scope(&self) -> FilterScope {
        self.scope
    }

    /// Whether a message passes the policy. At attribute scope only the
    /// attributes count; at body scope only the body, which must be a JSON
    /// object (anything else matches nothing).
    pub fn matches(&self, attributes: &MessageAttributes, body: &str) -> bool {
        match self.scope {
            FilterScope::MessageAttributes => self.any_alternative(|leaf| {
                attribute_matches(attributes, &leaf.path[0], &leaf.conditions)
            }),
            FilterScope::MessageBody => match serde_json::from_str::<Value>(body) {
                Ok(root @ Value::Object(_)) => self.any_alternative(|leaf| {
                    let mut values = Vec::new();
                    body_values(&root, &leaf.path, &mut values);
                    let present = !values.is_empty();
                    conditions_match(&leaf.conditions, present, &values)
                }),
                _ => false,
            },
        }
    }

    fn any_alternative(&self, leaf_matches: impl Fn(&Leaf) -> bool) -> bool {
        self.alternatives
            .iter()
            .any(|alternative| alternative.iter().all(&leaf_matches))
    }
}

/// A key matches when one of its conditions does: `exists` on the key's
/// presence, the others on any of its values.
fn conditions_match(conditions: &[Condition], present: bool, values: &[Scalar<'_>]) -> bool {
    conditions.iter().any(|condition| match condition {
        Condition::Exists(wanted) => *wanted == present,
        other => values.iter().any(|value| other.matches(value)),
    })
}

fn attribute_matches(attributes: &MessageAttributes, name: &str, conditions: &[Condition]) -> bool {
    let attribute = attributes.get(name);
    let text = match attribute.map(|a| &a.value) {
        Some(AttributeValue::String(text)) => Some(text.as_str()),
        // AWS ignores Binary attributes: to a policy they are absent.
        Some(AttributeValue::Binary(_)) | None => None,
    };
    let Some(text) = text else {
        return conditions_match(conditions, false, &[]);
    };
    let base_type = attribute.map_or("String", |a| a.base_type());
    match base_type {
        "Number" => {
            let values: Vec<Scalar<'_>> = text
                .trim()
                .parse::<f64>()
                .ok()
                .map(Scalar::Num)
                .into_iter()
                .collect();
            conditions_match(conditions, true, &values)
        }
        "String.Array" => {
            // Publish validates the array; one that does not parse has no values.
            let parsed: Vec<Value> = serde_json::from_str(text).unwrap_or_default();
            let values: Vec<Scalar<'_>> = parsed.iter().filter_map(Scalar::from_json).collect();
            conditions_match(conditions, true, &values)
        }
        _ => conditions_match(conditions, true, &[Scalar::Str(text)]),
    }
}

/// The leaf values under `path` in a JSON body; arrays on the way and at the
/// end are looked into, so each element counts as a value.
fn body_values<'v>(value: &'v Value, path: &[String], out: &mut Vec<Scalar<'v>>) {
    match (value, path.split_first()) {
        (Value::Array(items), _) => items.iter().for_each(|item| body_values(item, path, out)),
        (Value::Object(object), Some((key, rest))) => {
            if let Some(child) = object.get(key) {
                body_values(child, rest, out);
            }
        }
        // An object where a leaf was expected is not a value.
        (Value::Object(_), None) | (_, Some(_)) => {}
        (scalar, None) => out.extend(Scalar::from_json(scalar)),
    }
}
