#!/usr/bin/env bash
# fio's equivalents of `shardlog bench`'s raw baselines, on one file in DIR, each
# repeated like the tool's, so that the tool's raw figures can be checked against
# fio on the same disk in the same session.
#
#   scripts/fio-baseline.sh DIR [SIZE_MIB] [SECONDS] [REPETITIONS]
#
# SIZE_MIB (default 1024) is the file size and each throughput job's volume;
# SECONDS (default 5) bounds each fdatasync latency run, which writes at most
# 64 MiB; REPETITIONS (default 4) is how often each job runs: min / median / max
# are reported, the median of an even count being the mean of the middle two, as
# `shardlog bench` does. Needs fio (Debian: apt-get install fio) and python3.
#
# With SHARDLOG set to a shardlog binary, the script also runs the tool's same
# baselines on DIR (one repetition per call, no warm-up), each right before or
# after fio's same job (the order alternates by repetition), and prints the two
# side by side: the difference of the medians, which is the agreement figure, and
# the geometric mean and range of the ratios of the back-to-back pairs:
#
#   SHARDLOG=target/release/shardlog scripts/fio-baseline.sh DIR 2048 5 4
#
# Jobs (shardlog's name: fio's options; every job uses --mem=mmap, see below):
#   raw-direct-write:   rw=write bs=1M direct=1 end_fsync=1 on a new file
#   raw-buffered-write: rw=write bs=1M direct=0 end_fsync=1 on a new file
#   raw-fdatasync:      rw=write bs=4k fdatasync=1 on a new file, ops/s
#   raw-read-cold:      rw=read bs=1M, page cache dropped before each run
#                       (drop_caches as root, else fio's invalidate=1, which is
#                       posix_fadvise DONTNEED)
#   raw-read-warm:      rw=read bs=1M invalidate=0 after a read that filled the cache
#
# Choices that make the two measure the same thing:
# - Writes use --fallocate=none: fio otherwise preallocates the file and then
#   overwrites it, while the tool (like a log) appends to a new file, so each
#   fdatasync also commits the file's new size.
# - --mem=mmap: with its default malloc'd buffer, fio read the page cache at
#   1.7-2.7 GB/s on the machine this was written on, where dd bs=1M and fio with an
#   mmap'd buffer read 10-12 GB/s.
# - Cold reads repeat: on a virtual disk the host may still cache what the guest
#   dropped. Here consecutive cold reads of a 2 GiB file landed at either about
#   1.1 or about 2.8 GB/s, seemingly at random, with dd too, so one cold run of
#   each tool compares nothing; several of each do.
# - Before each buffered write (either tool's) the page cache is filled and freed
#   once (prime_page_cache below): the second of two back-to-back buffered writes
#   otherwise ran up to 1.8 times faster than the first.
set -euo pipefail

if [[ $# -lt 1 ]]; then
    echo "usage: $0 DIR [SIZE_MIB] [SECONDS] [REPETITIONS]" >&2
    exit 2
fi
dir=$1
size_mib=${2:-1024}
seconds=${3:-5}
reps=${4:-4}
sync_mib=$((size_mib < 64 ? size_mib : 64))
command -v fio >/dev/null || { echo "error: fio is not installed (apt-get install fio)" >&2; exit 1; }
command -v python3 >/dev/null || { echo "error: python3 is needed" >&2; exit 1; }
mkdir -p "$dir"
file="$dir/fio-baseline.bin"
out=$(mktemp -d)
trap 'rm -rf "$out" "$file"' EXIT

common=(--filename="$file" --ioengine=psync --mem=mmap --output-format=json)

run() {
    local name=$1 rep=$2
    shift 2
    fio --name="$name" "${common[@]}" "$@" >"$out/$name.$rep.json"
}

cold_label="cold (fadvise)"
drop_cache() {
    sync
    if echo 1 >/proc/sys/vm/drop_caches 2>/dev/null; then
        cold_label="cold (drop_caches)"
    fi
}

# One tool run of the given workloads (one repetition, no warm-up).
tool() {
    local rep=$1 part=$2 workloads=$3 volume=$4 duration=$5
    "$SHARDLOG" bench --dir "$dir/shardlog" --repetitions 1 --warmup 0 --no-progress \
        --volume "$volume" --duration "$duration" --workload "$workloads" \
        --json "$out/tool-$part.$rep.json" >/dev/null
}

fio_job() {
    local rep=$1 job=$2
    case $job in
    direct)
        rm -f "$file"
        run raw-direct-write "$rep" --size="${size_mib}M" --rw=write --bs=1M --direct=1 --end_fsync=1 --fallocate=none
        ;;
    buffered)
        rm -f "$file"
        prime_page_cache
        run raw-buffered-write "$rep" --size="${size_mib}M" --rw=write --bs=1M --direct=0 --end_fsync=1 --fallocate=none
        ;;
    sync)
        rm -f "$file"
        run raw-fdatasync "$rep" --size="${sync_mib}M" --rw=write --bs=4k --fdatasync=1 --fallocate=none \
            --runtime="$seconds"
        ;;
    read)
        # The read file, written like the tool's, then read cold and warm.
        rm -f "$file"
        fio --name=layout "${common[@]}" --size="${size_mib}M" --rw=write --bs=1M --end_fsync=1 >/dev/null
        drop_cache
        run raw-read-cold "$rep" --size="${size_mib}M" --rw=read --bs=1M --invalidate=1
        run raw-read-warm-fill "$rep" --size="${size_mib}M" --rw=read --bs=1M --invalidate=0
        run raw-read-warm "$rep" --size="${size_mib}M" --rw=read --bs=1M --invalidate=0
        ;;
    esac
    rm -f "$file"
}

