#!/usr/bin/env bash
# SCRAM connection set-up next to plaintext and TLS in one run (docs/benchmarks.md, "SCRAM
# connection set-up"): one release-built broker with PLAINTEXT, SSL, SASL_PLAINTEXT and SASL_SSL
# listeners (certificates made here by the openssl command, users from a bootstrap file: 4096
# iterations), then, alternating the four in each run, `tern perf connect`: new clients (TCP, TLS
# and SASL as configured, ApiVersions, Metadata) one at a time and 8 at a time.
#   usage: scripts/bench-sasl.sh [runs] [connections]   (default 3 runs of 1000 connections)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
connections="${2:-1000}"
swift build -c release --scratch-path .build-release --product ternd >/dev/null
swift build -c release --scratch-path .build-release --product tern >/dev/null
bin="$(pwd)/.build-release/release"
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/ca.key" \
    -out "$work/ca.pem" -days 2 -subj "/CN=bench CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/broker.key" \
    -out "$work/broker.csr" -subj "/CN=localhost" 2>/dev/null
echo "subjectAltName=DNS:localhost,IP:127.0.0.1" >"$work/ext"
openssl x509 -req -in "$work/broker.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
    -out "$work/broker.pem" -days 2 -extfile "$work/ext" 2>/dev/null
(umask 077 && echo "bench:bench-password" >"$work/users")

plain=$(free_port); ssl=$(free_port); sasl=$(free_port); sasl_ssl=$(free_port)
"$bin/ternd" --set "listeners=PLAINTEXT://127.0.0.1:$plain,SSL://127.0.0.1:$ssl,SASL_PLAINTEXT://127.0.0.1:$sasl,SASL_SSL://127.0.0.1:$sasl_ssl" \
    --set "log.dirs=$work/data" --set admin.listeners= --set "ssl.certificate.location=$work/broker.pem" \
    --set "ssl.key.location=$work/broker.key" --set "sasl.bootstrap.users.file=$work/users" \
    --set "log.level=warning" 2>"$work/ternd.log" &
broker=$!
cleanup() { kill -TERM "$broker" 2>/dev/null || true; wait "$broker" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 400); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $sasl_ssl), 0.1)" 2>/dev/null && break; sleep 0.05; done

tls=(-X security.protocol=SSL -X "ssl.ca.location=$work/ca.pem")
export TERN_SASL_PASSWORD=bench-password
results="$work/results.jsonl"
for run in $(seq 1 "$runs"); do
    for transport in plaintext ssl scram-sha-256 scram-sha-512 scram-sha-256+ssl; do
        case "$transport" in
            plaintext) t=(--bootstrap "127.0.0.1:$plain") ;;
            ssl) t=(--bootstrap "127.0.0.1:$ssl" "${tls[@]}") ;;
            scram-sha-256) t=(--bootstrap "127.0.0.1:$sasl" -X security.protocol=SASL_PLAINTEXT -X sasl.mechanism=SCRAM-SHA-256 -X sasl.username=bench) ;;
            scram-sha-512) t=(--bootstrap "127.0.0.1:$sasl" -X security.protocol=SASL_PLAINTEXT -X sasl.mechanism=SCRAM-SHA-512 -X sasl.username=bench) ;;
            scram-sha-256+ssl) t=(--bootstrap "127.0.0.1:$sasl_ssl" -X security.protocol=SASL_SSL -X "ssl.ca.location=$work/ca.pem" -X sasl.mechanism=SCRAM-SHA-256 -X sasl.username=bench) ;;
        esac
        for concurrency in 1 8; do
            out=$("$bin/tern" "${t[@]}" perf connect --connections "$connections" --concurrency "$concurrency" --json | tr -d "\n ")
            echo "{\"transport\":\"$transport\",\"concurrency\":$concurrency,\"result\":$out}" >>"$results"
            echo "$transport concurrency $concurrency run $run: $out" >&2
        done
    done
done

python3 - "$results" "$(nproc)" "$(git rev-parse --short HEAD)" "$runs" "$connections" <<'PY'
import json, statistics, sys
path, cores, commit, runs, connections = sys.argv[1:6]
rows = {}
for line in open(path):
    e = json.loads(line)
    rows.setdefault(e["transport"], {}).setdefault(e["concurrency"], []).append(e["result"])
def med(v): return statistics.median(v)
print(f"`scripts/bench-sasl.sh {runs} {connections}` on {cores} cores at commit `{commit}`; medians of {runs} runs (min – max).\n")
print("| client connection | connections/s, 1 at a time | p50 ms | connections/s, 8 at a time | p50 ms |")
print("| --- | --- | --- | --- | --- |")
for transport, by in rows.items():
    cells = []
    for c in (1, 8):
        rates = [r["connectionsPerSecond"] for r in by[c]]
        cells.append(f"{med(rates):,.0f} ({min(rates):,.0f} – {max(rates):,.0f})")
        cells.append(f"{med([r['p50Ms'] for r in by[c]]):.2f}")
    print(f"| {transport} | " + " | ".join(cells) + " |")
PY
