"""boto3 against a real `shardlog serve`: SubscribeToShard (enhanced fan-out).
boto3 decodes the event stream itself (botocore's parser checks both CRCs of
every message); one test also reads the raw bytes and decodes them with
botocore.eventstream directly.

Shapes and rules are the real Kinesis service's (botocore's kinesis model and the
SubscribeToShard API reference): the stream starts with an `initial-response`
event, SubscribeToShardEvent carries Records, ContinuationSequenceNumber,
MillisBehindLatest and, at the end of a closed shard, ChildShards; a second
subscription of the same consumer and shard within 5 seconds is
ResourceInUseException; a subscription lasts 5 minutes (shortened here with the
hidden --subscription-lifetime-ms option)."""

from __future__ import annotations

import base64
import http.client
import json
import time
import urllib.parse

import botocore.eventstream
import botocore.exceptions
import pytest

from _support import ACCESS_KEY, SECRET_KEY, expect_error, make_client, unique_name

PARENT = "shardId-000000000000"


def register(client, stream: str, name: str = "efo") -> str:
    arn = client.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
    return client.register_stream_consumer(StreamARN=arn, ConsumerName=name)["Consumer"]["ConsumerARN"]


def put_batch(client, stream: str, phase: str, count: int = 25):
    """Puts `count` records; returns (shard id, sequence number, data) of each."""
    entries = [{"PartitionKey": f"{phase}-{i}", "Data": f"{phase}:{i}".encode()} for i in range(count)]
    answer = client.put_records(StreamName=stream, Records=entries)
    assert answer["FailedRecordCount"] == 0
    return [
        (result["ShardId"], result["SequenceNumber"], entry["Data"])
        for entry, result in zip(entries, answer["Records"])
    ]


def expected_by_shard(puts) -> dict[str, list[bytes]]:
    """Each shard's records in sequence-number order."""
    shards: dict[str, list[tuple[int, bytes]]] = {}
    for shard, sequence, data in puts:
        shards.setdefault(shard, []).append((int(sequence), data))
    return {shard: [data for _, data in sorted(items)] for shard, items in shards.items()}


def read_events(stream, want: int | None, events_max: int = 1000):
    """Reads SubscribeToShardEvents until `want` records arrived (or, with None,
    until an event carries ChildShards). Returns (records, last event)."""
    records, last = [], None
    for _, event in zip(range(events_max), stream):
        last = event["SubscribeToShardEvent"]
        assert isinstance(last["ContinuationSequenceNumber"], str)
        assert isinstance(last["MillisBehindLatest"], int)
        records.extend(last["Records"])
        if want is not None and len(records) >= want:
            break
        if want is None and last.get("ChildShards"):
            break
    return records, last


def test_subscribe_receives_every_record_in_order_across_a_split(kinesis, new_stream):
    """Goal: boto3's subscribe_to_shard receives every record put, in order, once:
    the parent's records up to the split, then its ChildShards; the children's
    records, including ones put while the subscription is open (pushed, not
    polled)."""
    name = new_stream(shards=1)
    consumer = register(kinesis, name)
    puts = put_batch(kinesis, name, "before")
    kinesis.split_shard(StreamName=name, ShardToSplit=PARENT, NewStartingHashKey=str(2**127))
    puts += put_batch(kinesis, name, "after")
    expected = expected_by_shard(puts)

    answer = kinesis.subscribe_to_shard(
        ConsumerARN=consumer, ShardId=PARENT, StartingPosition={"Type": "TRIM_HORIZON"}
    )
    records, last = read_events(answer["EventStream"], None)
    answer["EventStream"].close()
    assert [r["Data"] for r in records] == expected[PARENT]
    for record in records:
        assert record["PartitionKey"].startswith("before-")
        assert record["ApproximateArrivalTimestamp"].year >= 2024
    children = last["ChildShards"]
    assert sorted(c["ShardId"] for c in children) == ["shardId-000000000001", "shardId-000000000002"]
    for child in children:
        assert child["ParentShards"] == [PARENT]

    for child in sorted(c["ShardId"] for c in children):
        answer = kinesis.subscribe_to_shard(
            ConsumerARN=consumer, ShardId=child, StartingPosition={"Type": "TRIM_HORIZON"}
        )
        stream = answer["EventStream"]
        so_far = expected_by_shard(puts)[child]
        got, _ = read_events(stream, len(so_far))
        assert [r["Data"] for r in got] == so_far
        # Records put now arrive on the open subscription.
        live = put_batch(kinesis, name, f"live-{child}", 40)
        puts += live
        later = [p for p in live if p[0] == child]
        more, _ = read_events(stream, len(later))
        stream.close()
        assert [r["Data"] for r in more] == [data for _, _, data in later]
        assert [r["SequenceNumber"] for r in more] == [seq for _, seq, _ in later]


