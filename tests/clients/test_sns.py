"""SNS through boto3 against a real `shardlog serve`: topics (standard and FIFO),
attributes, tags, permissions, fan-out to several queues, raw and enveloped
delivery, an HTTP(S) subscriber inside the test (confirmation, notifications,
unsubscribe confirmation), FIFO topic to FIFO queue, Firehose subscription to an
object, PublishBatch, errors, and kill -9 between publish and delivery with
nothing lost."""

from __future__ import annotations

import http.server
import json
import queue as queue_module
import threading
import urllib.error
import urllib.request

import pytest

from _support import ACCOUNT_ID, REGION, expect_error, make_client, unique_name, wait_until
from sns_verify import SignatureError, verify

ROLE = "arn:aws:iam::000000000000:role/sns-firehose"


@pytest.fixture(scope="module")
def sns(endpoint):
    return make_client(endpoint, service="sns")


@pytest.fixture(scope="module")
def sqs(endpoint):
    return make_client(endpoint, service="sqs")


def new_topic(sns, fifo=False, **attributes) -> str:
    name = unique_name("t") + (".fifo" if fifo else "")
    if fifo:
        attributes["FifoTopic"] = "true"
    return sns.create_topic(Name=name, Attributes=attributes)["TopicArn"]


def new_queue(sqs, fifo=False) -> tuple[str, str]:
    name = unique_name("q") + (".fifo" if fifo else "")
    attributes = {"FifoQueue": "true"} if fifo else {}
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return url, arn


def receive(sqs, url: str, count: int, max_polls: int = 20) -> list:
    """Receives and deletes until `count` messages came (bounded polls of 1 s)."""
    got = []
    for _ in range(max_polls):
        if len(got) >= count:
            break
        answer = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1, MessageAttributeNames=["All"]
        )
        for message in answer.get("Messages", []):
            got.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return got


def test_topic_lifecycle_attributes_tags_permissions(sns):
    """Create is idempotent, attributes and tags read back, permissions land in
    the policy, delete removes the topic, and errors carry SNS's codes."""
    name = unique_name("t")
    arn = sns.create_topic(Name=name, Tags=[{"Key": "team", "Value": "a"}])["TopicArn"]
    assert arn == f"arn:aws:sns:{REGION}:{ACCOUNT_ID}:{name}"
    assert sns.create_topic(Name=name)["TopicArn"] == arn
    listed = [t["TopicArn"] for t in sns.list_topics()["Topics"]]
    assert arn in listed
    sns.set_topic_attributes(TopicArn=arn, AttributeName="DisplayName", AttributeValue="News")
    attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    assert attributes["DisplayName"] == "News"
    assert attributes["TopicArn"] == arn
    assert attributes["SubscriptionsConfirmed"] == "0"
    sns.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "test"}])
    tags = {t["Key"]: t["Value"] for t in sns.list_tags_for_resource(ResourceArn=arn)["Tags"]}
    assert tags == {"team": "a", "env": "test"}
    sns.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert sns.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "test"}]
    sns.add_permission(TopicArn=arn, Label="p1", AWSAccountId=["111122223333"], ActionName=["Publish"])
    policy = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])
    assert any(s.get("Sid") == "p1" for s in policy["Statement"])
    sns.remove_permission(TopicArn=arn, Label="p1")
    policy = json.loads(sns.get_topic_attributes(TopicArn=arn)["Attributes"]["Policy"])
    assert not any(s.get("Sid") == "p1" for s in policy["Statement"])
    fifo = new_topic(sns, fifo=True, ContentBasedDeduplication="true")
    assert sns.get_topic_attributes(TopicArn=fifo)["Attributes"]["FifoTopic"] == "true"
    expect_error(sns, "InvalidParameter", sns.create_topic, Name="bad.name")
    expect_error(sns, "InvalidParameter", sns.create_topic, Name=unique_name("t"), Attributes={"FifoTopic": "true"})
    sns.delete_topic(TopicArn=arn)
    with pytest.raises(sns.exceptions.NotFoundException):
        sns.get_topic_attributes(TopicArn=arn)
    with pytest.raises(sns.exceptions.NotFoundException):
        sns.publish(TopicArn=arn, Message="x")
    expect_error(sns, "InvalidParameter", sns.subscribe, TopicArn=fifo, Protocol="email", Endpoint="a@b.c")


