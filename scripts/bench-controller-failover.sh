#!/usr/bin/env bash
# Controller failover time for docs/benchmarks.md: three `ternd` nodes (each a broker and a voter
# of the metadata quorum) on loopback with the default timeouts; each run `kill -9`s the active
# controller and measures, on CLOCK_MONOTONIC, (1) the time until a surviving node reports
# another active controller (`tern cluster info --json`, polled every 20 ms) and (2) the time
# until a topic creation sent to a surviving node succeeds (CreateTopics over a raw socket,
# timeoutMs 2000, retried at once on failure: what issue 11 defines as failover); then restarts
# the killed node on its own data directory and waits until the cluster is healthy again.
#   usage: scripts/bench-controller-failover.sh [runs]   (default 10)
#   BIN=<dir with ternd and tern> picks the binaries (default: build release into .build-release).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-10}"
if [ -z "${BIN:-}" ]; then
    swift build -c release --scratch-path .build-release --product ternd >/dev/null
    swift build -c release --scratch-path .build-release --product tern >/dev/null
    BIN="$(pwd)/.build-release/release"
fi
work=$(mktemp -d)
echo "machine: $(nproc) cores, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg), binaries $BIN"
python3 - "$BIN" "$work" "$runs" "$(pwd)/scripts" <<'PY'
import json, os, signal, socket, statistics, subprocess, sys, time
bin, work, runs = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, sys.argv[4])
from tern_wire import create_topic
def free():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
nodes = {i: (free(), free()) for i in (1, 2, 3)}
voters = ",".join(f"{i}@127.0.0.1:{c}" for i, (_, c) in nodes.items())
procs = {}
def start(i):
    client, controller = nodes[i]
    log = open(f"{work}/node{i}.log", "a")
    procs[i] = subprocess.Popen([f"{bin}/ternd", "--set", f"node.id={i}", "--set", f"controller.quorum.voters={voters}",
        "--set", f"listeners=PLAINTEXT://127.0.0.1:{client},CONTROLLER://127.0.0.1:{controller}",
        "--set", f"log.dirs={work}/data-{i}", "--set", "admin.listeners="], stderr=log, stdout=subprocess.DEVNULL)
def info(i):
    r = subprocess.run([f"{bin}/tern", "--bootstrap", f"127.0.0.1:{nodes[i][0]}", "cluster", "info", "--json",
                        "--timeout-ms", "1000"], capture_output=True, text=True)
    return json.loads(r.stdout) if r.returncode == 0 else None
def healthy(i):
    r = subprocess.run([f"{bin}/tern", "--bootstrap", f"127.0.0.1:{nodes[i][0]}", "cluster", "health",
                        "--timeout-ms", "1000"], capture_output=True, text=True)
    return r.returncode == 0
def wait(cond, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond(): return
        time.sleep(0.05)
    sys.exit(f"timed out waiting for {what}")
try:
    for i in nodes: start(i)
    wait(lambda: healthy(1) and len(info(1)["brokers"]) == 3, 60, "the cluster to form")
    elected, creatable = [], []
    for run in range(runs):
        wait(lambda: all((info(i) or {}).get("controllerId", -1) != -1 for i in nodes), 60, "every node to know the controller")
        controller = info(1)["controllerId"]
        survivor = 1 if controller != 1 else 2
        t0 = time.monotonic()
        procs[controller].send_signal(signal.SIGKILL); procs[controller].wait()
        while True:
            view = info(survivor)
            if view and view["controllerId"] not in (-1, controller): break
            time.sleep(0.02)
        elected.append(time.monotonic() - t0)
        while True:
            try:
                code, _ = create_topic(nodes[survivor][0], f"after-failover-{run}", timeout_ms=2000)
            except OSError:
                code = -1
            if code in (0, 36): break  # NONE, or TOPIC_ALREADY_EXISTS (an earlier try committed)
        creatable.append(time.monotonic() - t0)
        print(f"run {run + 1}: node {controller} killed; node {view['controllerId']} active after {elected[-1]:.3f} s; "
              f"topic created via node {survivor} after {creatable[-1]:.3f} s", flush=True)
        start(controller)
        wait(lambda: healthy(survivor) and healthy(controller), 60, "the cluster to heal")
    for name, times in (("new active controller", elected), ("next topic creation succeeds", creatable)):
        print(f"{name}: median {statistics.median(times):.3f} s, max {max(times):.3f} s, min {min(times):.3f} s over {runs} runs")
finally:
    for p in procs.values():
        if p.poll() is None: p.terminate()
    for p in procs.values():
        try: p.wait(timeout=20)
        except subprocess.TimeoutExpired: p.kill()
PY
rm -rf "$work"
