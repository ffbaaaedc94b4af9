"""The AWS CLI (the `aws` of the test venv) against a real `shardlog serve`:
the smoke path a person would type, JSON output parsed.

The venv's CLI is version 1 (version 2 is not on PyPI). Version 1 has neither
`--no-cli-pager` (it never pages) nor `--cli-binary-format` (it always sends a
blob argument's text as raw bytes, which is what `raw-in-base64-out` asks of
version 2); both flags are added only when the CLI is version 2."""

from __future__ import annotations

import base64
import functools
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from _support import ACCESS_KEY, ACCOUNT_ID, REGION, SECRET_KEY, SEQUENCE_NUMBER, SHARD_ID, stream_arn, unique_name

CLI_TIMEOUT_S = 60


def aws_executable() -> str:
    """The `aws` beside the running Python (the venv's bin)."""
    path = Path(sys.executable).parent / "aws"
    if not path.exists():
        pytest.fail(f"no aws executable at {path}: install awscli into this venv", pytrace=False)
    return str(path)


def cli_env() -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        AWS_ACCESS_KEY_ID=ACCESS_KEY,
        AWS_SECRET_ACCESS_KEY=SECRET_KEY,
        AWS_DEFAULT_REGION=REGION,
        AWS_CONFIG_FILE=os.devnull,
        AWS_SHARED_CREDENTIALS_FILE=os.devnull,
        AWS_PAGER="",
        AWS_MAX_ATTEMPTS="1",
        AWS_RETRY_MODE="standard",
    )
    return env


@functools.lru_cache(maxsize=1)
def cli_major_version() -> int:
    done = subprocess.run(
        [aws_executable(), "--version"], capture_output=True, text=True, env=cli_env(), timeout=CLI_TIMEOUT_S
    )
    match = re.search(r"aws-cli/(\d+)\.", done.stdout + done.stderr)
    assert match, f"cannot tell the AWS CLI version from {done.stdout!r} {done.stderr!r}"
    return int(match.group(1))


def aws(endpoint: str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Runs `aws --endpoint-url ENDPOINT --region us-east-1 [--no-cli-pager] ARGS`."""
    command = [aws_executable(), "--endpoint-url", endpoint, "--region", REGION, "--output", "json"]
    if cli_major_version() >= 2:
        command.append("--no-cli-pager")
    command += args
    done = subprocess.run(command, capture_output=True, text=True, env=cli_env(), timeout=CLI_TIMEOUT_S)
    if check:
        assert done.returncode == 0, (
            f"{' '.join(args)} exited with {done.returncode}\nstdout: {done.stdout}\nstderr: {done.stderr}"
        )
    return done


def aws_json(endpoint: str, *args: str) -> dict:
    out = aws(endpoint, *args).stdout
    return json.loads(out) if out.strip() else {}


def binary_format_flags() -> list[str]:
    return ["--cli-binary-format", "raw-in-base64-out"] if cli_major_version() >= 2 else []


def test_cli_smoke_path(endpoint):
    """Goal: with the AWS CLI alone, create a stream, see it ACTIVE in
    describe-stream-summary, put a record, get a TRIM_HORIZON iterator, read the
    record back (data base64 in the JSON output, decoding to what was put), list
    the shards and delete the stream, parsing each command's JSON output."""
    name = unique_name("cli")
    aws(endpoint, "kinesis", "create-stream", "--stream-name", name, "--shard-count", "1")

    summary = aws_json(endpoint, "kinesis", "describe-stream-summary", "--stream-name", name)[
        "StreamDescriptionSummary"
    ]
    assert summary["StreamName"] == name
    assert summary["StreamARN"] == stream_arn(name)
    assert summary["StreamStatus"] == "ACTIVE"
    assert summary["OpenShardCount"] == 1
    assert summary["RetentionPeriodHours"] == 24

    payload = "hello from the aws cli"
    put = aws_json(
        endpoint,
        "kinesis",
        "put-record",
        "--stream-name",
        name,
        "--partition-key",
        "pk-1",
        "--data",
        payload,
        *binary_format_flags(),
    )
    assert SHARD_ID.match(put["ShardId"])
    assert SEQUENCE_NUMBER.match(put["SequenceNumber"])

    shards = aws_json(endpoint, "kinesis", "list-shards", "--stream-name", name)["Shards"]
    assert [s["ShardId"] for s in shards] == ["shardId-000000000000"]
    assert shards[0]["HashKeyRange"] == {"StartingHashKey": "0", "EndingHashKey": str(2**128 - 1)}

    shard_iterator = aws_json(
        endpoint,
        "kinesis",
        "get-shard-iterator",
        "--stream-name",
        name,
        "--shard-id",
        put["ShardId"],
        "--shard-iterator-type",
        "TRIM_HORIZON",
    )["ShardIterator"]
    records = aws_json(endpoint, "kinesis", "get-records", "--shard-iterator", shard_iterator)
    assert [r["SequenceNumber"] for r in records["Records"]] == [put["SequenceNumber"]]
    assert records["Records"][0]["PartitionKey"] == "pk-1"
    assert base64.b64decode(records["Records"][0]["Data"]) == payload.encode()
    assert records["NextShardIterator"]
    assert records["MillisBehindLatest"] == 0

    aws(endpoint, "kinesis", "delete-stream", "--stream-name", name)
    listed = aws_json(endpoint, "kinesis", "list-streams")
    assert name not in listed["StreamNames"]


def test_cli_missing_stream_is_an_error(endpoint):
    """Goal: describe-stream-summary of a stream that does not exist exits
    non-zero with ResourceNotFoundException and the service's message on
    stderr, and nothing on stdout."""
    name = unique_name("missing")
    done = aws(endpoint, "kinesis", "describe-stream-summary", "--stream-name", name, check=False)
    assert done.returncode != 0
    assert "ResourceNotFoundException" in done.stderr
    assert f"Stream {name} under account {ACCOUNT_ID} not found." in done.stderr
    assert done.stdout.strip() == ""
