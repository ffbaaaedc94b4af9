"""Verifies an SNS message's signature as AWS's documentation tells HTTP(S)
subscribers to: check the certificate URL, fetch the certificate, rebuild the
string to sign from the message's fields, and check the RSA PKCS#1 v1.5
signature (SHA1 for SignatureVersion 1, SHA256 for 2) with the certificate's
public key. Written independently of the server's Rust code, with
`cryptography`, so that it checks the server rather than repeats it."""

from __future__ import annotations

import base64
import re
import urllib.parse
import urllib.request
from typing import Callable

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

#: How long fetching the certificate may take.
FETCH_TIMEOUT_S = 10.0

#: Signed fields, in the order AWS signs them, by message type.
NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
CONFIRMATION_KEYS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)

_AWS_CERT_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")


class SignatureError(Exception):
    """The message is not signed as it should be."""


def aws_certificate_url(url: str) -> bool:
    """AWS's rule: the certificate comes over HTTPS from an SNS host."""
    parsed = urllib.parse.urlparse(url)
    return parsed.scheme == "https" and bool(_AWS_CERT_HOST.match(parsed.hostname or ""))


def fetch(url: str) -> bytes:
    """The body at `url`, within FETCH_TIMEOUT_S."""
    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_S) as response:
        return response.read()


def string_to_sign(message: dict) -> bytes:
    """`Name\\nValue\\n` for each signed field the message has, in AWS's order."""
    kind = message.get("Type")
    if kind == "Notification":
        keys = NOTIFICATION_KEYS
    elif kind in ("SubscriptionConfirmation", "UnsubscribeConfirmation"):
        keys = CONFIRMATION_KEYS
    else:
        raise SignatureError(f"unknown message type {kind!r}")
    return "".join(f"{key}\n{message[key]}\n" for key in keys if key in message).encode()


def verify(
    message: dict,
    trusted_url: Callable[[str], bool] = aws_certificate_url,
    fetch_certificate: Callable[[str], bytes] = fetch,
) -> None:
    """Raises SignatureError unless `message` (a parsed SNS JSON message) is
    signed by the certificate at its SigningCertURL, which `trusted_url` must accept."""
    digests = {"1": hashes.SHA1(), "2": hashes.SHA256()}
    version = message.get("SignatureVersion")
    if version not in digests:
        raise SignatureError(f"unknown SignatureVersion {version!r}")
    url = message.get("SigningCertURL", "")
    if not trusted_url(url):
        raise SignatureError(f"untrusted SigningCertURL {url!r}")
    certificate = x509.load_pem_x509_certificate(fetch_certificate(url))
    try:
        signature = base64.b64decode(message["Signature"], validate=True)
        certificate.public_key().verify(
            signature, string_to_sign(message), padding.PKCS1v15(), digests[version]
        )
    except (InvalidSignature, ValueError, KeyError) as error:
        raise SignatureError(f"signature does not verify: {error!r}") from error
