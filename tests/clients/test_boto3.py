"""boto3 against a real `shardlog serve`: every supported action as a Python
application calls it, the shapes boto3 parses, and the errors it raises.

Expected values are the real Kinesis service's (see /work/shared/KINESIS_FACTS.md);
where a test pins a detail of the real service beyond the facts page, its
docstring says where the detail comes from."""

from __future__ import annotations

import collections
import datetime
import hashlib
import os
import re
import time

import pytest

from _support import (
    ACCESS_KEY,
    ACCOUNT_ID,
    HASH_KEY_MAX,
    REGION,
    SECRET_KEY,
    SEQUENCE_NUMBER,
    SHARD_ID,
    expect_error,
    iterator,
    make_client,
    read_shard,
    shard_ids,
    stream_arn,
    unique_name,
    wait_until,
)

UTC = datetime.timezone.utc


def md5_hash_key(partition_key: str) -> int:
    return int.from_bytes(hashlib.md5(partition_key.encode("utf-8")).digest(), "big")


def owning_shard(shards, hash_key: int) -> str:
    """The open shard whose hash key range holds `hash_key`."""
    owners = [
        shard["ShardId"]
        for shard in shards
        if "EndingSequenceNumber" not in shard["SequenceNumberRange"]
        and int(shard["HashKeyRange"]["StartingHashKey"])
        <= hash_key
        <= int(shard["HashKeyRange"]["EndingHashKey"])
    ]
    assert len(owners) == 1, f"hash key {hash_key} is in {owners}"
    return owners[0]


