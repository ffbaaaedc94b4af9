"""SQS through boto3 (JSON 1.0) and the AWS CLI against a real `shardlog serve`:
send, receive, delete, visibility, long polling, batches, message attributes of
every type with their MD5s, dead-letter redrive, FIFO order and deduplication,
purge, tags, permissions, errors, and a restart. Visibility timeouts are 0..2 s
and waits 1..2 s so the file stays well under 30 s."""

from __future__ import annotations

import hashlib
import json
import struct
import threading
import time

import botocore.exceptions
import pytest

from _support import ACCESS_KEY, ACCOUNT_ID, REGION, SECRET_KEY, make_client, unique_name, wait_until
from test_aws_cli import aws_json


@pytest.fixture(scope="module")
def sqs(endpoint):
    """boto3 SQS client of the shared server."""
    return make_client(endpoint, service="sqs")


@pytest.fixture(scope="module")
def raw_sqs(endpoint):
    """boto3 SQS client without client-side validation."""
    return make_client(endpoint, service="sqs", validate=False)


def new_queue(sqs, prefix="q", fifo=False, **attributes) -> str:
    name = unique_name(prefix) + (".fifo" if fifo else "")
    if fifo:
        attributes["FifoQueue"] = "true"
    attrs = {k: str(v) for k, v in attributes.items()}
    return sqs.create_queue(QueueName=name, Attributes=attrs)["QueueUrl"]


def attributes_md5(attributes: dict) -> str:
    """SQS's MD5OfMessageAttributes, computed here independently of the server."""
    def field(data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + data

    encoded = b""
    for name in sorted(attributes):
        value = attributes[name]
        encoded += field(name.encode()) + field(value["DataType"].encode())
        if "BinaryValue" in value:
            encoded += b"\x02" + field(value["BinaryValue"])
        else:
            encoded += b"\x01" + field(value["StringValue"].encode())
    return hashlib.md5(encoded).hexdigest()


def receive_all(sqs, url: str, count: int) -> list:
    """Receives until `count` messages came (a bounded number of 1 s polls)."""
    messages = []
    for _ in range(count):
        response = sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"], WaitTimeSeconds=1
        )
        messages += response.get("Messages", [])
        if len(messages) >= count:
            break
    assert len(messages) == count, f"received {len(messages)} messages, expected {count}"
    return messages


def error_of(call, **params) -> botocore.exceptions.ClientError:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call(**params)
    return caught.value


def test_send_receive_visibility_delete(sqs):
    """A sent message is received with its digest and counters, comes back after
    its visibility is set to 0, and is gone once deleted."""
    url = new_queue(sqs, VisibilityTimeout=30)
    assert url.endswith(f"/{ACCOUNT_ID}/{url.rsplit('/', 1)[1]}")
    sent = sqs.send_message(QueueUrl=url, MessageBody="héllo")
    assert sent["MD5OfMessageBody"] == hashlib.md5("héllo".encode()).hexdigest()
    first = sqs.receive_message(QueueUrl=url, AttributeNames=["All"], WaitTimeSeconds=1)["Messages"]
    assert [m["Body"] for m in first] == ["héllo"]
    assert first[0]["MessageId"] == sent["MessageId"]
    assert first[0]["Attributes"]["ApproximateReceiveCount"] == "1"
    assert first[0]["Attributes"]["SenderId"] == ACCOUNT_ID
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "1"
    assert counts["QueueArn"] == f"arn:aws:sqs:{REGION}:{ACCOUNT_ID}:{url.rsplit('/', 1)[1]}"
    assert int(counts["CreatedTimestamp"]) > 1_600_000_000
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"], VisibilityTimeout=0)
    again = sqs.receive_message(QueueUrl=url, AttributeNames=["ApproximateReceiveCount"], WaitTimeSeconds=1)
    assert again["Messages"][0]["Attributes"] == {"ApproximateReceiveCount": "2"}
    sqs.delete_message(QueueUrl=url, ReceiptHandle=again["Messages"][0]["ReceiptHandle"])
    stale = error_of(
        sqs.change_message_visibility,
        QueueUrl=url,
        ReceiptHandle=again["Messages"][0]["ReceiptHandle"],
        VisibilityTimeout=5,
    )
    assert stale.response["Error"]["Code"] in ("AWS.SimpleQueueService.MessageNotInflight", "ReceiptHandleIsInvalid")
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)


