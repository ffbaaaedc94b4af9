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
