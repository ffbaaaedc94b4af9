"""SNS message signatures made by the server's signer (server/src/sns/signing.rs,
run through the `sns_sign` example) verify with an independent verifier written
from AWS's documentation (sns_verify.py, on `cryptography`), fetching the
certificate from a SigningCertURL served on 127.0.0.1."""

from __future__ import annotations

import http.server
import json
import os
import subprocess
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

import sns_verify

#: How long one signing run may take.
SIGN_TIMEOUT_S = 60.0

NOTIFICATION = {
    "Type": "Notification",
    "MessageId": "22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324",
    "TopicArn": "arn:aws:sns:us-east-1:000000000000:orders",
    "Subject": "Order placed",
    "Message": '{"order": 42, "items": ["a", "b"]}\nsecond line',
    "Timestamp": "2026-12-06T03:00:00.000Z",
    "UnsubscribeURL": "http://127.0.0.1/?Action=Unsubscribe",
}


@pytest.fixture(scope="module")
def sign_bin(shardlog_bin) -> str:
    """The `sns_sign` example, built beside the server binary by `cargo test`
    (or by scripts/client-tests.sh), unless $SHARDLOG_SNS_SIGN_BIN names it."""
    path = Path(
        os.environ.get("SHARDLOG_SNS_SIGN_BIN")
        or Path(shardlog_bin).parent / "examples" / "sns_sign"
    )
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(
            f"no sns_sign at {path}: `cargo build -p shardlog-server --example sns_sign`",
            pytrace=False,
        )
    return str(path)


@pytest.fixture(scope="module")
def key_dir(tmp_path_factory) -> Path:
    """A key directory seeded with a PKCS#8 key made here: key generation in a
    debug build of the server takes seconds, and the signer must use a key it finds."""
    directory = tmp_path_factory.mktemp("sns-key")
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    (directory / "sns-signing-key.pem").write_bytes(pem)
    return directory


def sign(sign_bin: str, key_dir: Path, fields: dict, version: str) -> tuple[dict, bytes]:
    """The signed message and the certificate PEM."""
    done = subprocess.run(
        [sign_bin, str(key_dir), version],
        input=json.dumps(fields).encode(),
        capture_output=True,
        timeout=SIGN_TIMEOUT_S,
        check=True,
    )
    output = json.loads(done.stdout)
    return output["message"], output["certificate_pem"].encode()


@pytest.fixture
def cert_server():
    """An HTTP server on 127.0.0.1 that serves whatever certificate the test
    puts in `cert_server.body`; it is shut down at teardown."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the name http.server calls)
            self.send_response(200)
            self.send_header("Content-Type", "application/x-pem-file")
            self.end_headers()
            self.wfile.write(served.body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    served = type("Served", (), {})()
    served.body = b""
    served.url = f"http://127.0.0.1:{httpd.server_address[1]}/SimpleNotificationService.pem"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield served
    httpd.shutdown()
    thread.join(timeout=10)
    httpd.server_close()


def local_url(url: str) -> bool:
    return url.startswith("http://127.0.0.1:")


@pytest.mark.parametrize("version", ["1", "2"])
def test_notification_verifies(sign_bin, key_dir, cert_server, version):
    """Goal: a notification signed with SignatureVersion 1 (SHA1) or 2 (SHA256)
    verifies with the certificate fetched from its SigningCertURL."""
    fields = dict(NOTIFICATION, SigningCertURL=cert_server.url)
    message, certificate = sign(sign_bin, key_dir, fields, version)
    cert_server.body = certificate
    assert message["SignatureVersion"] == version
    sns_verify.verify(message, trusted_url=local_url)


def test_tampered_notification_fails(sign_bin, key_dir, cert_server):
    """Goal: changing a signed field after signing breaks verification; changing
    a field AWS does not sign does not."""
    fields = dict(NOTIFICATION, SigningCertURL=cert_server.url)
    message, certificate = sign(sign_bin, key_dir, fields, "2")
    cert_server.body = certificate
    sns_verify.verify(dict(message, UnsubscribeURL="http://elsewhere"), trusted_url=local_url)
    with pytest.raises(sns_verify.SignatureError):
        sns_verify.verify(dict(message, Message="changed"), trusted_url=local_url)
    with pytest.raises(sns_verify.SignatureError):
        sns_verify.verify(dict(message, SignatureVersion="1"), trusted_url=local_url)


@pytest.mark.parametrize("kind", ["SubscriptionConfirmation", "UnsubscribeConfirmation"])
def test_confirmation_verifies(sign_bin, key_dir, cert_server, kind):
    """Goal: confirmations, whose signed fields include SubscribeURL and Token,
    verify; a changed Token does not."""
    fields = {
        "Type": kind,
        "MessageId": "165545c9-2a5c-472c-8df2-7ff2be2b3b1b",
        "Token": "2336412f37fb687f5d51e6e2425c464de257ebcd",
        "TopicArn": "arn:aws:sns:us-east-1:000000000000:orders",
        "Message": "You have chosen to subscribe to the topic.",
        "SubscribeURL": "http://127.0.0.1/?Action=ConfirmSubscription",
        "Timestamp": "2026-12-06T03:00:00.000Z",
        "SigningCertURL": cert_server.url,
    }
    message, certificate = sign(sign_bin, key_dir, fields, "2")
    cert_server.body = certificate
    sns_verify.verify(message, trusted_url=local_url)
    with pytest.raises(sns_verify.SignatureError):
        sns_verify.verify(dict(message, Token="0" * 40), trusted_url=local_url)


def test_untrusted_certificate_url_is_refused():
    """Goal: by AWS's rule the certificate must come over HTTPS from an SNS host,
    so a local or look-alike URL is refused before anything is fetched."""
    assert sns_verify.aws_certificate_url(
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-abc.pem"
    )
    for url in [
        "http://sns.us-east-1.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com.evil.example/cert.pem",
        "http://127.0.0.1:9/cert.pem",
    ]:
        message = dict(NOTIFICATION, SignatureVersion="2", Signature="AA==", SigningCertURL=url)
        with pytest.raises(sns_verify.SignatureError, match="untrusted"):
            sns_verify.verify(message, fetch_certificate=lambda _: pytest.fail("fetched"))
