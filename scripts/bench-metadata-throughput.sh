#!/usr/bin/env bash
# Metadata throughput for docs/benchmarks.md (issue 11): create N topics (1 partition each)
# through the metadata quorum and time it on CLOCK_MONOTONIC, in three shapes:
#   single:   a single-node ternd (a quorum of one), N CreateTopics of one topic each, one
#             connection, one request at a time (each answered once committed and its log made);
#   cluster:  a 3-node cluster, the same requests sent to a node that is NOT the active
#             controller (each forwarded in an Envelope, committed by the quorum of three and
#             applied by the receiving node before it answers);
#   batch:    the 3-node cluster again, one CreateTopics naming N topics (one entry each).
# Every answer must be NONE; the topics are then counted in Metadata of every node.
#   usage: scripts/bench-metadata-throughput.sh [topics]   (default 1000)
#   BIN=<dir with ternd and tern> picks the binaries (default: build release into .build-release).
set -euo pipefail
cd "$(dirname "$0")/.."
topics="${1:-1000}"
if [ -z "${BIN:-}" ]; then
    swift build -c release --scratch-path .build-release --product ternd >/dev/null
    swift build -c release --scratch-path .build-release --product tern >/dev/null
    BIN="$(pwd)/.build-release/release"
fi
work=$(mktemp -d)
echo "machine: $(nproc) cores, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg), binaries $BIN"
python3 - "$BIN" "$work" "$topics" "$(pwd)/scripts" <<'PY'
import json, socket, subprocess, sys, time
bin, work, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
sys.path.insert(0, sys.argv[4])
from tern_wire import create_topics
def free():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
procs = []
def ternd(args, name):
    log = open(f"{work}/{name}.log", "a")
    p = subprocess.Popen([f"{bin}/ternd", "--set", "admin.listeners="] + args, stderr=log, stdout=subprocess.DEVNULL)
    procs.append(p)
    return p
def info(port):
    r = subprocess.run([f"{bin}/tern", "--bootstrap", f"127.0.0.1:{port}", "cluster", "info", "--json", "--timeout-ms",
                        "1000"], capture_output=True, text=True)
    return json.loads(r.stdout) if r.returncode == 0 else None
def listed(port):
    r = subprocess.run([f"{bin}/tern", "--bootstrap", f"127.0.0.1:{port}", "topic", "list"], capture_output=True, text=True)
    return sum(1 for line in r.stdout.splitlines() if line.startswith("t-"))
def wait(cond, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if cond(): return
        time.sleep(0.05)
    sys.exit(f"timed out waiting for {what}")
def one_by_one(port, prefix):
    sock = socket.create_connection(("127.0.0.1", port), timeout=60)
    t0 = time.monotonic()
    for i in range(count):
        [(_, code, message)] = create_topics(port, [f"{prefix}{i}"], sock=sock, correlation_id=i + 1)
        if code != 0: sys.exit(f"{prefix}{i}: error {code} {message}")
    elapsed = time.monotonic() - t0
    sock.close()
    return elapsed
def report(shape, elapsed):
    print(f"{shape}: {count} topics in {elapsed:.2f} s = {count / elapsed:.0f} topics/s "
          f"({elapsed / count * 1000:.2f} ms each)", flush=True)
try:
    port = free()
    ternd(["--set", f"listeners=PLAINTEXT://127.0.0.1:{port}", "--set", f"log.dirs={work}/single"], "single")
    wait(lambda: info(port) is not None, 60, "the single node")
    report("single node, one topic per request", one_by_one(port, "t-"))
    assert listed(port) == count, "single node lists every topic"
    for p in procs: p.terminate()
    for p in procs: p.wait(timeout=120)
    procs.clear()

    nodes = {i: (free(), free()) for i in (1, 2, 3)}
    voters = ",".join(f"{i}@127.0.0.1:{c}" for i, (_, c) in nodes.items())
    for i, (client, controller) in nodes.items():
        ternd(["--set", f"node.id={i}", "--set", f"controller.quorum.voters={voters}",
               "--set", f"listeners=PLAINTEXT://127.0.0.1:{client},CONTROLLER://127.0.0.1:{controller}",
               "--set", f"log.dirs={work}/data-{i}"], f"node{i}")
    wait(lambda: (info(nodes[1][0]) or {}).get("controllerId", -1) != -1 and len(info(nodes[1][0])["brokers"]) == 3,
         60, "the cluster to form")
    controller = info(nodes[1][0])["controllerId"]
    other = next(i for i in nodes if i != controller)
    report(f"3-node cluster via node {other} (not the controller), one topic per request",
           one_by_one(nodes[other][0], "t-"))
    t0 = time.monotonic()
    results = create_topics(nodes[other][0], [f"b-{i}" for i in range(count)], timeout_ms=120000)
    elapsed = time.monotonic() - t0
    bad = [r for r in results if r[1] != 0]
    if bad: sys.exit(f"batch: {len(bad)} failed, first {bad[0]}")
    report(f"3-node cluster via node {other}, one request naming all", elapsed)
    wait(lambda: all(listed(nodes[i][0]) == count for i in nodes), 60, "every node to list every topic")
    print("every node lists every topic")
finally:
    for p in procs:
        if p.poll() is None: p.terminate()
    for p in procs:
        try: p.wait(timeout=120)
        except subprocess.TimeoutExpired: p.kill()
PY
rm -rf "$work"
