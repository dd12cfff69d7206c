#!/usr/bin/env bash
# Failover time of a replicated partition for docs/benchmarks.md: 3 controller-only nodes (the
# metadata quorum) and 3 broker-only nodes on loopback, default broker.session.timeout.ms (9000)
# and heartbeat interval; per run a new topic with 1 partition, replication factor 3 and
# min.insync.replicas=2. `tern perf failover` sends 1,000 records/s of 100 B to it with the SDK's
# defaults (acks=all, idempotence on) and times every acknowledgement; 3 s in, the partition's
# leader gets SIGKILL (kill -9) or SIGTERM (controlled shutdown). Measured on CLOCK_MONOTONIC:
#   to new leader's first ack: from the signal to the first acknowledgement of a record stored at
#                              or above the new leader epoch's start offset (its
#                              leader-epoch-checkpoint): the producer's next acknowledged record
#                              written by the new leader. (After SIGTERM the old leader may still
#                              acknowledge records until it hands leadership over.)
#   longest ack gap:           the longest time between two consecutive acknowledgements.
# Then the partition is read back: every acknowledged record exactly once, at its acknowledged
# offset, in order (the run fails otherwise). The stopped broker is restarted and the in-sync set
# heals before the next run.
#   usage: scripts/bench-failover.sh [runs]   (default 5; each run is one kill -9 and one SIGTERM)
#   BIN=<dir with ternd and tern> picks the binaries (default: build release into .build-release).
#   SETTINGS="key=value ..." adds --set overrides to every node (documented runs use none).
#   VERBOSE=1 logs the SDK's debug lines into the perf tool's log.
#   MODES="kill term" picks the signals (default both). A failing run keeps the nodes' and the
#   perf tool's logs (the directory is printed).
set -euo pipefail
cd "$(dirname "$0")/.."
runs="${1:-5}"
if [ -z "${BIN:-}" ]; then
    swift build -c release --scratch-path .build-release --product ternd >/dev/null
    swift build -c release --scratch-path .build-release --product tern >/dev/null
    BIN="$(pwd)/.build-release/release"
fi
work=$(mktemp -d)
echo "machine: $(nproc) cores, $(uname -sr), load $(cut -d' ' -f1-3 /proc/loadavg), binaries $BIN"
status=0
python3 - "$BIN" "$work" "$runs" "${SETTINGS:-}" "${MODES:-kill term}" <<'PY' || status=$?
import datetime, glob, json, os, re, signal, socket, statistics, subprocess, sys, time
bin, work, runs, extra, modes = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split(), sys.argv[5].split()
def free():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p
controllers = {i: free() for i in (1, 2, 3)}
brokers = {i: free() for i in (4, 5, 6)}
voters = ",".join(f"{i}@127.0.0.1:{p}" for i, p in controllers.items())
bootstrap = ",".join(f"127.0.0.1:{p}" for p in brokers.values())
procs = {}
def start(i):
    roles, listener = ("controller", f"CONTROLLER://127.0.0.1:{controllers[i]}") if i in controllers \
        else ("broker", f"PLAINTEXT://127.0.0.1:{brokers[i]}")
    args = [f"{bin}/ternd", "--set", f"node.id={i}", "--set", f"process.roles={roles}", "--set", f"listeners={listener}",
            "--set", f"controller.quorum.voters={voters}", "--set", f"log.dirs={work}/data-{i}", "--set", "admin.listeners="]
    for setting in extra: args += ["--set", setting]
    procs[i] = subprocess.Popen(args, stderr=open(f"{work}/node{i}.log", "a"), stdout=subprocess.DEVNULL)
def tern(*args, timeout=30):
    return subprocess.run([f"{bin}/tern", "--bootstrap", bootstrap, *args], capture_output=True, text=True, timeout=timeout)
def describe(topic):
    r = tern("topic", "describe", topic, "--json")
    return json.loads(r.stdout)["partitions"][0] if r.returncode == 0 else None
def wait(cond, seconds, what):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if cond(): return
        except (ValueError, KeyError, IndexError, TypeError, subprocess.TimeoutExpired):
            pass
        time.sleep(0.2)
    sys.exit(f"timed out waiting for {what}; logs in {work}")
def described(topic):
    """describe(), retried for up to 30 s (a broker may be restarting)."""
    for _ in range(150):
        try:
            state = describe(topic)
            if state: return state
        except (ValueError, KeyError, IndexError, subprocess.TimeoutExpired):
            pass
        time.sleep(0.2)
    sys.exit(f"cannot describe {topic}; logs in {work}")
def epoch_start(node, topic, after_offset):
    """Start offset of the first leader epoch that begins above `after_offset`, from the node's checkpoint."""
    for path in glob.glob(f"{work}/data-{node}/**/{topic}-0/leader-epoch-checkpoint", recursive=True):
        lines = open(path).read().split("\n")
        entries = [tuple(map(int, line.split())) for line in lines[2:] if line.strip()]
        starts = [start for _, start in entries if start > after_offset]
        if starts: return min(starts)
    return None
