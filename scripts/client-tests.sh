#!/usr/bin/env bash
# Client compatibility tests: real AWS clients (boto3 and the AWS CLI, then the
# AWS SDK for JavaScript v3 via scripts/js-client-tests.sh, in Node, and via
# scripts/browser-client-tests.sh in headless Chromium) against a real
# `shardlog serve`. Runs from anywhere (it changes to the repo root), needs no
# input, and reaches only PyPI and npm (and Debian apt, as root, for a missing
# nodejs or chromium). Exits non-zero on any failure.
#
#   bash scripts/client-tests.sh            # build, then run tests/clients
#   bash scripts/client-tests.sh -k sigv4   # extra arguments go to pytest (the JS tests always run)
#
# The Python environment lives in `.venv-clients` at the repo root. It is created
# on the first run and reused afterwards (pip only checks the pins then). It is
# not part of the project: it must be ignored by git — add `.venv-clients/` to
# .gitignore (this script also drops a `*` .gitignore inside the venv so git
# ignores it even before that). Delete the folder to start from scratch, e.g.
# after changing the pins below or when the system python3 changed.
#
# The server is SHARDLOG_BIN when set (scripts/test.sh passes the binary its
# `cargo test` built); otherwise it is built with `cargo build -p shardlog`, into
# CARGO_TARGET_DIR when that is set and into ./target otherwise.
set -euo pipefail
cd "$(dirname "$0")/.."

# Versions checked together with `pip index versions` (awscli 1.x pins botocore
# to the release boto3 needs).
BOTO3_VERSION=1.44.5
AWSCLI_VERSION=1.46.3
PYTEST_VERSION=9.2.0
# pyarrow reads back the Parquet objects of the Firehose tests.
PYARROW_VERSION=26.0.1
# moto's S3 server is the S3-compatible store of the Firehose destination tests.
MOTO_VERSION=5.2.5
# cryptography verifies SNS message signatures (tests/clients/sns_verify.py);
# the release moto's pins resolve to.
CRYPTOGRAPHY_VERSION=51.0.1

VENV=.venv-clients

if ! command -v python3 >/dev/null; then
    echo "python3 is required" >&2
    exit 1
fi
if ! command -v cargo >/dev/null; then
    echo "cargo is required (https://rustup.rs)" >&2
    exit 1
fi

started=$(date +%s)

# A venv left half-made by an interrupted run has no working python: remake it.
if [[ -d "$VENV" ]] && ! "$VENV/bin/python" -c 'import sys' >/dev/null 2>&1; then
    echo "client-tests: $VENV is broken, recreating it" >&2
    rm -rf "$VENV"
fi
if [[ ! -d "$VENV" ]]; then
    echo "client-tests: creating $VENV"
    python3 -m venv "$VENV"
fi
# Keeps git from seeing the venv even before .gitignore lists it.
[[ -f "$VENV/.gitignore" ]] || echo '*' > "$VENV/.gitignore"

echo "client-tests: installing boto3==$BOTO3_VERSION awscli==$AWSCLI_VERSION pytest==$PYTEST_VERSION pyarrow==$PYARROW_VERSION moto[server]==$MOTO_VERSION cryptography==$CRYPTOGRAPHY_VERSION"
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
    "boto3==$BOTO3_VERSION" "awscli==$AWSCLI_VERSION" "pytest==$PYTEST_VERSION" "pyarrow==$PYARROW_VERSION" "moto[server]==$MOTO_VERSION" \
    "cryptography==$CRYPTOGRAPHY_VERSION"

if [[ -z "${SHARDLOG_BIN:-}" ]]; then
    echo "client-tests: building the server"
    cargo build --locked -p shardlog
    # The SNS signing tests run the server's signer through this example;
    # `cargo test` builds it beside the server binary otherwise.
    cargo build --locked -p shardlog-server --example sns_sign
    SHARDLOG_BIN="${CARGO_TARGET_DIR:-target}/debug/shardlog"
fi
SHARDLOG_BIN="$(cd "$(dirname "$SHARDLOG_BIN")" && pwd)/$(basename "$SHARDLOG_BIN")"
if [[ ! -x "$SHARDLOG_BIN" ]]; then
    echo "client-tests: no server binary at $SHARDLOG_BIN" >&2
    exit 1
fi
export SHARDLOG_BIN

# No .pytest_cache or __pycache__ left in the work tree; no host credentials,
# config or pager leaking into the clients (the tests set their own).
export PYTHONDONTWRITEBYTECODE=1
export AWS_CONFIG_FILE=/dev/null
export AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_DEFAULT_PROFILE AWS_SESSION_TOKEN AWS_SECURITY_TOKEN AWS_ENDPOINT_URL AWS_ENDPOINT_URL_KINESIS

status=0
"$VENV/bin/python" -m pytest -q --tb=short -rfEs -p no:cacheprovider tests/clients "$@" || status=$?
# The same claims checked with a second, independent SDK: AWS SDK for JavaScript v3.
bash scripts/js-client-tests.sh || status=$?
# The same SDK in a browser, across origins: CORS end to end.
bash scripts/browser-client-tests.sh || status=$?
echo "client-tests: finished in $(( $(date +%s) - started )) s with status $status"
exit "$status"
