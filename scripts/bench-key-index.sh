#!/usr/bin/env bash
# The key index's end-to-end figures of docs/benchmarks.md, against a release ternd:
#   1. produce throughput (tern perf produce, acks=1, 100-byte values, KEYS keys) into a
#      key-indexed topic and a plain one, alternating ROUNDS times in the same broker run;
#   2. one key's records from a 1-partition key-indexed topic holding RECORDS records over KEYS
#      keys (RECORDS/KEYS records per key): `tern consume --key` (FetchKey through the index)
#      against `tern consume --from-beginning` filtered by key (a full scan), wall time of the
#      whole command (process start and connection included).
# The storage-level figures (append cost, readKey time, memory per key) come from
# Benchmarks/KeyIndexBench (`TERN_BENCHMARKS=1`), run here too.
#   usage: scripts/bench-key-index.sh [records] [keys] [rounds]   (default 10000000 100000 3)
set -euo pipefail
cd "$(dirname "$0")/.."
records="${1:-10000000}"
keys="${2:-100000}"
rounds="${3:-3}"
scratch="${SCRATCH:-.build-release}"
swift build -c release --scratch-path "$scratch" --product ternd >/dev/null
swift build -c release --scratch-path "$scratch" --product tern >/dev/null
TERN_BENCHMARKS=1 swift build -c release --scratch-path "$scratch" --product key-index-bench >/dev/null
bin="$scratch/release"
echo "machine: $(nproc) cores, $(uname -sr), commit $(git rev-parse --short HEAD)"

dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
echo "== storage level (key-index-bench)"
"$bin/key-index-bench" "$dir/storage" "$records" "$keys" 134217728

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin/ternd" --set "listeners=PLAINTEXT://127.0.0.1:$port" --set "log.dirs=$dir/data" >/dev/null 2>>"$dir/ternd.log" &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 200); do
    if python3 -c "import socket; socket.create_connection(('127.0.0.1',$port),0.1).close()" 2>/dev/null; then break; fi
    sleep 0.05
done
tern="$bin/tern --bootstrap 127.0.0.1:$port"
$tern topic create indexed --partitions 1 --config key.index.enable=true --config segment.bytes=134217728 >/dev/null
$tern topic create plain --partitions 1 --config segment.bytes=134217728 >/dev/null
echo "== produce, acks=1, $((records / rounds)) records per run, $keys keys"
for round in $(seq 1 "$rounds"); do
    for topic in indexed plain; do
        rate=$($tern perf produce --topic "$topic" --records $((records / rounds)) --record-size 100 \
            --key-count "$keys" --acks 1 --json | python3 -c 'import json,sys; print(round(json.load(sys.stdin)["records_per_second"]))')
        echo "round $round $topic: $rate records/s"
    done
done
echo "== one key's records from the key-indexed partition ($records records over $keys keys)"
for key in key-7 key-4242 key-77777; do
    start=$(date +%s.%N)
    n=$($tern consume indexed --key "$key" | wc -l)
    end=$(date +%s.%N)
    echo "tern consume --key $key: $n records in $(python3 -c "print(round(($end-$start)*1000))") ms"
done
start=$(date +%s.%N)
n=$($tern consume indexed --from-beginning --print-key --timeout-ms 1000 | grep -c $'^key-7\t' || true)
end=$(date +%s.%N)
echo "full scan (tern consume --from-beginning | grep): $n records of key-7 in $(python3 -c "print(round(($end-$start)*1000 - 1000))") ms (the 1 s idle timeout subtracted)"
kill -TERM $pid
while [ -e "/proc/$pid" ]; do sleep 0.05; done