def from_server(endpoint: str):
    """Trusts certificate URLs of the server under test (as a client of this
    server must, instead of AWS's hosts)."""
    return lambda url: url.startswith(endpoint + "/")


def test_fan_out_enveloped_and_raw(sns, sqs, endpoint):
    """Every queue gets every message: enveloped queues the notification JSON
    (signed: it verifies with the certificate at its SigningCertURL, SHA256 as
    the topic asks, and fails once tampered with) with the attributes as
    Type/Value, raw queues the message itself with the attributes as SQS
    message attributes."""
    topic = new_topic(sns, SignatureVersion="2")
    enveloped = [new_queue(sqs) for _ in range(2)]
    raw_url, raw_arn = new_queue(sqs)
    subscriptions = [
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)["SubscriptionArn"]
        for _, arn in enveloped
    ]
    raw_subscription = sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=raw_arn, Attributes={"RawMessageDelivery": "true"}
    )["SubscriptionArn"]
    assert all(s.startswith(topic + ":") for s in subscriptions + [raw_subscription])
    again = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=raw_arn, Attributes={"RawMessageDelivery": "true"})
    assert again["SubscriptionArn"] == raw_subscription
    expect_error(sns, "InvalidParameter", sns.subscribe, TopicArn=topic, Protocol="sqs", Endpoint=raw_arn)
    listed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert sorted(s["SubscriptionArn"] for s in listed) == sorted(subscriptions + [raw_subscription])
    attributes = sns.get_subscription_attributes(SubscriptionArn=raw_subscription)["Attributes"]
    assert attributes["RawMessageDelivery"] == "true" and attributes["Protocol"] == "sqs"
    message_attributes = {
        "color": {"DataType": "String", "StringValue": "red"},
        "size": {"DataType": "Number", "StringValue": "3"},
        "blob": {"DataType": "Binary", "BinaryValue": b"\x00\x01"},
    }
    published = sns.publish(TopicArn=topic, Message="hello", Subject="greeting", MessageAttributes=message_attributes)
    for url, _ in enveloped:
        (message,) = receive(sqs, url, 1)
        body = json.loads(message["Body"])
        assert body["Type"] == "Notification"
        assert body["MessageId"] == published["MessageId"]
        assert body["TopicArn"] == topic
        assert body["Subject"] == "greeting"
        assert body["Message"] == "hello"
        assert body["Timestamp"].endswith("Z")
        assert body["UnsubscribeURL"].startswith("http://127.0.0.1:")
        assert body["MessageAttributes"]["color"] == {"Type": "String", "Value": "red"}
        assert body["MessageAttributes"]["blob"] == {"Type": "Binary", "Value": "AAE="}
        assert body["SignatureVersion"] == "2"
        verify(body, trusted_url=from_server(endpoint))
        with pytest.raises(SignatureError):
            verify({**body, "Message": "tampered"}, trusted_url=from_server(endpoint))
    (message,) = receive(sqs, raw_url, 1)
    assert message["Body"] == "hello"
    assert message["MessageAttributes"]["color"] == {"StringValue": "red", "DataType": "String"}
    assert message["MessageAttributes"]["blob"]["BinaryValue"] == b"\x00\x01"
    sns.unsubscribe(SubscriptionArn=subscriptions[0])
    sns.publish(TopicArn=topic, Message="after unsubscribe")
    (last,) = receive(sqs, enveloped[1][0], 1)
    assert json.loads(last["Body"])["Message"] == "after unsubscribe"
    assert receive(sqs, enveloped[0][0], 1, max_polls=2) == []
    # The notification's UnsubscribeURL works unsigned, as AWS's does.
    with urllib.request.urlopen(json.loads(last["Body"])["UnsubscribeURL"], timeout=10) as response:
        assert response.status == 200
    remaining = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
    assert [s["SubscriptionArn"] for s in remaining] == [raw_subscription]


