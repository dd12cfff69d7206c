#!/usr/bin/env bash
# Wall time, process start to exit, of a bounded read, next to the read time tern reports: what
# a user (or a comparison with kcat) measures. A fresh release-built broker gets one topic of
# 1,000,000 records of 100 B (one partition), then each command runs `runs` times:
#   tern consume T --from-beginning --max-messages 1000000 | wc -l     (wall)
#   tern perf consume --topic T --records 1000000                      (wall and reported seconds)
# Prints one line per run and the medians.
#   usage: scripts/bench-consume-wall.sh [runs]   (default 5)
#   BENCH_TERN_DIR=DIR runs the tern in DIR (e.g. one built from another commit), else the release
#   build in .build-release (built first); the broker is always the one in .build-release.
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
swift build -c release --scratch-path .build-release >/dev/null
bin="$(pwd)/.build-release/release"
tern_bin="${BENCH_TERN_DIR:-$bin}/tern"
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin/ternd" --set "listeners=PLAINTEXT://127.0.0.1:$port" --set "log.dirs=$work/data" \
    --set admin.listeners= 2>"$work/ternd.log" &
broker=$!
cleanup() {
    kill -TERM "$broker" 2>/dev/null || true
    wait "$broker" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
ready=
for _ in $(seq 1 600); do
    if (echo >"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then ready=1; break; fi
    sleep 0.05
done
[ -n "$ready" ] || { echo "ternd did not listen on $port within 30 s:" >&2; cat "$work/ternd.log" >&2; exit 1; }
tern=("$tern_bin" --bootstrap "127.0.0.1:$port")
"${tern[@]}" topic create wall --partitions 1 >/dev/null
"${tern[@]}" perf produce --topic wall --records 1000000 --record-size 100 --acks 1 >/dev/null 2>&1
now() { date +%s.%N; }
consume_wall=()
perf_wall=()
perf_read=()
for run in $(seq 1 "$runs"); do
    start=$(now)
    lines=$("${tern[@]}" consume wall --from-beginning --max-messages 1000000 | wc -l)
    end=$(now)
    [ "$lines" -eq 1000000 ] || { echo "consume printed $lines lines" >&2; exit 1; }
    consume_wall+=("$(echo "$end - $start" | bc)")

    start=$(now)
    out=$("${tern[@]}" perf consume --topic wall --records 1000000 --json 2>/dev/null)
    end=$(now)
    perf_wall+=("$(echo "$end - $start" | bc)")
    perf_read+=("$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["seconds"])' "$out")")
    printf 'run %d: consume | wc -l %.3f s wall; perf consume %.3f s wall, %.3f s reported\n' \
        "$run" "${consume_wall[-1]}" "${perf_wall[-1]}" "${perf_read[-1]}"
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
printf 'median of %d: consume | wc -l %.3f s wall; perf consume %.3f s wall, %.3f s reported\n' "$runs" \
    "$(median "${consume_wall[@]}")" "$(median "${perf_wall[@]}")" "$(median "${perf_read[@]}")"