def test_long_poll_returns_the_message_sent_while_waiting(sqs):
    """A receive waiting up to 10 s returns the message sent during its wait."""
    url = new_queue(sqs)
    got = {}

    def receive():
        got["response"] = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)

    waiter = threading.Thread(target=receive)
    waiter.start()
    sqs.send_message(QueueUrl=url, MessageBody="late")
    waiter.join(timeout=9)
    assert not waiter.is_alive(), "the long poll did not return before its 10 s wait ended"
    assert [m["Body"] for m in got["response"]["Messages"]] == ["late"]


def test_delays_hide_messages_until_they_end(sqs):
    """A queue's DelaySeconds hides a message until it ends, a message's own
    DelaySeconds overrides it (0 included), delayed messages are counted as such,
    and a long poll returns a delayed message once its delay ends."""
    url = new_queue(sqs, DelaySeconds=3)
    sent_at = time.monotonic()
    sqs.send_message(QueueUrl=url, MessageBody="queue-delay")
    sqs.send_message(QueueUrl=url, MessageBody="own-delay", DelaySeconds=5)
    sqs.send_message(QueueUrl=url, MessageBody="no-delay", DelaySeconds=0)
    first = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    if time.monotonic() - sent_at < 3:
        assert [m["Body"] for m in first["Messages"]] == ["no-delay"]
        counts = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert counts["ApproximateNumberOfMessagesDelayed"] == "2"
    order = []
    for _ in range(4):
        response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=10)
        for message in response.get("Messages", []):
            order.append((message["Body"], time.monotonic() - sent_at))
        if {body for body, _ in order} >= {"queue-delay", "own-delay"}:
            break
    bodies = [body for body, _ in order]
    assert sorted(bodies) == ["own-delay", "queue-delay"], bodies
    seen_after = dict(order)
    assert seen_after["queue-delay"] >= 3, order
    assert seen_after["own-delay"] >= 5, order


