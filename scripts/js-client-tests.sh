#!/usr/bin/env bash
# The AWS SDK for JavaScript v3 part of the client tests (tests/clients/js):
# `npm ci` of the pinned SDK packages, then `node --test` against a real
# `shardlog serve`. scripts/client-tests.sh runs it after pytest; it can also be
# run alone with a built server:
#
#   SHARDLOG_BIN=target/debug/shardlog bash scripts/js-client-tests.sh
#
# Needs node >= 20 and npm. When they are missing and this runs as root (CI on a
# fresh Debian machine), it installs Debian's nodejs and npm with apt-get; as any
# other user it says so and fails. Reaches only the npm registry (and
# Debian apt for that fallback). Exits non-zero on any test failure.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${SHARDLOG_BIN:-}" || ! -x "$SHARDLOG_BIN" ]]; then
    echo "js-client-tests: SHARDLOG_BIN must name the shardlog binary (got '${SHARDLOG_BIN:-}')" >&2
    exit 1
fi
SHARDLOG_BIN="$(cd "$(dirname "$SHARDLOG_BIN")" && pwd)/$(basename "$SHARDLOG_BIN")"
export SHARDLOG_BIN

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        echo "js-client-tests: node/npm not found, installing Debian's nodejs and npm"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null
    else
        echo "js-client-tests: node and npm are not installed: install nodejs >= 20 and npm" \
            "(or run as root to let apt-get do it)" >&2
        exit 1
    fi
fi

started=$(date +%s)
cd tests/clients/js
node_major=$(node -p 'process.versions.node.split(".")[0]')
if (( node_major < 20 )); then
    echo "js-client-tests: warning: node $(node --version) is older than the SDK's minimum (20)" >&2
fi
echo "js-client-tests: node $(node --version), npm ci"
npm ci --no-audit --no-fund --loglevel=error
# No host credentials, config or endpoint leaking into the SDK (the tests set their own).
export AWS_CONFIG_FILE=/dev/null
export AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_ACCESS_KEY_ID AWS_SECRET_ACCESS_KEY AWS_SESSION_TOKEN AWS_REGION AWS_DEFAULT_REGION \
    AWS_ENDPOINT_URL AWS_ENDPOINT_URL_KINESIS AWS_ENDPOINT_URL_FIREHOSE
# The SDK's notice that its releases after January 2027 will need node >= 22.
export AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED=true
status=0
node --test --test-reporter=spec ./*.test.mjs || status=$?
echo "js-client-tests: finished in $(( $(date +%s) - started )) s with status $status"
exit "$status"
