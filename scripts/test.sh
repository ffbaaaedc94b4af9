#!/usr/bin/env bash
# The test command: formatting, lints, every test of the workspace.
# Used as is by CI (.ci/run) and by anyone before a commit.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo >/dev/null; then
    echo "cargo is required (https://rustup.rs)" >&2
    exit 1
fi
rustup component list --installed 2>/dev/null | grep -q rustfmt || rustup component add rustfmt clippy

# The server signs SNS messages with OpenSSL: the openssl crate builds against the
# system's library, found with pkg-config.
if ! pkg-config --exists openssl 2>/dev/null; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        echo "test: OpenSSL's headers or pkg-config not found, installing Debian's libssl-dev and pkg-config"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libssl-dev pkg-config >/dev/null
    else
        echo "test: OpenSSL's development files are not installed: install libssl-dev and pkg-config" \
            "(or run as root to let apt-get do it)" >&2
        exit 1
    fi
fi

# Both lock files must be current: a run never rewrites them (the tree stays clean).
cargo metadata --locked --format-version 1 >/dev/null ||
    { echo "test: Cargo.lock is out of date: run cargo update --workspace and commit it" >&2; exit 1; }
cargo metadata --locked --manifest-path fuzz/Cargo.toml --format-version 1 >/dev/null ||
    { echo "test: fuzz/Cargo.lock is out of date: run cargo update --manifest-path fuzz/Cargo.toml --workspace and commit it" >&2; exit 1; }

# Each step prints how long it took, so a run's log shows where the time goes.
step() {
    local began=$SECONDS
    "$@"
    echo "test: $* took $(( SECONDS - began )) s (at $SECONDS s)"
}

step cargo fmt --all -- --check
step cargo clippy --workspace --all-targets --locked -- -D warnings
step cargo test --workspace --locked

# Real AWS clients (boto3, the AWS CLI, the JS SDK) against a real `shardlog serve`:
# the binary `cargo test` just built, not a second build with other features.
SHARDLOG_BIN="${CARGO_TARGET_DIR:-target}/debug/shardlog" step ./scripts/client-tests.sh

# Fuzz targets: replay the committed corpus, then fuzz for a fixed total time.
step ./scripts/fuzz.sh
