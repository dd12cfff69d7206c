#!/usr/bin/env bash
# Produce latency while a large topic is being created (docs/benchmarks.md, issue 10).
#
# Per run, on a fresh release ternd: `tern perf produce` (acks=all, 100-byte records at a fixed
# THROUGHPUT) runs alone on topic `load`, then again while `tern topic create big --partitions
# PARTITIONS` runs on another connection (started 1.5 s into the produce run); the produce
# latency percentiles of both, and the creation's wall time, are printed. The produce run lasts
# RECORDS / THROUGHPUT seconds, longer than the creation.
#   usage: scripts/bench-topic-create.sh [runs] [partitions] [network-threads]   (default 3 1000 0)
#   BIN=<dir with ternd and tern> picks the binaries (default: build release into SCRATCH,
#   default .build-release).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
partitions="${2:-1000}"
threads="${3:-0}"
records="${RECORDS:-20000}"
throughput="${THROUGHPUT:-2000}"
acks="${ACKS:-all}"
scratch="${SCRATCH:-.build-release}"
if [ -z "${BIN:-}" ]; then
    swift build -c release --scratch-path "$scratch" --product ternd >/dev/null
    swift build -c release --scratch-path "$scratch" --product tern >/dev/null
    BIN="$scratch/release"
fi
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo "machine: $(nproc) cores, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg), binaries $BIN"
echo "workload: perf produce $records x 100 B at $throughput/s, acks=$acks, linger 0; create $partitions partitions; num.network.threads=$threads"

summary() {  # perf JSON → "p50 p99 max"
    python3 -c 'import json,sys; l=json.loads(sys.stdin.read())["latency_ms"]; print(l["p50"], l["p99"], l["max"])'
}

for run in $(seq 1 "$runs"); do
    dir=$(mktemp -d /tmp/tern-bench-create-XXXXXX)
    "$BIN/ternd" --set "listeners=PLAINTEXT://127.0.0.1:$port" --set "log.dirs=$dir/data" --set "admin.listeners=" \
        --set "num.network.threads=$threads" >/dev/null 2>"$dir/ternd.log" &
    pid=$!
    for _ in $(seq 1 200); do
        if python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),0.1).close()" 2>/dev/null; then break; fi
        sleep 0.05
    done
    tern=("$BIN/tern" --bootstrap "127.0.0.1:$port")
    "${tern[@]}" topic create load --partitions 1 >/dev/null
    perf=("${tern[@]}" perf produce --topic load --records "$records" --record-size 100 --throughput "$throughput"
        --acks "$acks" --linger-ms 0 --json)
    alone=$("${perf[@]}" | summary)
    "${perf[@]}" >"$dir/during.json" &
    perf_pid=$!
    sleep 1.5
    start=$(date +%s.%N)
    "${tern[@]}" topic create big --partitions "$partitions" >/dev/null
    created=$(python3 -c "print(round($(date +%s.%N) - $start, 2))")
    wait "$perf_pid"
    during=$(summary <"$dir/during.json")
    echo "run $run: produce p50/p99/max ms alone: $alone | during creation: $during | creation took ${created}s"
    kill -TERM "$pid"
    wait "$pid" || true
    rm -rf "$dir"
done
