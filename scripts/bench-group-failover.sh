#!/usr/bin/env bash
# Consumer-group failover time for docs/benchmarks.md: three `tern consume --group` processes
# share a 6-partition topic that a producer keeps writing to (about 2,000 records/s, keyed over
# every partition); one member leaves — gracefully (SIGTERM: it commits and sends a leave
# heartbeat) or by `kill -9` — and we measure the time from the signal until every partition it
# owned has had a record printed by one of the two others. Timestamps are CLOCK_MONOTONIC taken
# as each output line arrives; the signal is sent at a random point of the heartbeat cycle.
#   usage: scripts/bench-group-failover.sh [runs] [session.timeout.ms] [group.consumer.heartbeat.interval.ms]
#   (defaults: 3 runs, 45000, 5000 — Kafka's defaults)
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-3}"
session="${2:-45000}"
heartbeat="${3:-5000}"
swift build -c release --product ternd >/dev/null
swift build -c release --product tern >/dev/null
bin="$(pwd)/.build/release"
work=$(mktemp -d)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$bin/ternd" --set "listeners=PLAINTEXT://127.0.0.1:$port" --set "log.dirs=$work/data" \
    --set "group.consumer.heartbeat.interval.ms=$heartbeat" --set "group.min.session.timeout.ms=1000" \
    2>"$work/ternd.log" &
broker=$!
cleanup() { kill -TERM "$broker" 2>/dev/null || true; for _ in $(seq 1 100); do kill -0 "$broker" 2>/dev/null || break; sleep 0.05; done; rm -rf "$work"; }
trap cleanup EXIT
for _ in $(seq 1 200); do grep -q "ternd ready" "$work/ternd.log" 2>/dev/null && break; sleep 0.05; done
python3 - "$bin/tern" "127.0.0.1:$port" "$runs" "$session" "$heartbeat" <<'PY'
import json, random, signal, statistics, subprocess, sys, threading, time
tern, bootstrap, runs, session, heartbeat = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5]
base = [tern, "--bootstrap", bootstrap]
subprocess.run(base + ["topic", "create", "orders", "--partitions", "6"], check=True, stdout=subprocess.DEVNULL)

producer = subprocess.Popen(base + ["produce", "orders", "--key-separator", ":", "--acks", "1", "--linger-ms", "1"],
                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
stop = threading.Event()
def produce():
    i = 0
    while not stop.is_set():
        producer.stdin.write("".join(f"k{i + j}:v{i + j}\n" for j in range(20)).encode())
        producer.stdin.flush()
        i += 20
        time.sleep(0.01)
threading.Thread(target=produce, daemon=True).start()

class Consumer:
    def __init__(self, group):
        self.lines, self.owned = [], set()
        self.p = subprocess.Popen(
            base + ["consume", "orders", "--group", group, "--print-offset", "--property", f"session.timeout.ms={session}",
                    "--property", "auto.commit.interval.ms=1000"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        threading.Thread(target=self.read_out, daemon=True).start()
        threading.Thread(target=self.read_err, daemon=True).start()
    def read_out(self):
        for line in self.p.stdout:
            self.lines.append((time.monotonic(), int(line.split(b":", 1)[0])))
    def read_err(self):
        for line in self.p.stderr:
            text = line.decode()
            for kind in ("assigned", "revoked", "lost"):
                if f": {kind} " in text:
                    parts = {int(tp.rsplit("-", 1)[1]) for tp in text.split(f": {kind} ")[1].strip().split(",")}
                    self.owned = self.owned | parts if kind == "assigned" else self.owned - parts

def stable(group):
    out = subprocess.run(base + ["group", "describe", group, "--json"], capture_output=True, text=True)
    if out.returncode != 0: return False
    d = json.loads(out.stdout)
    return d["state"] == "Stable" and len(d["members"]) == 3 and all(len(m["assignment"]) == 2 for m in d["members"])

results = {"graceful": [], "kill -9": []}
n = 0
for run in range(runs):
    for mode in results:
        n += 1
        group = f"bench-{n}"
        consumers = [Consumer(group) for _ in range(3)]
        deadline = time.monotonic() + 120
        while not stable(group) or any(len(c.owned) != 2 for c in consumers):
            assert time.monotonic() < deadline, "group did not stabilise"
            time.sleep(0.1)
        # Members heartbeat in step (they joined together); leave at a random phase of that cycle.
        time.sleep(2 + random.random() * int(heartbeat) / 1000)
        victim, others = consumers[0], consumers[1:]
        partitions = set(victim.owned)
        t0 = time.monotonic()
        if mode == "graceful": victim.p.send_signal(signal.SIGTERM)
        else: victim.p.kill()
        deadline = t0 + 300
        firsts = {}
        while len(firsts) < len(partitions):
            assert time.monotonic() < deadline, "partitions were not taken over"
            for c in others:
                for t, p in list(c.lines):
                    if p in partitions and t > t0 and (p not in firsts or t < firsts[p]): firsts[p] = t
            time.sleep(0.01)
        elapsed = max(firsts.values()) - t0
        results[mode].append(elapsed)
        print(f"run {run + 1} {mode}: partitions {sorted(partitions)} consumed again after {elapsed * 1000:.0f} ms", file=sys.stderr)
        for c in consumers:
            if c.p.poll() is None: c.p.send_signal(signal.SIGTERM)
        for c in consumers: c.p.wait()
stop.set()
producer.stdin.close()
producer.wait()
for mode, values in results.items():
    print(f"| {mode} | session.timeout.ms={session}, heartbeat {heartbeat} ms | {statistics.median(values) * 1000:,.0f} ms "
          f"({min(values) * 1000:,.0f} – {max(values) * 1000:,.0f}) |")
PY
