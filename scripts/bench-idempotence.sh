#!/usr/bin/env bash
# Produce throughput with the idempotent producer on (the SDK's default) and off, as
# docs/benchmarks.md reports it: 1,000,000 records of 100 B to a 1-partition topic, acks=1 and
# acks=all, runs alternating on/off against one fresh release-built broker (each run on a new
# topic). Prints each run and the medians with the difference.
#   usage: scripts/bench-idempotence.sh [runs] [scratch-path]   (defaults 3 and .build-release)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
scratch="${2:-.build-release}"
swift build -c release --scratch-path "$scratch" --product ternd >/dev/null
swift build -c release --scratch-path "$scratch" --product tern >/dev/null
bin="$(pwd)/$scratch/release"
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin/ternd" --set "listeners=PLAINTEXT://127.0.0.1:$port" --set "log.dirs=$work/data" \
    --set "admin.listeners=127.0.0.1:0" 2>"$work/ternd.log" &
broker=$!
trap 'kill -TERM $broker 2>/dev/null; wait $broker 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 1 200); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.05; done
tern=("$bin/tern" --bootstrap "127.0.0.1:$port")
n=0
for run in $(seq 1 "$runs"); do
    for acks in 1 all; do
        for mode in enable disable; do
            n=$((n + 1))
            "${tern[@]}" topic create "idem-$n" --partitions 1 >/dev/null
            out=$("${tern[@]}" perf produce --topic "idem-$n" --records 1000000 --record-size 100 --acks "$acks" \
                --"$mode"-idempotence --json)
            echo "{\"acks\":\"$acks\",\"idempotence\":\"$mode\",\"run\":$run,\"result\":$out}" | tee -a "$work/results.jsonl"
            "${tern[@]}" topic delete "idem-$n" >/dev/null
        done
    done
done
python3 - "$work/results.jsonl" <<'PY'
import json, statistics, sys
rows = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    rows.setdefault((r["acks"], r["idempotence"]), []).append(r["result"]["records_per_second"])
for acks in ["1", "all"]:
    on, off = rows[(acks, "enable")], rows[(acks, "disable")]
    m_on, m_off = statistics.median(on), statistics.median(off)
    print(f"acks={acks}: idempotence on {m_on:,.0f} rec/s ({min(on):,.0f} - {max(on):,.0f}), "
          f"off {m_off:,.0f} rec/s ({min(off):,.0f} - {max(off):,.0f}), on/off {100 * m_on / m_off:.1f}%")
PY
