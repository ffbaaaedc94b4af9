"""The Firehose API with boto3 against a real `shardlog serve`: delivery stream
lifecycle, PutRecord/PutRecordBatch, objects under <data-dir>/buckets, every
compression, Parquet read back by pyarrow, Kinesis-stream sources, restarts and
Firehose's error shapes. Every wait is bounded."""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from pathlib import Path

import pytest

from _support import expect_error, make_client, stream_arn, unique_name, wait_until

ROLE = "arn:aws:iam::000000000000:role/firehose"


def firehose_client(endpoint: str, validate: bool = True):
    return make_client(endpoint, validate=validate, service="firehose")


@pytest.fixture(scope="module")
def firehose(endpoint):
    return firehose_client(endpoint)


def objects(data_dir: Path, bucket: str) -> list[Path]:
    root = data_dir / "buckets" / bucket
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def extended(bucket: str, **extra) -> dict:
    config = {
        "RoleARN": ROLE,
        "BucketARN": f"arn:aws:s3:::{bucket}",
        "Prefix": "in/",
        "BufferingHints": {"SizeInMBs": 1, "IntervalInSeconds": 0},
        "CompressionFormat": "UNCOMPRESSED",
        "ProcessingConfiguration": {
            "Enabled": True,
            "Processors": [{"Type": "AppendDelimiterToRecord"}],
        },
    }
    config.update(extra)
    return config


def create_direct(firehose, **extra) -> tuple[str, str]:
    name = unique_name("fh")
    bucket = name.lower().replace("_", "-")
    firehose.create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration=extended(bucket, **extra),
    )
    return name, bucket


def decode(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".gz":
        return gzip.decompress(data)
    if path.suffix == ".zip":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            (entry,) = archive.namelist()
            return archive.read(entry)
    return data


def test_lifecycle_create_describe_list_tags_delete(firehose):
    """A delivery stream is created, described, listed, tagged, updated and deleted."""
    name, bucket = create_direct(firehose)
    description = firehose.describe_delivery_stream(DeliveryStreamName=name)[
        "DeliveryStreamDescription"
    ]
    assert description["DeliveryStreamStatus"] == "ACTIVE"
    assert description["DeliveryStreamType"] == "DirectPut"
    assert description["VersionId"] == "1"
    destination = description["Destinations"][0]
    assert destination["ExtendedS3DestinationDescription"]["BucketARN"] == f"arn:aws:s3:::{bucket}"
    assert destination["ExtendedS3DestinationDescription"]["BufferingHints"]["IntervalInSeconds"] == 0
    assert name in firehose.list_delivery_streams(Limit=10000)["DeliveryStreamNames"]
    firehose.tag_delivery_stream(DeliveryStreamName=name, Tags=[{"Key": "team", "Value": "data"}])
    tags = firehose.list_tags_for_delivery_stream(DeliveryStreamName=name)["Tags"]
    assert tags == [{"Key": "team", "Value": "data"}]
    firehose.untag_delivery_stream(DeliveryStreamName=name, TagKeys=["team"])
    assert firehose.list_tags_for_delivery_stream(DeliveryStreamName=name)["Tags"] == []
    firehose.update_destination(
        DeliveryStreamName=name,
        CurrentDeliveryStreamVersionId="1",
        DestinationId=destination["DestinationId"],
        ExtendedS3DestinationUpdate={"Prefix": "moved/", "CompressionFormat": "GZIP"},
    )
    updated = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert updated["VersionId"] == "2"
    s3 = updated["Destinations"][0]["ExtendedS3DestinationDescription"]
    assert (s3["Prefix"], s3["CompressionFormat"]) == ("moved/", "GZIP")
    firehose.delete_delivery_stream(DeliveryStreamName=name)
    assert name not in firehose.list_delivery_streams(Limit=10000)["DeliveryStreamNames"]


def test_backup_copies_raw_records_with_its_own_compression(firehose, server):
    """S3BackupMode Enabled writes every raw record to the backup bucket as well,
    compressed as S3BackupConfiguration's own CompressionFormat says (here GZIP,
    while the destination is uncompressed); Describe reports both."""
    backup_bucket = unique_name("backup").lower().replace("_", "-")
    name, bucket = create_direct(
        firehose,
        S3BackupMode="Enabled",
        S3BackupConfiguration={
            "RoleARN": ROLE,
            "BucketARN": f"arn:aws:s3:::{backup_bucket}",
            "Prefix": "copy/",
            "CompressionFormat": "GZIP",
        },
    )
    s3 = firehose.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"][
        "Destinations"
    ][0]["ExtendedS3DestinationDescription"]
    assert s3["S3BackupMode"] == "Enabled"
    assert s3["CompressionFormat"] == "UNCOMPRESSED"
    assert s3["S3BackupDescription"]["CompressionFormat"] == "GZIP"
    assert s3["S3BackupDescription"]["Prefix"] == "copy/"
    records = [f"record {i}".encode() for i in range(10)]
    firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": r} for r in records])
    expected = sorted(records)

    def delivered(target: str) -> list[bytes]:
        return sorted(line for path in objects(server.data_dir, target) for line in decode(path).splitlines())

    wait_until(lambda: delivered(bucket) == expected, 20, f"objects of {name}")
    wait_until(lambda: delivered(backup_bucket) == expected, 20, f"backup objects of {name}")
    backups = objects(server.data_dir, backup_bucket)
    assert all(p.suffix == ".gz" for p in backups), backups
    assert all("copy/" in p.as_posix() for p in backups), backups
    assert all(p.suffix == "" for p in objects(server.data_dir, bucket))
    firehose.delete_delivery_stream(DeliveryStreamName=name)


