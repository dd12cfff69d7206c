#!/usr/bin/env bash
# Runs many seeds of the TernRaft simulation with a release build and prints every failure with
# the command that replays it. Usage: scripts/simulate.sh [--seeds N] [--start S]
# (default 100000 seeds from 1). Exits non-zero if any seed fails.
set -euo pipefail
cd "$(dirname "$0")/.."
seeds=100000
start=1
while [ "$#" -gt 0 ]; do
    case "$1" in
        --seeds) seeds="$2"; shift 2 ;;
        --start) start="$2"; shift 2 ;;
        *) echo "usage: scripts/simulate.sh [--seeds N] [--start S]" >&2; exit 64 ;;
    esac
done
swift build -c release --scratch-path .build-release --product raft-sim >&2
exec .build-release/release/raft-sim --seeds "$seeds" --start "$start"
