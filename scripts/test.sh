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

cargo fmt --all -- --check
cargo clippy --workspace --all-targets -- -D warnings
cargo test --workspace

# Real AWS clients (boto3, the AWS CLI) against a real `shardlog serve`.
./scripts/client-tests.sh

# Fuzz targets: replay the committed corpus and fuzz each briefly.
./scripts/fuzz.sh