def assert_even_cover(shards, count: int):
    """`shards` (open ones) split [0, 2^128-1] into `count` contiguous ranges of
    (nearly) equal size, as CreateStream and UpdateShardCount make them."""
    ranges = sorted(
        (int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"]))
        for s in shards
    )
    assert len(ranges) == count
    assert ranges[0][0] == 0
    assert ranges[-1][1] == HASH_KEY_MAX
    for (_, end), (start, _) in zip(ranges, ranges[1:]):
        assert start == end + 1, f"gap or overlap between ranges: {ranges}"
    sizes = [end - start + 1 for start, end in ranges]
    assert max(sizes) - min(sizes) <= count, f"uneven ranges: {sizes}"


# ---------------------------------------------------------------- streams


def test_create_provisioned_stream_and_describe(kinesis, new_stream):
    """Goal: CreateStream with ShardCount gives an ACTIVE provisioned stream whose
    DescribeStream and DescribeStreamSummary have every field boto3 models, with
    real-service values (ARN, 24 h retention, even hash ranges, 56-digit sequence
    numbers, no encryption, empty enhanced monitoring)."""
    before = datetime.datetime.now(UTC) - datetime.timedelta(seconds=5)
    name = new_stream(shards=3)
    kinesis.get_waiter("stream_exists").wait(
        StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 5}
    )

    description = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert description["StreamName"] == name
    assert description["StreamARN"] == stream_arn(name)
    assert description["StreamStatus"] == "ACTIVE"
    assert description["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert description["HasMoreShards"] is False
    assert description["RetentionPeriodHours"] == 24
    assert description["EncryptionType"] == "NONE"
    assert description["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]
    created = description["StreamCreationTimestamp"]
    assert isinstance(created, datetime.datetime)
    assert before <= created <= datetime.datetime.now(UTC) + datetime.timedelta(seconds=5)

    shards = description["Shards"]
    assert [s["ShardId"] for s in shards] == [f"shardId-{i:012d}" for i in range(3)]
    for shard in shards:
        assert "ParentShardId" not in shard and "AdjacentParentShardId" not in shard
        assert SEQUENCE_NUMBER.match(shard["SequenceNumberRange"]["StartingSequenceNumber"])
        assert "EndingSequenceNumber" not in shard["SequenceNumberRange"]
    assert_even_cover(shards, 3)

    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["StreamName"] == name
    assert summary["StreamARN"] == stream_arn(name)
    assert summary["StreamStatus"] == "ACTIVE"
    assert summary["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
    assert summary["RetentionPeriodHours"] == 24
    assert summary["StreamCreationTimestamp"] == created
    assert summary["EnhancedMonitoring"] == [{"ShardLevelMetrics": []}]
    assert summary["EncryptionType"] == "NONE"
    assert summary["OpenShardCount"] == 3
    assert summary["ConsumerCount"] == 0
    assert summary["MaxRecordSizeInKiB"] == 1024

    # The same stream named by ARN instead of name.
    by_arn = kinesis.describe_stream_summary(StreamARN=stream_arn(name))
    assert by_arn["StreamDescriptionSummary"]["StreamName"] == name


def test_create_on_demand_stream(kinesis, new_stream):
    """Goal: CreateStream with StreamModeDetails ON_DEMAND gives an ACTIVE
    on-demand stream with 4 even shards (the service's starting capacity)."""
    name = new_stream(on_demand=True)
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert summary["StreamStatus"] == "ACTIVE"
    assert summary["OpenShardCount"] == 4
    description = kinesis.describe_stream(StreamName=name)["StreamDescription"]
    assert description["StreamModeDetails"] == {"StreamMode": "ON_DEMAND"}
    assert_even_cover(description["Shards"], 4)


def test_create_existing_stream_is_resource_in_use(kinesis, new_stream):
    """Goal: creating a stream whose name is taken fails with
    ResourceInUseException naming the stream and account."""
    name = new_stream()
    expect_error(
        kinesis,
        "ResourceInUseException",
        kinesis.create_stream,
        f"Stream {name} under account {ACCOUNT_ID} already exists.",
        StreamName=name,
        ShardCount=1,
    )


def test_create_stream_with_invalid_name_is_validation_error(raw_kinesis):
    """Goal: a stream name outside [a-zA-Z0-9_.-]+ is refused by the server with
    ValidationException naming the 'streamName' member."""
    expect_error(
        raw_kinesis,
        "ValidationException",
        raw_kinesis.create_stream,
        "at 'streamName' failed to satisfy constraint",
        StreamName="bad name!",
        ShardCount=1,
    )


def test_describe_stream_pages_shards(kinesis, new_stream):
    """Goal: DescribeStream's Limit/ExclusiveStartShardId paging and boto3's
    DescribeStream paginator return every shard once, in order."""
    name = new_stream(shards=5)
    first = kinesis.describe_stream(StreamName=name, Limit=2)["StreamDescription"]
    assert [s["ShardId"] for s in first["Shards"]] == ["shardId-000000000000", "shardId-000000000001"]
    assert first["HasMoreShards"] is True
    rest = kinesis.describe_stream(
        StreamName=name, Limit=10, ExclusiveStartShardId="shardId-000000000001"
    )["StreamDescription"]
    assert [s["ShardId"] for s in rest["Shards"]] == [f"shardId-{i:012d}" for i in range(2, 5)]
    assert rest["HasMoreShards"] is False

    pages = list(
        kinesis.get_paginator("describe_stream").paginate(
            StreamName=name, PaginationConfig={"PageSize": 2}
        )
    )
    assert [len(p["StreamDescription"]["Shards"]) for p in pages] == [2, 2, 1]
    seen = [s["ShardId"] for p in pages for s in p["StreamDescription"]["Shards"]]
    assert seen == [f"shardId-{i:012d}" for i in range(5)]


def test_list_streams_pages_with_limit_and_paginator(server_factory):
    """Goal: ListStreams on a server of its own pages by Limit and NextToken
    (HasMoreStreams on every page but the last), and boto3's ListStreams
    paginator returns every name and summary exactly once, sorted."""
    client = make_client(server_factory().url)
    names = sorted(unique_name("ls") for _ in range(5))
    for name in names:
        client.create_stream(StreamName=name, ShardCount=1)

    seen, token, pages = [], None, 0
    for _ in range(10):
        params = {"Limit": 2} if token is None else {"Limit": 2, "NextToken": token}
        page = client.list_streams(**params)
        pages += 1
        assert len(page["StreamNames"]) <= 2
        seen += page["StreamNames"]
        summaries = page["StreamSummaries"]
        assert [s["StreamName"] for s in summaries] == page["StreamNames"]
        for summary in summaries:
            assert summary["StreamARN"] == stream_arn(summary["StreamName"])
            assert summary["StreamStatus"] == "ACTIVE"
            assert summary["StreamModeDetails"] == {"StreamMode": "PROVISIONED"}
            assert isinstance(summary["StreamCreationTimestamp"], datetime.datetime)
        if not page["HasMoreStreams"]:
            assert "NextToken" not in page
            break
        token = page["NextToken"]
    else:
        pytest.fail("ListStreams never said HasMoreStreams=false")
    assert seen == names
    assert pages == 3

    after = client.list_streams(ExclusiveStartStreamName=names[2])
    assert after["StreamNames"] == names[3:]

    paginated = client.get_paginator("list_streams").paginate(PaginationConfig={"PageSize": 2})
    full = paginated.build_full_result()
    assert full["StreamNames"] == names
    assert [s["StreamName"] for s in full["StreamSummaries"]] == names


def test_list_shards_pages_with_next_token(kinesis, new_stream):
    """Goal: ListShards pages by MaxResults and NextToken (the follow-up request
    carries NextToken without StreamName) and by ExclusiveStartShardId."""
    name = new_stream(shards=5)
    first = kinesis.list_shards(StreamName=name, MaxResults=2)
    assert [s["ShardId"] for s in first["Shards"]] == ["shardId-000000000000", "shardId-000000000001"]
    seen = [s["ShardId"] for s in first["Shards"]]
    token = first.get("NextToken")
    assert token, "a page short of the end must carry a NextToken"
    for _ in range(10):
        page = kinesis.list_shards(NextToken=token, MaxResults=2)
        seen += [s["ShardId"] for s in page["Shards"]]
        token = page.get("NextToken")
        if not token:
            break
    assert seen == [f"shardId-{i:012d}" for i in range(5)]

    after = kinesis.list_shards(StreamName=name, ExclusiveStartShardId="shardId-000000000002")
    assert [s["ShardId"] for s in after["Shards"]] == ["shardId-000000000003", "shardId-000000000004"]
    assert "NextToken" not in after
    for shard in after["Shards"]:
        assert SHARD_ID.match(shard["ShardId"])
        assert set(shard["HashKeyRange"]) == {"StartingHashKey", "EndingHashKey"}
        assert SEQUENCE_NUMBER.match(shard["SequenceNumberRange"]["StartingSequenceNumber"])


def test_list_shards_paginator(kinesis, new_stream):
    """Goal: boto3's ListShards paginator lists every shard when one page holds
    them; with a page size smaller than the stream, its second request carries
    both StreamName and NextToken, which Kinesis refuses with
    InvalidArgumentException "NextToken and StreamName cannot be provided
    together." (botocore issue #2009): the server must answer the same."""
    name = new_stream(shards=5)
    full = kinesis.get_paginator("list_shards").paginate(StreamName=name).build_full_result()
    assert [s["ShardId"] for s in full["Shards"]] == [f"shardId-{i:012d}" for i in range(5)]

    small_pages = kinesis.get_paginator("list_shards").paginate(
        StreamName=name, PaginationConfig={"PageSize": 2}
    )
    expect_error(
        kinesis,
        "InvalidArgumentException",
        lambda: list(small_pages),
        "NextToken and StreamName cannot be provided together.",
    )


# ---------------------------------------------------------------- writes


def test_put_record_shape_and_routing(kinesis, new_stream):
    """Goal: PutRecord answers ShardId (shardId-NNNNNNNNNNNN), a 56-digit
    SequenceNumber and EncryptionType NONE; the record goes to the shard whose
    hash range holds MD5(partition key), or ExplicitHashKey when given; sequence
    numbers of one shard increase."""
    name = new_stream(shards=4)
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    last_by_shard = {}
    for i in range(12):
        key = f"key-{i}"
        answer = kinesis.put_record(StreamName=name, PartitionKey=key, Data=f"v{i}".encode())
        assert SHARD_ID.match(answer["ShardId"])
        assert SEQUENCE_NUMBER.match(answer["SequenceNumber"]), answer["SequenceNumber"]
        assert answer["EncryptionType"] == "NONE"
        assert answer["ShardId"] == owning_shard(shards, md5_hash_key(key))
        previous = last_by_shard.get(answer["ShardId"])
        if previous is not None:
            assert int(answer["SequenceNumber"]) > int(previous)
        last_by_shard[answer["ShardId"]] = answer["SequenceNumber"]

    for hash_key in (0, 2**126, 2**127 + 5, HASH_KEY_MAX):
        answer = kinesis.put_record(
            StreamName=name, PartitionKey="same", Data=b"x", ExplicitHashKey=str(hash_key)
        )
        assert answer["ShardId"] == owning_shard(shards, hash_key)

    # SequenceNumberForOrdering with an earlier sequence number is accepted.
    ordered = kinesis.put_record(
        StreamName=name,
        PartitionKey="key-0",
        Data=b"after",
        SequenceNumberForOrdering=last_by_shard[owning_shard(shards, md5_hash_key("key-0"))],
    )
    assert SEQUENCE_NUMBER.match(ordered["SequenceNumber"])


def test_put_records_per_record_results(kinesis, new_stream):
    """Goal: PutRecords answers FailedRecordCount 0 and one result per record, in
    request order, each with ShardId and a 56-digit SequenceNumber; the records
    read back from each shard in that order."""
    name = new_stream(shards=2)
    entries = [{"PartitionKey": f"pk-{i}", "Data": f"record-{i}".encode()} for i in range(25)]
    answer = kinesis.put_records(StreamName=name, Records=entries)
    assert answer["FailedRecordCount"] == 0
    assert answer["EncryptionType"] == "NONE"
    results = answer["Records"]
    assert len(results) == len(entries)
    shards = kinesis.list_shards(StreamName=name)["Shards"]
    for entry, result in zip(entries, results):
        assert set(result) == {"ShardId", "SequenceNumber"}, result
        assert SEQUENCE_NUMBER.match(result["SequenceNumber"])
        assert result["ShardId"] == owning_shard(shards, md5_hash_key(entry["PartitionKey"]))

    for shard in shard_ids(kinesis, name):
        expected = [
            (r["SequenceNumber"], e["Data"]) for e, r in zip(entries, results) if r["ShardId"] == shard
        ]
        records, _, _ = read_shard(kinesis, iterator(kinesis, name, shard))
        assert [(r["SequenceNumber"], r["Data"]) for r in records] == expected


def test_binary_data_round_trips_exactly(kinesis, new_stream):
    """Goal: record data is opaque bytes: zero bytes, every byte value, random
    bytes, an empty blob and a record near 1 MiB come back exactly as put, with
    their (Unicode) partition keys."""
    name = new_stream()
    payloads = [
        b"\x00",
        b"\x00\x00\x00\x00",
        bytes(range(256)),
        b"\xff\xfe\x00\x01" * 64,
        b"text\x00with\x00nuls\n\r\t",
        os.urandom(4096),
        b"",
        os.urandom(1024 * 1024 - 512),
    ]
    keys = [f"ключ-{i}-🔑" for i in range(len(payloads))]
    for key, data in zip(keys, payloads[:4]):
        kinesis.put_record(StreamName=name, PartitionKey=key, Data=data)
    answer = kinesis.put_records(
        StreamName=name,
        Records=[{"PartitionKey": k, "Data": d} for k, d in zip(keys[4:], payloads[4:])],
    )
    assert answer["FailedRecordCount"] == 0
    records, _, _ = read_shard(kinesis, iterator(kinesis, name, "shardId-000000000000"))
    assert [r["PartitionKey"] for r in records] == keys
    for got, want in zip(records, payloads):
        assert isinstance(got["Data"], bytes)
        assert got["Data"] == want, f"{len(got['Data'])} bytes back for {len(want)} put"


# ---------------------------------------------------------------- reads


def put_sequence(kinesis, name, count, prefix="r", key="k"):
    """Puts `count` records under one partition key; returns their sequence numbers."""
    return [
        kinesis.put_record(StreamName=name, PartitionKey=key, Data=f"{prefix}{i}".encode())[
            "SequenceNumber"
        ]
        for i in range(count)
    ]


def test_iterator_trim_horizon_and_latest(kinesis, new_stream):
    """Goal: TRIM_HORIZON starts at the oldest record; LATEST starts after the
    newest, so it reads nothing until a new record arrives, then exactly that
    record."""
    name = new_stream()
    shard = "shardId-000000000000"
    put_sequence(kinesis, name, 3)
    records, _, _ = read_shard(kinesis, iterator(kinesis, name, shard, "TRIM_HORIZON"))
    assert [r["Data"] for r in records] == [b"r0", b"r1", b"r2"]

    latest = iterator(kinesis, name, shard, "LATEST")
    empty = kinesis.get_records(ShardIterator=latest)
    assert empty["Records"] == []
    assert empty["MillisBehindLatest"] == 0
    assert empty["NextShardIterator"]
    kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"new")
    after = kinesis.get_records(ShardIterator=empty["NextShardIterator"])
    assert [r["Data"] for r in after["Records"]] == [b"new"]


def test_iterator_at_and_after_sequence_number(kinesis, new_stream):
    """Goal: AT_SEQUENCE_NUMBER starts at the record with that number and
    AFTER_SEQUENCE_NUMBER right after it, including at the first and last
    record."""
    name = new_stream()
    shard = "shardId-000000000000"
    numbers = put_sequence(kinesis, name, 5)

    def read_from(kind, number):
        it = iterator(kinesis, name, shard, kind, StartingSequenceNumber=number)
        return [r["SequenceNumber"] for r in read_shard(kinesis, it)[0]]

    assert read_from("AT_SEQUENCE_NUMBER", numbers[2]) == numbers[2:]
    assert read_from("AFTER_SEQUENCE_NUMBER", numbers[2]) == numbers[3:]
    assert read_from("AT_SEQUENCE_NUMBER", numbers[0]) == numbers
    assert read_from("AT_SEQUENCE_NUMBER", numbers[-1]) == numbers[-1:]
    assert read_from("AFTER_SEQUENCE_NUMBER", numbers[-1]) == []


def test_iterator_at_timestamp(kinesis, new_stream):
    """Goal: AT_TIMESTAMP with a datetime starts at the first record that
    arrived at or after it: between two batches it reads the second batch only;
    a record's own ApproximateArrivalTimestamp includes that record; a time
    before the stream reads everything, and one in the future is refused with
    InvalidArgumentException, as Kinesis refuses it."""
    name = new_stream()
    shard = "shardId-000000000000"
    put_sequence(kinesis, name, 3, prefix="a")
    time.sleep(0.05)
    between = datetime.datetime.now(UTC)
    time.sleep(0.05)
    put_sequence(kinesis, name, 3, prefix="b")

    def read_at(when):
        it = iterator(kinesis, name, shard, "AT_TIMESTAMP", Timestamp=when)
        return read_shard(kinesis, it)[0]

    second = read_at(between)
    assert [r["Data"] for r in second] == [b"b0", b"b1", b"b2"]
    arrived = second[0]["ApproximateArrivalTimestamp"]
    assert isinstance(arrived, datetime.datetime)
    assert arrived >= between - datetime.timedelta(milliseconds=1)
    assert [r["Data"] for r in read_at(arrived)][:1] == [b"b0"]
    assert len(read_at(datetime.datetime(2000, 1, 1, tzinfo=UTC))) == 6
    with pytest.raises(kinesis.exceptions.InvalidArgumentException):
        read_at(datetime.datetime.now(UTC) + datetime.timedelta(hours=1))


def test_get_records_pages_to_the_end(kinesis, new_stream):
    """Goal: GetRecords with Limit 2 returns at most 2 records a call; following
    NextShardIterator reads all 7 records once, in order; at the end of an open
    shard the page is empty, MillisBehindLatest is 0 and NextShardIterator is
    still given."""
    name = new_stream()
    numbers = put_sequence(kinesis, name, 7)
    records, pages, last = read_shard(
        kinesis, iterator(kinesis, name, "shardId-000000000000"), limit=2
    )
    assert [len(p["Records"]) for p in pages] == [2, 2, 2, 1, 0]
    assert [r["SequenceNumber"] for r in records] == numbers
    assert [r["Data"] for r in records] == [f"r{i}".encode() for i in range(7)]
    for record in records:
        assert set(record) >= {"SequenceNumber", "ApproximateArrivalTimestamp", "Data", "PartitionKey"}
        assert record["PartitionKey"] == "k"
    assert last["MillisBehindLatest"] == 0
    assert last["NextShardIterator"]
    assert "ChildShards" not in last
    for page in pages:
        assert isinstance(page["MillisBehindLatest"], int)


# ---------------------------------------------------------------- resharding


def test_split_merge_update_and_read_across_lineage(kinesis, new_stream):
    """Goal: SplitShard, MergeShards and UpdateShardCount (UNIFORM_SCALING)
    reshape the stream as Kinesis does (closed parents get EndingSequenceNumber,
    children name their parents, the open shards cover the hash space evenly
    after UpdateShardCount); ListShards' ShardFilter sees the lineage; reading
    every shard to its end, each closed parent's last page has no
    NextShardIterator and ChildShards naming its children, and every record put
    is read exactly once, from the shard its put named."""
    name = new_stream(shards=2)
    put_results = []

    def put_batch(phase):
        entries = [{"PartitionKey": f"{phase}-{i}", "Data": f"{phase}:{i}".encode()} for i in range(20)]
        answer = kinesis.put_records(StreamName=name, Records=entries)
        assert answer["FailedRecordCount"] == 0
        for entry, result in zip(entries, answer["Records"]):
            put_results.append((entry["PartitionKey"], entry["Data"], result["ShardId"], result["SequenceNumber"]))

    put_batch("p1")
    # Split shard 0 ([0, 2^127-1]) in the middle: children 2 and 3.
    kinesis.split_shard(
        StreamName=name, ShardToSplit="shardId-000000000000", NewStartingHashKey=str(2**126)
    )
    put_batch("p2")
    # Merge the right child with shard 1: child 4 over [2^126, 2^128-1].
    kinesis.merge_shards(
        StreamName=name,
        ShardToMerge="shardId-000000000003",
        AdjacentShardToMerge="shardId-000000000001",
    )
    put_batch("p3")
    update = kinesis.update_shard_count(StreamName=name, TargetShardCount=4, ScalingType="UNIFORM_SCALING")
    assert update["StreamName"] == name
    assert update["CurrentShardCount"] == 2
    assert update["TargetShardCount"] == 4
    assert update.get("StreamARN", stream_arn(name)) == stream_arn(name)
    put_batch("p4")

    shards = kinesis.list_shards(StreamName=name)["Shards"]
    by_id = {s["ShardId"]: s for s in shards}
    closed = [s for s in shards if "EndingSequenceNumber" in s["SequenceNumberRange"]]
    open_ = [s for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
    assert_even_cover(open_, 4)
    assert {"shardId-000000000000", "shardId-000000000001", "shardId-000000000003"} <= {
        s["ShardId"] for s in closed
    }
    assert by_id["shardId-000000000002"]["ParentShardId"] == "shardId-000000000000"
    assert by_id["shardId-000000000002"]["HashKeyRange"] == {
        "StartingHashKey": "0",
        "EndingHashKey": str(2**126 - 1),
    }
    assert by_id["shardId-000000000003"]["ParentShardId"] == "shardId-000000000000"
    assert by_id["shardId-000000000004"]["ParentShardId"] == "shardId-000000000003"
    assert by_id["shardId-000000000004"]["AdjacentParentShardId"] == "shardId-000000000001"
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 4

    def filtered(kind):
        listed = kinesis.list_shards(StreamName=name, ShardFilter={"Type": kind})["Shards"]
        return sorted(s["ShardId"] for s in listed)

    assert filtered("AT_LATEST") == sorted(s["ShardId"] for s in open_)
    assert filtered("AT_TRIM_HORIZON") == ["shardId-000000000000", "shardId-000000000001"]
    assert filtered("FROM_TRIM_HORIZON") == sorted(by_id)

    children_of = collections.defaultdict(set)
    for shard in shards:
        for parent in (shard.get("ParentShardId"), shard.get("AdjacentParentShardId")):
            if parent:
                children_of[parent].add(shard["ShardId"])

    read = []
    for shard in shards:
        shard_id = shard["ShardId"]
        records, pages, last = read_shard(kinesis, iterator(kinesis, name, shard_id), limit=3)
        for page in pages:
            assert len(page["Records"]) <= 3
        read += [(r["PartitionKey"], r["Data"], shard_id, r["SequenceNumber"]) for r in records]
        numbers = [int(r["SequenceNumber"]) for r in records]
        assert numbers == sorted(numbers)
        if shard in closed:
            assert "NextShardIterator" not in last, f"{shard_id} is closed: no NextShardIterator at its end"
            children = last.get("ChildShards")
            assert children, f"{shard_id} is closed: its last page must carry ChildShards"
            assert {c["ShardId"] for c in children} == children_of[shard_id]
            for child in children:
                assert shard_id in child["ParentShards"]
                assert child["HashKeyRange"] == by_id[child["ShardId"]]["HashKeyRange"]
            ending = int(shard["SequenceNumberRange"]["EndingSequenceNumber"])
            starting = int(shard["SequenceNumberRange"]["StartingSequenceNumber"])
            assert all(starting <= n <= ending for n in numbers)
        else:
            assert last.get("NextShardIterator"), f"{shard_id} is open: reading goes on"
            assert not last.get("ChildShards")

    assert len(put_results) == 80
    assert collections.Counter(read) == collections.Counter(put_results), "each record once, where put"


def test_reshard_errors(kinesis, new_stream):
    """Goal: resharding mistakes fail as Kinesis fails them: splitting at the
    shard's own start key is InvalidArgumentException; merging shards that are
    not adjacent is InvalidArgumentException; splitting a closed shard is
    ResourceInUseException; UpdateShardCount beyond double the open shards is
    refused; an unknown shard is ResourceNotFoundException."""
    name = new_stream(shards=3)
    expect_error(
        kinesis,
        "InvalidArgumentException",
        kinesis.split_shard,
        "NewStartingHashKey",
        StreamName=name,
        ShardToSplit="shardId-000000000000",
        NewStartingHashKey="0",
    )
    expect_error(
        kinesis,
        "InvalidArgumentException",
        kinesis.merge_shards,
        "not an adjacent pair of shards",
        StreamName=name,
        ShardToMerge="shardId-000000000000",
        AdjacentShardToMerge="shardId-000000000002",
    )
    expect_error(
        kinesis,
        "ResourceNotFoundException",
        kinesis.split_shard,
        f"Shard shardId-000000000009 in stream {name} under account {ACCOUNT_ID} does not exist",
        StreamName=name,
        ShardToSplit="shardId-000000000009",
        NewStartingHashKey=str(2**100),
    )
    kinesis.merge_shards(
        StreamName=name, ShardToMerge="shardId-000000000000", AdjacentShardToMerge="shardId-000000000001"
    )
    expect_error(
        kinesis,
        "ResourceInUseException",
        kinesis.split_shard,
        "has already been merged or split",
        StreamName=name,
        ShardToSplit="shardId-000000000000",
        NewStartingHashKey=str(2**100),
    )
    with pytest.raises(kinesis.exceptions.ClientError) as caught:
        kinesis.update_shard_count(StreamName=name, TargetShardCount=5, ScalingType="UNIFORM_SCALING")
    assert caught.value.response["Error"]["Code"] in {
        "InvalidArgumentException",
        "LimitExceededException",
        "ValidationException",
    }


# ---------------------------------------------------------------- retention


def test_retention_increase_and_decrease(kinesis, new_stream):
    """Goal: IncreaseStreamRetentionPeriod and DecreaseStreamRetentionPeriod move
    the retention (24 → 48 → 36 → 8760) as DescribeStreamSummary shows; going
    below 24 or above 8760 hours is InvalidArgumentException."""
    name = new_stream()

    def retention():
        return kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
            "RetentionPeriodHours"
        ]

    assert retention() == 24
    kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
    assert retention() == 48
    kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=36)
    assert retention() == 36
    kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=8760)
    assert retention() == 8760
    expect_error(
        kinesis,
        "InvalidArgumentException",
        kinesis.increase_stream_retention_period,
        "(8761 hours)",
        StreamName=name,
        RetentionPeriodHours=8761,
    )
    kinesis.decrease_stream_retention_period(StreamName=name, RetentionPeriodHours=24)
    expect_error(
        kinesis,
        "InvalidArgumentException",
        kinesis.decrease_stream_retention_period,
        "(12 hours)",
        StreamName=name,
        RetentionPeriodHours=12,
    )
    assert retention() == 24


