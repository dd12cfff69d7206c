#!/usr/bin/env bash
# The single-node figures of docs/benchmarks.md: 1,000,000 records of 100 bytes produced through
# the SDK into a 1-partition topic with acks=1 and acks=all, consumed back, end-to-end latency at
# 20,000 records/s, plus the broker's start-up time and RSS. Starts its own release-built broker on a temporary directory.
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
    # Start-up: from exec to the port accepting a connection, measured outside the process.
    read -r pid startup < <(python3 - "$bin/ternd" "$port" "$dir" <<'PY'
import socket, subprocess, sys, time
binary, port, directory = sys.argv[1], int(sys.argv[2]), sys.argv[3]
log = open(directory + "/ternd.log", "w")
start = time.monotonic()
process = subprocess.Popen([binary, "--set", f"listeners=PLAINTEXT://127.0.0.1:{port}",
                            "--set", f"log.dirs={directory}/data", "--set", "admin.listeners=127.0.0.1:0"],
                           stderr=log, start_new_session=True)
for _ in range(20000):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
        break
    except OSError:
        time.sleep(0.0005)
print(process.pid, f"{(time.monotonic() - start) * 1000:.1f}")
PY
)
    sleep 1
    idle=$(awk '/VmRSS/ {print $2}' "/proc/$pid/status")
    tern="$bin/tern --bootstrap 127.0.0.1:$port"
    $tern topic create acks1 --partitions 1 >/dev/null
    $tern topic create acksall --partitions 1 >/dev/null
    p1=$($tern perf produce --topic acks1 --records 1000000 --record-size 100 --acks 1)
    pall=$($tern perf produce --topic acksall --records 1000000 --record-size 100 --acks all)
    c=$($tern perf consume --topic acks1 --records 1000000)
    $tern topic create e2eall --partitions 1 >/dev/null
    $tern topic create e2e1 --partitions 1 >/dev/null
    eall=$($tern perf e2e --topic e2eall --records 100000 --throughput 20000 --acks all)
    e1=$($tern perf e2e --topic e2e1 --records 100000 --throughput 20000 --acks 1)
    peak=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
    echo "run $run: startup ${startup} ms (exec to port accepting), idle RSS ${idle} KiB, peak RSS ${peak} KiB"
    echo "  acks=1:   $p1"
    echo "  acks=all: $pall"
    echo "  $c"
    echo "  acks=all: $eall"
    echo "  acks=1:   $e1"
    kill -TERM "$pid"
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
    rm -rf "$dir"
done
