#!/usr/bin/env bash
# Checks scripts/systemd/ternd.service with `systemd-analyze verify`, pointing ExecStart at a
# built ternd (default .build/debug/ternd) since /usr/local/bin/ternd may not be installed here.
set -euo pipefail
cd "$(dirname "$0")/../.."
if ! command -v systemd-analyze >/dev/null; then
    echo "systemd-analyze not installed: unit not verified"
    exit 0
fi
binary="$(pwd)/${1:-.build/debug/ternd}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
sed "s|/usr/local/bin/ternd|$binary|" scripts/systemd/ternd.service >"$work/ternd.service"
systemd-analyze verify "$work/ternd.service"
echo "systemd unit verified"
