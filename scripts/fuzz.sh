#!/usr/bin/env bash
# Fuzzing: replays the committed corpus of every target in fuzz/ and fuzzes each
# for a bounded time (SHARDLOG_FUZZ_SECS, default 10). New inputs go to a scratch
# directory, so the committed corpus only changes when someone copies a finding in.
# cargo fuzz needs nightly features; RUSTC_BOOTSTRAP=1 lets the stable toolchain
# build them.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-fuzz >/dev/null; then
    echo "fuzz: installing cargo-fuzz"
    cargo install cargo-fuzz --locked --quiet
fi
export RUSTC_BOOTSTRAP=1
seconds="${SHARDLOG_FUZZ_SECS:-10}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cd fuzz
for target in $(cargo fuzz list); do
    mkdir -p "$scratch/$target"
    echo "fuzz: $target for ${seconds}s after replaying corpus/$target"
    log="$scratch/$target.log"
    if ! cargo fuzz run "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz: $target FAILED (the crashing input is under fuzz/artifacts/$target)" >&2
        exit 1
    fi
    grep -E "Done [0-9]+ runs" "$log" | tail -n 1 || true
done
echo "fuzz: all targets clean"