class Endpoint:
    """An HTTP endpoint in the test: records every POST (headers and body)."""

    def __init__(self):
        self.posts: queue_module.Queue = queue_module.Queue()
        # Notifications still to answer with 500 (confirmations always get 200).
        self.failures_left = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length).decode()
                headers = {k.lower(): v for k, v in self.headers.items()}
                failing = headers.get("x-amz-sns-message-type") == "Notification" and outer.failures_left > 0
                if failing:
                    outer.failures_left -= 1
                outer.posts.put((headers, body, 500 if failing else 200))
                self.send_response(500 if failing else 200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/sns"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def next(self, timeout_s: float = 10.0):
        headers, body, _ = self.posts.get(timeout=timeout_s)
        return headers, body

    def next_answered(self, timeout_s: float = 10.0):
        return self.posts.get(timeout=timeout_s)

    def confirm(self, sns, topic: str) -> str:
        """Takes the SubscriptionConfirmation, follows its SubscribeURL; returns
        the confirmed subscription's ARN."""
        headers, body = self.next()
        assert headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
        with urllib.request.urlopen(json.loads(body)["SubscribeURL"], timeout=10) as response:
            assert response.status == 200
        subscriptions = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        (subscription,) = [s for s in subscriptions if s["Endpoint"] == self.url]
        return subscription["SubscriptionArn"]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_http_confirmation_notification_unsubscribe(sns, endpoint):
    """An HTTP endpoint gets a SubscriptionConfirmation whose SubscribeURL
    confirms it, then Notifications with the x-amz-sns-* headers, then an
    UnsubscribeConfirmation; each is signed (SHA1, the default) and verifies."""
    server_url = endpoint
    topic = new_topic(sns)
    endpoint = Endpoint()
    try:
        answer = sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url)
        assert answer["SubscriptionArn"] == "pending confirmation"
        headers, body = endpoint.next()
        confirmation = json.loads(body)
        assert headers["x-amz-sns-message-type"] == "SubscriptionConfirmation"
        assert confirmation["Type"] == "SubscriptionConfirmation"
        assert confirmation["TopicArn"] == topic
        assert confirmation["SignatureVersion"] == "1"
        verify(confirmation, trusted_url=from_server(server_url))
        pending = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        assert [s["SubscriptionArn"] for s in pending] == ["PendingConfirmation"]
        with urllib.request.urlopen(confirmation["SubscribeURL"], timeout=10) as response:
            xml = response.read().decode()
        assert "<ConfirmSubscriptionResult><SubscriptionArn>" in xml
        confirmed = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"][0]["SubscriptionArn"]
        assert confirmed.startswith(topic + ":")
        published = sns.publish(TopicArn=topic, Message="to the endpoint", Subject="s")
        headers, body = endpoint.next()
        notification = json.loads(body)
        assert headers["x-amz-sns-message-type"] == "Notification"
        assert headers["x-amz-sns-message-id"] == published["MessageId"]
        assert headers["x-amz-sns-topic-arn"] == topic
        assert headers["x-amz-sns-subscription-arn"] == confirmed
        assert headers["content-type"].startswith("text/plain")
        assert notification["Message"] == "to the endpoint"
        verify(notification, trusted_url=from_server(server_url))
        sns.unsubscribe(SubscriptionArn=confirmed)
        headers, body = endpoint.next()
        assert headers["x-amz-sns-message-type"] == "UnsubscribeConfirmation"
        assert json.loads(body)["Type"] == "UnsubscribeConfirmation"
        verify(json.loads(body), trusted_url=from_server(server_url))
    finally:
        endpoint.close()


def test_authenticate_on_unsubscribe(sns):
    """A subscription confirmed by a signed ConfirmSubscription with
    AuthenticateOnUnsubscribe refuses the unsigned UnsubscribeURL (403
    AuthorizationError) and leaves only a signed Unsubscribe."""
    topic = new_topic(sns)
    endpoint = Endpoint()
    try:
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url)
        _, body = endpoint.next()
        token = json.loads(body)["Token"]
        arn = sns.confirm_subscription(TopicArn=topic, Token=token, AuthenticateOnUnsubscribe="true")["SubscriptionArn"]
        attributes = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
        assert attributes["ConfirmationWasAuthenticated"] == "true"
        sns.publish(TopicArn=topic, Message="m")
        _, body = endpoint.next()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(json.loads(body)["UnsubscribeURL"], timeout=10)
        assert refused.value.code == 403
        assert b"<Code>AuthorizationError</Code>" in refused.value.read()
        sns.unsubscribe(SubscriptionArn=arn)
        assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []
    finally:
        endpoint.close()


