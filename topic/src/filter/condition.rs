//! One condition of a filter policy (an element of a key's array) and how it
//! matches one value of a message.

use ipnet::IpNet;
use serde_json::{Map, Value};
use std::net::IpAddr;

use super::PolicyError;

/// The largest magnitude AWS accepts for a number in a policy.
const NUMBER_MAGNITUDE_MAX: f64 = 1e9;
/// AWS keeps five digits after the decimal point.
const NUMBER_DECIMALS_MAX: i32 = 5;

/// A value of a message as conditions see it: a string attribute, a number
/// attribute, an element of a `String.Array`, or a leaf of a JSON body.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Scalar<'a> {
    /// A string.
    Str(&'a str),
    /// A number, compared as a number.
    Num(f64),
    /// `true` or `false` (only in arrays and bodies).
    Bool(bool),
    /// JSON `null` (only in arrays and bodies).
    Null,
}

impl<'a> Scalar<'a> {
    /// The scalar of a JSON value; arrays and objects are not scalars.
    pub(crate) fn from_json(value: &'a Value) -> Option<Scalar<'a>> {
        match value {
            Value::String(s) => Some(Scalar::Str(s)),
            Value::Number(n) => n.as_f64().map(Scalar::Num),
            Value::Bool(b) => Some(Scalar::Bool(*b)),
            Value::Null => Some(Scalar::Null),
            Value::Array(_) | Value::Object(_) => None,
        }
    }
}

/// A literal of the policy: what exact matching and anything-but compare with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Literal {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

impl Literal {
    fn equals(&self, value: &Scalar<'_>) -> bool {
        match (self, value) {
            (Literal::Str(a), Scalar::Str(b)) => a == b,
            (Literal::Num(a), Scalar::Num(b)) => a == b,
            (Literal::Bool(a), Scalar::Bool(b)) => a == b,
            (Literal::Null, Scalar::Null) => true,
            _ => false,
        }
    }
}

/// One bound of a numeric range.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Bound {
    value: f64,
    inclusive: bool,
}

/// A string pattern: what `prefix`, `suffix` and `equals-ignore-case` match,
/// alone or inside `anything-but`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Pattern {
    /// Strings starting with this.
    Prefix(String),
    /// Strings ending with this.
    Suffix(String),
    /// This string in any case (kept lowercased).
    IgnoringCase(String),
}

impl Pattern {
    fn matches(&self, value: &Scalar<'_>) -> bool {
        let Scalar::Str(s) = value else {
            return false;
        };
        match self {
            Pattern::Prefix(p) => s.starts_with(p.as_str()),
            Pattern::Suffix(p) => s.ends_with(p.as_str()),
            Pattern::IgnoringCase(p) => s.to_lowercase() == *p,
        }
    }
}

/// What `anything-but` excludes.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Excluded {
    /// Any of these strings or numbers.
    Values(Vec<Literal>),
    /// Strings matching the pattern.
    Pattern(Pattern),
}

/// A compiled condition.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Condition {
    /// Equal to a string, number, boolean or null; numbers compare as numbers.
    Exact(Literal),
    /// A string matching the pattern.
    Pattern(Pattern),
    /// Any present value except the excluded ones.
    AnythingBut(Excluded),
    /// A number within the bounds.
    Numeric {
        lower: Option<Bound>,
        upper: Option<Bound>,
    },
    /// The key is present (`true`) or absent (`false`).
    Exists(bool),
    /// A string holding an IP address within the network.
    Cidr(IpNet),
}

impl Condition {
    /// Whether one present value of the message satisfies this condition.
    /// `Exists` is decided by the caller, which knows whether the key is present.
    pub(crate) fn matches(&self, value: &Scalar<'_>) -> bool {
        match self {
            Condition::Exact(literal) => literal.equals(value),
            Condition::Pattern(pattern) => pattern.matches(value),
            Condition::AnythingBut(excluded) => !excluded.contains(value),
            Condition::Numeric { lower, upper } => match value {
                Scalar::Num(n) => within(*n, *lower, *upper),
                _ => false,
            },
            Condition::Exists(_) => false,
            Condition::Cidr(net) => match value {
                Scalar::Str(s) => s.parse::<IpAddr>().is_ok_and(|ip| net.contains(&ip)),
                _ => false,
            },
        }
    }
}

