//! Each filter policy operator, at attribute and body scope, matching and not.

use shardlog_topic::filter::{FilterPolicy, FilterScope};
use shardlog_topic::{AttributeValue, MessageAttribute, MessageAttributes};

fn attributes(entries: &[(&str, &str, &str)]) -> MessageAttributes {
    entries
        .iter()
        .map(|(name, data_type, value)| {
            let attribute = MessageAttribute {
                data_type: data_type.to_string(),
                value: AttributeValue::String(value.to_string()),
            };
            (name.to_string(), attribute)
        })
        .collect()
}

fn attribute_policy(json: &str) -> FilterPolicy {
    FilterPolicy::parse(json, FilterScope::MessageAttributes).expect("valid policy")
}

fn body_policy(json: &str) -> FilterPolicy {
    FilterPolicy::parse(json, FilterScope::MessageBody).expect("valid policy")
}

fn string_matches(policy: &FilterPolicy, value: &str) -> bool {
    policy.matches(&attributes(&[("k", "String", value)]), "")
}

fn number_matches(policy: &FilterPolicy, value: &str) -> bool {
    policy.matches(&attributes(&[("k", "Number", value)]), "")
}

/// Exact strings match case-sensitively and only strings; any listed value is enough.
#[test]
fn exact_strings() {
    let policy = attribute_policy(r#"{"k": ["rugby", "football"]}"#);
    assert!(string_matches(&policy, "rugby"));
    assert!(string_matches(&policy, "football"));
    assert!(!string_matches(&policy, "Rugby"));
    assert!(!string_matches(&policy, "rugby "));
    assert!(!policy.matches(&attributes(&[]), ""));
}

/// Exact numbers compare as numbers, with Number attributes, not with strings.
#[test]
fn exact_numbers() {
    let policy = attribute_policy(r#"{"k": [100, 0.5]}"#);
    assert!(number_matches(&policy, "100"));
    assert!(number_matches(&policy, "100.0"));
    assert!(number_matches(&policy, "1e2"));
    assert!(number_matches(&policy, "0.50"));
    assert!(!number_matches(&policy, "101"));
    assert!(!string_matches(&policy, "100"));
}

/// prefix matches strings starting with the pattern.
#[test]
fn prefix() {
    let policy = attribute_policy(r#"{"k": [{"prefix": "bas"}]}"#);
    assert!(string_matches(&policy, "baseball"));
    assert!(string_matches(&policy, "bas"));
    assert!(!string_matches(&policy, "ba"));
    assert!(!string_matches(&policy, "abase"));
}

/// suffix matches strings ending with the pattern.
#[test]
fn suffix() {
    let policy = attribute_policy(r#"{"k": [{"suffix": "ball"}]}"#);
    assert!(string_matches(&policy, "baseball"));
    assert!(!string_matches(&policy, "balls"));
}

/// anything-but with a list, a single value, a prefix and a suffix.
#[test]
fn anything_but() {
    let list = attribute_policy(r#"{"k": [{"anything-but": ["rugby", "tennis"]}]}"#);
    assert!(string_matches(&list, "soccer"));
    assert!(!string_matches(&list, "rugby"));
    assert!(
        !list.matches(&attributes(&[]), ""),
        "an absent key is not 'anything'"
    );

    let number = attribute_policy(r#"{"k": [{"anything-but": 100}]}"#);
    assert!(number_matches(&number, "99"));
    assert!(!number_matches(&number, "100.0"));

    let prefix = attribute_policy(r#"{"k": [{"anything-but": {"prefix": "order-"}}]}"#);
    assert!(string_matches(&prefix, "invoice-1"));
    assert!(!string_matches(&prefix, "order-1"));

    let suffix = attribute_policy(r#"{"k": [{"anything-but": {"suffix": ".tmp"}}]}"#);
    assert!(string_matches(&suffix, "a.txt"));
    assert!(!string_matches(&suffix, "a.tmp"));

    let case = attribute_policy(r#"{"k": [{"anything-but": {"equals-ignore-case": "Test"}}]}"#);
    assert!(string_matches(&case, "prod"));
    assert!(!string_matches(&case, "TEST"));
}

/// numeric ranges with every operator, alone and combined, bounds included or not.
#[test]
fn numeric_ranges() {
    let equal = attribute_policy(r#"{"k": [{"numeric": ["=", 301.5]}]}"#);
    assert!(number_matches(&equal, "301.5"));
    assert!(!number_matches(&equal, "301.50001"));

    let range = attribute_policy(r#"{"k": [{"numeric": [">", 0, "<=", 150]}]}"#);
    assert!(!number_matches(&range, "0"));
    assert!(number_matches(&range, "0.00001"));
    assert!(number_matches(&range, "150"));
    assert!(!number_matches(&range, "150.00001"));
    assert!(!string_matches(&range, "100"), "strings are not numbers");

    let closed = attribute_policy(r#"{"k": [{"numeric": [">=", -10, "<", 10]}]}"#);
    assert!(number_matches(&closed, "-10"));
    assert!(!number_matches(&closed, "10"));

    let below = attribute_policy(r#"{"k": [{"numeric": ["<", 5]}]}"#);
    assert!(number_matches(&below, "-1000000"));
    assert!(!number_matches(&below, "5"));
}

/// exists true needs the key, exists false its absence.
#[test]
fn exists() {
    let present = attribute_policy(r#"{"k": [{"exists": true}]}"#);
    let absent = attribute_policy(r#"{"k": [{"exists": false}]}"#);
    let with_key = attributes(&[("k", "String", "x")]);
    let without_key = attributes(&[("other", "String", "x")]);
    assert!(present.matches(&with_key, ""));
    assert!(!present.matches(&without_key, ""));
    assert!(absent.matches(&without_key, ""));
    assert!(!absent.matches(&with_key, ""));
}

/// equals-ignore-case ignores case, Unicode included.
#[test]
fn equals_ignore_case() {
    let policy = attribute_policy(r#"{"k": [{"equals-ignore-case": "ÉTÉ"}]}"#);
    assert!(string_matches(&policy, "été"));
    assert!(string_matches(&policy, "ÉtÉ"));
    assert!(!string_matches(&policy, "ete"));
}

/// cidr matches IPv4 and IPv6 addresses in the block, and nothing that is not an address.
#[test]
fn cidr() {
    let v4 = attribute_policy(r#"{"k": [{"cidr": "10.0.0.0/24"}]}"#);
    assert!(string_matches(&v4, "10.0.0.255"));
    assert!(!string_matches(&v4, "10.0.1.0"));
    assert!(!string_matches(&v4, "not an address"));

    let v6 = attribute_policy(r#"{"k": [{"cidr": "2001:db8::/32"}]}"#);
    assert!(string_matches(&v6, "2001:db8:ffff::1"));
    assert!(!string_matches(&v6, "2001:db9::1"));
    assert!(!string_matches(&v6, "10.0.0.1"));
}

/// String.Array attributes match when any element does, and each element keeps its JSON type.
#[test]
fn string_array_any_element() {
    let policy = attribute_policy(r#"{"k": ["rugby", 10]}"#);
    let array = |value| attributes(&[("k", "String.Array", value)]);
    assert!(policy.matches(&array(r#"["soccer", "rugby"]"#), ""));
    assert!(policy.matches(&array(r#"["soccer", 10]"#), ""));
    assert!(!policy.matches(&array(r#"["soccer", "10"]"#), ""));
    assert!(!policy.matches(&array("not json"), ""));
}

/// Binary attributes are ignored: no condition matches them, exists:false sees them as absent.
#[test]
fn binary_never_matches() {
    let binary: MessageAttributes = [(
        "k".to_string(),
        MessageAttribute {
            data_type: "Binary".into(),
            value: AttributeValue::Binary(b"rugby".to_vec()),
        },
    )]
    .into();
    assert!(!attribute_policy(r#"{"k": ["rugby"]}"#).matches(&binary, ""));
    assert!(!attribute_policy(r#"{"k": [{"exists": true}]}"#).matches(&binary, ""));
    assert!(!attribute_policy(r#"{"k": [{"prefix": ""}]}"#).matches(&binary, ""));
}

/// Keys are ANDed; $or chooses between objects, also nested inside a branch.
#[test]
fn and_of_keys_and_or_operator() {
    let policy = attribute_policy(
        r#"{"a": ["1"], "$or": [{"b": ["2"]}, {"c": ["3"], "$or": [{"d": ["4"]}, {"e": ["5"]}]}]}"#,
    );
    let check = |entries: &[(&str, &str)]| {
        let with_types: Vec<_> = entries.iter().map(|(k, v)| (*k, "String", *v)).collect();
        policy.matches(&attributes(&with_types), "")
    };
    assert!(check(&[("a", "1"), ("b", "2")]));
    assert!(check(&[("a", "1"), ("c", "3"), ("e", "5")]));
    assert!(!check(&[("a", "1"), ("c", "3")]));
    assert!(!check(&[("b", "2")]));
}

/// A $or that is not an array of at least two objects is an ordinary key, as AWS reads it.
#[test]
fn or_with_one_branch_is_an_ordinary_key() {
    let policy = attribute_policy(r#"{"$or": ["x"]}"#);
    assert!(policy.matches(&attributes(&[("$or", "String", "x")]), ""));
    assert!(!policy.matches(&attributes(&[]), ""));

    // Objects keyed by operators are conditions on a key named "$or".
    let conditions = attribute_policy(r#"{"$or": [{"prefix": "a"}, {"suffix": "z"}]}"#);
    assert!(conditions.matches(&attributes(&[("$or", "String", "abc")]), ""));
    assert!(conditions.matches(&attributes(&[("$or", "String", "xyz")]), ""));
    assert!(!conditions.matches(&attributes(&[("a", "String", "abc")]), ""));
}

/// At body scope keys nest as the body does, arrays match on any element, and
/// a body that is not a JSON object matches nothing.
#[test]
fn body_scope_nested_keys_and_arrays() {
    let policy = body_policy(
        r#"{"order": {"total": [{"numeric": [">", 100]}], "items": {"sku": [{"prefix": "B-"}]}}}"#,
    );
    let none = MessageAttributes::new();
    assert!(policy.matches(
        &none,
        r#"{"order": {"total": 150, "items": [{"sku": "A-1"}, {"sku": "B-2"}]}}"#
    ));
    assert!(!policy.matches(
        &none,
        r#"{"order": {"total": 150, "items": [{"sku": "A-1"}]}}"#
    ));
    assert!(!policy.matches(
        &none,
        r#"{"order": {"total": "150", "items": {"sku": "B-1"}}}"#
    ));
    assert!(!policy.matches(&none, "not json"));
    assert!(!policy.matches(&none, r#"["order"]"#));

    let tags = body_policy(r#"{"tags": ["red"]}"#);
    assert!(tags.matches(&none, r#"{"tags": ["blue", "red"]}"#));
    assert!(!tags.matches(&none, r#"{"tags": {"red": 1}}"#));
}

/// At body scope exists:false matches a missing nested key, and attributes are not consulted.
#[test]
fn body_scope_exists_and_ignores_attributes() {
    let policy = body_policy(r#"{"a": {"b": [{"exists": false}]}, "c": [true, null]}"#);
    let none = MessageAttributes::new();
    assert!(policy.matches(&none, r#"{"c": true}"#));
    assert!(policy.matches(&none, r#"{"a": {"x": 1}, "c": null}"#));
    assert!(!policy.matches(&none, r#"{"a": {"b": 1}, "c": true}"#));
    let attribute_only = attributes(&[("c", "String", "true")]);
    assert!(!policy.matches(&attribute_only, "{}"));
}

/// The empty policy matches every message.
#[test]
fn empty_policy_matches_everything() {
    assert!(attribute_policy("{}").matches(&attributes(&[]), ""));
    assert!(body_policy("{}").matches(&MessageAttributes::new(), "{}"));
}
