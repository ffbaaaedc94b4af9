//! SQS over HTTP, byte for byte: JSON 1.0 bodies and content type, the MD5s SDKs
//! verify (against values computed independently, with Python's hashlib),
//! errors as `__type` plus `x-amzn-query-error`, and the query protocol's XML.

mod common;

use common::{post_raw, send_raw, start_with_sqs};
use std::net::SocketAddr;

async fn json(
    address: SocketAddr,
    action: &str,
    body: &str,
) -> (u16, hyper::HeaderMap, serde_json::Value) {
    let target = format!("AmazonSQS.{action}");
    let headers = [
        ("x-amz-target", target.as_str()),
        ("content-type", "application/x-amz-json-1.0"),
    ];
    let (status, headers, body) = post_raw(address, "/", &headers, body).await;
    let value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    (status, headers, value)
}

async fn form(address: SocketAddr, path: &str, body: &str) -> (u16, String) {
    let headers = [("content-type", "application/x-www-form-urlencoded")];
    let (status, _, body) = post_raw(address, path, &headers, body).await;
    (status, String::from_utf8(body).unwrap())
}

async fn metrics_text(address: SocketAddr) -> String {
    let (_, _, body) = send_raw(address, hyper::Method::GET, "/metrics", &[], "").await;
    String::from_utf8(body).unwrap()
}

/// A send returns the body's and the attributes' MD5s as SQS computes them, and
/// the receive returns the same digests, the attributes and the binary value.
#[tokio::test]
async fn json_send_and_receive_carry_sqs_digests() {
    let server = start_with_sqs().await;
    let address = server.address;
    let (status, headers, created) = json(address, "CreateQueue", r#"{"QueueName":"q"}"#).await;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/x-amz-json-1.0");
    let url = created["QueueUrl"].as_str().unwrap().to_string();
    assert_eq!(url, format!("http://{address}/000000000000/q"));
    let send = serde_json::json!({
        "QueueUrl": url,
        "MessageBody": "body é",
        "MessageAttributes": {
            "s": {"DataType": "String", "StringValue": "é"},
            "n": {"DataType": "Number", "StringValue": "7"},
            "raw": {"DataType": "Binary", "BinaryValue": "AAEC"},
        },
        "MessageSystemAttributes": {
            "AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793"},
        },
    });
    let (status, _, sent) = json(address, "SendMessage", &send.to_string()).await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["MD5OfMessageBody"], "87b08f317cd99944bcf080ad22d4ff9b");
    assert_eq!(
        sent["MD5OfMessageSystemAttributes"],
        "62a56dd927315f2b2e12832b84617ea5"
    );
    assert_eq!(
        sent["MD5OfMessageAttributes"],
        "60dc172ae403709fd5c005bdf8ec6115"
    );
    let receive = serde_json::json!({"QueueUrl": url, "MessageAttributeNames": ["All"]});
    let (_, _, received) = json(address, "ReceiveMessage", &receive.to_string()).await;
    let message = &received["Messages"][0];
    assert_eq!(message["Body"], "body é");
    assert_eq!(message["MD5OfBody"], "87b08f317cd99944bcf080ad22d4ff9b");
    assert_eq!(
        message["MD5OfMessageAttributes"],
        "60dc172ae403709fd5c005bdf8ec6115"
    );
    assert_eq!(message["MessageAttributes"]["raw"]["BinaryValue"], "AAEC");
    let metrics = metrics_text(address).await;
    assert!(
        metrics.contains("shardlog_requests_total{action=\"SendMessage\",outcome=\"OK\"} 1"),
        "{metrics}"
    );
    server.stop().await;
}