def test_http_retries_then_dead_letter_queue(sns, sqs):
    """A failing endpoint is retried as its DeliveryPolicy says; a message that
    fails every retry goes to the subscription's dead-letter queue."""
    topic = new_topic(sns)
    dlq_url, dlq_arn = new_queue(sqs)
    endpoint = Endpoint()
    policy = {
        "healthyRetryPolicy": {
            "minDelayTarget": 1,
            "maxDelayTarget": 1,
            "numRetries": 2,
            "numNoDelayRetries": 0,
            "numMinDelayRetries": 0,
            "numMaxDelayRetries": 0,
            "backoffFunction": "linear",
        },
        "requestPolicy": {"headerContentType": "application/json"},
    }
    try:
        sns.subscribe(
            TopicArn=topic,
            Protocol="http",
            Endpoint=endpoint.url,
            Attributes={
                "DeliveryPolicy": json.dumps(policy),
                "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn}),
            },
        )
        subscription = endpoint.confirm(sns, topic)
        attributes = sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]
        assert json.loads(attributes["DeliveryPolicy"]) == policy
        endpoint.failures_left = 1
        sns.publish(TopicArn=topic, Message="second time")
        answers = [endpoint.next_answered() for _ in range(2)]
        assert all(headers["content-type"] == "application/json" for headers, _, _ in answers)
        assert [(json.loads(body)["Message"], status) for _, body, status in answers] == [
            ("second time", 500),
            ("second time", 200),
        ]
        endpoint.failures_left = 3
        sns.publish(TopicArn=topic, Message="never")
        assert [endpoint.next_answered()[2] for _ in range(3)] == [500, 500, 500]
        (dead,) = receive(sqs, dlq_url, 1)
        assert json.loads(dead["Body"])["Message"] == "never"
        expect_error(
            sns,
            "InvalidParameter",
            sns.set_subscription_attributes,
            SubscriptionArn=subscription,
            AttributeName="DeliveryPolicy",
            AttributeValue='{"healthyRetryPolicy": {"numRetries": 1000}}',
        )
    finally:
        endpoint.close()


def test_throttled_http_subscription_gets_everything(sns):
    """A topic whose http DeliveryPolicy throttles its endpoints
    (defaultThrottlePolicy.maxReceivesPerSecond) still delivers every message,
    in order."""
    policy = {"http": {"defaultThrottlePolicy": {"maxReceivesPerSecond": 20}}}
    topic = new_topic(sns, DeliveryPolicy=json.dumps(policy))
    endpoint = Endpoint()
    try:
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url)
        endpoint.confirm(sns, topic)
        sent = [f"m{i}" for i in range(10)]
        for message in sent:
            sns.publish(TopicArn=topic, Message=message)
        got = [json.loads(endpoint.next()[1])["Message"] for _ in sent]
        assert got == sent
    finally:
        endpoint.close()


def test_filter_policies_fan_out(sns, sqs):
    """Each queue gets only the messages its filter policy matches, on
    attributes or on the body; a bad policy is refused."""
    topic = new_topic(sns)
    red_url, red_arn = new_queue(sqs)
    big_url, big_arn = new_queue(sqs)
    body_url, body_arn = new_queue(sqs)
    raw = {"RawMessageDelivery": "true"}
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=red_arn,
                  Attributes={**raw, "FilterPolicy": json.dumps({"color": ["red"]})})
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=big_arn,
                  Attributes={**raw, "FilterPolicy": json.dumps({"size": [{"numeric": [">", 10]}]})})
    body_subscription = sns.subscribe(
        TopicArn=topic, Protocol="sqs", Endpoint=body_arn,
        Attributes={**raw, "FilterPolicyScope": "MessageBody",
                    "FilterPolicy": json.dumps({"kind": [{"prefix": "ord"}]})},
    )["SubscriptionArn"]
    def publish(message, color, size):
        sns.publish(TopicArn=topic, Message=message, MessageAttributes={
            "color": {"DataType": "String", "StringValue": color},
            "size": {"DataType": "Number", "StringValue": str(size)},
        })
    publish('{"kind": "order"}', "red", 1)
    publish('{"kind": "refund"}', "blue", 50)
    publish('{"kind": "ordinary"}', "blue", 5)
    assert [m["Body"] for m in receive(sqs, red_url, 1)] == ['{"kind": "order"}']
    assert [m["Body"] for m in receive(sqs, big_url, 1)] == ['{"kind": "refund"}']
    assert sorted(m["Body"] for m in receive(sqs, body_url, 2)) == ['{"kind": "order"}', '{"kind": "ordinary"}']
    attributes = sns.get_subscription_attributes(SubscriptionArn=body_subscription)["Attributes"]
    assert attributes["FilterPolicyScope"] == "MessageBody"
    assert json.loads(attributes["FilterPolicy"]) == {"kind": [{"prefix": "ord"}]}
    expect_error(sns, "InvalidParameter", sns.set_subscription_attributes,
                 SubscriptionArn=body_subscription, AttributeName="FilterPolicy", AttributeValue="{not json")


