"""Shared helpers of the client tests: running `shardlog serve`, making boto3
clients, asserting errors, reading shards. Every wait here has a deadline."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import boto3
import botocore.config
import botocore.exceptions
import pytest

ACCOUNT_ID = "000000000000"
REGION = "us-east-1"
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "secret"

#: How long a server may take to say it listens and answer /health.
START_TIMEOUT_S = 30.0
#: How long a server may take to exit after SIGTERM (its grace period is 10 s).
STOP_TIMEOUT_S = 20.0

SEQUENCE_NUMBER = re.compile(r"^[0-9]{56}$")
SHARD_ID = re.compile(r"^shardId-[0-9]{12}$")
HASH_KEY_MAX = 2**128 - 1


def unique_name(prefix: str = "s") -> str:
    """A stream or consumer name no other test uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def stream_arn(name: str) -> str:
    return f"arn:aws:kinesis:{REGION}:{ACCOUNT_ID}:stream/{name}"


def wait_until(predicate, timeout_s: float, what: str, interval_s: float = 0.05):
    """Polls `predicate` until it returns something truthy, for at most `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(interval_s)


class Server:
    """One `shardlog serve` process over its own temporary data directory."""

    def __init__(
        self, binary: str, root: Path, credentials: str | None = None, extra_args=()
    ):
        self.binary = binary
        self.extra_args = list(extra_args)
        self.root = root
        self.data_dir = root / "data"
        self.stdout_path = root / "stdout.log"
        self.stderr_path = root / "stderr.log"
        self.credentials = credentials
        self.process: subprocess.Popen | None = None
        self.url: str | None = None
        self.stopped_with: int | None = None

    def start(self) -> "Server":
        self.root.mkdir(parents=True, exist_ok=True)
        # Nothing from the caller's environment may change how the server runs
        # (e.g. SHARDLOG_CREDENTIALS turning authentication on).
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHARDLOG_")}
        env.setdefault("RUST_LOG", "info")
        args = [
            self.binary,
            "serve",
            "--data-dir",
            str(self.data_dir),
            # Port 0: the kernel picks a free port, the server prints which.
            "--listen",
            "127.0.0.1:0",
        ]
        if self.credentials:
            args += ["--credentials", self.credentials]
        args += self.extra_args
        with open(self.stdout_path, "wb") as out, open(self.stderr_path, "wb") as err:
            self.process = subprocess.Popen(
                args, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=env
            )
        try:
            self.url = wait_until(self._listening_url, START_TIMEOUT_S, "the 'listening on' line")
            wait_until(self._healthy, START_TIMEOUT_S, f"GET {self.url}/health to answer 200")
        except BaseException:
            self.kill()
            raise
        return self

    def _check_alive(self):
        code = self.process.poll()
        if code is not None:
            raise AssertionError(
                f"shardlog serve exited with {code} before it was ready:\n{self.logs()}"
            )

    def _listening_url(self):
        self._check_alive()
        match = re.search(r"listening on (http://\S+)", self.stdout_path.read_text(errors="replace"))
        return match.group(1) if match else None

    def _healthy(self):
        self._check_alive()
        try:
            with urllib.request.urlopen(f"{self.url}/health", timeout=2) as response:
                return response.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return False

    def logs(self, tail: int = 4000) -> str:
        def read(path):
            try:
                return path.read_text(errors="replace")[-tail:]
            except FileNotFoundError:
                return ""

        return f"--- stdout ---\n{read(self.stdout_path)}\n--- stderr ---\n{read(self.stderr_path)}"

    def stop(self) -> int:
        """SIGTERM, then a bounded wait; returns the exit code. A server that had
        already exited (crashed) or does not exit in time is an assertion failure."""
        assert self.process is not None
        if self.stopped_with is not None:
            return self.stopped_with
        already = self.process.poll()
        if already is not None:
            raise AssertionError(
                f"shardlog serve had already exited with {already} before teardown "
                f"(crash?):\n{self.logs()}"
            )
        self.process.send_signal(signal.SIGTERM)
        try:
            code = self.process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(
                f"shardlog serve did not exit within {STOP_TIMEOUT_S} s of SIGTERM:\n{self.logs()}"
            )
        assert code == 0, f"shardlog serve exited with {code} after SIGTERM:\n{self.logs()}"
        self.stopped_with = code
        return code

    def kill(self):
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=STOP_TIMEOUT_S)

    def crash(self) -> int:
        """SIGKILL (no shutdown, no final sync), as a power cut would stop it;
        returns the exit code (-9). Teardown then leaves the server alone."""
        assert self.process is not None and self.process.poll() is None, "the server is not running"
        self.process.send_signal(signal.SIGKILL)
        self.stopped_with = self.process.wait(timeout=STOP_TIMEOUT_S)
        return self.stopped_with


def make_client(
    endpoint: str,
    access_key: str = ACCESS_KEY,
    secret_key: str = SECRET_KEY,
    validate: bool = True,
    service: str = "kinesis",
):
    """A boto3 client of `service` (Kinesis by default) for `endpoint`. One attempt per call (no retries,
    so every error surfaces as it was answered); `validate=False` turns off
    botocore's client-side parameter validation so the server's own answer to
    an invalid request is what a test sees."""
    config = botocore.config.Config(
        region_name=REGION,
        # total_max_attempts=1: exactly one attempt. ({'max_attempts': 1} would
        # still allow one retry: botocore counts max_attempts as retries.)
        retries={"total_max_attempts": 1, "mode": "standard"},
        parameter_validation=validate,
        connect_timeout=5,
        read_timeout=30,
    )
    session = boto3.session.Session(
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name=REGION,
    )
    return session.client(service, endpoint_url=endpoint, config=config)


def expect_error(client, code: str, call, *fragments: str, **params):
    """Runs `call(**params)` and asserts it fails with error `code` (as the
    modeled exception class when botocore has one), HTTP 400, and a message
    holding every fragment. Returns the error."""
    modeled = getattr(client.exceptions, code, None)
    expected = modeled if isinstance(modeled, type) else botocore.exceptions.ClientError
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call(**params)
    error = caught.value
    answered = error.response.get("Error", {})
    assert answered.get("Code") == code, (
        f"expected {code}, got {answered.get('Code')}: {answered.get('Message')!r}"
    )
    assert isinstance(error, expected), f"{type(error).__name__} is not {expected.__name__}"
    status = error.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    assert status == 400, f"expected HTTP 400 for {code}, got {status}"
    message = answered.get("Message") or ""
    for fragment in fragments:
        assert fragment in message, f"{fragment!r} not in the message {message!r}"
    return error


def shard_ids(client, stream: str) -> list[str]:
    return [shard["ShardId"] for shard in client.list_shards(StreamName=stream)["Shards"]]


def iterator(client, stream: str, shard: str, kind: str = "TRIM_HORIZON", **extra) -> str:
    return client.get_shard_iterator(
        StreamName=stream, ShardId=shard, ShardIteratorType=kind, **extra
    )["ShardIterator"]


def read_shard(client, shard_iterator: str, limit: int = 10_000, max_calls: int = 200):
    """Reads from `shard_iterator` until the shard ends (no NextShardIterator) or
    a call returns no record on an open shard. Returns (records, pages, last
    response). Bounded by `max_calls`."""
    records, pages = [], []
    current = shard_iterator
    for _ in range(max_calls):
        response = client.get_records(ShardIterator=current, Limit=limit)
        pages.append(response)
        records.extend(response["Records"])
        current = response.get("NextShardIterator")
        if current is None or not response["Records"]:
            return records, pages, response
    raise AssertionError(f"shard still had records after {max_calls} GetRecords calls")
