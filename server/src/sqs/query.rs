//! The SQS query protocol: a form (`Action=SendMessage&QueueUrl=...&MessageAttribute.1.Name=...`)
//! decoded into the same request [`Value`] the JSON protocol yields, shaped by
//! the SQS model (and then validated by it); responses encoded from the model's
//! output shapes as XML in the 2012-11-05 namespace.
//!
//! SQS's lists and maps are flattened in this protocol and named by their
//! singular element name (`AttributeName.1`, `Attribute.1.Name`); the vendored
//! model keeps no location names, so [`element_name`] holds SQS's.

use super::SqsError;
use crate::protocol::model::{Kind, Model};
use crate::protocol::value::{Format, Value};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use std::collections::BTreeMap;
use std::fmt::Write as _;

const NAMESPACE: &str = "http://queue.amazonaws.com/doc/2012-11-05/";

/// The query name of member `member` of shape `shape`: the element name of
/// flattened lists and maps, the member name otherwise.
fn element_name<'a>(model: &'a Model, member: &'a str, shape: &'a str) -> &'a str {
    match member {
        "Attributes" => "Attribute",
        "AttributeNames" => "AttributeName",
        "MessageAttributeNames" => "MessageAttributeName",
        "MessageSystemAttributeNames" => "MessageSystemAttributeName",
        "MessageAttributes" => "MessageAttribute",
        "MessageSystemAttributes" => "MessageSystemAttribute",
        "tags" | "Tags" => "Tag",
        "TagKeys" => "TagKey",
        "AWSAccountIds" => "AWSAccountId",
        "Actions" => "ActionName",
        "QueueUrls" | "queueUrls" => "QueueUrl",
        "Messages" => "Message",
        "StringListValues" => "StringListValue",
        "BinaryListValues" => "BinaryListValue",
        "Entries" | "Successful" | "Failed" => match &model.shape(shape).kind {
            Kind::List(item) => item,
            _ => member,
        },
        _ => member,
    }
}

/// Names of a flattened map entry's key and value elements.
fn map_entry_names(member: &str) -> (&'static str, &'static str) {
    match member {
        "tags" | "Tags" => ("Key", "Value"),
        _ => ("Name", "Value"),
    }
}

/// The action and its request from a form body; a request without `QueueUrl`
/// sent to a queue's URL path (`/<account>/<name>`) takes the path.
pub fn decode(body: &[u8], path: &str) -> Result<(String, Value), SqsError> {
    let form: BTreeMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    let action = form
        .get("Action")
        .cloned()
        .ok_or_else(|| SqsError::missing("Action"))?;
    let model = crate::protocol::model::sqs();
    let Some(input) = model.operation(&action).and_then(|op| op.input.clone()) else {
        return Ok((action, Value::Map(BTreeMap::new())));
    };
    let mut request = build(model, &input, "", &form).unwrap_or(Value::Map(BTreeMap::new()));
    if let Value::Map(members) = &mut request {
        let is_queue_path = path.trim_matches('/').split('/').count() == 2;
        let takes_url = matches!(&model.shape(&input).kind, Kind::Structure { members, .. } if members.iter().any(|(m, _)| m == "QueueUrl"));
        if takes_url && is_queue_path && !members.contains_key("QueueUrl") {
            members.insert("QueueUrl".into(), Value::Text(path.to_string()));
        }
    }
    // Through the JSON validator: the same checks and errors as JSON requests.
    let json = Format::Json.encode(&request);
    let request = crate::protocol::validate::request(model, &action, Format::Json, &json)?;
    Ok((action, request))
}

/// The value of shape `shape` at `prefix` in the form, if any part of it is there.
fn build(
    model: &Model,
    shape: &str,
    prefix: &str,
    form: &BTreeMap<String, String>,
) -> Option<Value> {
    match &model.shape(shape).kind {
        Kind::Structure { members, .. } => {
            let mut out = BTreeMap::new();
            for (member, member_shape) in members {
                let name = element_name(model, member, member_shape);
                let key = format!("{prefix}{name}");
                if let Some(value) = build_member(model, member_shape, &key, form) {
                    out.insert(member.clone(), value);
                }
            }
            (!out.is_empty() || prefix.is_empty()).then_some(Value::Map(out))
        }
        _ => build_member(model, shape, prefix.trim_end_matches('.'), form),
    }
}