@pytest.mark.parametrize(
    "operation, hours, relation, advice",
    [
        ("increase_stream_retention_period", 30, "shorter", "Use DecreaseRetentionPeriod"),
        ("decrease_stream_retention_period", 72, "longer", "Use IncreaseRetentionPeriod"),
    ],
    ids=["increase-to-less", "decrease-to-more"],
)
def test_retention_wrong_direction_is_invalid_argument(kinesis, new_stream, operation, hours, relation, advice):
    """Goal: asking Increase for less than the current retention, or Decrease
    for more, fails with InvalidArgumentException in the service's words:
    "Requested retention period (N hours) for stream S can not be shorter
    [longer] than existing retention period (M hours). Use DecreaseRetentionPeriod
    [IncreaseRetentionPeriod] API..." (kinesalite's tests, recorded against
    Kinesis); the retention is unchanged."""
    name = new_stream()
    kinesis.increase_stream_retention_period(StreamName=name, RetentionPeriodHours=48)
    expect_error(
        kinesis,
        "InvalidArgumentException",
        getattr(kinesis, operation),
        f"Requested retention period ({hours} hours) for stream {name} can not be {relation} than "
        "existing retention period (48 hours).",
        advice,
        StreamName=name,
        RetentionPeriodHours=hours,
    )
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["RetentionPeriodHours"] == 48


