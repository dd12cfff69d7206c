#!/usr/bin/env bash
# Formats the given Swift files (default: every tracked one) with the root .swift-format.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "$#" -eq 0 ]; then set -- $(git ls-files '*.swift'); fi
swift format format --in-place --configuration .swift-format "$@"