/// The value of shape `shape` named `key` (no trailing dot).
fn build_member(
    model: &Model,
    shape: &str,
    key: &str,
    form: &BTreeMap<String, String>,
) -> Option<Value> {
    let text = form.get(key);
    match &model.shape(shape).kind {
        Kind::Structure { .. } => build(model, shape, &format!("{key}."), form),
        Kind::List(item) => {
            let items: Vec<Value> = (1..)
                .map_while(|index| build_member(model, item, &format!("{key}.{index}"), form))
                .collect();
            (!items.is_empty()).then_some(Value::List(items))
        }
        Kind::Map(key_shape, value_shape) => {
            let member = key.rsplit('.').next().unwrap_or(key);
            let (key_name, value_name) = map_entry_names(member_of_element(member));
            let mut entries = BTreeMap::new();
            for index in 1.. {
                let entry = format!("{key}.{index}.");
                let Some(Value::Text(name)) =
                    build_member(model, key_shape, &format!("{entry}{key_name}"), form)
                else {
                    break;
                };
                let value = build_member(model, value_shape, &format!("{entry}{value_name}"), form)
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

/// The member name a map's element name stands for (only tags differ in entry names).
fn member_of_element(element: &str) -> &str {
    if element == "Tag" {
        "Tags"
    } else {
        element
    }
}

fn escape(text: &str) -> String {
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
pub fn encode(action: &str, response: &Value, request_id: &str) -> Vec<u8> {
    let model = crate::protocol::model::sqs();
    let mut xml = format!("<?xml version=\"1.0\"?><{action}Response xmlns=\"{NAMESPACE}\">");
    if let Some(output) = model.operation(action).and_then(|op| op.output.as_deref()) {
        let _ = write!(xml, "<{action}Result>");
        write_members(model, output, response, &mut xml);
        let _ = write!(xml, "</{action}Result>");
    }
    let _ = write!(
        xml,
        "<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata></{action}Response>"
    );
    xml.into_bytes()
}

fn write_members(model: &Model, shape: &str, value: &Value, xml: &mut String) {
    let (Kind::Structure { members, .. }, Value::Map(fields)) = (&model.shape(shape).kind, value)
    else {
        return;
    };
    for (member, member_shape) in members {
        if let Some(field) = fields.get(member) {
            let name = element_name(model, member, member_shape);
            write_value(model, member, name, member_shape, field, xml);
        }
    }
}

fn write_value(
    model: &Model,
    member: &str,
    name: &str,
    shape: &str,
    value: &Value,
    xml: &mut String,
) {
    match (&model.shape(shape).kind, value) {
        (Kind::List(item), Value::List(items)) => {
            for entry in items {
                write_value(model, member, name, item, entry, xml);
            }
        }
        (Kind::Map(_, value_shape), Value::Map(entries)) => {
            let (key_name, value_name) = map_entry_names(member);
            for (key, entry) in entries {
                let _ = write!(xml, "<{name}><{key_name}>{}</{key_name}>", escape(key));
                write_value(model, value_name, value_name, value_shape, entry, xml);
                let _ = write!(xml, "</{name}>");
            }
        }
        (Kind::Structure { .. }, Value::Map(_)) => {
            let _ = write!(xml, "<{name}>");
            write_members(model, shape, value, xml);
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

/// The XML error answer.
pub fn encode_error(error: &SqsError, request_id: &str) -> Vec<u8> {
    format!(
        "<?xml version=\"1.0\"?><ErrorResponse xmlns=\"{NAMESPACE}\"><Error><Type>{}</Type><Code>{}</Code><Message>{}</Message><Detail/></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
        error.fault(),
        escape(error.query_code),
        escape(&error.message),
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    //! Forms decode to the JSON protocol's request; responses encode as SQS's XML.
    use super::*;

    /// Flattened lists and maps, nested attribute values and the queue path.
    #[test]
    fn form_decodes_to_the_json_request() {
        let body = b"Action=SendMessage&MessageBody=hi%20there&DelaySeconds=3&MessageAttribute.1.Name=a&MessageAttribute.1.Value.DataType=String&MessageAttribute.1.Value.StringValue=x&MessageAttribute.2.Name=b&MessageAttribute.2.Value.DataType=Binary&MessageAttribute.2.Value.BinaryValue=AAEC";
        let (action, request) = decode(body, "/000000000000/q").unwrap();
        assert_eq!(action, "SendMessage");
        let expected = serde_json::json!({
            "QueueUrl": "/000000000000/q",
            "MessageBody": "hi there",
            "DelaySeconds": 3,
            "MessageAttributes": {
                "a": {"DataType": "String", "StringValue": "x"},
                "b": {"DataType": "Binary", "BinaryValue": "AAEC"},
            },
        });
        assert_eq!(
            Format::Json.encode(&request),
            serde_json::to_vec(&expected).unwrap()
        );
        let (_, receive) = decode(
            b"Action=ReceiveMessage&QueueUrl=u&AttributeName.1=All&MaxNumberOfMessages=2",
            "/",
        )
        .unwrap();
        let receive: serde_json::Value =
            serde_json::from_slice(&Format::Json.encode(&receive)).unwrap();
        assert_eq!(receive["AttributeNames"][0], "All");
        assert_eq!(receive["MaxNumberOfMessages"], 2);
        let error = decode(
            b"Action=ReceiveMessage&MaxNumberOfMessages=x&QueueUrl=u",
            "/",
        )
        .unwrap_err();
        assert_eq!(error.query_code, "MalformedQueryString");
    }

    /// Lists repeat their element, maps become Name/Value pairs, errors are ErrorResponse.
    #[test]
    fn responses_encode_as_xml() {
        let response = crate::protocol::value::Out::new()
            .with(
                "QueueUrls",
                vec![Value::Text("u1".into()), Value::Text("u&2".into())],
            )
            .into();
        let xml = String::from_utf8(encode("ListQueues", &response, "r")).unwrap();
        assert!(xml.contains("<ListQueuesResult><QueueUrl>u1</QueueUrl><QueueUrl>u&amp;2</QueueUrl></ListQueuesResult>"), "{xml}");
        let attributes = crate::protocol::value::Out::new()
            .with(
                "Attributes",
                Value::Map([("VisibilityTimeout".to_string(), Value::Text("30".into()))].into()),
            )
            .into();
        let xml = String::from_utf8(encode("GetQueueAttributes", &attributes, "r")).unwrap();
        assert!(
            xml.contains("<Attribute><Name>VisibilityTimeout</Name><Value>30</Value></Attribute>"),
            "{xml}"
        );
        let xml =
            String::from_utf8(encode("DeleteQueue", &Value::Map(BTreeMap::new()), "r")).unwrap();
        assert!(
            xml.contains("<DeleteQueueResponse") && !xml.contains("Result>"),
            "{xml}"
        );
        let error = SqsError::new("QueueDoesNotExist", "gone");
        let xml = String::from_utf8(encode_error(&error, "r")).unwrap();
        assert!(
            xml.contains("<Code>AWS.SimpleQueueService.NonExistentQueue</Code>"),
            "{xml}"
        );
    }
}