# ---------------------------------------------------------------- tags


def test_tags_add_list_remove(kinesis, new_stream):
    """Goal: tags given at CreateStream and by AddTagsToStream are listed by
    ListTagsForStream (Limit and ExclusiveStartTagKey page them, HasMoreTags
    tells), adding a key again replaces its value, and RemoveTagsFromStream
    removes exactly the keys named."""
    name = new_stream(Tags={"created": "yes"})

    def all_tags():
        listed = kinesis.list_tags_for_stream(StreamName=name)
        assert listed["HasMoreTags"] is False
        return {t["Key"]: t["Value"] for t in listed["Tags"]}

    assert all_tags() == {"created": "yes"}
    kinesis.add_tags_to_stream(StreamName=name, Tags={"env": "test", "team": "core", "empty": ""})
    assert all_tags() == {"created": "yes", "env": "test", "team": "core", "empty": ""}
    kinesis.add_tags_to_stream(StreamName=name, Tags={"env": "prod"})
    assert all_tags()["env"] == "prod"

    seen, start = [], None
    for _ in range(10):
        params = {"StreamName": name, "Limit": 1}
        if start is not None:
            params["ExclusiveStartTagKey"] = start
        page = kinesis.list_tags_for_stream(**params)
        assert len(page["Tags"]) <= 1
        seen += [t["Key"] for t in page["Tags"]]
        if not page["HasMoreTags"]:
            break
        start = page["Tags"][-1]["Key"]
    assert sorted(seen) == sorted(["created", "empty", "env", "team"])
    assert len(seen) == len(set(seen))

    kinesis.remove_tags_from_stream(StreamName=name, TagKeys=["env", "created"])
    assert all_tags() == {"team": "core", "empty": ""}


