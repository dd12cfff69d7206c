#!/usr/bin/env bash
# Restart time of ternd after `kill -9` with GIB GiB (default 4) written by acks=1 producers only,
# on one partition with the default 1 GiB segments:
#   1. no recovery-point checkpoint while running (log.flush.offset.checkpoint.interval.ms at its
#      maximum): what every build before the background checkpoint did — recovery CRC-scans
#      everything;
#   2. defaults, killed as soon as the writes end: the scan covers what was written since the last
#      checkpoint (at most log.flush.offset.checkpoint.interval.ms = 60 s of writes);
#   3. defaults, killed one checkpoint interval after the writes: only the tails after the last
#      index entries are read;
#   4. checkpoint every 5 s, killed as soon as the writes end: at most ~5 s of writes are scanned.
# Restart time is ternd's own `startup_ms` (process start to listeners bound, logs recovered).
# Uses the release build (swift build -c release --scratch-path .build-release); the data
# directory is deleted after each run.
#
#   scripts/bench-restart.sh            # 4 GiB
#   GIB=1 scripts/bench-restart.sh      # quicker
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-.build-release/release}
GIB=${GIB:-4}
RECORD_SIZE=1000
RECORDS=$((GIB * 1024 * 1024 * 1024 / (RECORD_SIZE + 10)))
WORK=${BENCH_DIR:-$(mktemp -d /tmp/tern-bench-restart-XXXXXX)}
PORT=${PORT:-19392}
ADMIN=${ADMIN:-19393}
PID=""
cleanup() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -9 "$PID" 2>/dev/null || true; fi
    rm -rf "$WORK"
}
trap cleanup EXIT
for tool in ternd tern; do
    [ -x "$BIN/$tool" ] || { echo "missing $BIN/$tool: swift build -c release --scratch-path .build-release" >&2; exit 1; }
done

start() {  # start LOG SETTINGS...
    local log=$1
    shift
    "$BIN/ternd" --set "listeners=PLAINTEXT://127.0.0.1:$PORT" --set "admin.listeners=127.0.0.1:$ADMIN" \
        --set "log.dirs=$WORK/data" "$@" 2>"$log" &
    PID=$!
    for _ in $(seq 1 6000); do
        grep -q "ternd ready" "$log" && return 0
        kill -0 "$PID" 2>/dev/null || { cat "$log" >&2; exit 1; }
        sleep 0.05
    done
    echo "ternd did not start" >&2
    exit 1
}

run() {  # run LABEL WAIT_SECONDS SETTINGS...
    local label=$1 wait=$2
    shift 2
    rm -rf "$WORK/data"
    start "$WORK/first.log" "$@"
    "$BIN/tern" --bootstrap "127.0.0.1:$PORT" topic create bench --partitions 1 >/dev/null
    local began=$SECONDS
    "$BIN/tern" --bootstrap "127.0.0.1:$PORT" perf produce --topic bench --records "$RECORDS" \
        --record-size "$RECORD_SIZE" --acks 1 >"$WORK/produce.out" 2>/dev/null
    local took=$((SECONDS - began))
    local wrote=$(du -sb "$WORK/data/bench-0" | cut -f1)
    sleep "$wait"
    kill -9 "$PID"
    wait "$PID" 2>/dev/null || true
    local checkpoint=$(awk '$1 == "bench" { print $3 }' "$WORK/data/recovery-point-offset-checkpoint" 2>/dev/null)
    start "$WORK/second.log" "$@"
    local ready=$(grep "ternd ready" "$WORK/second.log")
    local opened=$(grep "opened 1 logs" "$WORK/second.log")
    local startup=${ready##*startup_ms=}
    startup=${startup%% *}
    local scanned=${opened##*tern_segments_scanned=}
    scanned=${scanned%% *}
    local read=${opened##*tern_bytes_read=}
    read=${read%% *}
    printf '%-52s | %6.2f GiB in %3d s | checkpoint %-9s | restart %6d ms | scanned %d segment(s), %s bytes read\n' \
        "$label" "$(echo "$wrote / 1073741824" | bc -l)" "$took" "${checkpoint:-none}" \
        "$startup" "$scanned" "$read"
    kill "$PID"
    wait "$PID" 2>/dev/null || true
    PID=""
    rm -rf "$WORK/data"
}

echo "$RECORDS records of $RECORD_SIZE bytes, acks=1, one partition, 1 GiB segments"
run "no checkpoint while running (as before)" 0 --set log.flush.offset.checkpoint.interval.ms=2147483647
run "defaults, kill -9 right after the writes" 0
run "defaults, kill -9 61 s after the writes" 61
run "checkpoint every 5 s, kill -9 right after the writes" 0 --set log.flush.offset.checkpoint.interval.ms=5000