impl Excluded {
    fn contains(&self, value: &Scalar<'_>) -> bool {
        match self {
            Excluded::Values(values) => values.iter().any(|v| v.equals(value)),
            // A pattern only ever excludes strings: other values match.
            Excluded::Pattern(pattern) => pattern.matches(value),
        }
    }
}

fn within(n: f64, lower: Option<Bound>, upper: Option<Bound>) -> bool {
    let above = lower.is_none_or(|b| {
        if b.inclusive {
            n >= b.value
        } else {
            n > b.value
        }
    });
    let below = upper.is_none_or(|b| {
        if b.inclusive {
            n <= b.value
        } else {
            n < b.value
        }
    });
    above && below
}

/// Compiles one element of a key's array.
pub(crate) fn parse(value: &Value) -> Result<Condition, PolicyError> {
    match value {
        Value::Object(expression) => parse_expression(expression),
        Value::Array(_) => Err(PolicyError::BadMatchValue),
        scalar => Ok(Condition::Exact(literal(scalar)?)),
    }
}

fn literal(value: &Value) -> Result<Literal, PolicyError> {
    match value {
        Value::String(s) => Ok(Literal::Str(s.clone())),
        Value::Number(_) => Ok(Literal::Num(number(value)?)),
        Value::Bool(b) => Ok(Literal::Bool(*b)),
        Value::Null => Ok(Literal::Null),
        Value::Array(_) | Value::Object(_) => Err(PolicyError::BadMatchValue),
    }
}

/// A number of the policy, within AWS's range and precision.
fn number(value: &Value) -> Result<f64, PolicyError> {
    let n = value.as_f64().ok_or(PolicyError::BadMatchValue)?;
    let scaled = n * 10f64.powi(NUMBER_DECIMALS_MAX);
    // The tolerance absorbs binary rounding (0.1 * 1e5 is 10000.000000000002),
    // a few units in the last place of `scaled`, while still catching a sixth
    // decimal digit.
    let tolerance = scaled.abs() * 8.0 * f64::EPSILON + 1e-9;
    let precise = (scaled - scaled.round()).abs() <= tolerance;
    if n.abs() > NUMBER_MAGNITUDE_MAX || !precise {
        return Err(PolicyError::NumberOutOfRange {
            value: value.to_string(),
        });
    }
    Ok(n)
}

/// The operator and operand of a match expression, which holds exactly one.
fn only_entry(expression: &Map<String, Value>) -> Result<(&str, &Value), PolicyError> {
    let mut entries = expression.iter();
    match (entries.next(), entries.next()) {
        (Some((operator, operand)), None) => Ok((operator.as_str(), operand)),
        _ => Err(PolicyError::MatchExpressionKeys),
    }
}

/// The string pattern an operator names, if it names one.
fn parse_pattern(operator: &str, operand: &Value) -> Option<Result<Pattern, PolicyError>> {
    let (operator, make): (&'static str, fn(String) -> Pattern) = match operator {
        "prefix" => ("prefix", Pattern::Prefix),
        "suffix" => ("suffix", Pattern::Suffix),
        "equals-ignore-case" => ("equals-ignore-case", |p| {
            Pattern::IgnoringCase(p.to_lowercase())
        }),
        _ => return None,
    };
    Some(string_operand(operand, operator).map(make))
}

fn string_operand(value: &Value, operator: &'static str) -> Result<String, PolicyError> {
    value
        .as_str()
        .map(str::to_string)
        .ok_or(PolicyError::PatternNotString { operator })
}