# ---------------------------------------------------------------- consumers


def test_consumers_register_describe_list_deregister(kinesis, new_stream):
    """Goal: RegisterStreamConsumer returns the consumer (name, ARN of the form
    <stream ARN>/consumer/<name>:<seconds>, status, creation time) and it
    becomes ACTIVE; DescribeStreamConsumer finds it by stream ARN + name and by
    consumer ARN; ListStreamConsumers and ConsumerCount show it; registering the
    name again is ResourceInUseException; after DeregisterStreamConsumer it is
    gone (ResourceNotFoundException)."""
    name = new_stream()
    arn = stream_arn(name)
    consumer_name = unique_name("c")
    registered = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName=consumer_name)["Consumer"]
    assert registered["ConsumerName"] == consumer_name
    assert re.fullmatch(re.escape(f"{arn}/consumer/{consumer_name}:") + r"[0-9]+", registered["ConsumerARN"])
    assert registered["ConsumerStatus"] in {"CREATING", "ACTIVE"}
    assert isinstance(registered["ConsumerCreationTimestamp"], datetime.datetime)
    consumer_arn = registered["ConsumerARN"]

    def status():
        return kinesis.describe_stream_consumer(StreamARN=arn, ConsumerName=consumer_name)[
            "ConsumerDescription"
        ]["ConsumerStatus"]

    wait_until(lambda: status() == "ACTIVE", 10, "the consumer to become ACTIVE", 0.2)
    by_arn = kinesis.describe_stream_consumer(ConsumerARN=consumer_arn)["ConsumerDescription"]
    assert by_arn["ConsumerName"] == consumer_name
    assert by_arn["ConsumerARN"] == consumer_arn
    assert by_arn["StreamARN"] == arn
    assert by_arn["ConsumerStatus"] == "ACTIVE"

    listed = kinesis.list_stream_consumers(StreamARN=arn)["Consumers"]
    assert [c["ConsumerARN"] for c in listed] == [consumer_arn]
    summary = kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
    assert summary["ConsumerCount"] == 1

    expect_error(
        kinesis,
        "ResourceInUseException",
        kinesis.register_stream_consumer,
        consumer_name,
        StreamARN=arn,
        ConsumerName=consumer_name,
    )

    second = kinesis.register_stream_consumer(StreamARN=arn, ConsumerName="second")["Consumer"]
    kinesis.deregister_stream_consumer(ConsumerARN=consumer_arn)
    kinesis.deregister_stream_consumer(StreamARN=arn, ConsumerName="second")

    def gone(consumer):
        try:
            kinesis.describe_stream_consumer(ConsumerARN=consumer)
        except kinesis.exceptions.ResourceNotFoundException:
            return True
        return False

    wait_until(lambda: gone(consumer_arn) and gone(second["ConsumerARN"]), 10, "consumers to go", 0.2)
    assert kinesis.list_stream_consumers(StreamARN=arn)["Consumers"] == []


