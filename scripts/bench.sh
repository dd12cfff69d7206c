#!/usr/bin/env bash
# The benchmark matrix of docs/benchmarks.md. Starts a fresh release-built broker on a temporary
# directory, runs every configuration three times (1 and 8 partitions; 100 B and 1 KiB records;
# acks=1 and acks=all; 1 and 4 producers; consume; end-to-end at 20,000 records/s), measures the
# broker process (start-up, idle RSS, peak RSS while producing 1M records, restart after kill -9
# with 1 GiB in one partition) and rewrites the section between the "bench:matrix" markers of
# docs/benchmarks.md with the medians and min–max, the machine's core count and the commit.
#   usage: scripts/bench.sh [runs]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
# The broker as it ships (install.sh, the container image): Swift runtime linked statically.
swift build -c release --static-swift-stdlib --scratch-path .build-static --product ternd >/dev/null
swift build -c release --product tern >/dev/null
broker_bin="$(pwd)/.build-static/release"
bin="$(pwd)/.build/release"
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# start_broker PORT DATA_DIR LOG: starts ternd in its own session and prints "PID MS", MS being the
# time from exec to the port accepting a connection, measured from outside the process.
start_broker() {
    python3 - "$broker_bin/ternd" "$1" "$2" "$3" <<'PY'
import socket, subprocess, sys, time
binary, port, directory, log = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
start = time.monotonic()
process = subprocess.Popen([binary, "--set", f"listeners=PLAINTEXT://127.0.0.1:{port}",
                            "--set", f"log.dirs={directory}",
                            # The admin listener on an ephemeral port: on, as in production, without taking 9644.
                            "--set", "admin.listeners=127.0.0.1:0"], stderr=open(log, "a"), start_new_session=True)
for _ in range(60000):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
        break
    except OSError:
        time.sleep(0.0005)
print(process.pid, f"{(time.monotonic() - start) * 1000:.1f}")
PY
}
stop_broker() { kill -TERM "$1" 2>/dev/null || true; for _ in $(seq 1 200); do kill -0 "$1" 2>/dev/null || break; sleep 0.05; done; }
rss_kib() { awk -v key="$2:" '$1 == key {print $2}' "/proc/$1/status"; }
port=$(free_port)
read -r broker startup < <(start_broker "$port" "$work/data" "$work/ternd.log")
cleanup() { stop_broker "$broker"; [ -n "${restarted:-}" ] && kill -9 "$restarted" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT
tern=("$bin/tern" --bootstrap "127.0.0.1:$port")
results="$work/results.jsonl"
process="$work/process.jsonl"
sleep 1
echo "{\"measure\":\"startup_ms\",\"value\":$startup}" >>"$process"
echo "{\"measure\":\"idle_rss_kib\",\"value\":$(rss_kib "$broker" VmRSS)}" >>"$process"
n=0
measure() {  # label, partitions, command...
    local label=$1 partitions=$2
    shift 2
    for run in $(seq 1 "$runs"); do
        n=$((n + 1))
        local topic="bench-$n"
        "${tern[@]}" topic create "$topic" --partitions "$partitions" >/dev/null
        local out
        out=$("$@" --topic "$topic" --json)
        echo "{\"label\":\"$label\",\"run\":$run,\"result\":$out}" >>"$results"
        echo "$label run $run: $out" >&2
        "${tern[@]}" topic delete "$topic" >/dev/null
    done
}
# Peak RSS while producing 1,000,000 records (the first configuration, runs times).
measure "produce 1p 100B acks=1 1 producer(s)" 1 \
    "${tern[@]}" perf produce --records 1000000 --record-size 100 --acks 1 --producers 1
echo "{\"measure\":\"produce_peak_rss_kib\",\"value\":$(rss_kib "$broker" VmHWM)}" >>"$process"
for partitions in 1 8; do
    for size in 100 1024; do
        records=$([ "$size" -eq 100 ] && echo 1000000 || echo 200000)
        for acks in 1 all; do
            for producers in 1 4; do
                [ "$partitions$size$acks$producers" = "110011" ] && continue  # measured above
                measure "produce ${partitions}p ${size}B acks=$acks ${producers} producer(s)" "$partitions" \
                    "${tern[@]}" perf produce --records "$records" --record-size "$size" --acks "$acks" --producers "$producers"
            done
        done
    done
done
# Consume: fill a topic once per run, then read it back.
for run in $(seq 1 "$runs"); do
    n=$((n + 1)); topic="bench-$n"
    "${tern[@]}" topic create "$topic" --partitions 1 >/dev/null
    "${tern[@]}" perf produce --topic "$topic" --records 1000000 --record-size 100 --acks 1 >/dev/null
    out=$("${tern[@]}" perf consume --topic "$topic" --records 1000000 --json)
    echo "{\"label\":\"consume 1p 100B, 1 consumer\",\"run\":$run,\"result\":$out}" >>"$results"
    echo "consume run $run: $out" >&2
    "${tern[@]}" topic delete "$topic" >/dev/null
done
for acks in all 1; do
    measure "e2e 1p 100B acks=$acks at 20000 records/s" 1 \
        "${tern[@]}" perf e2e --records 100000 --throughput 20000 --acks "$acks"
done

# Restart after kill -9 with 1 GiB in one partition: exec to the port accepting (logs are
# recovered before listeners bind). Each run first appends to the log and kills the broker
# right after, so every restart finds an unflushed tail to recover.
restart_port=$(free_port)
restart_dir="$work/restart-data"
read -r restarted _ < <(start_broker "$restart_port" "$restart_dir" "$work/restart.log")
big=("$bin/tern" --bootstrap "127.0.0.1:$restart_port")
"${big[@]}" topic create big --partitions 1 >/dev/null
"${big[@]}" perf produce --topic big --records 917504 --record-size 1024 --acks 1 >/dev/null  # 896 MiB
for run in $(seq 1 "$runs"); do
    "${big[@]}" perf produce --topic big --records 131072 --record-size 1024 --acks 1 >/dev/null  # +128 MiB
    kill -9 "$restarted"
    while kill -0 "$restarted" 2>/dev/null; do sleep 0.01; done
    read -r restarted ms < <(start_broker "$restart_port" "$restart_dir" "$work/restart.log")
    size=$(du -sm "$restart_dir" | cut -f1)
    echo "{\"measure\":\"kill9_restart_ms\",\"value\":$ms,\"data_mib\":$size}" >>"$process"
    echo "restart after kill -9 run $run: ${ms} ms with ${size} MiB" >&2
done
kill -9 "$restarted"; restarted=""

python3 - "$results" "$(nproc)" "$(git rev-parse --short HEAD)" "$process" <<'PY'
import json, statistics, sys, re
path, cores, commit = sys.argv[1], sys.argv[2], sys.argv[3]
rows = {}
for line in open(path):
    entry = json.loads(line)
    rows.setdefault(entry["label"], []).append(entry["result"])
def fmt(values, digits=0):
    med = statistics.median(values)
    f = (lambda v: f"{v:,.{digits}f}")
    return f"{f(med)} ({f(min(values))} – {f(max(values))})"
out = [f"Generated by `scripts/bench.sh` on {cores} cores at commit `{commit}`: medians of "
       f"{len(next(iter(rows.values())))} runs, min – max in parentheses. Broker and clients on the same machine, release build, `log.flush.mode=sync`.", "",
       "| configuration | records/s | MB/s | latency p50 ms | p99 ms |", "| --- | --- | --- | --- | --- |"]
for label, results in rows.items():
    rps = [r["records_per_second"] for r in results]
    mbs = [r["mb_per_second"] for r in results]
    lat = [r.get("latency_ms") for r in results]
    p50 = fmt([l["p50"] for l in lat], 2) if all(lat) else "–"
    p99 = fmt([l["p99"] for l in lat], 2) if all(lat) else "–"
    out.append(f"| {label} | {fmt(rps)} | {fmt(mbs, 1)} | {p50} | {p99} |")
measures = {}
for line in open(sys.argv[4]):
    entry = json.loads(line)
    measures.setdefault(entry["measure"], []).append(entry)
def values(name): return [e["value"] for e in measures.get(name, [])]
restart = measures.get("kill9_restart_ms", [])
out += ["", "| broker process | value |", "| --- | --- |",
        f"| start-up, empty data directory (exec to the port accepting) | {fmt(values('startup_ms'), 1)} ms |",
        f"| RSS idle, 1 s after start | {fmt([v / 1024 for v in values('idle_rss_kib')], 1)} MiB |",
        f"| peak RSS during the 1,000,000-record produce | {fmt([v / 1024 for v in values('produce_peak_rss_kib')], 1)} MiB |",
        f"| restart after kill -9 with {min(e['data_mib'] for e in restart):,}–{max(e['data_mib'] for e in restart):,} MiB in one partition (exec to serving) | {fmt(values('kill9_restart_ms'), 1)} ms |"]
doc = open("docs/benchmarks.md").read()
begin, end = "<!-- bench:matrix:begin -->", "<!-- bench:matrix:end -->"
section = begin + "\n" + "\n".join(out) + "\n" + end
if begin in doc:
    doc = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: section, doc, flags=re.S)
else:
    doc = doc.rstrip() + "\n\n## Matrix (`scripts/bench.sh`)\n\n" + section + "\n"
open("docs/benchmarks.md", "w").write(doc)
print("\n".join(out))
PY
