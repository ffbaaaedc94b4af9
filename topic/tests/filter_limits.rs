//! AWS's limits on filter policies and the errors for malformed ones.

use shardlog_topic::filter::{FilterPolicy, FilterScope, PolicyError};

fn attribute_error(json: &str) -> PolicyError {
    FilterPolicy::parse(json, FilterScope::MessageAttributes).expect_err("policy must be refused")
}

fn body_error(json: &str) -> PolicyError {
    FilterPolicy::parse(json, FilterScope::MessageBody).expect_err("policy must be refused")
}

/// A policy over 256 KiB is refused before parsing; one just under is accepted.
#[test]
fn size_limit() {
    let filler = |n: usize| format!(r#"{{"k": ["{}"]}}"#, "x".repeat(n));
    let overhead = filler(0).len();
    let at_limit = filler(256 * 1024 - overhead);
    assert!(FilterPolicy::parse(&at_limit, FilterScope::MessageAttributes).is_ok());
    let over = filler(256 * 1024 - overhead + 1);
    let error = attribute_error(&over);
    assert_eq!(
        error,
        PolicyError::TooLarge {
            policy_bytes: 256 * 1024 + 1
        }
    );
}

/// Five keys are allowed, six are not, counted per $or alternative and by leaf at body scope.
#[test]
fn key_limit() {
    let five = r#"{"a": ["1"], "b": ["1"], "c": ["1"], "d": ["1"], "e": ["1"]}"#;
    assert!(FilterPolicy::parse(five, FilterScope::MessageAttributes).is_ok());
    let six = r#"{"a": ["1"], "b": ["1"], "c": ["1"], "d": ["1"], "e": ["1"], "f": ["1"]}"#;
    let error = attribute_error(six);
    assert_eq!(error, PolicyError::TooManyKeys { keys: 6 });
    assert_eq!(
        error.to_string(),
        "Filter policy can not have more than 5 keys"
    );

    // Three shared keys plus two in each branch: five per alternative, allowed.
    let or_five = r#"{"a": ["1"], "b": ["1"], "c": ["1"], "$or": [{"d": ["1"], "e": ["1"]}, {"f": ["1"], "g": ["1"]}]}"#;
    assert!(FilterPolicy::parse(or_five, FilterScope::MessageAttributes).is_ok());

    // Nested objects do not count, their leaves do.
    let nested_six =
        r#"{"x": {"a": ["1"], "b": ["1"], "c": ["1"]}, "y": {"d": ["1"], "e": ["1"], "f": ["1"]}}"#;
    assert_eq!(body_error(nested_six), PolicyError::TooManyKeys { keys: 6 });
}

/// 150 combinations are allowed, 151 are not; $or branches add up, keys multiply.
#[test]
fn combination_limit() {
    let values = |n: usize| {
        let items: Vec<String> = (0..n).map(|i| format!("\"v{i}\"")).collect();
        format!("[{}]", items.join(","))
    };
    let at_limit = format!(r#"{{"a": {}, "b": {}}}"#, values(15), values(10));
    assert!(FilterPolicy::parse(&at_limit, FilterScope::MessageAttributes).is_ok());
    let over = format!(r#"{{"a": {}, "b": {}}}"#, values(151), values(1));
    let error = attribute_error(&over);
    assert_eq!(error, PolicyError::TooComplex { combinations: 151 });
    assert_eq!(error.to_string(), "Filter policy is too complex");

    // 2 x (70 + 6) = 152.
    let or_over = format!(
        r#"{{"a": {}, "$or": [{{"b": {}}}, {{"c": {}, "d": {}}}]}}"#,
        values(2),
        values(70),
        values(2),
        values(3)
    );
    assert_eq!(
        attribute_error(&or_over),
        PolicyError::TooComplex { combinations: 152 }
    );
}

/// Numbers must lie within ±1e9 and have at most five decimal places.
#[test]
fn number_limits() {
    for ok in [
        "1000000000",
        "-1000000000",
        "0.00001",
        "123456789.12345",
        "0.1",
    ] {
        let policy = format!(r#"{{"k": [{ok}, {{"numeric": [">", {ok}]}}]}}"#);
        assert!(
            FilterPolicy::parse(&policy, FilterScope::MessageAttributes).is_ok(),
            "{ok}"
        );
    }
    for bad in ["1000000000.5", "-1e10", "0.000001", "1.123456"] {
        let exact = attribute_error(&format!(r#"{{"k": [{bad}]}}"#));
        assert!(
            matches!(exact, PolicyError::NumberOutOfRange { .. }),
            "{bad}: {exact}"
        );
        let range = attribute_error(&format!(r#"{{"k": [{{"numeric": ["<", {bad}]}}]}}"#));
        assert!(
            matches!(range, PolicyError::NumberOutOfRange { .. }),
            "{bad}: {range}"
        );
    }
}

/// Malformed policies get AWS's messages.
#[test]
fn malformed_policies() {
    let cases: &[(&str, &str)] = &[
        (r#"{"k": "x"}"#, r#""k" must be an object or an array"#),
        (r#"{"k": []}"#, "Empty arrays are not allowed"),
        (
            r#"{"k": [["x"]]}"#,
            "Match value must be String, number, true, false, or null",
        ),
        (
            r#"{"k": [{"between": 1}]}"#,
            "Unrecognized match type between",
        ),
        (
            r#"{"k": [{"prefix": 1}]}"#,
            "prefix match pattern must be a string",
        ),
        (
            r#"{"k": [{"suffix": true}]}"#,
            "suffix match pattern must be a string",
        ),
        (
            r#"{"k": [{"exists": "yes"}]}"#,
            "exists match pattern must be either true or false.",
        ),
        (
            r#"{"k": [{"prefix": "a", "suffix": "b"}]}"#,
            "Only one key allowed in match expression",
        ),
        (
            r#"{"k": [{"numeric": [">", "1"]}]}"#,
            "Value of > must be numeric",
        ),
        (
            r#"{"k": [{"numeric": ["!=", 1]}]}"#,
            "Unrecognized numeric range operator: !=",
        ),
        (
            r#"{"k": [{"numeric": ["<", 1, ">", 0]}]}"#,
            "Bad numeric range operator: >",
        ),
        (
            r#"{"k": [{"numeric": [">", 5, "<", 1]}]}"#,
            "Bottom must be less than top",
        ),
        (
            r#"{"k": [{"numeric": [">", 0, "<", 5, "<", 6]}]}"#,
            "Too many elements in numeric expression",
        ),
        (
            r#"{"k": [{"cidr": "10.0.0.1"}]}"#,
            "Malformed CIDR, one '/' required",
        ),
        (
            r#"{"k": [{"cidr": "10.0.0.300/8"}]}"#,
            "Nonstandard IP address: 10.0.0.300/8",
        ),
        (
            r#"{"k": [{"anything-but": true}]}"#,
            "Value of anything-but must be an array or single string/number value.",
        ),
        (
            r#"{"k": [{"anything-but": [null]}]}"#,
            "Inside anything but list, start|null|boolean is not supported.",
        ),
        (r#"["k"]"#, "Filter policy must be a JSON object"),
    ];
    for (policy, message) in cases {
        assert_eq!(attribute_error(policy).to_string(), *message, "{policy}");
    }
    let not_json = attribute_error("{");
    assert!(matches!(not_json, PolicyError::Json { .. }), "{not_json}");
}

/// Nested objects are refused at attribute scope and accepted at body scope.
#[test]
fn nesting_only_at_body_scope() {
    let nested = r#"{"a": {"b": ["1"]}}"#;
    assert_eq!(attribute_error(nested), PolicyError::NestedAtAttributeScope);
    assert_eq!(
        attribute_error(nested).to_string(),
        "Filter policy scope MessageAttributes does not support nested filter policy"
    );
    assert!(FilterPolicy::parse(nested, FilterScope::MessageBody).is_ok());
}

/// A deeply nested $or that would expand to billions of alternatives is refused, quickly.
#[test]
fn exponential_or_is_refused_by_count() {
    let mut policy = String::from(r#"{"z": ["1"]}"#);
    for depth in 0..40 {
        // Each level doubles the count: 2 x (count below + 1).
        policy = format!(r#"{{"x{depth}": ["1", "2"], "$or": [{policy}, {{"y": ["1"]}}]}}"#);
    }
    let error = attribute_error(&policy);
    assert!(matches!(error, PolicyError::TooComplex { .. }), "{error}");
}