# ---------------------------------------------------------------- account, delete


def test_describe_limits(server_factory):
    """Goal: DescribeLimits on a server of its own counts the open shards of
    provisioned and on-demand streams, the on-demand streams, and reports the
    shard limit (500) and on-demand stream limit (50)."""
    client = make_client(server_factory().url)
    limits = client.describe_limits()
    assert limits["ShardLimit"] == 500
    assert limits["OpenShardCount"] == 0
    assert limits["OnDemandStreamCount"] == 0
    assert limits["OnDemandStreamCountLimit"] == 50
    client.create_stream(StreamName="two", ShardCount=2)
    client.create_stream(StreamName="auto", StreamModeDetails={"StreamMode": "ON_DEMAND"})
    limits = client.describe_limits()
    assert limits["OpenShardCount"] == 6
    assert limits["OnDemandStreamCount"] == 1


def test_delete_stream(kinesis, new_stream):
    """Goal: DeleteStream of a stream with a registered consumer fails with
    ResourceInUseException unless EnforceConsumerDeletion is set; once deleted,
    the stream is gone (the stream_not_exists waiter succeeds, DescribeStream is
    ResourceNotFoundException) and old iterators no longer read."""
    name = new_stream()
    kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"x")
    old_iterator = iterator(kinesis, name, "shardId-000000000000")
    kinesis.register_stream_consumer(StreamARN=stream_arn(name), ConsumerName="keeps-it")
    expect_error(kinesis, "ResourceInUseException", kinesis.delete_stream, StreamName=name)
    kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
    kinesis.get_waiter("stream_not_exists").wait(
        StreamName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 5}
    )
    expect_error(
        kinesis,
        "ResourceNotFoundException",
        kinesis.describe_stream,
        f"Stream {name} under account {ACCOUNT_ID} not found.",
        StreamName=name,
    )
    expect_error(kinesis, "ResourceNotFoundException", kinesis.get_records, ShardIterator=old_iterator)
    assert name not in kinesis.list_streams(ExclusiveStartStreamName=name[:-1])["StreamNames"]