def test_fifo_topic_to_fifo_queue(sns, sqs):
    """A FIFO topic delivers to a FIFO queue in order per group, with its
    sequence numbers, and deduplicates by id and by content."""
    topic = new_topic(sns, fifo=True, ContentBasedDeduplication="true")
    url, arn = new_queue(sqs, fifo=True)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    first = sns.publish(TopicArn=topic, Message="m0", MessageGroupId="g")
    again = sns.publish(TopicArn=topic, Message="m0", MessageGroupId="g")
    assert again["MessageId"] == first["MessageId"]
    assert again["SequenceNumber"] == first["SequenceNumber"]
    for i in range(1, 5):
        sns.publish(TopicArn=topic, Message=f"m{i}", MessageGroupId="g", MessageDeduplicationId=f"d{i}")
    sns.publish(TopicArn=topic, Message="different body", MessageGroupId="g", MessageDeduplicationId="d1")
    got = []
    for _ in range(20):
        if len(got) >= 5:
            break
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in answer.get("Messages", []):
            got.append(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert got == ["m0", "m1", "m2", "m3", "m4"]
    with pytest.raises(sns.exceptions.InvalidParameterException):
        sns.publish(TopicArn=topic, Message="no group")


def test_message_structure_json(sns, sqs):
    """With MessageStructure json a queue gets the message's `sqs` entry (or
    its `default`); a structure without a default is refused."""
    topic = new_topic(sns)
    raw_url, raw_arn = new_queue(sqs)
    enveloped_url, enveloped_arn = new_queue(sqs)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=raw_arn, Attributes={"RawMessageDelivery": "true"})
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=enveloped_arn)
    sns.publish(TopicArn=topic, MessageStructure="json",
                Message=json.dumps({"default": "for all", "sqs": "for queues"}))
    sns.publish(TopicArn=topic, MessageStructure="json", Message=json.dumps({"default": "only default"}))
    assert sorted(m["Body"] for m in receive(sqs, raw_url, 2)) == ["for queues", "only default"]
    assert sorted(json.loads(m["Body"])["Message"] for m in receive(sqs, enveloped_url, 2)) == ["for queues", "only default"]
    expect_error(sns, "InvalidParameter", sns.publish, TopicArn=topic, MessageStructure="json",
                 Message=json.dumps({"sqs": "no default"}))


def test_publish_batch(sns, sqs):
    """PublishBatch publishes the valid entries, reports the invalid ones, and
    refuses an empty or repeated-id batch as a whole."""
    topic = new_topic(sns)
    url, arn = new_queue(sqs)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    entries = [{"Id": f"e{i}", "Message": f"b{i}"} for i in range(3)]
    entries.append({"Id": "bad", "Message": "x", "MessageDeduplicationId": "not on standard topics"})
    answer = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
    assert sorted(s["Id"] for s in answer["Successful"]) == ["e0", "e1", "e2"]
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in answer["Failed"]] == [("bad", "InvalidParameter", True)]
    assert sorted(m["Body"] for m in receive(sqs, url, 3)) == ["b0", "b1", "b2"]
    with pytest.raises(sns.exceptions.BatchEntryIdsNotDistinctException):
        sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[{"Id": "a", "Message": "1"}, {"Id": "a", "Message": "2"}])
    with pytest.raises(sns.exceptions.TooManyEntriesInBatchRequestException):
        sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[{"Id": f"i{i}", "Message": "m"} for i in range(11)])


