//! SNS over HTTP, byte for byte: form requests signed for `sns` reach SNS (and
//! unsigned forms SNS or SQS by what they say), answers are XML in SNS's namespace with
//! `member` lists and `entry` maps, errors carry SNS's codes, and a publish
//! reaches a raw queue subscription with its message attributes.

mod common;

use common::{post_raw, start_with_sqs_and_sns};
use std::net::SocketAddr;

const SNS_SCOPE: &str = "AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/sns/aws4_request, SignedHeaders=host, Signature=00";
const TOPIC_ARN: &str = "arn:aws:sns:us-east-1:000000000000:news";

async fn sns(address: SocketAddr, body: &str) -> (u16, String) {
    let headers = [
        ("content-type", "application/x-www-form-urlencoded"),
        ("authorization", SNS_SCOPE),
    ];
    let (status, _, body) = post_raw(address, "/", &headers, body).await;
    (status, String::from_utf8(body).unwrap())
}

/// Create, list, attributes and a missing topic, as XML.
#[tokio::test]
async fn topics_answer_in_sns_xml() {
    let server = start_with_sqs_and_sns().await;
    let address = server.address;
    let (status, xml) = sns(address, "Action=CreateTopic&Version=2010-03-31&Name=news&Tags.member.1.Key=team&Tags.member.1.Value=a").await;
    assert_eq!(status, 200, "{xml}");
    assert!(xml.contains("<CreateTopicResponse xmlns=\"http://sns.amazonaws.com/doc/2010-03-31/\"><CreateTopicResult><TopicArn>arn:aws:sns:us-east-1:000000000000:news</TopicArn></CreateTopicResult>"), "{xml}");
    let (_, xml) = sns(address, "Action=ListTopics").await;
    assert!(
        xml.contains(&format!(
            "<Topics><member><TopicArn>{TOPIC_ARN}</TopicArn></member></Topics>"
        )),
        "{xml}"
    );
    let (_, xml) = sns(
        address,
        &format!("Action=GetTopicAttributes&TopicArn={TOPIC_ARN}"),
    )
    .await;
    assert!(
        xml.contains(&format!(
            "<entry><key>TopicArn</key><value>{TOPIC_ARN}</value></entry>"
        )),
        "{xml}"
    );
    let (_, xml) = sns(
        address,
        &format!("Action=ListTagsForResource&ResourceArn={TOPIC_ARN}"),
    )
    .await;
    assert!(
        xml.contains("<Tags><member><Key>team</Key><Value>a</Value></member></Tags>"),
        "{xml}"
    );
    let (status, xml) = sns(
        address,
        "Action=GetTopicAttributes&TopicArn=arn:aws:sns:us-east-1:000000000000:gone",
    )
    .await;
    assert_eq!(status, 404);
    assert!(
        xml.contains("<Type>Sender</Type><Code>NotFound</Code>"),
        "{xml}"
    );
    let (status, xml) = sns(address, "Action=CreateTopic").await;
    assert_eq!(status, 400);
    assert!(xml.contains("<Code>MissingParameter</Code>"), "{xml}");
    // The same form without an SNS signature is SQS's.
    let headers = [("content-type", "application/x-www-form-urlencoded")];
    let (_, _, body) = post_raw(address, "/", &headers, "Action=ListQueues").await;
    let xml = String::from_utf8(body).unwrap();
    assert!(
        xml.contains("http://queue.amazonaws.com/doc/2012-11-05/"),
        "{xml}"
    );
}