def test_second_subscription_is_resource_in_use(kinesis, new_stream):
    """Goal: a second SubscribeToShard of the same consumer and shard right after
    a successful one fails with ResourceInUseException (AWS: within 5 seconds);
    another consumer subscribes to the same shard independently."""
    name = new_stream(shards=1)
    first_consumer = register(kinesis, name, "first")
    second_consumer = register(kinesis, name, "second")
    position = {"Type": "LATEST"}
    first = kinesis.subscribe_to_shard(ConsumerARN=first_consumer, ShardId=PARENT, StartingPosition=position)
    expect_error(
        kinesis,
        "ResourceInUseException",
        kinesis.subscribe_to_shard,
        ConsumerARN=first_consumer,
        ShardId=PARENT,
        StartingPosition=position,
    )
    other = kinesis.subscribe_to_shard(ConsumerARN=second_consumer, ShardId=PARENT, StartingPosition=position)
    kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"both")
    for answer in (first, other):
        records, _ = read_events(answer["EventStream"], 1)
        answer["EventStream"].close()
        assert [r["Data"] for r in records] == [b"both"]


def test_errors_before_and_inside_the_stream(kinesis, new_stream):
    """Goal: an unknown consumer is ResourceNotFoundException before the stream
    starts; deregistering the consumer while it is subscribed ends the stream
    with a ResourceNotFoundException exception event, which boto3 raises."""
    name = new_stream(shards=1)
    consumer = register(kinesis, name)
    expect_error(
        kinesis,
        "ResourceNotFoundException",
        kinesis.subscribe_to_shard,
        ConsumerARN=consumer.replace("/consumer/efo:", "/consumer/missing:"),
        ShardId=PARENT,
        StartingPosition={"Type": "LATEST"},
    )
    answer = kinesis.subscribe_to_shard(ConsumerARN=consumer, ShardId=PARENT, StartingPosition={"Type": "LATEST"})
    kinesis.deregister_stream_consumer(ConsumerARN=consumer)
    with pytest.raises(botocore.exceptions.EventStreamError) as caught:
        for _, _event in zip(range(100), answer["EventStream"]):
            pass
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def raw_subscribe(url: str, body: dict) -> tuple[http.client.HTTPResponse, http.client.HTTPConnection]:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    connection.request(
        "POST",
        "/",
        body=json.dumps(body).encode(),
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "Kinesis_20131202.SubscribeToShard",
        },
    )
    return connection.getresponse(), connection


def test_raw_event_stream_decodes_with_botocore_and_ends_cleanly(server_factory):
    """Goal: the raw response bytes (HTTP/1.1 chunked) are a valid AWS event
    stream by botocore.eventstream's own decoder, CRCs included: initial-response
    first (payload {}), then SubscribeToShardEvents with the records put; the
    body ends cleanly when the subscription's lifetime (2 s here) is over; a
    flipped byte fails botocore's CRC check."""
    short = server_factory(extra_args=["--subscription-lifetime-ms", "2000"])
    client = make_client(short.url, ACCESS_KEY, SECRET_KEY)
    name = unique_name("raw")
    client.create_stream(StreamName=name, ShardCount=1)
    consumer = register(client, name)
    puts = put_batch(client, name, "raw", 10)
    response, connection = raw_subscribe(
        short.url,
        {"ConsumerARN": consumer, "ShardId": PARENT, "StartingPosition": {"Type": "TRIM_HORIZON"}},
    )
    assert response.status == 200
    assert response.getheader("Content-Type") == "application/vnd.amazon.eventstream"
    assert response.getheader("Transfer-Encoding") == "chunked"
    started = time.monotonic()
    raw = response.read()  # to the end: the lifetime ends the body
    elapsed = time.monotonic() - started
    connection.close()
    assert elapsed < 30, "the subscription ended within the bound"

    buffer = botocore.eventstream.EventStreamBuffer()
    buffer.add_data(raw)
    messages = list(buffer)
    assert messages[0].headers[":message-type"] == "event"
    assert messages[0].headers[":event-type"] == "initial-response"
    assert json.loads(messages[0].payload) == {}
    data = []
    for message in messages[1:]:
        assert message.headers[":message-type"] == "event"
        assert message.headers[":event-type"] == "SubscribeToShardEvent"
        event = json.loads(message.payload)
        assert set(event) >= {"Records", "ContinuationSequenceNumber", "MillisBehindLatest"}
        data += [record["Data"] for record in event["Records"]]
    assert [base64.b64decode(d) for d in data] == [d for _, _, d in puts]

    # Flip the last payload byte of the first message (just before its CRC).
    first_bytes = int.from_bytes(raw[0:4], "big")
    corrupt = bytearray(raw)
    corrupt[first_bytes - 5] ^= 0x01
    broken = botocore.eventstream.EventStreamBuffer()
    broken.add_data(bytes(corrupt))
    with pytest.raises(botocore.eventstream.ChecksumMismatch):
        list(broken)