def test_firehose_subscription_writes_an_object(sns, server, endpoint):
    """A Firehose subscription (with its role) puts each notification, one
    line each, into the delivery stream's objects: single publishes, and a
    PublishBatch that its delivery thread puts as one batch, each once."""
    firehose = make_client(endpoint, service="firehose")
    name = unique_name("fh")
    bucket = name.lower().replace("_", "-")
    firehose.create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": ROLE,
            "BucketARN": f"arn:aws:s3:::{bucket}",
            "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
            "CompressionFormat": "UNCOMPRESSED",
        },
    )
    stream_arn = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]["DeliveryStreamARN"]
    topic = new_topic(sns)
    expect_error(sns, "InvalidParameter", sns.subscribe, TopicArn=topic, Protocol="firehose", Endpoint=stream_arn)
    sns.subscribe(
        TopicArn=topic,
        Protocol="firehose",
        Endpoint=stream_arn,
        Attributes={"SubscriptionRoleArn": ROLE, "RawMessageDelivery": "true"},
    )
    for i in range(3):
        sns.publish(TopicArn=topic, Message=json.dumps({"n": i}))
    entries = [{"Id": f"e{i}", "Message": json.dumps({"n": i})} for i in range(3, 13)]
    assert len(sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)["Successful"]) == 10
    root = server.data_dir / "buckets" / bucket

    def lines():
        found = [p for p in root.rglob("*") if p.is_file() and not p.name.startswith(".")] if root.exists() else []
        return sorted(line for p in found for line in p.read_bytes().splitlines())

    wait_until(lambda: len(lines()) >= 13, 20, "thirteen notifications in the bucket")
    assert lines() == sorted(json.dumps({"n": i}).encode() for i in range(13))


def test_kill_between_publish_and_delivery_loses_nothing(server_factory):
    """Messages acknowledged by Publish reach their destinations after a kill -9
    that came before their delivery: an HTTP endpoint that refused everything
    until the kill (so nothing of it was delivered) gets all of them from the
    restarted server, in order, and so does a queue."""
    first = server_factory()
    sns = make_client(first.url, service="sns")
    sqs = make_client(first.url, service="sqs")
    topic = new_topic(sns)
    url, arn = new_queue(sqs)
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    endpoint = Endpoint()
    retry_every_second = {"healthyRetryPolicy": {
        "minDelayTarget": 1, "maxDelayTarget": 1, "numRetries": 100, "numNoDelayRetries": 0,
        "numMinDelayRetries": 0, "numMaxDelayRetries": 0, "backoffFunction": "linear"}}
    try:
        sns.subscribe(TopicArn=topic, Protocol="http", Endpoint=endpoint.url,
                      Attributes={"DeliveryPolicy": json.dumps(retry_every_second),
                                  "RawMessageDelivery": "true"})
        endpoint.confirm(sns, topic)
        endpoint.failures_left = 10**9
        for batch in range(20):
            entries = [{"Id": f"e{i}", "Message": f"m{batch * 10 + i}"} for i in range(10)]
            answer = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=entries)
            assert len(answer["Successful"]) == 10
        # The endpoint has refused the first message at least once: nothing of
        # it is delivered when the server dies.
        _, body, status = endpoint.next_answered()
        assert (body, status) == ("m0", 500)
        first.kill()
        first.stopped_with = -9
        endpoint.failures_left = 0
        second = server_factory(root=first.root)
        received = []
        for _ in range(400):
            if len(received) == 200:
                break
            _, body, status = endpoint.next_answered(timeout_s=30)
            if status == 200:
                received.append(body)
        assert received == [f"m{i}" for i in range(200)]
    finally:
        endpoint.close()
    sqs = make_client(second.url, service="sqs")
    url = sqs.get_queue_url(QueueName=url.rsplit("/", 1)[1])["QueueUrl"]
    bodies = set()
    for _ in range(60):
        if len(bodies) == 200:
            break
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in answer.get("Messages", []):
            bodies.add(message["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert bodies == {f"m{i}" for i in range(200)}