/// A publish with a message attribute reaches a raw queue subscription, the
/// attribute with it.
#[tokio::test]
async fn publish_reaches_a_raw_queue_subscription() {
    let server = start_with_sqs_and_sns().await;
    let address = server.address;
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let (status, _, _) = post_raw(address, "/", &form, "Action=CreateQueue&QueueName=inbox").await;
    assert_eq!(status, 200);
    sns(address, "Action=CreateTopic&Name=news").await;
    let (status, xml) = sns(address, &format!("Action=Subscribe&TopicArn={TOPIC_ARN}&Protocol=sqs&Endpoint=arn:aws:sqs:us-east-1:000000000000:inbox&Attributes.entry.1.key=RawMessageDelivery&Attributes.entry.1.value=true")).await;
    assert_eq!(status, 200, "{xml}");
    assert!(
        xml.contains(&format!("<SubscriptionArn>{TOPIC_ARN}:")),
        "{xml}"
    );
    let (status, xml) = sns(address, &format!("Action=Publish&TopicArn={TOPIC_ARN}&Message=hello%20there&MessageAttributes.entry.1.Name=color&MessageAttributes.entry.1.Value.DataType=String&MessageAttributes.entry.1.Value.StringValue=red")).await;
    assert_eq!(status, 200, "{xml}");
    assert!(xml.contains("<PublishResult><MessageId>"), "{xml}");
    let receive = "Action=ReceiveMessage&QueueUrl=/000000000000/inbox&WaitTimeSeconds=10&MessageAttributeName.1=All";
    let (_, _, body) = post_raw(address, "/", &form, receive).await;
    let xml = String::from_utf8(body).unwrap();
    assert!(xml.contains("<Body>hello there</Body>"), "{xml}");
    assert!(
        xml.contains("<MessageAttribute><Name>color</Name><Value><StringValue>red</StringValue><DataType>String</DataType></Value></MessageAttribute>"),
        "{xml}"
    );
}

/// Which service answers a form decides its namespace: the SNS or the SQS one.
fn answered_by(xml: &str) -> &'static str {
    if xml.contains("http://sns.amazonaws.com/doc/2010-03-31/") {
        "sns"
    } else if xml.contains("http://queue.amazonaws.com/doc/2012-11-05/") {
        "sqs"
    } else {
        "neither"
    }
}

/// Forms without a signature reach SNS or SQS by what they say: the Version,
/// an SNS-only action, a TopicArn; shared actions with no clue stay SQS's, and
/// a presigned form goes where its credential scope says.
#[tokio::test]
async fn unsigned_forms_are_routed_by_what_they_say() {
    let server = start_with_sqs_and_sns().await;
    let address = server.address;
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let unsigned = |path: &'static str, body: String| async move {
        let (status, _, body) = post_raw(address, path, &form, &body).await;
        (status, String::from_utf8(body).unwrap())
    };
    let (status, xml) = unsigned("/", "Action=CreateTopic&Name=news".into()).await;
    assert_eq!((status, answered_by(&xml)), (200, "sns"), "{xml}");
    let (_, xml) = unsigned("/", "Action=ListQueues".into()).await;
    assert_eq!(answered_by(&xml), "sqs", "{xml}");
    // The shared actions: a TopicArn or SNS's Version makes them SNS's.
    let permission = "Action=AddPermission&Label=l&AWSAccountId.member.1=111122223333&ActionName.member.1=Publish";
    let (_, xml) = unsigned("/", format!("{permission}&TopicArn={TOPIC_ARN}")).await;
    assert_eq!(answered_by(&xml), "sns", "{xml}");
    let (_, xml) = unsigned("/", format!("{permission}&Version=2010-03-31")).await;
    assert_eq!(answered_by(&xml), "sns", "{xml}");
    let (_, xml) = unsigned("/", format!("{permission}&QueueUrl=/000000000000/none")).await;
    assert_eq!(answered_by(&xml), "sqs", "{xml}");
    // SQS's Version wins over an action name SNS alone has.
    let (_, xml) = unsigned("/", "Action=ListTopics&Version=2012-11-05".into()).await;
    assert_eq!(answered_by(&xml), "sqs", "{xml}");
    // Presigned: the query's credential scope names the service.
    let presigned = "/?X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fsqs%2Faws4_request";
    let (_, xml) = unsigned(presigned, "Action=ListQueues".into()).await;
    assert_eq!(answered_by(&xml), "sqs", "{xml}");
    let presigned = "/?X-Amz-Credential=AKID%2F20260101%2Fus-east-1%2Fsns%2Faws4_request";
    let (status, xml) = unsigned(presigned, "Action=ListTopics".into()).await;
    assert_eq!((status, answered_by(&xml)), (200, "sns"), "{xml}");
}