@pytest.mark.parametrize("compression", ["UNCOMPRESSED", "GZIP", "ZIP", "Snappy", "HADOOP_SNAPPY", "ZSTD"])
def test_put_record_batch_delivers_objects(firehose, server, compression):
    """PutRecordBatch returns a RecordId per record and the records appear in
    objects under <data-dir>/buckets/<bucket>/in/YYYY/MM/DD/HH/ with the
    compression's extension."""
    name, bucket = create_direct(firehose, CompressionFormat=compression)
    records = [json.dumps({"n": i}).encode() for i in range(20)]
    answer = firehose.put_record_batch(DeliveryStreamName=name, Records=[{"Data": r} for r in records])
    assert answer["FailedPutCount"] == 0
    assert len(answer["RequestResponses"]) == 20
    assert all("RecordId" in r for r in answer["RequestResponses"])
    single = firehose.put_record(DeliveryStreamName=name, Record={"Data": b'{"n": 20}'})
    assert single["RecordId"]
    extension = {"GZIP": ".gz", "ZIP": ".zip", "Snappy": ".snappy", "HADOOP_SNAPPY": ".snappy", "ZSTD": ".zst"}.get(compression, "")

    wait_until(lambda: objects(server.data_dir, bucket), 20, f"objects of {name}")
    found = objects(server.data_dir, bucket)
    for path in found:
        key = path.relative_to(server.data_dir / "buckets" / bucket).as_posix()
        parts = key.split("/")
        assert parts[0] == "in" and len(parts) == 6, key
        assert parts[5].startswith(f"{name}-1-"), key
        assert key.endswith(extension), key
    if compression in ("UNCOMPRESSED", "GZIP", "ZIP"):
        wait_until(
            lambda: sum(len(decode(p).splitlines()) for p in objects(server.data_dir, bucket)) == 21,
            20,
            "all 21 records delivered",
        )
        lines = sorted(l for p in objects(server.data_dir, bucket) for l in decode(p).splitlines())
        assert lines == sorted(records + [b'{"n": 20}'])
    firehose.delete_delivery_stream(DeliveryStreamName=name)


