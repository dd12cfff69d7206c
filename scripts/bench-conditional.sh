#!/usr/bin/env bash
# Conditional append throughput for docs/benchmarks.md: 4 writers, each appending one record at
# a time and waiting for its acknowledgement (acks=all, fsynced), as an event-sourced writer does:
#   awaited     plain sends (no condition), one at a time per writer — the baseline;
#   end-offset  each writer owns a partition and appends on the end offset it last saw;
#   key         each writer owns a key (topic with key.index.enable=true) and appends on the
#               key's last offset it last saw;
# and, for scale, plain pipelined acks=all sends (none). Release build in .build-release.
#   usage: scripts/bench-conditional.sh [records per mode] [record size]   (defaults: 20000, 100)
set -euo pipefail
cd "$(dirname "$0")/.."
records="${1:-20000}"
size="${2:-100}"
swift build -c release --scratch-path .build-release >/dev/null
bin="$(pwd)/.build-release/release"
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
admin=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin/ternd" --set "listeners=PLAINTEXT://127.0.0.1:$port" --set "admin.listeners=127.0.0.1:$admin" \
    --set "log.dirs=$work/data" 2>"$work/ternd.log" &
broker=$!
cleanup() { kill -TERM "$broker" 2>/dev/null || true; for _ in $(seq 1 100); do kill -0 "$broker" 2>/dev/null || break; sleep 0.05; done; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 200); do grep -q "ternd ready" "$work/ternd.log" 2>/dev/null && break; sleep 0.05; done
tern=("$bin/tern" --bootstrap "127.0.0.1:$port")
# One-at-a-time modes send each record at once (--linger-ms 0: a conditional batch is closed and
# sent at once anyway); the pipelined baseline keeps the default linger and sends 25x the records.
for mode in awaited end-offset key none; do
    topic="bench-$mode"
    "${tern[@]}" topic create "$topic" --partitions 4 --config key.index.enable=true >/dev/null
    echo "== --condition $mode"
    if [ "$mode" = none ]; then
        "${tern[@]}" perf produce --topic "$topic" --records $((records * 25)) --record-size "$size" --acks all \
            --producers 4 2>/dev/null
    else
        "${tern[@]}" perf produce --topic "$topic" --records "$records" --record-size "$size" --acks all \
            --producers 4 --linger-ms 0 --condition "$mode" 2>/dev/null
    fi
done
