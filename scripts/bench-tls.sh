#!/usr/bin/env bash
# TLS next to plaintext in one run (docs/benchmarks.md, "TLS"): one release-built broker with a
# PLAINTEXT and an SSL listener (certificates made here by the openssl command), then, alternating
# plaintext and TLS in each run: produce 1,000,000 records of 100 B and 200,000 of 1 KiB with
# acks=1, consume 1,000,000 records of 100 B; then TLS connection set-up with `openssl s_time`
# (new handshakes per second, TLS 1.3 and TLS 1.2, client and broker on the same machine).
#   usage: scripts/bench-tls.sh [runs]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
swift build -c release --scratch-path .build-release --product ternd >/dev/null
swift build -c release --scratch-path .build-release --product tern >/dev/null
bin="$(pwd)/.build-release/release"
work=$(mktemp -d)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# A CA and a broker certificate for localhost and 127.0.0.1 (EC P-256).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/ca.key" \
    -out "$work/ca.pem" -days 2 -subj "/CN=bench CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$work/broker.key" \
    -out "$work/broker.csr" -subj "/CN=localhost" 2>/dev/null
echo "subjectAltName=DNS:localhost,IP:127.0.0.1" >"$work/ext"
openssl x509 -req -in "$work/broker.csr" -CA "$work/ca.pem" -CAkey "$work/ca.key" -CAcreateserial \
    -out "$work/broker.pem" -days 2 -extfile "$work/ext" 2>/dev/null

plain=$(free_port)
tls=$(free_port)
"$bin/ternd" --set "listeners=PLAINTEXT://127.0.0.1:$plain,SSL://127.0.0.1:$tls" --set "log.dirs=$work/data" \
    --set admin.listeners= --set "ssl.certificate.location=$work/broker.pem" \
    --set "ssl.key.location=$work/broker.key" 2>"$work/ternd.log" &
broker=$!
cleanup() { kill -TERM "$broker" 2>/dev/null || true; wait "$broker" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 200); do python3 -c "import socket; socket.create_connection(('127.0.0.1', $tls), 0.1)" 2>/dev/null && break; sleep 0.05; done

plain_tern=("$bin/tern" --bootstrap "127.0.0.1:$plain")
tls_tern=("$bin/tern" --bootstrap "127.0.0.1:$tls" -X security.protocol=SSL -X "ssl.ca.location=$work/ca.pem")
results="$work/results.jsonl"
n=0
for run in $(seq 1 "$runs"); do
    for transport in plaintext tls; do
        if [ "$transport" = plaintext ]; then t=("${plain_tern[@]}"); else t=("${tls_tern[@]}"); fi
        for spec in "1000000 100" "200000 1024"; do
            read -r records size <<<"$spec"
            n=$((n + 1)); topic="bench-$n"
            "${t[@]}" topic create "$topic" --partitions 1 >/dev/null
            out=$("${t[@]}" perf produce --topic "$topic" --records "$records" --record-size "$size" --acks 1 --json)
            echo "{\"label\":\"produce 1p ${size}B acks=1\",\"transport\":\"$transport\",\"result\":$out}" >>"$results"
            echo "$transport produce ${size}B run $run: $out" >&2
            if [ "$size" = 100 ]; then
                out=$("${t[@]}" perf consume --topic "$topic" --records "$records" --json)
                echo "{\"label\":\"consume 1p 100B\",\"transport\":\"$transport\",\"result\":$out}" >>"$results"
                echo "$transport consume run $run: $out" >&2
            fi
            "${t[@]}" topic delete "$topic" >/dev/null
        done
    done
done
for version in tls1_3 tls1_2; do
    for run in $(seq 1 "$runs"); do
        rate=$(openssl s_time -connect "127.0.0.1:$tls" -new -time 5 -"$version" -CAfile "$work/ca.pem" 2>/dev/null \
            | awk '/connections in .* real seconds/ {print $1 / $4}' | head -n 1)
        echo "{\"label\":\"handshakes/s $version\",\"rate\":${rate:-0}}" >>"$results"
        echo "s_time $version run $run: $rate new handshakes/s" >&2
    done
done

python3 - "$results" "$(nproc)" "$(git rev-parse --short HEAD)" <<'PY'
import json, statistics, sys
path, cores, commit = sys.argv[1], sys.argv[2], sys.argv[3]
rows, rates = {}, {}
for line in open(path):
    e = json.loads(line)
    if "rate" in e:
        rates.setdefault(e["label"], []).append(e["rate"])
    else:
        rows.setdefault(e["label"], {}).setdefault(e["transport"], []).append(e["result"]["records_per_second"])
def fmt(v): return f"{statistics.median(v):,.0f} ({min(v):,.0f} – {max(v):,.0f})"
print(f"`scripts/bench-tls.sh {len(next(iter(next(iter(rows.values())).values())))}` on {cores} cores at commit `{commit}`; medians, min – max in parentheses.\n")
print("| configuration | plaintext records/s | TLS records/s | TLS / plaintext |")
print("| --- | --- | --- | --- |")
for label, by in rows.items():
    p, t = by["plaintext"], by["tls"]
    print(f"| {label} | {fmt(p)} | {fmt(t)} | {statistics.median(t) / statistics.median(p):.0%} |")
print("\n| TLS connection set-up (`openssl s_time -new`, EC P-256 certificate) | new handshakes/s |")
print("| --- | --- |")
for label, v in rates.items():
    print(f"| {label.split()[-1]} | {fmt(v)} |")
PY
