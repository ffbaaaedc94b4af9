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
use crate::protocol::query::{self as codec, Dialect};
use crate::protocol::value::Value;

/// SQS's spelling: flattened lists and maps under singular element names.
static DIALECT: Dialect = Dialect {
    model: crate::protocol::model::sqs,
    namespace: "http://queue.amazonaws.com/doc/2012-11-05/",
    list_item: None,
    map_entry: None,
    element_name,
    entry_names: map_entry_names,
};

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

/// Names of a flattened map entry's key and value elements, by the map's member name.
fn map_entry_names(member: &str) -> (&'static str, &'static str) {
    match member {
        "tags" | "Tags" => ("Key", "Value"),
        _ => ("Name", "Value"),
    }
}

/// The action and its request from a form body; a request without `QueueUrl`
/// sent to a queue's URL path (`/<account>/<name>`) takes the path.
pub fn decode(body: &[u8], path: &str) -> Result<(String, Value), SqsError> {
    let form = codec::parse_form(body);
    let action = form
        .get("Action")
        .cloned()
        .ok_or_else(|| SqsError::missing("Action"))?;
    let model = crate::protocol::model::sqs();
    let Some(input) = model.operation(&action).and_then(|op| op.input.clone()) else {
        return Ok((action, Value::Map(Default::default())));
    };
    let mut request = codec::build_request(&DIALECT, &action, &form);
    if let Value::Map(members) = &mut request {
        let is_queue_path = path.trim_matches('/').split('/').count() == 2;
        let takes_url = matches!(&model.shape(&input).kind, Kind::Structure { members, .. } if members.iter().any(|(m, _)| m == "QueueUrl"));
        if takes_url && is_queue_path && !members.contains_key("QueueUrl") {
            members.insert("QueueUrl".into(), Value::Text(path.to_string()));
        }
    }
    let request = codec::validate(&DIALECT, &action, &request)?;
    Ok((action, request))
}

/// The XML answer to `action` with `response`.
pub fn encode(action: &str, response: &Value, request_id: &str) -> Vec<u8> {
    codec::encode(&DIALECT, action, response, request_id)
}

/// The XML error answer.
pub fn encode_error(error: &SqsError, request_id: &str) -> Vec<u8> {
    codec::encode_error(
        &DIALECT,
        error.fault(),
        error.query_code,
        &error.message,
        request_id,
    )
}

#[cfg(test)]
mod tests {
    //! Forms decode to the JSON protocol's request; responses encode as SQS's XML.
    use super::*;
    use crate::protocol::value::Format;
    use std::collections::BTreeMap;

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
        let response = Value::Map(BTreeMap::from([(
            "QueueUrls".to_string(),
            Value::List(vec![Value::Text("u1".into()), Value::Text("u&2".into())]),
        )]));
        let xml = String::from_utf8(encode("ListQueues", &response, "r")).unwrap();
        assert!(xml.contains("<ListQueuesResult><QueueUrl>u1</QueueUrl><QueueUrl>u&amp;2</QueueUrl></ListQueuesResult>"), "{xml}");
        let attributes = Value::Map(BTreeMap::from([(
            "Attributes".to_string(),
            Value::Map([("VisibilityTimeout".to_string(), Value::Text("30".into()))].into()),
        )]));
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