def test_data_survives_sigterm_and_restart(server_factory):
    """Goal: after SIGTERM (clean exit, code 0) a server restarted over the same
    data directory has the stream, its settings and every acknowledged record,
    with the same sequence numbers; iterators issued before the restart still
    read."""
    first = server_factory()
    client = make_client(first.url)
    client.create_stream(StreamName="durable", ShardCount=2)
    client.increase_stream_retention_period(StreamName="durable", RetentionPeriodHours=72)
    answer = client.put_records(
        StreamName="durable",
        Records=[{"PartitionKey": f"k{i}", "Data": bytes([i, 0, 255])} for i in range(30)],
    )
    assert answer["FailedRecordCount"] == 0
    put = sorted((r["ShardId"], r["SequenceNumber"]) for r in answer["Records"])
    early_iterator = iterator(client, "durable", "shardId-000000000000")
    assert first.stop() == 0

    second = server_factory(root=first.root)
    client = make_client(second.url)
    summary = client.describe_stream_summary(StreamName="durable")["StreamDescriptionSummary"]
    assert summary["OpenShardCount"] == 2
    assert summary["RetentionPeriodHours"] == 72
    read = []
    for shard in shard_ids(client, "durable"):
        records, _, _ = read_shard(client, iterator(client, "durable", shard))
        read += [(shard, r["SequenceNumber"]) for r in records]
    assert sorted(read) == put
    from_early, _, _ = read_shard(client, early_iterator)
    assert [("shardId-000000000000", r["SequenceNumber"]) for r in from_early] == [
        p for p in put if p[0] == "shardId-000000000000"
    ]


# ---------------------------------------------------------------- errors


@pytest.mark.parametrize(
    "operation, params",
    [
        ("describe_stream", {}),
        ("describe_stream_summary", {}),
        ("delete_stream", {}),
        ("list_shards", {}),
        ("put_record", {"PartitionKey": "k", "Data": b"x"}),
        ("put_records", {"Records": [{"PartitionKey": "k", "Data": b"x"}]}),
        ("increase_stream_retention_period", {"RetentionPeriodHours": 48}),
        ("add_tags_to_stream", {"Tags": {"a": "b"}}),
        ("list_tags_for_stream", {}),
        ("split_shard", {"ShardToSplit": "shardId-000000000000", "NewStartingHashKey": "5"}),
    ],
)
def test_missing_stream_is_resource_not_found(kinesis, operation, params):
    """Goal: any action on a stream that does not exist fails with
    ResourceNotFoundException "Stream <name> under account 000000000000 not
    found." """
    name = unique_name("missing")
    expect_error(
        kinesis,
        "ResourceNotFoundException",
        getattr(kinesis, operation),
        f"Stream {name} under account {ACCOUNT_ID} not found.",
        StreamName=name,
        **params,
    )


def test_get_shard_iterator_on_missing_stream_or_shard(kinesis, new_stream):
    """Goal: GetShardIterator on a missing stream, or on a shard the stream does
    not have, is ResourceNotFoundException (the latter "Shard shardId-... in
    stream S under account A does not exist")."""
    expect_error(
        kinesis,
        "ResourceNotFoundException",
        kinesis.get_shard_iterator,
        StreamName=unique_name("missing"),
        ShardId="shardId-000000000000",
        ShardIteratorType="LATEST",
    )
    name = new_stream()
    expect_error(
        kinesis,
        "ResourceNotFoundException",
        kinesis.get_shard_iterator,
        f"Shard shardId-000000000007 in stream {name} under account {ACCOUNT_ID} does not exist",
        StreamName=name,
        ShardId="shardId-000000000007",
        ShardIteratorType="LATEST",
    )


def test_bad_iterator_is_invalid_argument(kinesis):
    """Goal: a shard iterator that is not one the server issued fails GetRecords
    with InvalidArgumentException ("Invalid ShardIterator")."""
    for bogus in ("not-a-valid-iterator", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "%%%"):
        expect_error(
            kinesis, "InvalidArgumentException", kinesis.get_records, "Invalid ShardIterator", ShardIterator=bogus
        )


def test_tampered_iterator_is_rejected(kinesis, new_stream):
    """Goal: a real iterator with one character changed, cut short, or extended
    is refused with InvalidArgumentException, while the untouched iterator
    still reads (iterators cannot be forged to read elsewhere)."""
    name = new_stream()
    kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"secret")
    good = iterator(kinesis, name, "shardId-000000000000")
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    variants = []
    for index in (0, 5, len(good) // 2, len(good) - 8):
        original = good[index]
        replacement = alphabet[(alphabet.index(original) + 1) % 64] if original in alphabet else "A"
        variants.append(good[:index] + replacement + good[index + 1 :])
    variants += [good[:-4], good[:-1], good + "AAAA"]
    for tampered in variants:
        assert tampered != good
        expect_error(kinesis, "InvalidArgumentException", kinesis.get_records, ShardIterator=tampered)
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=good)["Records"]] == [b"secret"]