def test_parquet_conversion_read_by_pyarrow(firehose, server):
    """JSON records become a Parquet file pyarrow reads back; a record that is not
    JSON goes to the error output prefix with its reason."""
    pq = pytest.importorskip("pyarrow.parquet")
    name, bucket = create_direct(
        firehose,
        ProcessingConfiguration={"Enabled": False, "Processors": []},
        ErrorOutputPrefix="errors/",
        DataFormatConversionConfiguration={
            "Enabled": True,
            "SchemaConfiguration": {"RoleARN": ROLE, "DatabaseName": "db", "TableName": "none"},
            "InputFormatConfiguration": {"Deserializer": {"OpenXJsonSerDe": {}}},
            "OutputFormatConfiguration": {"Serializer": {"ParquetSerDe": {"Compression": "ZSTD"}}},
        },
    )
    good = [json.dumps({"id": i, "name": f"n{i}", "ok": i % 2 == 0}).encode() for i in range(5)]
    firehose.put_record_batch(
        DeliveryStreamName=name, Records=[{"Data": r} for r in good + [b"not json"]]
    )
    root = server.data_dir / "buckets" / bucket
    wait_until(
        lambda: list(root.rglob("*.parquet")) and list((root / "errors").rglob("*")),
        20,
        "a Parquet object and an error object",
    )
    (parquet,) = list(root.rglob("*.parquet"))
    table = pq.read_table(parquet)
    assert table.column_names == ["id", "name", "ok"]
    assert table.column("id").to_pylist() == [0, 1, 2, 3, 4]
    assert table.column("name").to_pylist()[4] == "n4"
    (error_file,) = [p for p in (root / "errors").rglob("*") if p.is_file()]
    (line,) = error_file.read_text().splitlines()
    error = json.loads(line)
    assert error["lastErrorCode"] == "DataFormatConversion.MalformedData"
    assert "not valid JSON" in error["lastErrorMessage"]
    firehose.delete_delivery_stream(DeliveryStreamName=name)


def test_kinesis_stream_source(firehose, kinesis, new_stream, server):
    """A KinesisStreamAsSource delivery stream delivers records put to the Kinesis
    stream after it was created, from every shard; PutRecord on it is refused."""
    stream = new_stream(shards=2)
    name = unique_name("fhk")
    bucket = name.lower().replace("_", "-")
    firehose.create_delivery_stream(
        DeliveryStreamName=name,
        DeliveryStreamType="KinesisStreamAsSource",
        KinesisStreamSourceConfiguration={"KinesisStreamARN": stream_arn(stream), "RoleARN": ROLE},
        ExtendedS3DestinationConfiguration=extended(bucket),
    )
    records = [f"k{i}".encode() for i in range(40)]
    kinesis.put_records(
        StreamName=stream, Records=[{"Data": r, "PartitionKey": f"p{i}"} for i, r in enumerate(records)]
    )

    def lines():
        return sorted(l for p in objects(server.data_dir, bucket) for l in p.read_bytes().splitlines())

    wait_until(lambda: len(lines()) == 40, 20, "40 records from the Kinesis stream")
    assert lines() == sorted(records)
    expect_error(
        firehose,
        "InvalidArgumentException",
        firehose.put_record,
        "KinesisStreamAsSource",
        DeliveryStreamName=name,
        Record={"Data": b"x"},
    )
    firehose.delete_delivery_stream(DeliveryStreamName=name)


def test_error_shapes(firehose, endpoint):
    """Missing streams, duplicates and bad arguments get Firehose's error codes."""
    expect_error(
        firehose,
        "ResourceNotFoundException",
        firehose.describe_delivery_stream,
        "not found",
        DeliveryStreamName="nope",
    )
    expect_error(
        firehose,
        "ResourceNotFoundException",
        firehose.put_record,
        DeliveryStreamName="nope",
        Record={"Data": b"x"},
    )
    name, bucket = create_direct(firehose)
    expect_error(
        firehose,
        "ResourceInUseException",
        firehose.create_delivery_stream,
        "already exists",
        DeliveryStreamName=name,
        ExtendedS3DestinationConfiguration=extended(bucket),
    )
    expect_error(
        firehose,
        "InvalidArgumentException",
        firehose.create_delivery_stream,
        "BucketARN",
        DeliveryStreamName=unique_name("fh"),
        ExtendedS3DestinationConfiguration=extended("x", BucketARN="arn:aws:kinesis:::no"),
    )
    raw = firehose_client(endpoint, validate=False)
    expect_error(
        raw,
        "InvalidArgumentException",
        raw.create_delivery_stream,
        "SizeInMBs",
        DeliveryStreamName=unique_name("fh"),
        ExtendedS3DestinationConfiguration=extended(
            "bucket-x", BufferingHints={"SizeInMBs": 500, "IntervalInSeconds": 0}
        ),
    )
    expect_error(
        raw,
        "ValidationException",
        raw.put_record_batch,
        "500",
        DeliveryStreamName=name,
        Records=[{"Data": b"x"}] * 501,
    )
    expect_error(
        firehose,
        "InvalidArgumentException",
        firehose.update_destination,
        "Version id",
        DeliveryStreamName=name,
        CurrentDeliveryStreamVersionId="7",
        DestinationId="destinationId-000000000001",
        ExtendedS3DestinationUpdate={"Prefix": "x/"},
    )
    firehose.delete_delivery_stream(DeliveryStreamName=name)