def test_batches_and_message_attributes_of_every_type(sqs, raw_sqs):
    """Batch send with String, Number, Binary and custom types: the digests match
    SQS's encoding, attribute selection by name, prefix and All works, batch
    visibility changes and deletes report bad entries one by one; malformed
    batches are refused whole."""
    url = new_queue(sqs)
    attributes = {
        "color": {"DataType": "String", "StringValue": "blue"},
        "count": {"DataType": "Number", "StringValue": "42"},
        "raw": {"DataType": "Binary", "BinaryValue": b"\x00\x01\xff"},
        "app.kind": {"DataType": "String.custom", "StringValue": "x"},
    }
    entries = [
        {"Id": f"e{i}", "MessageBody": f"m{i}", "MessageAttributes": attributes} for i in range(3)
    ]
    sent = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert sent["Failed"] == []
    assert sorted(e["Id"] for e in sent["Successful"]) == ["e0", "e1", "e2"]
    assert all(e["MD5OfMessageAttributes"] == attributes_md5(attributes) for e in sent["Successful"])
    messages = receive_all(sqs, url, 3)
    changes = [{"Id": f"c{i}", "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0} for i, m in enumerate(messages)]
    changes.append({"Id": "bad", "ReceiptHandle": "not-a-handle", "VisibilityTimeout": 0})
    changed = sqs.change_message_visibility_batch(QueueUrl=url, Entries=changes)
    assert len(changed["Successful"]) == 3
    assert [(f["Id"], f["Code"]) for f in changed["Failed"]] == [("bad", "ReceiptHandleIsInvalid")]
    messages = receive_all(sqs, url, 3)
    assert messages[0]["MessageAttributes"]["raw"]["BinaryValue"] == b"\x00\x01\xff"
    assert messages[0]["MD5OfMessageAttributes"] == attributes_md5(attributes)
    handles = [{"Id": f"d{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
    handles.append({"Id": "bad", "ReceiptHandle": "not-a-handle"})
    deleted = sqs.delete_message_batch(QueueUrl=url, Entries=handles)
    assert len(deleted["Successful"]) == 3
    assert [(f["Id"], f["Code"]) for f in deleted["Failed"]] == [("bad", "ReceiptHandleIsInvalid")]
    sqs.send_message(QueueUrl=url, MessageBody="p", MessageAttributes=attributes)
    picked = sqs.receive_message(QueueUrl=url, MessageAttributeNames=["app.*", "count"], WaitTimeSeconds=1)
    chosen = picked["Messages"][0]["MessageAttributes"]
    assert sorted(chosen) == ["app.kind", "count"]
    assert picked["Messages"][0]["MD5OfMessageAttributes"] == attributes_md5({k: attributes[k] for k in chosen})
    for entries, code in [
        ([], "AWS.SimpleQueueService.EmptyBatchRequest"),
        ([{"Id": "a", "MessageBody": "x"}] * 2, "AWS.SimpleQueueService.BatchEntryIdsNotDistinct"),
        ([{"Id": f"i{i}", "MessageBody": "x"} for i in range(11)], "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"),
        ([{"Id": "no spaces", "MessageBody": "x"}], "AWS.SimpleQueueService.InvalidBatchEntryId"),
    ]:
        error = error_of(raw_sqs.send_message_batch, QueueUrl=url, Entries=entries)
        assert error.response["Error"]["Code"] == code


def test_dead_letter_queue_receives_after_max_receive_count(sqs):
    """With maxReceiveCount 1, the second receive moves the message to the DLQ,
    which lists the source queue."""
    dlq = new_queue(sqs, prefix="dlq")
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    source = new_queue(sqs, prefix="src", RedrivePolicy=redrive)
    sqs.send_message(QueueUrl=source, MessageBody="poison")
    first = sqs.receive_message(QueueUrl=source, VisibilityTimeout=0, WaitTimeSeconds=1)
    assert first["Messages"][0]["Body"] == "poison"
    assert "Messages" not in sqs.receive_message(QueueUrl=source, WaitTimeSeconds=1)
    moved = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=2)
    assert [m["Body"] for m in moved["Messages"]] == ["poison"]
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [source]
    stored = json.loads(sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["RedrivePolicy"])["Attributes"]["RedrivePolicy"])
    assert stored == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1}


def test_fifo_keeps_group_order_and_deduplicates(sqs):
    """A FIFO queue returns a group's messages in send order with sequence
    numbers, several in one receive once none of the group is in flight, a resend
    with the same deduplication id is not stored twice, and a receive retried with
    its attempt id returns the same message and handle."""
    url = new_queue(sqs, prefix="fifo", fifo=True)
    ids = []
    for i in range(3):
        sent = sqs.send_message(QueueUrl=url, MessageBody=f"m{i}", MessageGroupId="g", MessageDeduplicationId=f"d{i}")
        ids.append(sent["MessageId"])
        assert sent["SequenceNumber"].isdigit()
    again = sqs.send_message(QueueUrl=url, MessageBody="m0", MessageGroupId="g", MessageDeduplicationId="d0")
    assert again["MessageId"] == ids[0]
    # A retried receive with the same attempt id gets the same message and handle.
    first = sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="try-1", WaitTimeSeconds=1)["Messages"]
    retry = sqs.receive_message(QueueUrl=url, ReceiveRequestAttemptId="try-1")["Messages"]
    assert [(m["Body"], m["ReceiptHandle"]) for m in retry] == [(m["Body"], m["ReceiptHandle"]) for m in first]
    assert [m["Body"] for m in first] == ["m0"]
    # While m0 is in flight, its group is held.
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=first[0]["ReceiptHandle"], VisibilityTimeout=0)
    # Once none is in flight, one receive returns the group's messages in order.
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=1)
    assert [m["Body"] for m in received["Messages"]] == ["m0", "m1", "m2"]
    assert {m["Attributes"]["MessageGroupId"] for m in received["Messages"]} == {"g"}
    numbers = [int(m["Attributes"]["SequenceNumber"]) for m in received["Messages"]]
    assert numbers == sorted(numbers)
    assert "Messages" not in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    for message in received["Messages"]:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["FifoQueue"])["Attributes"]
    assert attributes == {"FifoQueue": "true"}