def test_expired_iterator_is_expired_iterator_exception(server_factory):
    """Goal: an iterator used after its lifetime fails with ExpiredIteratorException
    ("Iterator expired. ..."). Kinesis's lifetime is 5 minutes; this server is
    started with a 1-second lifetime (the hidden --iterator-ttl-ms option) so the
    test need not wait 5 minutes; the 5-minute default is unit-tested in
    engine/src/token.rs."""
    short = server_factory(extra_args=["--iterator-ttl-ms", "1000"])
    client = make_client(short.url, ACCESS_KEY, SECRET_KEY)
    name = unique_name("expiry")
    client.create_stream(StreamName=name, ShardCount=1)
    client.put_record(StreamName=name, PartitionKey="k", Data=b"x")
    iterator = client.get_shard_iterator(
        StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    assert len(client.get_records(ShardIterator=iterator)["Records"]) == 1
    # The lifetime itself is what is tested: wait it out, bounded.
    time.sleep(1.2)
    expect_error(
        client, "ExpiredIteratorException", client.get_records, "Iterator expired.", ShardIterator=iterator
    )


def test_oversize_record_is_validation_error(kinesis, new_stream):
    """Goal: data over 1 MiB (1048577 bytes) is refused with ValidationException
    "... at 'data' failed to satisfy constraint: Member must have length less
    than or equal to 1048576", by PutRecord and PutRecords alike, and nothing is
    written."""
    name = new_stream()
    big = b"\x00" * (1024 * 1024 + 1)
    expect_error(
        kinesis,
        "ValidationException",
        kinesis.put_record,
        "at 'data' failed to satisfy constraint",
        "1048576",
        StreamName=name,
        PartitionKey="k",
        Data=big,
    )
    expect_error(
        kinesis,
        "ValidationException",
        kinesis.put_records,
        "failed to satisfy constraint",
        StreamName=name,
        Records=[{"PartitionKey": "k", "Data": b"small"}, {"PartitionKey": "k", "Data": big}],
    )
    records, _, _ = read_shard(kinesis, iterator(kinesis, name, "shardId-000000000000"))
    assert records == []


@pytest.mark.parametrize("key", ["", "k" * 257], ids=["empty", "257-chars"])
def test_invalid_partition_key_is_validation_error(raw_kinesis, new_stream, key):
    """Goal: a partition key outside 1..256 characters is refused by the server
    (client-side validation off) with ValidationException naming
    'partitionKey', for PutRecord and PutRecords."""
    name = new_stream()
    expect_error(
        raw_kinesis,
        "ValidationException",
        raw_kinesis.put_record,
        "at 'partitionKey' failed to satisfy constraint",
        StreamName=name,
        PartitionKey=key,
        Data=b"x",
    )
    expect_error(
        raw_kinesis,
        "ValidationException",
        raw_kinesis.put_records,
        "partitionKey",
        StreamName=name,
        Records=[{"PartitionKey": key, "Data": b"x"}],
    )


@pytest.mark.parametrize(
    "hash_key, code, fragment",
    [
        (str(2**128), "InvalidArgumentException", "Invalid ExplicitHashKey"),
        ("abc", "ValidationException", "at 'explicitHashKey' failed to satisfy constraint"),
        ("-1", "ValidationException", "at 'explicitHashKey' failed to satisfy constraint"),
    ],
    ids=["2^128", "letters", "negative"],
)
def test_invalid_explicit_hash_key(kinesis, new_stream, hash_key, code, fragment):
    """Goal: an ExplicitHashKey of the right shape but past 2^128-1 is
    InvalidArgumentException ("Invalid ExplicitHashKey. ExplicitHashKey must be
    in the range: [0, 2^128-1]. Specified value was ...", kinesalite's tests
    recorded against Kinesis); one breaking the model's pattern
    0|([1-9]\\d{0,38}) is a shape failure, ValidationException naming
    'explicitHashKey' (KINESIS_FACTS)."""
    name = new_stream()
    expect_error(
        kinesis,
        code,
        kinesis.put_record,
        fragment,
        StreamName=name,
        PartitionKey="k",
        Data=b"x",
        ExplicitHashKey=hash_key,
    )


def test_longest_partition_key_is_accepted(kinesis, new_stream):
    """Goal: a partition key of exactly 256 characters, also of multi-byte
    characters (the limit is in characters), is accepted and read back."""
    name = new_stream()
    for key in ("k" * 256, "é" * 256):
        kinesis.put_record(StreamName=name, PartitionKey=key, Data=b"x")
    records, _, _ = read_shard(kinesis, iterator(kinesis, name, "shardId-000000000000"))
    assert [r["PartitionKey"] for r in records] == ["k" * 256, "é" * 256]


def test_bad_sequence_number_is_invalid_argument(kinesis, new_stream):
    """Goal: a StartingSequenceNumber that is well-formed digits but not a
    sequence number of this shard ("5", a huge number, another shard's number)
    fails GetShardIterator with InvalidArgumentException, as does
    AT_SEQUENCE_NUMBER without one."""
    name = new_stream(shards=2)
    other = kinesis.put_record(
        StreamName=name, PartitionKey="k", Data=b"x", ExplicitHashKey=str(HASH_KEY_MAX)
    )["SequenceNumber"]
    for number in ("5", "9" * 60, other):
        expect_error(
            kinesis,
            "InvalidArgumentException",
            kinesis.get_shard_iterator,
            StreamName=name,
            ShardId="shardId-000000000000",
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=number,
        )
    expect_error(
        kinesis,
        "InvalidArgumentException",
        kinesis.get_shard_iterator,
        StreamName=name,
        ShardId="shardId-000000000000",
        ShardIteratorType="AFTER_SEQUENCE_NUMBER",
    )


@pytest.mark.parametrize("number", ["abc", "0123", "-1"])
def test_sequence_number_breaking_its_pattern_is_validation_error(kinesis, new_stream, number):
    """Goal: a StartingSequenceNumber that breaks the model's pattern
    0|([1-9]\\d{0,128}) (letters, a leading zero, a sign) is a request-shape
    failure: ValidationException naming 'startingSequenceNumber' (KINESIS_FACTS:
    shape failures are ValidationException; kinesalite's tests recorded against
    Kinesis agree)."""
    name = new_stream()
    expect_error(
        kinesis,
        "ValidationException",
        kinesis.get_shard_iterator,
        "startingSequenceNumber",
        StreamName=name,
        ShardId="shardId-000000000000",
        ShardIteratorType="AT_SEQUENCE_NUMBER",
        StartingSequenceNumber=number,
    )


@pytest.mark.parametrize("kind", ["TRIM_HORIZON", "LATEST"])
def test_starting_sequence_number_with_trim_horizon_is_invalid_argument(kinesis, new_stream, kind):
    """Goal: TRIM_HORIZON or LATEST together with a StartingSequenceNumber is
    InvalidArgumentException ("Must either specify (1) AT_SEQUENCE_NUMBER or
    AFTER_SEQUENCE_NUMBER and StartingSequenceNumber or (2) TRIM_HORIZON or
    LATEST and no StartingSequenceNumber...", kinesalite's tests recorded against
    Kinesis)."""
    name = new_stream()
    number = kinesis.put_record(StreamName=name, PartitionKey="k", Data=b"x")["SequenceNumber"]
    expect_error(
        kinesis,
        "InvalidArgumentException",
        kinesis.get_shard_iterator,
        StreamName=name,
        ShardId="shardId-000000000000",
        ShardIteratorType=kind,
        StartingSequenceNumber=number,
    )
