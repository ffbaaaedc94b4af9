#!/usr/bin/env bash
# fio's equivalents of `shardlog bench`'s raw baselines, on one file in DIR, so
# that the tool's raw figures can be checked against fio on the same disk.
#
#   scripts/fio-baseline.sh DIR [SIZE_MIB] [SECONDS]
#
# SIZE_MIB (default 1024) is the file size and each throughput job's volume;
# SECONDS (default 5) bounds the fdatasync latency job. Needs fio (Debian: apt-get
# install fio) and python3. Run the matching shardlog command on the same DIR:
#
#   shardlog bench --dir DIR --volume SIZE_MIB --duration 60 --repetitions 3 \
#       --workload raw-direct-write,raw-buffered-write,raw-fdatasync,raw-read-cold,raw-read-warm
#
# Jobs (shardlog's name: fio's options):
#   raw-direct-write:   rw=write bs=1M direct=1 end_fsync=1 (psync)
#   raw-buffered-write: rw=write bs=1M direct=0 end_fsync=1 (psync)
#   raw-fdatasync:      rw=write bs=4k fdatasync=1, time-bounded; compare ops/s
#   raw-read-cold:      rw=read bs=1M, page cache dropped first (drop_caches as root,
#                       else fio's invalidate=1, which is posix_fadvise DONTNEED)
#   raw-read-warm:      rw=read bs=1M invalidate=0 after a read that filled the cache,
#                       and dd bs=1M of the same file as a second opinion
set -euo pipefail

if [[ $# -lt 1 ]]; then
    echo "usage: $0 DIR [SIZE_MIB] [SECONDS]" >&2
    exit 2
fi
dir=$1
size_mib=${2:-1024}
seconds=${3:-5}
command -v fio >/dev/null || { echo "error: fio is not installed (apt-get install fio)" >&2; exit 1; }
mkdir -p "$dir"
file="$dir/fio-baseline.bin"
out=$(mktemp -d)
trap 'rm -rf "$out" "$file"' EXIT

common=(--filename="$file" --ioengine=psync --size="${size_mib}M" --output-format=json)

run() {
    local name=$1
    shift
    fio --name="$name" "${common[@]}" "$@" >"$out/$name.json"
}

drop_cache() {
    sync
    if echo 1 >/proc/sys/vm/drop_caches 2>/dev/null; then
        echo "cold (drop_caches)"
    else
        echo "cold (fadvise)"
    fi
}

run raw-direct-write --rw=write --bs=1M --direct=1 --end_fsync=1
run raw-buffered-write --rw=write --bs=1M --direct=0 --end_fsync=1
cold_label=$(drop_cache)
run raw-read-cold --rw=read --bs=1M --invalidate=1
run raw-read-warm-fill --rw=read --bs=1M --invalidate=0
run raw-read-warm --rw=read --bs=1M --invalidate=0
# A second opinion on the warm read: fio's own per-I/O work shows at page-cache speed.
LC_ALL=C dd if="$file" of=/dev/null bs=1M 2>"$out/dd.txt"
rm -f "$file"
run raw-fdatasync --rw=write --bs=4k --fdatasync=1 --time_based=0 --runtime="$seconds" \
    --size="$((size_mib < 64 ? size_mib : 64))M"

python3 - "$out" "$cold_label" "$dir" <<'EOF'
import json, sys, os
out, cold = sys.argv[1], sys.argv[2]
print(f"{'fio job':<22} {'cache':<20} {'MB/s':>9} {'ops/s':>10} {'p50 µs':>9} {'p99 µs':>9}")
for name in ["raw-direct-write", "raw-buffered-write", "raw-fdatasync", "raw-read-cold", "raw-read-warm"]:
    job = json.load(open(os.path.join(out, name + ".json")))["jobs"][0]
    side = job["read"] if "read" in name else job["write"]
    lat = side["clat_ns"].get("percentile", {})
    if name == "raw-fdatasync":
        # Each op is a write then an fdatasync; fio times the sync apart.
        sync = job.get("sync", {}).get("lat_ns", {}).get("percentile", {})
        p50 = (lat.get("50.000000", 0) + sync.get("50.000000", 0)) / 1000
        p99 = (lat.get("99.000000", 0) + sync.get("99.000000", 0)) / 1000
    else:
        p50 = lat.get("50.000000", 0) / 1000
        p99 = lat.get("99.000000", 0) / 1000
    cache = {"raw-read-cold": cold, "raw-read-warm": "warm"}.get(name, "-")
    # Writes: over the job's whole time, the final fsync included. Reads: fio's own
    # bandwidth over the I/O, since the job's runtime also holds its start-up, which
    # at page-cache speed is as long as the reading itself.
    if "read" in name:
        mb = side["bw_bytes"] / 1e6
    else:
        mb = side["io_bytes"] / (job["job_runtime"] / 1000) / 1e6 if job["job_runtime"] else 0
    ops = side["total_ios"] / (job["job_runtime"] / 1000) if job["job_runtime"] else 0
    print(f"{name:<22} {cache:<20} {mb:>9.0f} {ops:>10.0f} {p50:>9.1f} {p99:>9.1f}")
dd = open(os.path.join(out, "dd.txt")).read().strip().splitlines()[-1]
print(f"{'dd bs=1M (warm read)':<22} {'warm':<20} {float(dd.split()[0]) / float(dd.split(' copied, ')[1].split()[0]) / 1e6:>9.0f}")
print("\n" + os.popen("fio --version").read().strip(), "on", os.path.abspath(sys.argv[3]))
EOF
