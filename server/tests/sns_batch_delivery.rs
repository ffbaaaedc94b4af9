//! A queue subscription takes a whole PublishBatch as one send to its queue; a
//! message the queue refuses (larger than its MaximumMessageSize) goes to the
//! subscription's dead-letter queue and the others reach the queue once each.

mod common;

use common::{post_raw, start_with_sqs_and_sns};
use md5::Digest;
use std::net::SocketAddr;

const SNS_SCOPE: &str = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=00";
const TOPIC_ARN: &str = "arn:aws:sns:us-east-1:000000000000:news";
const FORM: [(&str, &str); 1] = [("content-type", "application/x-www-form-urlencoded")];

fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

async fn call(address: SocketAddr, service_scope: Option<&str>, pairs: &[(&str, &str)]) -> String {
    let mut headers = FORM.to_vec();
    if let Some(scope) = service_scope {
        headers.push(("authorization", scope));
    }
    let (status, _, body) = post_raw(address, "/", &headers, &form(pairs)).await;
    let body = String::from_utf8(body).unwrap();
    assert_eq!(status, 200, "{pairs:?}: {body}");
    body
}

/// The bodies of one ReceiveMessage of `queue` (long poll of 1 s), each checked
/// against its `MD5OfBody` (a delivery stores no digest: the receive computes it).
async fn receive(address: SocketAddr, queue: &str) -> Vec<String> {
    let url = format!("/000000000000/{queue}");
    let pairs = [
        ("Action", "ReceiveMessage"),
        ("QueueUrl", url.as_str()),
        ("MaxNumberOfMessages", "10"),
        ("WaitTimeSeconds", "1"),
    ];
    let xml = call(address, None, &pairs).await;
    let field = |message: &str, name: &str| -> String {
        let start = format!("<{name}>");
        let rest = message.split(start.as_str()).nth(1).unwrap();
        rest.split(format!("</{name}>").as_str())
            .next()
            .unwrap()
            .to_string()
    };
    xml.split("<Message>")
        .skip(1)
        .map(|message| {
            let body = field(message, "Body");
            let digest: [u8; 16] = md5::Md5::digest(body.as_bytes()).into();
            let hex = format!("{:032x}", u128::from_be_bytes(digest));
            assert_eq!(field(message, "MD5OfBody"), hex, "{message}");
            body
        })
        .collect()
}

/// A too-large message in the middle of a batch is dead-lettered; the nine
/// others arrive at the queue, each once.
#[tokio::test]
async fn refused_message_of_a_batch_is_dead_lettered_and_the_rest_arrive() {
    let server = start_with_sqs_and_sns().await;
    let address = server.address;
    let small = [
        ("Action", "CreateQueue"),
        ("QueueName", "inbox"),
        ("Attribute.1.Name", "MaximumMessageSize"),
        ("Attribute.1.Value", "1024"),
    ];
    call(address, None, &small).await;
    call(
        address,
        None,
        &[("Action", "CreateQueue"), ("QueueName", "dlq")],
    )
    .await;
    let sns = Some(SNS_SCOPE);
    call(address, sns, &[("Action", "CreateTopic"), ("Name", "news")]).await;
    let redrive = r#"{"deadLetterTargetArn": "arn:aws:sqs:us-east-1:000000000000:dlq"}"#;
    let subscribe = [
        ("Action", "Subscribe"),
        ("TopicArn", TOPIC_ARN),
        ("Protocol", "sqs"),
        ("Endpoint", "arn:aws:sqs:us-east-1:000000000000:inbox"),
        ("Attributes.entry.1.key", "RawMessageDelivery"),
        ("Attributes.entry.1.value", "true"),
        ("Attributes.entry.2.key", "RedrivePolicy"),
        ("Attributes.entry.2.value", redrive),
    ];
    call(address, sns, &subscribe).await;

    let big = "x".repeat(2000);
    let bodies: Vec<String> = (0..10)
        .map(|i| if i == 4 { big.clone() } else { format!("m{i}") })
        .collect();
    let keys: Vec<(String, String)> = (1..=10)
        .map(|i| {
            let prefix = format!("PublishBatchRequestEntries.member.{i}");
            (format!("{prefix}.Id"), format!("{prefix}.Message"))
        })
        .collect();
    let ids: Vec<String> = (0..10).map(|i| format!("e{i}")).collect();
    let mut publish = vec![("Action", "PublishBatch"), ("TopicArn", TOPIC_ARN)];
    for ((id_key, message_key), (id, body)) in keys.iter().zip(ids.iter().zip(&bodies)) {
        publish.push((id_key, id));
        publish.push((message_key, body));
    }
    let xml = call(address, sns, &publish).await;
    assert_eq!(xml.matches("<MessageId>").count(), 10, "{xml}");

    let mut got = Vec::new();
    for _ in 0..20 {
        if got.len() >= 9 {
            break;
        }
        got.extend(receive(address, "inbox").await);
    }
    // Received messages stay hidden (30 s visibility), so a duplicate would
    // show up here.
    got.extend(receive(address, "inbox").await);
    got.sort();
    let mut expected: Vec<String> = bodies.iter().filter(|b| **b != big).cloned().collect();
    expected.sort();
    assert_eq!(got, expected);

    let mut dead = Vec::new();
    for _ in 0..20 {
        if !dead.is_empty() {
            break;
        }
        dead.extend(receive(address, "dlq").await);
    }
    assert_eq!(dead, [big]);
}