# Fills and frees SIZE_MIB of page cache without writing it to the disk (the file
# goes before writeback would start). This VM pays for the first touch of memory,
# so a buffered write is faster when it can reuse pages another run just freed:
# each tool's buffered write starts from the same state this way.
prime_page_cache() {
    dd if=/dev/zero of="$dir/prime.bin" bs=1M count="$size_mib" status=none
    rm -f "$dir/prime.bin"
}

tool_job() {
    local rep=$1 job=$2
    [[ -n "${SHARDLOG:-}" ]] || return 0
    [[ $job == buffered ]] && prime_page_cache
    case $job in
    direct) tool "$rep" direct raw-direct-write "$size_mib" 600 ;;
    buffered) tool "$rep" buffered raw-buffered-write "$size_mib" 600 ;;
    sync) tool "$rep" sync raw-fdatasync "$sync_mib" "$seconds" ;;
    read) tool "$rep" read raw-read-cold,raw-read-warm "$size_mib" 600 ;;
    esac
}

# Each tool's run of a baseline comes right before or after the other's, so that
# the pair sees the same moment of a shared disk, whose speed drifts by tens of
# percent over minutes; their ratio is also reported pair by pair. Which goes
# first alternates by repetition.
for rep in $(seq "$reps"); do
    echo "repetition $rep of $reps..." >&2
    for job in direct buffered sync read; do
        if ((rep % 2)); then
            tool_job "$rep" "$job"
            fio_job "$rep" "$job"
        else
            fio_job "$rep" "$job"
            tool_job "$rep" "$job"
        fi
    done
done

python3 - "$out" "$cold_label" "$dir" "$reps" <<'EOF'
import json, math, os, sys

out, cold, where, reps = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
NAMES = ["raw-direct-write", "raw-buffered-write", "raw-fdatasync", "raw-read-cold", "raw-read-warm"]


def spread(values):
    values = sorted(values)
    n = len(values)
    median = values[n // 2] if n % 2 else (values[n // 2 - 1] + values[n // 2]) / 2
    return values[0], median, values[-1]


def fio_figure(name, rep):
    job = json.load(open(os.path.join(out, f"{name}.{rep}.json")))["jobs"][0]
    side = job["read"] if "read" in name else job["write"]
    seconds = job["job_runtime"] / 1000
    if name == "raw-fdatasync":
        return side["total_ios"] / seconds
    if "read" in name:
        # fio's bandwidth over the I/O: the job's runtime also holds its start-up,
        # which at page-cache speed is as long as the reading itself.
        return side["bw_bytes"] / 1e6
    # Writes: over the job's whole time, the final fsync included.
    return side["io_bytes"] / seconds / 1e6


fio = {name: spread([fio_figure(name, rep) for rep in range(1, reps + 1)]) for name in NAMES}

tool_runs = {}
for rep in range(1, reps + 1):
    for part in ["direct", "buffered", "sync", "read"]:
        path = os.path.join(out, f"tool-{part}.{rep}.json")
        if os.path.exists(path):
            for result in json.load(open(path))["results"]:
                key = "records_per_s" if result["workload"] == "raw-fdatasync" else "mb_per_s"
                tool_runs.setdefault(result["workload"], []).append(result[key])
tool = {name: spread(values) for name, values in tool_runs.items()}
# Tool over fio, pair by pair (each pair ran back to back).
ratio = {
    name: [t / fio_figure(name, rep) for rep, t in enumerate(values, start=1)]
    for name, values in tool_runs.items()
}
unit = {name: "ops/s" if name == "raw-fdatasync" else "MB/s" for name in NAMES}
fmt = lambda t: "/".join(f"{v:,.0f}" for v in t)
print(f"{reps} repetitions each; min/median/max")
header = f"{'baseline':<20} {'unit':<6} {'fio':>24}"
if tool:
    header += f" {'shardlog bench':>24} {'medians':>8} {'pairs: geomean (min..max)':>26}  within 15%"
print(header)
worst = 0.0
for name in NAMES:
    line = f"{name:<20} {unit[name]:<6} {fmt(fio[name]):>24}"
    if name in tool:
        diff = tool[name][1] / fio[name][1] - 1
        worst = max(worst, abs(diff))
        ratios = ratio[name]
        geomean = math.exp(sum(math.log(r) for r in ratios) / len(ratios))
        pairs = f"{geomean:.2f} ({min(ratios):.2f}..{max(ratios):.2f})"
        line += f" {fmt(tool[name]):>24} {diff:>+8.1%} {pairs:>26}  {'yes' if abs(diff) <= 0.15 else 'NO'}"
    print(line)
print(f"cold reads: {cold}")
print("\n" + os.popen("fio --version").read().strip(), "on", os.path.abspath(where))
if tool:
    print(f"largest difference of the medians: {worst:.1%}")
EOF
