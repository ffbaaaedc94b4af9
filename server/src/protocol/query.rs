//! The AWS query protocol, shared by SQS and SNS: a form-encoded POST
//! (`Action=...&Version=...&<members>`) decoded into the request [`Value`] the
//! JSON protocol would yield (shaped by the service's model, then validated by
//! it), and an XML answer encoded from the model's output shape.
//!
//! The services differ only in how lists and maps are spelt, which a [`Dialect`]
//! states: SQS flattens them under a singular element name (`AttributeName.1`,
//! `Attribute.1.Name`), SNS wraps them (`AttributeNames.member.1`,
//! `Attributes.entry.1.key`), in the form and in the XML alike.

use crate::error::ApiError;
use crate::protocol::model::{Kind, Model};
use crate::protocol::value::{Format, Value};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// How one service spells its lists and maps in the query protocol.
pub struct Dialect {
    /// The service's model.
    pub model: fn() -> &'static Model,
    /// The XML namespace of its answers.
    pub namespace: &'static str,
    /// The wrapper element of list items (`member`), or `None` when lists are flattened.
    pub list_item: Option<&'static str>,
    /// The wrapper element of map entries (`entry`), or `None` when maps are flattened.
    pub map_entry: Option<&'static str>,
    /// The query name of member `member` (of shape `shape`).
    pub element_name: for<'a> fn(&'a Model, &'a str, &'a str) -> &'a str,
    /// The names of a map entry's key and value elements, by the map's member name.
    pub entry_names: fn(&str) -> (&'static str, &'static str),
}

/// A form body's fields.
pub type Form = BTreeMap<String, String>;

/// Parses a form-encoded body (later duplicates win, as in AWS).
pub fn parse_form(body: &[u8]) -> Form {
    form_urlencoded::parse(body).into_owned().collect()
}

/// The request of `action` from `form`, before validation: every member of the
/// action's input shape found in the form.
pub fn build_request(dialect: &Dialect, action: &str, form: &Form) -> Value {
    let model = (dialect.model)();
    match model.operation(action).and_then(|op| op.input.clone()) {
        Some(input) => build(dialect, &input, "", form).unwrap_or(Value::Map(BTreeMap::new())),
        None => Value::Map(BTreeMap::new()),
    }
}

/// Validates `request` against the model as a JSON request would be: the same
/// checks and the same errors.
pub fn validate(dialect: &Dialect, action: &str, request: &Value) -> Result<Value, ApiError> {
    let json = Format::Json.encode(request);
    crate::protocol::validate::request((dialect.model)(), action, Format::Json, &json)
}

/// The value of shape `shape` at `prefix` in the form, if any part of it is there.
fn build(dialect: &Dialect, shape: &str, prefix: &str, form: &Form) -> Option<Value> {
    let model = (dialect.model)();
    match &model.shape(shape).kind {
        Kind::Structure { members, .. } => {
            let mut out = BTreeMap::new();
            for (member, member_shape) in members {
                let name = (dialect.element_name)(model, member, member_shape);
                let key = format!("{prefix}{name}");
                if let Some(value) = build_member(dialect, member, member_shape, &key, form) {
                    out.insert(member.clone(), value);
                }
            }
            (!out.is_empty() || prefix.is_empty()).then_some(Value::Map(out))
        }
        _ => build_member(dialect, "", shape, prefix.trim_end_matches('.'), form),
    }
}

/// The value of member `member` (shape `shape`) named `key` (no trailing dot).
fn build_member(
    dialect: &Dialect,
    member: &str,
    shape: &str,
    key: &str,
    form: &Form,
) -> Option<Value> {
    let model = (dialect.model)();
    let text = form.get(key);
    match &model.shape(shape).kind {
        Kind::Structure { .. } => build(dialect, shape, &format!("{key}."), form),
        Kind::List(item) => {
            let base = wrapped(key, dialect.list_item);
            let items: Vec<Value> = (1..)
                .map_while(|index| {
                    build_member(dialect, "", item, &format!("{base}.{index}"), form)
                })
                .collect();
            (!items.is_empty()).then_some(Value::List(items))
        }
        Kind::Map(key_shape, value_shape) => {
            let (key_name, value_name) = (dialect.entry_names)(member);
            let base = wrapped(key, dialect.map_entry);
            let mut entries = BTreeMap::new();
            for index in 1.. {
                let entry = format!("{base}.{index}.");
                let Some(Value::Text(name)) =
                    build_member(dialect, "", key_shape, &format!("{entry}{key_name}"), form)
                else {
                    break;
                };
                let value = build_member(
                    dialect,
                    "",
                    value_shape,
                    &format!("{entry}{value_name}"),
                    form,
                )
                .unwrap_or(Value::Null);
                entries.insert(name, value);
            }
            (!entries.is_empty()).then_some(Value::Map(entries))
        }
        Kind::Integer | Kind::Long => text.map(|t| match t.trim().parse::<i128>() {
            Ok(n) => Value::Int(n),
            Err(_) => Value::Text(t.clone()),
        }),
        Kind::Boolean => text.map(|t| match t.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => Value::Text(t.clone()),
        }),
        _ => text.map(|t| Value::Text(t.clone())),
    }
}