fn parse_expression(expression: &Map<String, Value>) -> Result<Condition, PolicyError> {
    let (operator, operand) = only_entry(expression)?;
    if let Some(pattern) = parse_pattern(operator, operand) {
        return pattern.map(Condition::Pattern);
    }
    match operator {
        "exists" => match operand {
            Value::Bool(b) => Ok(Condition::Exists(*b)),
            _ => Err(PolicyError::ExistsNotBoolean),
        },
        "anything-but" => Ok(Condition::AnythingBut(parse_anything_but(operand)?)),
        "numeric" => parse_numeric(operand),
        "cidr" => parse_cidr(operand),
        other => Err(PolicyError::UnrecognizedMatchType {
            name: other.to_string(),
        }),
    }
}

fn parse_anything_but(operand: &Value) -> Result<Excluded, PolicyError> {
    let excluded_literal = |value: &Value| match value {
        Value::String(_) | Value::Number(_) => literal(value),
        _ => Err(PolicyError::AnythingButListType),
    };
    match operand {
        Value::String(_) | Value::Number(_) => Ok(Excluded::Values(vec![literal(operand)?])),
        Value::Array(items) if !items.is_empty() => Ok(Excluded::Values(
            items
                .iter()
                .map(excluded_literal)
                .collect::<Result<_, _>>()?,
        )),
        Value::Array(_) => Err(PolicyError::EmptyArray),
        Value::Object(expression) => {
            let (operator, pattern) = only_entry(expression)?;
            parse_pattern(operator, pattern)
                .unwrap_or_else(|| {
                    Err(PolicyError::UnsupportedAnythingBut {
                        name: operator.to_string(),
                    })
                })
                .map(Excluded::Pattern)
        }
        Value::Bool(_) | Value::Null => Err(PolicyError::AnythingButValue),
    }
}

fn parse_numeric(operand: &Value) -> Result<Condition, PolicyError> {
    let Value::Array(items) = operand else {
        return Err(PolicyError::NumericNotArray);
    };
    // At most one lower bound followed by one upper bound, or "=" alone.
    if items.is_empty() || items.len() > 4 {
        return Err(PolicyError::NumericTooManyElements);
    }
    let mut lower = None;
    let mut upper = None;
    for (index, pair) in items.chunks(2).enumerate() {
        let operator = pair[0]
            .as_str()
            .ok_or_else(|| PolicyError::NumericOperator {
                operator: pair[0].to_string(),
            })?;
        let operand = pair.get(1).filter(|v| v.is_number()).ok_or_else(|| {
            PolicyError::NumericValueNotNumber {
                operator: operator.to_string(),
            }
        })?;
        let value = number(operand)?;
        let bound = |inclusive| Some(Bound { value, inclusive });
        match (operator, index) {
            ("=", 0) if items.len() == 2 => (lower, upper) = (bound(true), bound(true)),
            (">", 0) => lower = bound(false),
            (">=", 0) => lower = bound(true),
            ("<", 0) => upper = bound(false),
            ("<=", 0) => upper = bound(true),
            ("<", 1) if lower.is_some() => upper = bound(false),
            ("<=", 1) if lower.is_some() => upper = bound(true),
            ("=" | ">" | ">=" | "<" | "<=", _) => {
                return Err(PolicyError::NumericBadRange {
                    operator: operator.to_string(),
                })
            }
            _ => {
                return Err(PolicyError::NumericOperator {
                    operator: operator.to_string(),
                })
            }
        }
    }
    if let (Some(low), Some(high)) = (lower, upper) {
        let equal_only = low == high && low.inclusive;
        if low.value >= high.value && !equal_only {
            return Err(PolicyError::NumericBottomAboveTop);
        }
    }
    Ok(Condition::Numeric { lower, upper })
}

fn parse_cidr(operand: &Value) -> Result<Condition, PolicyError> {
    let text = string_operand(operand, "cidr")?;
    if text.matches('/').count() != 1 {
        return Err(PolicyError::CidrMalformed);
    }
    text.parse::<IpNet>()
        .map(Condition::Cidr)
        .map_err(|_| PolicyError::CidrAddress { cidr: text })
}
