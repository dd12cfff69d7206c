#!/usr/bin/env bash
# The single-node figures of docs/benchmarks.md: 1,000,000 records of 100 bytes produced through
# the SDK into a 1-partition topic with acks=1 and acks=all, consumed back, plus the broker's
# start-up time and idle RSS. Starts its own release-built broker on a temporary directory.
#   usage: scripts/bench-single-node.sh [runs]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
swift build -c release --product ternd >/dev/null
swift build -c release --product tern >/dev/null
bin=.build/release
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
echo "machine: $(nproc) cores, $(uname -sr), commit $(git rev-parse --short HEAD)"
for run in $(seq 1 "$runs"); do
    dir=$(mktemp -d)
    "$bin/ternd" --set "listeners=PLAINTEXT://127.0.0.1:$port" --set "log.dirs=$dir/data" 2>"$dir/ternd.log" &
    pid=$!
    for _ in $(seq 1 200); do grep -q "ternd ready" "$dir/ternd.log" 2>/dev/null && break; sleep 0.05; done
    sleep 1
    startup=$(grep -o 'startup_ms=[0-9]*' "$dir/ternd.log" | cut -d= -f2)
    idle=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    tern="$bin/tern --bootstrap 127.0.0.1:$port"
    $tern topic create acks1 --partitions 1 >/dev/null
    $tern topic create acksall --partitions 1 >/dev/null
    p1=$($tern perf produce --topic acks1 --records 1000000 --record-size 100 --acks 1)
    pall=$($tern perf produce --topic acksall --records 1000000 --record-size 100 --acks all)
    c=$($tern perf consume --topic acks1 --records 1000000)
    peak=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    echo "run $run: startup ${startup} ms, idle RSS ${idle} KiB, peak RSS ${peak} KiB"
    echo "  acks=1:   $p1"
    echo "  acks=all: $pall"
    echo "  $c"
    kill -TERM "$pid"; wait "$pid" || true
    rm -rf "$dir"
done
