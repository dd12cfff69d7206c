#!/usr/bin/env bash
# Cost of one ACL authorization check over 3,051 ACLs (docs/benchmarks.md, "ACL authorizer").
# Usage: scripts/bench-authorizer.sh [CHECKS]; with valgrind installed, also shows that the heap
# allocation count does not grow with the number of checks.
set -euo pipefail
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
for f in Sources/TernWire/Acl/AclBinding.swift Sources/TernBroker/Security/{AclIndex,AuthorizedResource,Authorizer,AuthorizerConfiguration}.swift; do
    grep -v '^import TernWire$' "$f" > "$work/$(basename "$f")"
done
cp scripts/bench-authorizer/main.swift "$work/main.swift"
swiftc -O -swift-version 6 -o "$work/bench" "$work"/*.swift
"$work/bench" "${1:-2000000}"
if command -v valgrind > /dev/null; then
    for n in 1000 101000; do
        echo "checks=$n: $(valgrind "$work/bench" "$n" 2>&1 | grep -o 'total heap usage.*')"
    done
fi