def test_purge_tags_permissions_and_listing(sqs):
    """Purge empties a queue; tags, permissions (as the Policy) and attributes
    round-trip; ListQueues filters by prefix and pages."""
    prefix = unique_name("lst")
    urls = [sqs.create_queue(QueueName=f"{prefix}-{i}", tags={"team": "a"})["QueueUrl"] for i in range(3)]
    assert sqs.list_queues(QueueNamePrefix=prefix)["QueueUrls"] == urls
    page = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2)
    assert page["QueueUrls"] == urls[:2]
    rest = sqs.list_queues(QueueNamePrefix=prefix, MaxResults=2, NextToken=page["NextToken"])
    assert rest["QueueUrls"] == urls[2:] and "NextToken" not in rest
    url = urls[0]
    sqs.send_message(QueueUrl=url, MessageBody="x")
    sqs.purge_queue(QueueUrl=url)
    assert "Messages" not in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)
    sqs.tag_queue(QueueUrl=url, Tags={"env": "test"})
    sqs.untag_queue(QueueUrl=url, TagKeys=["team"])
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"env": "test"}
    sqs.add_permission(QueueUrl=url, Label="send", AWSAccountIds=["111122223333"], Actions=["SendMessage"])
    policy = json.loads(sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    assert policy["Statement"][0]["Sid"] == "send"
    assert policy["Statement"][0]["Action"] == ["SQS:SendMessage"]
    sqs.remove_permission(QueueUrl=url, Label="send")
    assert "Policy" not in sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"DelaySeconds": "0", "MaximumMessageSize": "2048"})
    size = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["MaximumMessageSize"])["Attributes"]
    assert size == {"MaximumMessageSize": "2048"}
    for queue in urls:
        sqs.delete_queue(QueueUrl=queue)
    assert "QueueUrls" not in sqs.list_queues(QueueNamePrefix=prefix)


def test_errors_map_to_modeled_exceptions(sqs, raw_sqs):
    """A missing queue raises QueueDoesNotExist; bad handles, out-of-range
    parameters, unknown attributes and conflicting creates raise SQS's errors."""
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as missing:
        sqs.get_queue_url(QueueName=unique_name("nope"))
    assert missing.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    url = new_queue(sqs, VisibilityTimeout=5)
    with pytest.raises(sqs.exceptions.ReceiptHandleIsInvalid):
        sqs.delete_message(QueueUrl=url, ReceiptHandle="garbage")
    too_many = error_of(raw_sqs.receive_message, QueueUrl=url, MaxNumberOfMessages=11)
    assert too_many.response["Error"]["Code"] == "InvalidParameterValue"
    assert "MaxNumberOfMessages" in too_many.response["Error"]["Message"]
    with pytest.raises(sqs.exceptions.InvalidAttributeName):
        sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["Nope"])
    name = url.rsplit("/", 1)[1]
    with pytest.raises(sqs.exceptions.QueueNameExists):
        sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "6"})
    # Only the attributes given are compared: none, or the same values, return the queue.
    assert sqs.create_queue(QueueName=name)["QueueUrl"] == url
    assert sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": "5"})["QueueUrl"] == url
    with pytest.raises(sqs.exceptions.InvalidMessageContents):
        sqs.send_message(QueueUrl=url, MessageBody="bad \x01 char")


def test_restart_keeps_acknowledged_and_not_deleted(server_factory):
    """After a restart, an acknowledged message is still there and a deleted one
    does not come back."""
    first = server_factory()
    client = make_client(first.url, service="sqs")
    url = client.create_queue(QueueName="durable")["QueueUrl"]
    client.send_message(QueueUrl=url, MessageBody="deleted")
    received = client.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
    client.delete_message(QueueUrl=url, ReceiptHandle=received[0]["ReceiptHandle"])
    client.send_message(QueueUrl=url, MessageBody="kept")
    first.stop()
    second = server_factory(root=first.root)
    client = make_client(second.url, service="sqs")
    url = client.get_queue_url(QueueName="durable")["QueueUrl"]
    bodies = []
    wait_until(
        lambda: bodies.extend(m["Body"] for m in client.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])) or bodies,
        5,
        "the kept message after the restart",
    )
    assert bodies == ["kept"]
    assert "Messages" not in client.receive_message(QueueUrl=url, WaitTimeSeconds=1)