/// Each entry of a batch gets its own body's digest: its `MD5OfMessageBody`, and
/// its receive's `MD5OfBody`, for lengths around MD5's padding edges and with a
/// failed entry among them.
#[tokio::test]
async fn batch_digests_are_each_bodys_own() {
    let server = start_with_sqs().await;
    let address = server.address;
    let (_, _, created) = json(address, "CreateQueue", r#"{"QueueName":"digests"}"#).await;
    let url = created["QueueUrl"].as_str().unwrap().to_string();
    // Body k has `lens[k]` letters; digests from Python's hashlib.
    let expected = [
        (1, "0cc175b9c0f1b6a831c399e269772661"),
        (55, "1145d1cc9f4e333fc5ffd3678d02ad9f"),
        (56, "ff6e4ccfa8d5bb71d19ea9bccdaceb63"),
        (63, "cad970f131976bd3a4c6e0d97ee1c815"),
        (64, "45f58d020e4418e3886550774ab25d83"),
        (65, "6c23c930b9927567e2057530e78d79c6"),
        (119, "f5a090cd52ade6739da969b5c36233b2"),
        (120, "07745be8ab919c622e11b06fae5236de"),
        (1000, "1d3a1ef03ac4ed3f0f095b4f9f932d85"),
        (1024, "ab34799d3277a290a6339f7bae6a8a99"),
    ];
    let body = |k: usize, len: usize| -> String {
        (0..len)
            .map(|i| char::from(b'a' + ((i * 7 + k) % 26) as u8))
            .collect()
    };
    let mut entries: Vec<serde_json::Value> = expected
        .iter()
        .enumerate()
        .map(|(k, (len, _))| serde_json::json!({"Id": format!("e{k}"), "MessageBody": body(k, *len)}))
        .collect();
    entries[3]["DelaySeconds"] = serde_json::json!(901);
    let send = serde_json::json!({"QueueUrl": url, "Entries": entries});
    let (status, _, sent) = json(address, "SendMessageBatch", &send.to_string()).await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["Failed"][0]["Id"], "e3", "{sent}");
    let successful = sent["Successful"].as_array().unwrap();
    assert_eq!(successful.len(), 9, "{sent}");
    for entry in successful {
        let k: usize = entry["Id"].as_str().unwrap()[1..].parse().unwrap();
        assert_eq!(entry["MD5OfMessageBody"], expected[k].1, "entry {k}");
    }
    let mut received_count = 0;
    for _ in 0..9 {
        let receive = serde_json::json!({"QueueUrl": url, "MaxNumberOfMessages": 10});
        let (_, _, received) = json(address, "ReceiveMessage", &receive.to_string()).await;
        for message in received["Messages"].as_array().into_iter().flatten() {
            let text = message["Body"].as_str().unwrap();
            let k = expected
                .iter()
                .position(|(len, _)| *len == text.len())
                .unwrap();
            assert_eq!(text, body(k, expected[k].0));
            assert_eq!(message["MD5OfBody"], expected[k].1, "message {k}");
            received_count += 1;
        }
        if received_count == 9 {
            break;
        }
    }
    assert_eq!(received_count, 9);
    server.stop().await;
}

