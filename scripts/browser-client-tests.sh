#!/usr/bin/env bash
# The browser part of the client tests (tests/clients/browser): the AWS SDK for
# JavaScript v3, bundled with esbuild, runs in headless Chromium from a page on
# another origin than a real `shardlog serve`, so every call crosses CORS.
# scripts/client-tests.sh runs it after the Node SDK tests; it can also be run
# alone with a built server:
#
#   SHARDLOG_BIN=target/debug/shardlog bash scripts/browser-client-tests.sh
#
# Needs node >= 20, npm and Debian's chromium at /usr/bin/chromium (the test
# never downloads a browser). When chromium is missing and this runs as root
# (CI on a fresh Debian machine), it installs Debian's chromium with apt-get; as
# any other user it says so and fails. Reaches only the npm registry (and Debian
# apt for that install). Exits non-zero on any test failure.
set -euo pipefail
cd "$(dirname "$0")/.."

CHROMIUM=/usr/bin/chromium

# Runs from the repo root throughout, so a relative SHARDLOG_BIN stays valid.
if [[ ! -x "${SHARDLOG_BIN:-}" ]]; then
    echo "browser-client-tests: SHARDLOG_BIN must name the shardlog binary (got '${SHARDLOG_BIN:-}')" >&2
    exit 1
fi
export SHARDLOG_BIN

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
    echo "browser-client-tests: node and npm are not installed: install nodejs >= 20 and npm" \
        "(scripts/js-client-tests.sh does it when run as root)" >&2
    exit 1
fi

started=$(date +%s)
if [[ ! -x "$CHROMIUM" ]]; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        echo "browser-client-tests: $CHROMIUM not found, installing Debian's chromium"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
        echo "browser-client-tests: chromium installed in $(( $(date +%s) - started )) s"
    else
        echo "browser-client-tests: $CHROMIUM is missing: install Debian's chromium package" \
            "(or run as root to let apt-get do it)" >&2
        exit 1
    fi
fi

echo "browser-client-tests: node $(node --version), $("$CHROMIUM" --version 2>/dev/null), npm ci"
npm ci --prefix tests/clients/browser --no-audit --no-fund --loglevel=error
status=0
node --test --test-reporter=spec tests/clients/browser/*.test.mjs || status=$?
echo "browser-client-tests: finished in $(( $(date +%s) - started )) s with status $status"
exit "$status"
