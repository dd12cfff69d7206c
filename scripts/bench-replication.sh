#!/usr/bin/env bash
# Replication figures of docs/benchmarks.md: on 3 local brokers (plus 2 controller-only nodes)
# with a topic of replication factor 3 and min.insync.replicas=2, produce throughput with acks=all
# (1,000,000 x 100 B) and end-to-end latency at 20,000 records/s (acks=all and acks=1), next to the
# same runs on a single-node broker started the same way. Release build in .build-release.
#   usage: scripts/bench-replication.sh [runs]   (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-1}"
swift build -c release --scratch-path .build-release --product ternd >/dev/null
swift build -c release --scratch-path .build-release --product tern >/dev/null
bin="$(pwd)/.build-release/release"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; sleep 1; rm -rf "$work"; }
trap cleanup EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() { for _ in $(seq 1 600); do (echo >"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.1; done; return 1; }
perf() { # perf BOOTSTRAP TOPIC: the four measurements
    echo "produce acks=all 1M x 100 B:"; "$bin/tern" perf produce --bootstrap "$1" --topic "$2" --records 1000000 --record-size 100 --acks all 2>&1 | grep -E "in [0-9.]+ s:"
    echo "produce acks=1 1M x 100 B:"; "$bin/tern" perf produce --bootstrap "$1" --topic "$2" --records 1000000 --record-size 100 --acks 1 2>&1 | grep -E "in [0-9.]+ s:"
    echo "consume 1M:"; "$bin/tern" perf consume --bootstrap "$1" --topic "$2" --records 1000000 2>&1 | grep -E "in [0-9.]+ s:"
    echo "e2e acks=all 20,000/s:"; "$bin/tern" perf e2e --bootstrap "$1" --topic "$2" --records 200000 --throughput 20000 --record-size 100 --acks all 2>&1 | grep -E "in [0-9.]+ s:"
    echo "e2e acks=1 20,000/s:"; "$bin/tern" perf e2e --bootstrap "$1" --topic "$2" --records 200000 --throughput 20000 --record-size 100 --acks 1 2>&1 | grep -E "in [0-9.]+ s:"
}
for run in $(seq 1 "$runs"); do
    echo "=== run $run: single node"
    port=$(free_port)
    "$bin/ternd" --set "listeners=PLAINTEXT://127.0.0.1:$port" --set "log.dirs=$work/single-$run" \
        --set admin.listeners=127.0.0.1:0 2>>"$work/single.log" &
    pids+=($!)
    wait_port "$port"
    "$bin/tern" topic create --bootstrap "127.0.0.1:$port" single --partitions 1 >/dev/null
    perf "127.0.0.1:$port" single
    kill -TERM "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true

    echo "=== run $run: 3 brokers, replication factor 3, min.insync.replicas=2"
    c1=$(free_port); c2=$(free_port)
    voters="1@127.0.0.1:$c1,2@127.0.0.1:$c2"
    common=(--set "controller.quorum.voters=$voters" --set admin.listeners=127.0.0.1:0
        --set broker.session.timeout.ms=3000 --set broker.heartbeat.interval.ms=300)
    for n in 1 2; do
        cport=$([ "$n" = 1 ] && echo "$c1" || echo "$c2")
        "$bin/ternd" "${common[@]}" --set "node.id=$n" --set process.roles=controller \
            --set "listeners=CONTROLLER://127.0.0.1:$cport" --set "log.dirs=$work/r$run-$n" 2>>"$work/node-$n.log" &
        pids+=($!)
    done
    bootstrap=""
    for n in 3 4 5; do
        p=$(free_port)
        "$bin/ternd" "${common[@]}" --set "node.id=$n" --set process.roles=broker \
            --set "listeners=PLAINTEXT://127.0.0.1:$p" --set "log.dirs=$work/r$run-$n" 2>>"$work/node-$n.log" &
        pids+=($!)
        wait_port "$p"
        bootstrap="${bootstrap:+$bootstrap,}127.0.0.1:$p"
    done
    for _ in $(seq 1 100); do
        "$bin/tern" topic create --bootstrap "$bootstrap" replicated --partitions 1 --replication-factor 3 \
            --config min.insync.replicas=2 >/dev/null 2>&1 && break
        sleep 0.5
    done
    sleep 2
    perf "$bootstrap" replicated
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
    pids=()
done
