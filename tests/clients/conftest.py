"""Fixtures of the client tests: real `shardlog serve` processes and boto3
clients pointed at them.

The server binary comes from $SHARDLOG_BIN (scripts/client-tests.sh builds it
and sets it); without it, $CARGO_TARGET_DIR/debug/shardlog or
target/debug/shardlog is used when it exists.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from _support import Server, make_client, unique_name, wait_until

REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def shardlog_bin() -> str:
    """Path of the `shardlog` binary under test."""
    explicit = os.environ.get("SHARDLOG_BIN")
    if explicit:
        path = Path(explicit)
    else:
        target = Path(os.environ.get("CARGO_TARGET_DIR") or REPO_ROOT / "target")
        if not target.is_absolute():
            target = REPO_ROOT / target
        path = target / "debug" / "shardlog"
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"no shardlog binary at {path}: run scripts/client-tests.sh, or build with "
            "`cargo build -p shardlog` and set SHARDLOG_BIN",
            pytrace=False,
        )
    return str(path)


@pytest.fixture(scope="session")
def server(shardlog_bin, tmp_path_factory) -> Server:
    """The shared server (no authentication) most tests use. Teardown sends
    SIGTERM and asserts a clean exit (code 0) within a bounded wait."""
    running = Server(shardlog_bin, tmp_path_factory.mktemp("shared-server")).start()
    yield running
    running.stop()


@pytest.fixture(scope="session")
def endpoint(server) -> str:
    """URL of the shared server, e.g. http://127.0.0.1:41234."""
    return server.url


@pytest.fixture
def server_factory(shardlog_bin, tmp_path_factory):
    """Starts extra servers (`start(credentials=None, root=None)`) that only
    this test uses, each over a new data directory unless `root` names the one
    of an earlier (stopped) server; each is stopped with SIGTERM at teardown
    (unless the test stopped it) and must exit with 0."""
    started: list[Server] = []

    def start(credentials: str | None = None, root=None, extra_args=()) -> Server:
        root = root or tmp_path_factory.mktemp("server")
        running = Server(shardlog_bin, root, credentials=credentials, extra_args=extra_args).start()
        started.append(running)
        return running

    yield start
    failures = []
    for running in started:
        try:
            running.stop()
        except AssertionError as error:
            failures.append(str(error))
    assert not failures, "\n\n".join(failures)


@pytest.fixture(scope="session")
def kinesis(endpoint):
    """boto3 Kinesis client of the shared server (client-side validation on)."""
    return make_client(endpoint)


@pytest.fixture(scope="session")
def raw_kinesis(endpoint):
    """boto3 Kinesis client with client-side parameter validation off, so
    requests botocore would refuse reach the server."""
    return make_client(endpoint, validate=False)


@pytest.fixture
def new_stream(kinesis):
    """Creates streams with unique names (`new_stream(shards=1, on_demand=False,
    prefix='s')` → name), waits until ACTIVE (bounded) and deletes them after
    the test."""
    created: list[str] = []

    def create(shards: int = 1, on_demand: bool = False, prefix: str = "s", **extra) -> str:
        name = unique_name(prefix)
        if on_demand:
            kinesis.create_stream(
                StreamName=name, StreamModeDetails={"StreamMode": "ON_DEMAND"}, **extra
            )
        else:
            kinesis.create_stream(StreamName=name, ShardCount=shards, **extra)
        created.append(name)
        wait_until(
            lambda: kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"][
                "StreamStatus"
            ]
            == "ACTIVE",
            10,
            f"stream {name} to become ACTIVE",
            interval_s=0.1,
        )
        return name

    yield create
    for name in created:
        try:
            kinesis.delete_stream(StreamName=name, EnforceConsumerDeletion=True)
        except kinesis.exceptions.ResourceNotFoundException:
            pass
