#!/usr/bin/env bash
# Runs many seeds of a simulation with a release build and prints every failure with the command
# that replays it. Usage: scripts/simulate.sh [--replication] [--seeds N] [--start S]
# (default: the TernRaft simulation, 100000 seeds from 1; --replication: the partition-replication
# simulation instead). Exits non-zero if any seed fails.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=100000
start=1
product=raft-sim
while [ "$#" -gt 0 ]; do
    case "$1" in
        --seeds) seeds="$2"; shift 2 ;;
        --start) start="$2"; shift 2 ;;
        --replication) product=replication-sim; shift ;;
        *) echo "usage: scripts/simulate.sh [--replication] [--seeds N] [--start S]" >&2; exit 64 ;;
    esac
done
swift build -c release --scratch-path .build-release --product "$product" >&2
exec ".build-release/release/$product" --seeds "$seeds" --start "$start"