def test_restart_keeps_streams_and_delivers_once(server_factory):
    """Delivery streams survive a restart; records acknowledged before it are
    delivered exactly once across it."""
    first = server_factory()
    client = firehose_client(first.url)
    name, bucket = create_direct(
        client, BufferingHints={"SizeInMBs": 128, "IntervalInSeconds": 900}
    )
    records = [f"r{i}".encode() for i in range(30)]
    client.put_record_batch(DeliveryStreamName=name, Records=[{"Data": r} for r in records])
    # The 900 s interval keeps the buffer open: the shutdown flush delivers it.
    assert first.stop() == 0
    delivered = sorted(l for p in objects(first.data_dir, bucket) for l in p.read_bytes().splitlines())
    assert delivered == sorted(records)
    second = server_factory(root=first.root)
    client = firehose_client(second.url)
    described = client.describe_delivery_stream(DeliveryStreamName=name)["DeliveryStreamDescription"]
    assert described["DeliveryStreamName"] == name
    assert second.stop() == 0
    again = sorted(l for p in objects(second.data_dir, bucket) for l in p.read_bytes().splitlines())
    assert again == delivered


@pytest.fixture
def moto_s3(tmp_path):
    """A moto S3 server on a free loopback port (stopped after the test), and a
    boto3 S3 client for it."""
    import shutil
    import socket
    import subprocess
    import sys
    import urllib.request

    moto = shutil.which("moto_server") or str(Path(sys.executable).parent / "moto_server")
    if not Path(moto).exists():
        pytest.skip("moto_server is not installed")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = open(tmp_path / "moto.log", "wb")
    process = subprocess.Popen([moto, "-H", "127.0.0.1", "-p", str(port)], stdout=log, stderr=log)
    url = f"http://127.0.0.1:{port}"

    def up():
        try:
            urllib.request.urlopen(url + "/", timeout=1)
            return True
        except Exception:
            return process.poll() is not None

    try:
        wait_until(up, 30, "moto_server to listen")
        assert process.poll() is None, (tmp_path / "moto.log").read_text()
        yield url, make_client(url, service="s3")
    finally:
        process.terminate()
        process.wait(timeout=10)
        log.close()


def test_s3_compatible_destination(server_factory, moto_s3, tmp_path):
    """A bucket mapped to an S3-compatible store (moto) receives the objects, with
    Firehose's key layout, instead of the local directory."""
    url, s3 = moto_s3
    s3.create_bucket(Bucket="remote-logs")
    config = tmp_path / "buckets.toml"
    config.write_text(
        "[buckets.remote-logs]\n"
        f'endpoint = "{url}"\n'
        'region = "us-east-1"\n'
        'access_key_id = "AKIDEXAMPLE"\n'
        'secret_access_key = "secret"\n'
        "allow_http = true\n"
    )
    running = server_factory(extra_args=["--firehose-buckets", str(config)])
    client = firehose_client(running.url)
    name = unique_name("fhs3")
    client.create_delivery_stream(
        DeliveryStreamName=name,
        ExtendedS3DestinationConfiguration=extended("remote-logs", CompressionFormat="GZIP"),
    )
    records = [f"s3-{i}".encode() for i in range(25)]
    client.put_record_batch(DeliveryStreamName=name, Records=[{"Data": r} for r in records])

    def keys():
        return [o["Key"] for o in s3.list_objects_v2(Bucket="remote-logs").get("Contents", [])]

    def lines():
        found = []
        for key in keys():
            body = s3.get_object(Bucket="remote-logs", Key=key)["Body"].read()
            found.extend(gzip.decompress(body).splitlines())
        return sorted(found)

    wait_until(lambda: len(lines()) == 25, 30, "25 records in the S3-compatible bucket")
    assert lines() == sorted(records)
    for key in keys():
        assert key.startswith("in/") and key.endswith(".gz"), key
        assert key.split("/")[5].startswith(f"{name}-1-"), key
    assert not objects(running.data_dir, "remote-logs"), "nothing in the local directory"