def test_aws_cli_sends_and_receives(endpoint):
    """The AWS CLI creates a queue, sends and receives through it."""
    name = unique_name("cli")
    url = aws_json(endpoint, "sqs", "create-queue", "--queue-name", name)["QueueUrl"]
    sent = aws_json(endpoint, "sqs", "send-message", "--queue-url", url, "--message-body", "from the cli")
    assert sent["MD5OfMessageBody"] == hashlib.md5(b"from the cli").hexdigest()
    got = aws_json(endpoint, "sqs", "receive-message", "--queue-url", url, "--wait-time-seconds", "1")
    assert [m["Body"] for m in got["Messages"]] == ["from the cli"]


def test_signed_requests_are_verified(server_factory):
    """With credentials configured, a correctly signed SQS request is served and
    one signed with the wrong secret is refused before it touches a queue."""
    signed = server_factory(credentials=f"{ACCESS_KEY}:{SECRET_KEY}")
    good = make_client(signed.url, ACCESS_KEY, SECRET_KEY, service="sqs")
    url = good.create_queue(QueueName="signed")["QueueUrl"]
    bad = make_client(signed.url, ACCESS_KEY, "not-the-secret", service="sqs")
    refused = error_of(bad.send_message, QueueUrl=url, MessageBody="x")
    assert refused.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert refused.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert "Messages" not in good.receive_message(QueueUrl=url)


def test_message_move_task_returns_dead_letters_to_their_source(sqs):
    """Messages redriven to a dead-letter queue go back to their source queue with
    StartMessageMoveTask (no destination): a task cancelled part-way is listed
    CANCELLED, the next one COMPLETED with its counts, and the messages come back
    with body, attributes and AWSTraceHeader and a fresh receive count. A queue
    that is no dead-letter queue is refused."""
    dlq = new_queue(sqs, prefix="dlq")
    arn_of = lambda url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    dlq_arn = arn_of(dlq)
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 1})
    source = new_queue(sqs, prefix="src", RedrivePolicy=redrive, VisibilityTimeout=0)
    trace = {"AWSTraceHeader": {"DataType": "String", "StringValue": "Root=1-5759e988-bd862e3fe1be46a994272793"}}
    for i in range(3):
        sent = sqs.send_message(
            QueueUrl=source,
            MessageBody=f"b{i}",
            MessageAttributes={"n": {"DataType": "Number", "StringValue": str(i)}},
            MessageSystemAttributes=trace,
        )
        assert sent["MD5OfMessageSystemAttributes"] == attributes_md5(trace)
    assert len(receive_all(sqs, source, 3)) == 3
    assert "Messages" not in sqs.receive_message(QueueUrl=source, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    dead = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10, VisibilityTimeout=0, WaitTimeSeconds=1, MessageSystemAttributeNames=["All"])
    assert {m["Attributes"]["DeadLetterQueueSourceArn"] for m in dead["Messages"]} == {arn_of(source)}

    refused = error_of(sqs.start_message_move_task, SourceArn=arn_of(source))
    assert refused.response["Error"]["Code"] == "InvalidParameterValue"
    slow = sqs.start_message_move_task(SourceArn=dlq_arn, MaxNumberOfMessagesPerSecond=1)["TaskHandle"]
    again = error_of(sqs.start_message_move_task, SourceArn=dlq_arn)
    assert again.response["Error"]["Code"] == "InvalidParameterValue"
    moved_before_cancel = sqs.cancel_message_move_task(TaskHandle=slow)["ApproximateNumberOfMessagesMoved"]
    latest = lambda: sqs.list_message_move_tasks(SourceArn=dlq_arn, MaxResults=10)["Results"]
    wait_until(lambda: latest()[0]["Status"] == "CANCELLED", 5, "the cancelled task to stop")
    assert latest()[0]["ApproximateNumberOfMessagesMoved"] < 3 and moved_before_cancel < 3
    with pytest.raises(sqs.exceptions.ResourceNotFoundException):
        sqs.cancel_message_move_task(TaskHandle=slow)

    sqs.start_message_move_task(SourceArn=dlq_arn)
    wait_until(lambda: latest()[0]["Status"] == "COMPLETED", 10, "the move task to complete")
    done, cancelled = latest()[:2]
    assert done["SourceArn"] == dlq_arn and "DestinationArn" not in done and "TaskHandle" not in done
    assert done["ApproximateNumberOfMessagesMoved"] + cancelled["ApproximateNumberOfMessagesMoved"] == 3
    assert done["ApproximateNumberOfMessagesToMove"] == 3 - cancelled["ApproximateNumberOfMessagesMoved"]

    back = sqs.receive_message(
        QueueUrl=source, MaxNumberOfMessages=10, WaitTimeSeconds=1, VisibilityTimeout=30,
        MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"],
    )["Messages"]
    assert sorted(m["Body"] for m in back) == ["b0", "b1", "b2"]
    for message in back:
        assert message["MessageAttributes"]["n"]["StringValue"] == message["Body"][1:]
        assert message["Attributes"]["AWSTraceHeader"] == trace["AWSTraceHeader"]["StringValue"]
        assert message["Attributes"]["ApproximateReceiveCount"] == "1"
        assert "DeadLetterQueueSourceArn" not in message["Attributes"]


