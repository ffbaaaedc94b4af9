"""AWS Signature V4 against `shardlog serve --credentials AKIDEXAMPLE:secret`:
boto3 signs every request; the server checks the signature with the secret it
knows for the access key (server/src/sigv4.rs)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest

from _support import ACCESS_KEY, SECRET_KEY, expect_error, make_client, unique_name


@pytest.fixture
def signed_server(server_factory):
    """A server of its own that requires requests signed with AKIDEXAMPLE:secret."""
    return server_factory(credentials=f"{ACCESS_KEY}:{SECRET_KEY}")


def test_right_secret_is_accepted(signed_server):
    """Goal: a boto3 client with the configured key and secret can create,
    write to, read from and list streams on an authenticating server."""
    client = make_client(signed_server.url, ACCESS_KEY, SECRET_KEY)
    name = unique_name("signed")
    client.create_stream(StreamName=name, ShardCount=1)
    client.put_record(StreamName=name, PartitionKey="k", Data=b"\x00signed\xff")
    shard_iterator = client.get_shard_iterator(
        StreamName=name, ShardId="shardId-000000000000", ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    assert [r["Data"] for r in client.get_records(ShardIterator=shard_iterator)["Records"]] == [
        b"\x00signed\xff"
    ]
    assert client.list_streams()["StreamNames"] == [name]


def test_wrong_secret_is_invalid_signature(signed_server):
    """Goal: the right access key signed with a wrong secret is refused with
    InvalidSignatureException ("The request signature we calculated does not
    match the signature you provided...") and HTTP 400, and changes nothing."""
    client = make_client(signed_server.url, ACCESS_KEY, "not-the-secret")
    expect_error(
        client,
        "InvalidSignatureException",
        client.create_stream,
        "The request signature we calculated does not match the signature you provided.",
        StreamName="never",
        ShardCount=1,
    )
    good = make_client(signed_server.url, ACCESS_KEY, SECRET_KEY)
    assert good.list_streams()["StreamNames"] == []


def test_unknown_key_is_unrecognized_client(signed_server):
    """Goal: an access key the server does not know is refused with
    UnrecognizedClientException ("The security token included in the request
    is invalid.") and HTTP 400."""
    client = make_client(signed_server.url, "AKIDUNKNOWN", SECRET_KEY)
    expect_error(
        client,
        "UnrecognizedClientException",
        client.list_streams,
        "The security token included in the request is invalid.",
    )


def test_unsigned_request_is_missing_authentication_token(signed_server):
    """Goal: a request with no Authorization header at all is refused with
    MissingAuthenticationTokenException and HTTP 400, while /health stays open."""
    request = urllib.request.Request(
        f"{signed_server.url}/",
        data=b"{}",
        method="POST",
        headers={
            "Content-Type": "application/x-amz-json-1.1",
            "X-Amz-Target": "Kinesis_20131202.ListStreams",
        },
    )
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 400
    body = json.loads(caught.value.read())
    assert body["__type"] == "MissingAuthenticationTokenException"
    with urllib.request.urlopen(f"{signed_server.url}/health", timeout=10) as health:
        assert health.status == 200