/// Errors carry the model's shape as `__type`, the legacy code and fault in
/// `x-amzn-query-error`, and SQS's status; an unknown action is InvalidAction; a
/// move task's bad ARN and unknown handle get AWS's errors.
#[tokio::test]
async fn json_errors_name_the_shape_and_the_query_code() {
    let server = start_with_sqs().await;
    let address = server.address;
    let (status, headers, error) = json(address, "GetQueueUrl", r#"{"QueueName":"none"}"#).await;
    assert_eq!(status, 400);
    assert_eq!(error["__type"], "com.amazonaws.sqs#QueueDoesNotExist");
    assert_eq!(
        headers["x-amzn-query-error"],
        "AWS.SimpleQueueService.NonExistentQueue;Sender"
    );
    let (status, headers, error) = json(
        address,
        "ReceiveMessage",
        r#"{"QueueUrl":"/0/none","MaxNumberOfMessages":"x"}"#,
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        error["__type"]
            .as_str()
            .unwrap()
            .starts_with("com.amazonaws.sqs#"),
        "{error}"
    );
    assert!(headers.contains_key("x-amzn-query-error"));
    let (_, _, error) = json(address, "SendMessage", r#"{"MessageBody":"x"}"#).await;
    assert_eq!(error["__type"], "com.amazonaws.sqs#MissingParameter");
    let (_, headers, error) = json(address, "Frobnicate", "{}").await;
    assert_eq!(error["__type"], "com.amazonaws.sqs#InvalidAction");
    assert_eq!(headers["x-amzn-query-error"], "InvalidAction;Sender");
    let (_, _, error) = json(address, "StartMessageMoveTask", r#"{"SourceArn":"a"}"#).await;
    assert_eq!(
        error["__type"],
        "com.amazonaws.sqs#InvalidParameterValueException"
    );
    let (status, headers, error) = json(
        address,
        "CancelMessageMoveTask",
        r#"{"TaskHandle":"bm90LWEtdGFzaw=="}"#,
    )
    .await;
    assert_eq!(
        (status, error["__type"].as_str()),
        (404, Some("com.amazonaws.sqs#ResourceNotFoundException"))
    );
    assert_eq!(
        headers["x-amzn-query-error"],
        "ResourceNotFoundException;Sender"
    );
    server.stop().await;
}

/// The query protocol: a form to the endpoint creates a queue, forms to the
/// queue's path send and receive (XML with the digests), and errors are
/// `ErrorResponse` documents with the legacy code.
#[tokio::test]
async fn query_protocol_answers_in_xml() {
    let server = start_with_sqs().await;
    let address = server.address;
    let (status, xml) = form(address, "/", "Action=CreateQueue&QueueName=xq&Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=5&Version=2012-11-05").await;
    assert_eq!(status, 200, "{xml}");
    assert!(xml.contains("<CreateQueueResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\"><CreateQueueResult><QueueUrl>"), "{xml}");
    let (_, xml) = form(address, "/000000000000/xq", "Action=SendMessage&MessageBody=hello&MessageAttribute.1.Name=a&MessageAttribute.1.Value.DataType=String&MessageAttribute.1.Value.StringValue=x").await;
    assert!(
        xml.contains("<MD5OfMessageBody>5d41402abc4b2a76b9719d911017c592</MD5OfMessageBody>"),
        "{xml}"
    );
    let (_, xml) = form(
        address,
        "/000000000000/xq",
        "Action=ReceiveMessage&AttributeName.1=All&MessageAttributeName.1=All",
    )
    .await;
    assert!(xml.contains("<Body>hello</Body>"), "{xml}");
    assert!(xml.contains("<MessageAttribute><Name>a</Name><Value><StringValue>x</StringValue><DataType>String</DataType></Value></MessageAttribute>"), "{xml}");
    assert!(
        xml.contains("<Attribute><Name>ApproximateReceiveCount</Name><Value>1</Value></Attribute>"),
        "{xml}"
    );
    let (_, xml) = form(address, "/", "Action=GetQueueAttributes&QueueUrl=http://x/000000000000/xq&AttributeName.1=VisibilityTimeout").await;
    assert!(
        xml.contains("<Attribute><Name>VisibilityTimeout</Name><Value>5</Value></Attribute>"),
        "{xml}"
    );
    let batch = "Action=SendMessageBatch&SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=one&SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody=two&SendMessageBatchRequestEntry.2.DelaySeconds=901";
    let (_, xml) = form(address, "/000000000000/xq", batch).await;
    assert!(
        xml.contains("<SendMessageBatchResultEntry><Id>a</Id>"),
        "{xml}"
    );
    assert!(xml.contains("<BatchResultErrorEntry><Id>b</Id><SenderFault>true</SenderFault><Code>InvalidParameterValue</Code>"), "{xml}");
    let (status, xml) = form(address, "/", "Action=GetQueueUrl&QueueName=missing").await;
    assert_eq!(status, 400);
    assert!(
        xml.contains(
            "<Error><Type>Sender</Type><Code>AWS.SimpleQueueService.NonExistentQueue</Code>"
        ),
        "{xml}"
    );
    let (status, xml) = form(address, "/", "Action=ListQueues").await;
    assert_eq!(status, 200);
    assert!(xml.contains("<QueueUrl>http://"), "{xml}");
    server.stop().await;
}

/// A request of the recorded scenario: JSON 1.0 (`action`, JSON body) or query
/// (queue path, form body). `{H<n>}` in a body stands for the n-th receipt
/// handle of the latest ReceiveMessage answer.
enum Step {
    Json(&'static str, &'static str),
    Form(&'static str, &'static str),
}

/// Members whose values change from run to run (ids, handles, times), masked
/// before answers are compared.
const VOLATILE: &[&str] = &[
    "MessageId",
    "ReceiptHandle",
    "RequestId",
    "SentTimestamp",
    "ApproximateFirstReceiveTimestamp",
    "CreatedTimestamp",
    "LastModifiedTimestamp",
    "SequenceNumber",
    "TaskHandle",
];

fn mask_json(value: &mut serde_json::Value) {
    match value {
        serde_json::Value::Object(map) => {
            for (key, item) in map.iter_mut() {
                if VOLATILE.contains(&key.as_str()) {
                    *item = serde_json::Value::String("*".into());
                } else {
                    mask_json(item);
                }
            }
        }
        serde_json::Value::Array(items) => items.iter_mut().for_each(mask_json),
        _ => {}
    }
}

/// `xml` with the text of every `<Name>` element (or `<Name>` attribute entry)
/// named in [`VOLATILE`] replaced by `*`.
fn mask_xml(xml: &str) -> String {
    let mut out = xml.to_string();
    for name in VOLATILE {
        for (open, close) in [
            (format!("<{name}>"), format!("</{name}>")),
            (
                format!("<Name>{name}</Name><Value>"),
                "</Value>".to_string(),
            ),
        ] {
            let mut from = 0;
            while let Some(start) = out[from..].find(&open).map(|i| from + i + open.len()) {
                let end = start + out[start..].find(&close).unwrap();
                out.replace_range(start..end, "*");
                from = start + 1;
            }
        }
    }
    out
}

/// Receipt handles of an answer, in order.
fn handles(body: &str) -> Vec<String> {
    let (open, close) = if body.starts_with('{') {
        ("\"ReceiptHandle\":\"", "\"")
    } else {
        ("<ReceiptHandle>", "</ReceiptHandle>")
    };
    body.split(open)
        .skip(1)
        .map(|rest| rest[..rest.find(close).unwrap()].to_string())
        .collect()
}

/// Runs the steps on a fresh server; one line per request and one per answer.
async fn record(steps: &[Step]) -> String {
    let server = start_with_sqs().await;
    let address = server.address;
    let mut received: Vec<String> = Vec::new();
    let mut out = String::new();
    for step in steps {
        let (kind, target, template) = match step {
            Step::Json(action, body) => ("json", *action, *body),
            Step::Form(path, body) => ("form", *path, *body),
        };
        let mut body = template.to_string();
        for (index, handle) in received.iter().enumerate() {
            let handle = match step {
                Step::Json(..) => handle.clone(),
                Step::Form(..) => form_urlencoded::byte_serialize(handle.as_bytes()).collect(),
            };
            body = body.replace(&format!("{{H{index}}}"), &handle);
        }
        let (status, query_error, answer) = match step {
            Step::Json(..) => {
                let (status, headers, mut value) = json(address, target, &body).await;
                let query_error = headers
                    .get("x-amzn-query-error")
                    .map(|v| v.to_str().unwrap().to_string());
                let raw = value.to_string();
                mask_json(&mut value);
                (status, query_error, (raw, value.to_string()))
            }
            Step::Form(..) => {
                let (status, xml) = form(address, target, &body).await;
                let masked = mask_xml(&xml);
                (status, None, (xml, masked))
            }
        };
        let (raw, masked) = answer;
        if !handles(&raw).is_empty() {
            received = handles(&raw);
        }
        let masked = masked.replace(&address.to_string(), "HOST");
        out.push_str(&format!("> {kind} {target} {template}\n"));
        out.push_str(&format!("< {status} {query_error:?} {masked}\n"));
    }
    server.stop().await;
    out
}

const RECORDED: &str = "tests/fixtures/sqs_answers.txt";

/// Every SQS action, in both protocols, answers as recorded in
/// `tests/fixtures/sqs_answers.txt` (ids, handles and times masked): names,
/// values, errors and their order of checks stay as clients have seen them.
/// `SHARDLOG_RECORD=1` rewrites the file from the current answers.
#[tokio::test]
async fn every_action_answers_as_recorded() {
    let answers = record(&scenario()).await;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(RECORDED);
    if std::env::var_os("SHARDLOG_RECORD").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &answers).unwrap();
    }
    let recorded = std::fs::read_to_string(&path).unwrap();
    for (line, (now, then)) in answers.lines().zip(recorded.lines()).enumerate() {
        assert_eq!(now, then, "line {} of {RECORDED}", line + 1);
    }
    assert_eq!(answers.lines().count(), recorded.lines().count());
}

fn scenario() -> Vec<Step> {
    use Step::{Form, Json};
    vec![
        Json("CreateQueue", r#"{"QueueName":"gq","Attributes":{"VisibilityTimeout":"40","DelaySeconds":"0"},"tags":{"team":"a"}}"#),
        Json("CreateQueue", r#"{"QueueName":"gq","Attributes":{"VisibilityTimeout":"40"}}"#),
        Json("CreateQueue", r#"{"QueueName":"gq","Attributes":{"VisibilityTimeout":"41"}}"#),
        Json("CreateQueue", r#"{"QueueName":"g q"}"#),
        Json("CreateQueue", r#"{"QueueName":"gx","Attributes":{"Colour":"red"}}"#),
        Json("CreateQueue", r#"{"QueueName":"gx","Attributes":{"FifoQueue":"true"}}"#),
        Json("CreateQueue", r#"{"QueueName":"gq.fifo","Attributes":{"FifoQueue":"true","ContentBasedDeduplication":"true"}}"#),
        Json("CreateQueue", r#"{"QueueName":"gdlq"}"#),
        Json("CreateQueue", r#"{}"#),
        Json("GetQueueUrl", r#"{"QueueName":"gq"}"#),
        Json("GetQueueUrl", r#"{"QueueName":"none"}"#),
        Json("ListQueues", r#"{"QueueNamePrefix":"g"}"#),
        Json("ListQueues", r#"{"QueueNamePrefix":"zz"}"#),
        Json("ListQueues", r#"{"QueueNamePrefix":"g","MaxResults":2}"#),
        Json("ListQueues", r#"{"QueueNamePrefix":"g","MaxResults":2,"NextToken":"Z2RscQ=="}"#),
        Json("ListQueues", r#"{"MaxResults":0}"#),
        Json("ListQueues", r#"{"NextToken":"!!"}"#),
        Json("SetQueueAttributes", r#"{"QueueUrl":"/000000000000/gq","Attributes":{"RedrivePolicy":"{\"deadLetterTargetArn\":\"arn:aws:sqs:us-east-1:000000000000:gdlq\",\"maxReceiveCount\":\"3\"}","MessageRetentionPeriod":"600"}}"#),
        Json("SetQueueAttributes", r#"{"QueueUrl":"/000000000000/gq","Attributes":{"RedrivePolicy":"{}x"}}"#),
        Json("SetQueueAttributes", r#"{"QueueUrl":"/000000000000/gdlq","Attributes":{"RedriveAllowPolicy":"{\"redrivePermission\":\"byQueue\",\"sourceQueueArns\":[\"arn:aws:sqs:us-east-1:000000000000:gq\"]}"}}"#),
        Json("GetQueueAttributes", r#"{"QueueUrl":"/000000000000/gq","AttributeNames":["All"]}"#),
        Json("GetQueueAttributes", r#"{"QueueUrl":"/000000000000/gq.fifo","AttributeNames":["FifoQueue","VisibilityTimeout"]}"#),
        Json("GetQueueAttributes", r#"{"QueueUrl":"/000000000000/gq"}"#),
        Json("GetQueueAttributes", r#"{"QueueUrl":"/000000000000/gq","AttributeNames":["Nope"]}"#),
        Json("GetQueueAttributes", r#"{"QueueUrl":"/000000000000/none","AttributeNames":["All"]}"#),
        Json("ListDeadLetterSourceQueues", r#"{"QueueUrl":"/000000000000/gdlq"}"#),
        Json("ListDeadLetterSourceQueues", r#"{"QueueUrl":"/000000000000/gq","MaxResults":1}"#),
        Json("TagQueue", r#"{"QueueUrl":"/000000000000/gq","Tags":{"b":"2","c":"3"}}"#),
        Json("ListQueueTags", r#"{"QueueUrl":"/000000000000/gq"}"#),
        Json("UntagQueue", r#"{"QueueUrl":"/000000000000/gq","TagKeys":["team","b","c"]}"#),
        Json("ListQueueTags", r#"{"QueueUrl":"/000000000000/gq"}"#),
        Json("AddPermission", r#"{"QueueUrl":"/000000000000/gq","Label":"l1","AWSAccountIds":["111122223333"],"Actions":["SendMessage"]}"#),
        Json("AddPermission", r#"{"QueueUrl":"/000000000000/gq","Label":"l1","AWSAccountIds":["111122223333"],"Actions":["SendMessage"]}"#),
        Json("AddPermission", r#"{"QueueUrl":"/000000000000/gq","Label":"l2","AWSAccountIds":[],"Actions":["SendMessage"]}"#),
        Json("GetQueueAttributes", r#"{"QueueUrl":"/000000000000/gq","AttributeNames":["Policy"]}"#),
        Json("RemovePermission", r#"{"QueueUrl":"/000000000000/gq","Label":"l1"}"#),
        Json("RemovePermission", r#"{"QueueUrl":"/000000000000/gq","Label":"l1"}"#),
        Json("SendMessage", r#"{"QueueUrl":"/000000000000/gq","MessageBody":"one","DelaySeconds":0,"MessageAttributes":{"s":{"DataType":"String","StringValue":"x"},"n":{"DataType":"Number.int","StringValue":"7"},"b":{"DataType":"Binary","BinaryValue":"AAEC"}},"MessageSystemAttributes":{"AWSTraceHeader":{"DataType":"String","StringValue":"Root=1"}}}"#),
        Json("SendMessage", r#"{"QueueUrl":"/000000000000/gq","MessageBody":"two"}"#),
        Json("SendMessage", r#"{"QueueUrl":"/000000000000/gq","MessageBody":""}"#),
        Json("SendMessage", r#"{"QueueUrl":"/000000000000/gq","MessageBody":"bad \u0001"}"#),
        Json("SendMessage", r#"{"QueueUrl":"/000000000000/gq","MessageBody":"x","DelaySeconds":901}"#),
        Json("SendMessage", r#"{"QueueUrl":"/000000000000/gq","MessageBody":"x","MessageAttributes":{"e":{"DataType":"String","StringValue":""}}}"#),
        Json("SendMessage", r#"{"QueueUrl":"/000000000000/gq","MessageBody":"x","MessageAttributes":{"e":{"DataType":"Binary"}}}"#),
        Json("SendMessage", r#"{"QueueUrl":"/000000000000/gq","MessageBody":"x","MessageAttributes":{"e":{"DataType":"Float","StringValue":"1"}}}"#),
        Json("SendMessage", r#"{"QueueUrl":"/000000000000/gq","MessageBody":"x","MessageSystemAttributes":{"Other":{"DataType":"String","StringValue":"1"}}}"#),
        Json("SendMessage", r#"{"QueueUrl":"/000000000000/gq","MessageBody":"x","MessageSystemAttributes":{"AWSTraceHeader":{"DataType":"Number","StringValue":"1"}}}"#),
        Json("SendMessage", r#"{"QueueUrl":"/000000000000/none","MessageBody":"x"}"#),
        Json("SendMessage", r#"{"QueueUrl":"/000000000000/gq.fifo","MessageBody":"f1","MessageGroupId":"g1"}"#),
        Json("SendMessage", r#"{"QueueUrl":"/000000000000/gq.fifo","MessageBody":"f2"}"#),
        Json("SendMessageBatch", r#"{"QueueUrl":"/000000000000/gq","Entries":[{"Id":"a","MessageBody":"three","MessageAttributes":{"k":{"DataType":"String","StringValue":"v"}}},{"Id":"b","MessageBody":""},{"Id":"c","MessageBody":"four","DelaySeconds":1000}]}"#),
        Json("SendMessageBatch", r#"{"QueueUrl":"/000000000000/gq","Entries":[]}"#),
        Json("SendMessageBatch", r#"{"QueueUrl":"/000000000000/gq","Entries":[{"Id":"a","MessageBody":"x"},{"Id":"a","MessageBody":"y"}]}"#),
        Json("SendMessageBatch", r#"{"QueueUrl":"/000000000000/gq","Entries":[{"Id":"a b","MessageBody":"x"}]}"#),
        Json("SendMessageBatch", r#"{"QueueUrl":"/000000000000/gq","Entries":[{"Id":"1","MessageBody":"x"},{"Id":"2","MessageBody":"x"},{"Id":"3","MessageBody":"x"},{"Id":"4","MessageBody":"x"},{"Id":"5","MessageBody":"x"},{"Id":"6","MessageBody":"x"},{"Id":"7","MessageBody":"x"},{"Id":"8","MessageBody":"x"},{"Id":"9","MessageBody":"x"},{"Id":"10","MessageBody":"x"},{"Id":"11","MessageBody":"x"}]}"#),
        Json("ReceiveMessage", r#"{"QueueUrl":"/000000000000/gq","MaxNumberOfMessages":10,"AttributeNames":["All"],"MessageAttributeNames":["All"],"VisibilityTimeout":60}"#),
        Json("ChangeMessageVisibility", r#"{"QueueUrl":"/000000000000/gq","ReceiptHandle":"{H0}","VisibilityTimeout":100}"#),
        Json("ChangeMessageVisibility", r#"{"QueueUrl":"/000000000000/gq","ReceiptHandle":"bogus","VisibilityTimeout":100}"#),
        Json("ChangeMessageVisibility", r#"{"QueueUrl":"/000000000000/gq","ReceiptHandle":"{H0}","VisibilityTimeout":43201}"#),
        Json("ChangeMessageVisibilityBatch", r#"{"QueueUrl":"/000000000000/gq","Entries":[{"Id":"a","ReceiptHandle":"{H1}","VisibilityTimeout":5},{"Id":"b","ReceiptHandle":"bogus","VisibilityTimeout":5},{"Id":"c","ReceiptHandle":"{H2}"}]}"#),
        Json("DeleteMessage", r#"{"QueueUrl":"/000000000000/gq","ReceiptHandle":"{H0}"}"#),
        Json("DeleteMessage", r#"{"QueueUrl":"/000000000000/gq","ReceiptHandle":"bogus"}"#),
        Json("DeleteMessageBatch", r#"{"QueueUrl":"/000000000000/gq","Entries":[{"Id":"a","ReceiptHandle":"{H1}"},{"Id":"b","ReceiptHandle":"bogus"}]}"#),
        Json("ChangeMessageVisibility", r#"{"QueueUrl":"/000000000000/gq","ReceiptHandle":"{H2}","VisibilityTimeout":0}"#),
        Json("SendMessage", r#"{"QueueUrl":"/000000000000/gq","MessageBody":"five","MessageAttributes":{"s":null,"k":{"DataType":"String","StringValue":"w"}},"DelaySeconds":null}"#),
        Json("ReceiveMessage", r#"{"QueueUrl":"/000000000000/gq","MaxNumberOfMessages":10,"MessageSystemAttributeNames":["ApproximateReceiveCount","SenderId"],"MessageAttributeNames":["s","k"]}"#),
        Json("ReceiveMessage", r#"{"QueueUrl":"/000000000000/gq","MaxNumberOfMessages":11}"#),
        Json("ReceiveMessage", r#"{"QueueUrl":"/000000000000/gq.fifo","AttributeNames":["All"],"ReceiveRequestAttemptId":"r1"}"#),
        Json("ReceiveMessage", r#"{"QueueUrl":"/000000000000/gdlq","WaitTimeSeconds":0}"#),
        Json("StartMessageMoveTask", r#"{"SourceArn":"arn:aws:sqs:us-east-1:000000000000:gq"}"#),
        Json("StartMessageMoveTask", r#"{"SourceArn":"arn:aws:sqs:us-east-1:000000000000:gdlq","MaxNumberOfMessagesPerSecond":501}"#),
        Json("StartMessageMoveTask", r#"{"SourceArn":"arn:aws:sqs:us-east-1:000000000000:none"}"#),
        Json("ListMessageMoveTasks", r#"{"SourceArn":"arn:aws:sqs:us-east-1:000000000000:gdlq"}"#),
        Json("ListMessageMoveTasks", r#"{"SourceArn":"arn:aws:sqs:us-east-1:000000000000:gdlq","MaxResults":11}"#),
        Json("ListMessageMoveTasks", r#"{"SourceArn":"gdlq"}"#),
        Json("CancelMessageMoveTask", r#"{"TaskHandle":"eyJ0YXNrSWQiOiI5OSJ9"}"#),
        Json("GetQueueAttributes", r#"{"QueueUrl":"/000000000000/gq","AttributeNames":[null]}"#),
        Json("SetQueueAttributes", r#"{"QueueUrl":"/000000000000/gq","Attributes":{"DelaySeconds":null}}"#),
        Json("CreateQueue", r#"{"QueueName":"gn","tags":{"a":null}}"#),
        Json("SendMessageBatch", r#"{"QueueUrl":"/000000000000/none","Entries":[null]}"#),
        Json("SendMessageBatch", r#"{"QueueUrl":"/000000000000/gq","Entries":[{"Id":"a b","MessageBody":"x"},null]}"#),
        Json("DeleteMessageBatch", r#"{"QueueUrl":"/000000000000/gq","Entries":[null]}"#),
        Json("SendMessage", r#"{"QueueUrl":"/000000000000/gq","MessageBody":"x","MessageSystemAttributes":{"AWSTraceHeader":null}}"#),
        Json("ReceiveMessage", r#"{"QueueUrl":"/000000000000/gq","MaxNumberOfMessages":100000000000000000000000}"#),
        Json("ReceiveMessage", r#"{"QueueUrl":"/000000000000/gq","MaxNumberOfMessages":-18446744073709551617}"#),
        Json("SendMessage", r#"{"QueueUrl":"/000000000000/gq","MessageBody":"x","DelaySeconds":900.7}"#),
        Json("ListQueues", r#"{"MaxResults":1e3,"QueueNamePrefix":"gq"}"#),
        Json("PurgeQueue", r#"{"QueueUrl":"/000000000000/gq"}"#),
        Json("DeleteQueue", r#"{"QueueUrl":"/000000000000/gx"}"#),
        Json("DeleteQueue", r#"{"QueueUrl":"/000000000000/gq.fifo"}"#),
        Json("DeleteQueue", r#"{"QueueUrl":"/000000000000/gq.fifo"}"#),
        Json("CreateQueue", r#"{"QueueName":"gq.fifo","Attributes":{"FifoQueue":"true"}}"#),
        Form("/", "Action=CreateQueue&QueueName=fq&Attribute.1.Name=VisibilityTimeout&Attribute.1.Value=7&Tag.1.Key=t&Tag.1.Value=v"),
        Form("/", "Action=CreateQueue&QueueName=fq.fifo&Attribute.1.Name=FifoQueue&Attribute.1.Value=true"),
        Form("/", "Action=GetQueueUrl&QueueName=fq"),
        Form("/", "Action=ListQueues&QueueNamePrefix=f&MaxResults=1"),
        Form("/", "Action=ListQueues&QueueNamePrefix=nothing"),
        Form("/000000000000/fq", "Action=GetQueueAttributes&AttributeName.1=VisibilityTimeout&AttributeName.2=DelaySeconds"),
        Form("/000000000000/fq", "Action=SetQueueAttributes&Attribute.1.Name=DelaySeconds&Attribute.1.Value=nope"),
        Form("/000000000000/fq", "Action=SetQueueAttributes&Attribute.1.Name=DelaySeconds&Attribute.1.Value=0"),
        Form("/000000000000/fq", "Action=TagQueue&Tag.1.Key=a&Tag.1.Value=1"),
        Form("/000000000000/fq", "Action=ListQueueTags"),
        Form("/000000000000/fq", "Action=UntagQueue&TagKey.1=a"),
        Form("/000000000000/fq", "Action=AddPermission&Label=p&AWSAccountId.1=111122223333&ActionName.1=ReceiveMessage"),
        Form("/000000000000/fq", "Action=RemovePermission&Label=p"),
        Form("/000000000000/fq", "Action=SendMessage&MessageBody=m1&MessageAttribute.1.Name=bin&MessageAttribute.1.Value.DataType=Binary&MessageAttribute.1.Value.BinaryValue=AAEC&MessageSystemAttribute.1.Name=AWSTraceHeader&MessageSystemAttribute.1.Value.DataType=String&MessageSystemAttribute.1.Value.StringValue=Root%3D2"),
        Form("/000000000000/fq", "Action=SendMessage&MessageBody=m0&MessageAttribute.1.Name=nv"),
        Form("/000000000000/fq", "Action=SendMessage&MessageBody=m2&DelaySeconds=x"),
        Form("/000000000000/fq.fifo", "Action=SendMessage&MessageBody=f&MessageGroupId=g&MessageDeduplicationId=d"),
        Form("/000000000000/fq", "Action=SendMessageBatch&SendMessageBatchRequestEntry.1.Id=a&SendMessageBatchRequestEntry.1.MessageBody=m3&SendMessageBatchRequestEntry.2.Id=b&SendMessageBatchRequestEntry.2.MessageBody="),
        Form("/000000000000/fq", "Action=ReceiveMessage&MaxNumberOfMessages=10&AttributeName.1=All&MessageAttributeName.1=All"),
        Form("/000000000000/fq", "Action=ChangeMessageVisibility&ReceiptHandle={H0}&VisibilityTimeout=0"),
        Form("/000000000000/fq", "Action=ChangeMessageVisibilityBatch&ChangeMessageVisibilityBatchRequestEntry.1.Id=a&ChangeMessageVisibilityBatchRequestEntry.1.ReceiptHandle={H1}&ChangeMessageVisibilityBatchRequestEntry.1.VisibilityTimeout=3&ChangeMessageVisibilityBatchRequestEntry.2.Id=b&ChangeMessageVisibilityBatchRequestEntry.2.ReceiptHandle=bogus&ChangeMessageVisibilityBatchRequestEntry.2.VisibilityTimeout=3"),
        Form("/000000000000/fq", "Action=DeleteMessage&ReceiptHandle={H1}"),
        Form("/000000000000/fq", "Action=DeleteMessageBatch&DeleteMessageBatchRequestEntry.1.Id=a&DeleteMessageBatchRequestEntry.1.ReceiptHandle={H2}&DeleteMessageBatchRequestEntry.2.Id=b&DeleteMessageBatchRequestEntry.2.ReceiptHandle=bogus"),
        Form("/000000000000/fq.fifo", "Action=ReceiveMessage&AttributeName.1=All"),
        Form("/", "Action=ListDeadLetterSourceQueues&QueueUrl=/000000000000/fq"),
        Form("/", "Action=ListMessageMoveTasks&SourceArn=arn:aws:sqs:us-east-1:000000000000:fq"),
        Form("/", "Action=StartMessageMoveTask&SourceArn=arn:aws:sqs:us-east-1:000000000000:fq"),
        Form("/", "Action=CancelMessageMoveTask&TaskHandle=x"),
        Form("/000000000000/fq", "Action=SetQueueAttributes&Attribute.1.Name=DelaySeconds"),
        Form("/000000000000/fq", "Action=PurgeQueue"),
        Form("/000000000000/fq", "Action=DeleteQueue"),
        Form("/", "Action=GetQueueUrl&QueueName=fq"),
    ]
}