fn wrapped(key: &str, wrapper: Option<&str>) -> String {
    match wrapper {
        Some(wrapper) => format!("{key}.{wrapper}"),
        None => key.to_string(),
    }
}

/// `text` escaped for XML character data and attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#xD;"),
            c => out.push(c),
        }
    }
    out
}

/// The XML answer to `action` with `response`.
pub fn encode(dialect: &Dialect, action: &str, response: &Value, request_id: &str) -> Vec<u8> {
    let model = (dialect.model)();
    let namespace = dialect.namespace;
    let mut xml = format!("<?xml version=\"1.0\"?><{action}Response xmlns=\"{namespace}\">");
    if let Some(output) = model.operation(action).and_then(|op| op.output.as_deref()) {
        let _ = write!(xml, "<{action}Result>");
        write_members(dialect, output, response, &mut xml);
        let _ = write!(xml, "</{action}Result>");
    }
    let _ = write!(
        xml,
        "<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
    );
    xml.into_bytes()
}

/// The XML error answer: `fault` is `Sender` or `Receiver`.
pub fn encode_error(
    dialect: &Dialect,
    fault: &str,
    code: &str,
    message: &str,
    request_id: &str,
) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"{}\"><Error><Type>{fault}</Type><Code>{}</Code><Message>{}</Message><Detail/></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
        dialect.namespace,
        escape(code),
        escape(message),
    )
    .into_bytes()
}

fn write_members(dialect: &Dialect, shape: &str, value: &Value, xml: &mut String) {
    let model = (dialect.model)();
    let (Kind::Structure { members, .. }, Value::Map(fields)) = (&model.shape(shape).kind, value)
    else {
        return;
    };
    for (member, member_shape) in members {
        if let Some(field) = fields.get(member) {
            let name = (dialect.element_name)(model, member, member_shape);
            write_value(dialect, member, name, member_shape, field, xml);
        }
    }
}

fn write_value(
    dialect: &Dialect,
    member: &str,
    name: &str,
    shape: &str,
    value: &Value,
    xml: &mut String,
) {
    let model = (dialect.model)();
    match (&model.shape(shape).kind, value) {
        (Kind::List(item), Value::List(items)) => {
            let item_name = dialect.list_item.unwrap_or(name);
            if dialect.list_item.is_some() {
                let _ = write!(xml, "<{name}>");
            }
            for entry in items {
                write_value(dialect, member, item_name, item, entry, xml);
            }
            if dialect.list_item.is_some() {
                let _ = write!(xml, "</{name}>");
            }
        }
        (Kind::Map(_, value_shape), Value::Map(entries)) => {
            let (key_name, value_name) = (dialect.entry_names)(member);
            let entry_name = dialect.map_entry.unwrap_or(name);
            if dialect.map_entry.is_some() {
                let _ = write!(xml, "<{name}>");
            }
            for (key, entry) in entries {
                let _ = write!(
                    xml,
                    "<{entry_name}><{key_name}>{}</{key_name}>",
                    escape(key)
                );
                write_value(dialect, value_name, value_name, value_shape, entry, xml);
                let _ = write!(xml, "</{entry_name}>");
            }
            if dialect.map_entry.is_some() {
                let _ = write!(xml, "</{name}>");
            }
        }
        (Kind::Structure { .. }, Value::Map(_)) => {
            let _ = write!(xml, "<{name}>");
            write_members(dialect, shape, value, xml);
            let _ = write!(xml, "</{name}>");
        }
        (_, scalar) => {
            let text = match scalar {
                Value::Text(text) => escape(text),
                Value::Int(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                Value::Bytes(bytes) => STANDARD.encode(bytes),
                Value::Float(f) => f.to_string(),
                Value::Timestamp(ms) => (ms / 1000).to_string(),
                Value::Null | Value::List(_) | Value::Map(_) => return,
            };
            let _ = write!(xml, "<{name}>{text}</{name}>");
        }
    }
}
