#!/usr/bin/env bash
# Fuzzing: builds every target in fuzz/ once, replays each target's committed
# corpus and fuzzes it, all targets together for SHARDLOG_FUZZ_SECS seconds
# (default 64, shared equally, at least 1 s each). New inputs go to a scratch
# directory, so the committed corpus only changes when someone copies a finding in.
# fuzz/Cargo.lock is used as committed (the run fails rather than rewrite it).
# Installs cargo-fuzz into ~/.cargo/bin when it is missing.
# cargo fuzz needs nightly features; RUSTC_BOOTSTRAP=1 lets the stable toolchain
# build them.
# The targets are built unoptimized (--dev): on this project's 2-core VM the
# release build of the ten targets (the server, arrow and parquet with ASan and
# coverage) took 659 s and the unoptimized one 234 s, which keeps CI under its
# 20 minutes; the unoptimized targets run about 20 times fewer inputs a second
# (batch_decode: 43,165 against 883,299 in 7 s), and the corpus replay is the same.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v cargo-fuzz >/dev/null; then
    echo "fuzz: installing cargo-fuzz"
    cargo install cargo-fuzz --locked --quiet
fi
export RUSTC_BOOTSTRAP=1
total="${SHARDLOG_FUZZ_SECS:-64}"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
cd fuzz
cargo metadata --locked --format-version 1 >/dev/null ||
    { echo "fuzz: fuzz/Cargo.lock is out of date: cargo update --manifest-path fuzz/Cargo.toml --workspace" >&2; exit 1; }
targets=$(cargo fuzz list)
count=$(wc -w <<<"$targets")
seconds=$(( total / count > 0 ? total / count : 1 ))
echo "fuzz: building $count targets"
began=$SECONDS
cargo fuzz build --dev >"$scratch/build.log" 2>&1 || { tail -n 60 "$scratch/build.log"; exit 1; }
echo "fuzz: built in $(( SECONDS - began )) s"
for target in $targets; do
    mkdir -p "$scratch/$target"
    echo "fuzz: $target for ${seconds}s after replaying corpus/$target"
    log="$scratch/$target.log"
    if ! cargo fuzz run --dev "$target" "$scratch/$target" "corpus/$target" -- \
        -max_total_time="$seconds" -rss_limit_mb=2048 >"$log" 2>&1; then
        tail -n 60 "$log"
        echo "fuzz: $target FAILED (the crashing input is under fuzz/artifacts/$target)" >&2
        exit 1
    fi
    grep -E "Done [0-9]+ runs" "$log" | tail -n 1 || true
done
echo "fuzz: all targets clean"
