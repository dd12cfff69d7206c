#!/usr/bin/env bash
# The authorizer's cost on the request path (docs/benchmarks.md, "ACLs on the request path"): two
# release-built brokers, one with authorizer.enable=false (the default) and one with it on, where
# User:ANONYMOUS is allowed ALL on the topics by a prefixed ACL (so every request walks the
# authorizer's index and matches an ALLOW). Alternating the two in each run: produce 1,000,000
# records of 100 B (acks=1) and consume them.
#   usage: scripts/bench-acl.sh [runs]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
swift build -c release --scratch-path .build-release --product ternd >/dev/null
swift build -c release --scratch-path .build-release --product tern >/dev/null
bin="$(pwd)/.build-release/release"
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 200); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $1), 0.1)" 2>/dev/null && return; sleep 0.05; done; }

off=$(free_port)
on=$(free_port)
"$bin/ternd" --set "listeners=PLAINTEXT://127.0.0.1:$off" --set "log.dirs=$work/off" --set admin.listeners= \
    2>"$work/off.log" &
off_pid=$!
# allow.everyone.if.no.acl.found lets the first CreateAcls through; once the cluster has ACLs,
# only they count for it.
"$bin/ternd" --set "listeners=PLAINTEXT://127.0.0.1:$on" --set "log.dirs=$work/on" --set admin.listeners= \
    --set authorizer.enable=true --set allow.everyone.if.no.acl.found=true 2>"$work/on.log" &
on_pid=$!
cleanup() {
    kill -TERM "$off_pid" "$on_pid" 2>/dev/null || true
    wait "$off_pid" "$on_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
wait_port "$off"
wait_port "$on"
for op in alter describe create; do
    "$bin/tern" --bootstrap "127.0.0.1:$on" acl add --principal User:ANONYMOUS --cluster --operation "$op" >/dev/null
done
"$bin/tern" --bootstrap "127.0.0.1:$on" acl add --principal User:ANONYMOUS --topic bench- --prefixed \
    --operation all >/dev/null

results="$work/results.jsonl"
n=0
for run in $(seq 1 "$runs"); do
    for mode in off on; do
        if [ "$mode" = off ]; then port=$off; else port=$on; fi
        t=("$bin/tern" --bootstrap "127.0.0.1:$port")
        n=$((n + 1)); topic="bench-$n"
        "${t[@]}" topic create "$topic" --partitions 1 >/dev/null
        out=$("${t[@]}" perf produce --topic "$topic" --records 1000000 --record-size 100 --acks 1 --json)
        echo "{\"label\":\"produce 1p 100B acks=1\",\"mode\":\"$mode\",\"result\":$out}" >>"$results"
        echo "authorizer $mode produce run $run: $out" >&2
        out=$("${t[@]}" perf consume --topic "$topic" --records 1000000 --json)
        echo "{\"label\":\"consume 1p 100B\",\"mode\":\"$mode\",\"result\":$out}" >>"$results"
        echo "authorizer $mode consume run $run: $out" >&2
        "${t[@]}" topic delete "$topic" >/dev/null
    done
done
grep -c "authorization denied" "$work/on.log" >&2 || true

python3 - "$results" "$(nproc)" "$(git rev-parse --short HEAD)" "$runs" <<'PY'
import json, statistics, sys
path, cores, commit, runs = sys.argv[1:5]
rows = {}
for line in open(path):
    e = json.loads(line)
    rows.setdefault(e["label"], {}).setdefault(e["mode"], []).append(e["result"]["records_per_second"])
def fmt(v): return f"{statistics.median(v):,.0f} ({min(v):,.0f} – {max(v):,.0f})"
print(f"`scripts/bench-acl.sh {runs}` on {cores} cores at commit `{commit}`; medians, min – max in parentheses.\n")
print("| configuration | authorizer off, records/s | authorizer on, records/s | on / off |")
print("| --- | --- | --- | --- |")
for label, by in rows.items():
    a, b = by["off"], by["on"]
    print(f"| {label} | {fmt(a)} | {fmt(b)} | {statistics.median(b) / statistics.median(a):.0%} |")
PY
