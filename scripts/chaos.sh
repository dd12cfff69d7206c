#!/usr/bin/env bash
# Chaos runs against 3 local ternd processes: an idempotent acks=all producer and a consumer on a
# topic with replication factor 3 and min.insync.replicas=2, while random faults from a seeded
# generator hit the brokers (kill -9 and restart, SIGSTOP past the session timeout then SIGCONT,
# a node isolated through the proxies every inter-broker link goes through, SIGTERM and restart);
# then the faults heal and the history is checked (lost, duplicated, reordered, changed,
# never-sent-but-visible and seen-then-truncated records). One line per run and a total; exits
# non-zero on any violation or failed run.
#
# Usage: scripts/chaos.sh [--runs N] [--seed S] [--debug] [--short] [tern-chaos options...]
#   --runs N   runs, each on a fresh cluster (default 1); run i uses seed S+i
#   --seed S   the first run's seed (default: from the clock; printed)
#   --debug    debug build in .build (what CI has built already) instead of release in .build-release
#   --short    8 s of faults per run instead of 25 (CI: scripts/chaos.sh --runs 2 --debug --short)
# Other options (--seconds T, --rate R, --partitions P, --no-faults, --keep, --set KEY=VALUE) go to tern-chaos;
# see `tern-chaos --help`. A failing run keeps its data directories and broker logs (path printed).
set -euo pipefail
cd "$(dirname "$0")/.."
configuration=release
arguments=()
while [ "$#" -gt 0 ]; do
    case "$1" in
        --debug) configuration=debug; shift ;;
        *) arguments+=("$1"); shift ;;
    esac
done
if [ "$configuration" = release ]; then
    swift build -c release --scratch-path .build-release --product ternd >&2
    swift build -c release --scratch-path .build-release --product tern-chaos >&2
    bin=.build-release/release
else
    swift build --product ternd >&2
    swift build --product tern-chaos >&2
    bin=.build/debug
fi
TERN_BIN_DIR="$(pwd)/$bin" exec "$bin/tern-chaos" "${arguments[@]+"${arguments[@]}"}"