def test_redrive_allow_encryption_settings_and_deleted_name(sqs):
    """RedriveAllowPolicy decides which queues may name a queue as their
    dead-letter queue (byQueue, denyAll) and is returned with ARNs; the SSE and KMS
    attributes are kept and returned (one kind at a time); a queue's name cannot
    be reused within 60 s of its deletion (QueueDeletedRecently)."""
    arn_of = lambda url: sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    allowed = new_queue(sqs, prefix="allowed")
    allow = json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn_of(allowed)]})
    dlq = new_queue(sqs, prefix="guarded", RedriveAllowPolicy=allow)
    stored = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["All"])["Attributes"]
    assert json.loads(stored["RedriveAllowPolicy"]) == json.loads(allow)
    redrive = json.dumps({"deadLetterTargetArn": arn_of(dlq), "maxReceiveCount": 2})
    sqs.set_queue_attributes(QueueUrl=allowed, Attributes={"RedrivePolicy": redrive})
    other = new_queue(sqs, prefix="other")
    refused = error_of(sqs.set_queue_attributes, QueueUrl=other, Attributes={"RedrivePolicy": redrive})
    assert refused.response["Error"]["Code"] == "InvalidParameterValue"
    sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"RedriveAllowPolicy": json.dumps({"redrivePermission": "denyAll"})})
    denied = error_of(sqs.create_queue, QueueName=unique_name("denied"), Attributes={"RedrivePolicy": redrive})
    assert denied.response["Error"]["Code"] == "InvalidParameterValue"
    eleven = json.dumps({"redrivePermission": "byQueue", "sourceQueueArns": [arn_of(other)] * 11})
    with pytest.raises(sqs.exceptions.InvalidAttributeValue):
        sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"RedriveAllowPolicy": eleven})

    assert stored["SqsManagedSseEnabled"] == "true" and "KmsMasterKeyId" not in stored
    sqs.set_queue_attributes(QueueUrl=other, Attributes={"KmsMasterKeyId": "alias/aws/sqs", "KmsDataKeyReusePeriodSeconds": "600"})
    kms = sqs.get_queue_attributes(QueueUrl=other, AttributeNames=["All"])["Attributes"]
    assert (kms["KmsMasterKeyId"], kms["KmsDataKeyReusePeriodSeconds"], kms["SqsManagedSseEnabled"]) == ("alias/aws/sqs", "600", "false")
    with pytest.raises(sqs.exceptions.InvalidAttributeValue):
        sqs.set_queue_attributes(QueueUrl=other, Attributes={"SqsManagedSseEnabled": "true", "KmsMasterKeyId": "k"})

    name = other.rsplit("/", 1)[1]
    sqs.delete_queue(QueueUrl=other)
    with pytest.raises(sqs.exceptions.QueueDeletedRecently) as recently:
        sqs.create_queue(QueueName=name)
    assert recently.value.response["Error"]["Code"] == "AWS.SimpleQueueService.QueueDeletedRecently"