def logged_after(t0_wall, pattern, nodes):
    """Milliseconds from t0_wall (wall clock) to the first line of the nodes' logs matching
    `pattern` stamped after it; None when there is none. Log stamps have millisecond resolution."""
    best = None
    for node in nodes:
        for line in open(f"{work}/node{node}.log", errors="replace"):
            if not re.search(pattern, line): continue
            stamp = datetime.datetime.strptime(line[:23], "%Y-%m-%dT%H:%M:%S.%f").replace(tzinfo=datetime.timezone.utc).timestamp()
            if stamp >= t0_wall - 0.001 and (best is None or stamp < best): best = stamp
    return None if best is None else round((best - t0_wall) * 1000)
def run_once(mode, run):
    topic = f"failover-{mode}-{run}"
    wait(lambda: tern("topic", "create", topic, "--partitions", "1", "--replication-factor", "3",
                      "--config", "min.insync.replicas=2").returncode == 0 or describe(topic), 60, f"creating {topic}")
    wait(lambda: len(describe(topic)["isr"]) == 3, 60, f"{topic}'s in-sync set")
    leader = described(topic)["leader"]
    seconds = 20 if mode == "kill" else 10
    acklog = f"{work}/{topic}.acks"
    perf = subprocess.Popen([f"{bin}/tern", "--bootstrap", bootstrap, "perf", "failover", "--topic", topic,
                             "--throughput", "1000", "--seconds", str(seconds), "--ack-log", acklog, "--json"]
                            + (["--verbose"] if os.environ.get("VERBOSE") else []),
                            stdout=subprocess.PIPE, stderr=open(f"{work}/perf.log", "a"), text=True)
    time.sleep(3)
    t0_wall = time.time()
    t0 = time.monotonic_ns()
    procs[leader].send_signal(signal.SIGKILL if mode == "kill" else signal.SIGTERM)
    procs[leader].wait()
    stopped = (time.monotonic_ns() - t0) / 1e6
    out, _ = perf.communicate(timeout=seconds + 120)
    summary = json.loads(out.strip().splitlines()[-1])
    acks = [tuple(map(int, line.split())) for line in open(acklog) if not line.startswith("#")]
    before = [a for a in acks if a[3] < t0]
    after = [a for a in acks if a[3] >= t0]
    new_leader = described(topic)["leader"]
    start_offset = epoch_start(new_leader, topic, max((a[1] for a in before), default=-1))
    firsts = [a[3] for a in after if start_offset is not None and a[1] >= start_offset]
    first_new = (min(firsts) - t0) / 1e6 if firsts else None
    first_any = (min(a[3] for a in after) - t0) / 1e6 if after else None
    fenced = logged_after(t0_wall, r"fencing brokers whose sessions expired", controllers) if mode == "kill" else None
    elected = logged_after(t0_wall, rf"replica role changed role=leader .*tern_topic={topic}\b", brokers)
    ok = perf.returncode == 0 and summary["lost"] == 0 and summary["duplicated"] == 0 and summary["moved"] == 0 \
        and summary["reordered"] == 0 and summary["failed"] == 0
    print(f"{mode} run {run}: leader {leader} -> {new_leader}; exited after {stopped:.0f} ms; "
          + (f"fenced after {fenced} ms; " if mode == "kill" else "")
          + f"new leader's replica leads after {elected} ms; first ack after signal "
          f"{first_any if first_any is None else round(first_any)} ms; new leader's first ack "
          f"{first_new if first_new is None else round(first_new)} ms (epoch start offset {start_offset}); longest ack gap "
          f"{summary['longest_gap_ms']} ms; acked {summary['acknowledged']}/{summary['sent']}, failed {summary['failed']}, "
          f"lost {summary['lost']}, duplicated {summary['duplicated']}, moved {summary['moved']}, "
          f"reordered {summary['reordered']}{'' if ok else '  <-- FAILED'}", flush=True)
    start(leader)
    wait(lambda: len(describe(topic)["isr"]) == 3, 120, f"{topic}'s in-sync set to heal")
    return ok, first_new, summary["longest_gap_ms"]
try:
    for i in list(controllers) + list(brokers): start(i)
    wait(lambda: tern("cluster", "health").returncode == 0, 120, "the cluster to form")
    results = {"kill": [], "term": []}
    for run in range(1, runs + 1):
        for mode in modes:
            results[mode].append(run_once(mode, run))
    failed = False
    for mode, label in (("kill", "kill -9"), ("term", "SIGTERM")):
        if mode not in modes: continue
        firsts = [r[1] for r in results[mode] if r[1] is not None]
        gaps = [r[2] for r in results[mode]]
        failed |= not all(r[0] for r in results[mode]) or len(firsts) < len(results[mode])
        if firsts:
            print(f"{label}: new leader's first ack median {statistics.median(firsts):.0f} ms, min {min(firsts):.0f}, "
                  f"max {max(firsts):.0f}; longest ack gap median {statistics.median(gaps):.0f} ms, min {min(gaps):.0f}, "
                  f"max {max(gaps):.0f} over {len(results[mode])} runs")
    sys.exit(1 if failed else 0)
finally:
    for p in procs.values():
        if p.poll() is None: p.send_signal(signal.SIGTERM)
    for p in procs.values():
        try: p.wait(timeout=30)
        except subprocess.TimeoutExpired: p.kill(); p.wait()
PY
if [ "$status" = 0 ]; then rm -rf "$work"; else echo "logs kept in $work"; fi
exit $status
