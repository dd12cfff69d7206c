#!/usr/bin/env bash
# The log cleaner's figures of docs/benchmarks.md: throughput (MB/s of dirty log cleaned) and
# memory (the broker's peak RSS with the cleaner against the same broker idle without it).
#
# Per run: a release ternd with the cleaner off takes RECORDS records of SIZE bytes over KEYS
# distinct keys (tern perf produce --key-count) into a compacted 1-partition topic with 8 MiB
# segments (SEGMENT bytes); it is stopped
# and started again with the cleaner on (one thread, the default 128 MiB dedupe buffer unless
# DEDUPE is set), which then cleans the whole dirty log. Throughput is the sum of the cleaner's
# "cleaned the log" lines: dirty bytes mapped / time (map + rewrite + fsync + swap), read from
# its JSON log. Memory: VmHWM of the cleaning broker minus VmRSS of the same data idle with the
# cleaner off.
#   usage: scripts/bench-cleaner.sh [runs] [records] [keys] [size]   (default 3 2000000 100000 100)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
records="${2:-2000000}"
keys="${3:-100000}"
size="${4:-100}"
dedupe="${DEDUPE:-134217728}"
scratch="${SCRATCH:-.build}"
swift build -c release --scratch-path "$scratch" --product ternd >/dev/null
swift build -c release --scratch-path "$scratch" --product tern >/dev/null
bin="$scratch/release"
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo "machine: $(nproc) cores, $(uname -sr), commit $(git rev-parse --short HEAD)"
echo "workload: $records records x $size B over $keys keys, dedupe buffer $dedupe bytes"

start_broker() {  # dir cleaner-enable → pid
    "$bin/ternd" --set "listeners=PLAINTEXT://127.0.0.1:$port" --set "log.dirs=$1/data" --set log.format=json \
        --set "log.cleaner.enable=$2" --set "log.cleaner.dedupe.buffer.size=$dedupe" \
        --set log.cleaner.backoff.ms=200 >/dev/null 2>>"$1/ternd.log" &
    local pid=$!
    for _ in $(seq 1 200); do
        if python3 -c "import socket,sys; socket.create_connection(('127.0.0.1',$port),0.1).close()" 2>/dev/null; then break; fi
        sleep 0.05
    done
    echo "$pid"
}

stop_broker() {  # pid: SIGTERM, then wait until it is gone
    kill -TERM "$1"
    while [ -e "/proc/$1" ]; do sleep 0.05; done
}

for run in $(seq 1 "$runs"); do
    dir=$(mktemp -d)
    tern="$bin/tern --bootstrap 127.0.0.1:$port"
    pid=$(start_broker "$dir" false)
    $tern topic create table --partitions 1 --config cleanup.policy=compact --config segment.bytes=${SEGMENT:-8388608} >/dev/null
    $tern perf produce --topic table --records "$records" --record-size "$size" --key-count "$keys" --acks 1 >/dev/null
    stop_broker "$pid"

    pid=$(start_broker "$dir" false)
    sleep 1
    idle=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    stop_broker "$pid"

    : >"$dir/ternd.log"
    pid=$(start_broker "$dir" true)
    active=$(ls "$dir/data/table-0" | grep '\.log$' | sort | tail -1 | sed 's/\.log$//' | sed 's/^0*//')
    active=${active:-0}
    for _ in $(seq 1 1200); do
        checkpoint=$(awk '$1 == "table" {print $3}' "$dir/data/cleaner-offset-checkpoint" 2>/dev/null || true)
        if [ "${checkpoint:-0}" -ge "$active" ]; then break; fi
        sleep 0.1
    done
    peak=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    stop_broker "$pid"
    python3 - "$dir/ternd.log" "$idle" "$peak" "$run" <<'PY'
import json, sys
path, idle, peak, run = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
dirty = read = written = ms = passes = keys = 0
for line in open(path):
    try:
        event = json.loads(line)
    except ValueError:
        continue
    if event.get("msg") != "cleaned the log":
        continue
    meta = event
    dirty += int(meta["tern_dirty_bytes"]); read += int(meta["tern_bytes_read"])
    written += int(meta["tern_bytes_written"]); ms += int(meta["tern_duration_ms"])
    keys = max(keys, int(meta["tern_map_keys"])); passes += 1
rate = dirty / 1e6 / (ms / 1000) if ms else 0
print(f"run {run}: {passes} passes, {dirty / 1e6:.1f} MB dirty cleaned in {ms} ms = {rate:.1f} MB/s; "
      f"read {read / 1e6:.1f} MB, wrote {written / 1e6:.1f} MB; {keys} keys in the map; "
      f"RSS idle {idle} KiB, peak while cleaning {peak} KiB, delta {(peak - idle) / 1024:.1f} MiB")
PY
    rm -rf "$dir"
done
