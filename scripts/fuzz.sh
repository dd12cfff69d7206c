#!/usr/bin/env bash
# Builds the libFuzzer targets (cached in .build-fuzz) and runs one or all of them.
#
#   scripts/fuzz.sh [TARGET|all] [SECONDS]   run TARGET (default all, one after another) for SECONDS each (default 60)
#   scripts/fuzz.sh --list                   the targets, their -max_len and what they decode
#   scripts/fuzz.sh --seeds                  regenerate Fuzz/Corpus/<target>/ from real encodes
#   TERN_FUZZ_RUNS=10000000 scripts/fuzz.sh all 3600   stop each target at 10 million executions
#   TERN_FUZZ_TIMEOUT=60 scripts/fuzz.sh all 600       a slower input counts as a hang (default 10 s)
#
# Seeds come from Fuzz/Corpus/<target>/ (read only); inputs the fuzzer finds go to a working
# corpus, and crashes to artifacts, under $TERN_FUZZ_DIR (default /tmp/tern-fuzz), outside the
# repository. Each run prints its executions and appends them to $TERN_FUZZ_DIR/runs.tsv.
# Runs at nice 19, one fuzzer process at a time. Not part of CI: the targets only exist in a
# manifest read with TERN_FUZZ set (see Package.swift).
set -euo pipefail
cd "$(dirname "$0")/.."

work="${TERN_FUZZ_DIR:-/tmp/tern-fuzz}"
rss_limit_mb="${TERN_FUZZ_RSS_MB:-2048}"
# Optional: stop a target after this many executions (-runs) even before SECONDS have passed.
runs="${TERN_FUZZ_RUNS:--1}"
# Seconds one input may take before libFuzzer reports a hang. Inputs take well under a
# millisecond; on a machine loaded by other builds a nice-19 fuzzer can be starved for longer
# than 10 s of wall time, which libFuzzer's wall-clock alarm reports as a timeout.
timeout="${TERN_FUZZ_TIMEOUT:-10}"

build() {
    # libFuzzer without its main: SwiftPM links an executable's main under another name, so
    # tern-fuzz has its own main that picks the target and calls LLVMFuzzerRunDriver.
    local swiftc runtime
    swiftc="$(readlink -f "$(command -v swiftc)")"
    runtime="$(ls "$(dirname "$swiftc")"/../lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-"$(uname -m)".a | head -1)"
    TERN_FUZZ=1 nice -n 10 swift build -c release --scratch-path .build-fuzz --product tern-fuzz \
        -Xswiftc -sanitize=address \
        -Xswiftc -sanitize-coverage=edge,inline-8bit-counters,trace-cmp,pc-table,indirect-calls \
        -Xswiftc -enable-testing \
        -Xlinker "$runtime" -Xlinker -lstdc++ >&2
}

binary=.build-fuzz/release/tern-fuzz

case "${1:-all}" in
    --list) build; exec "$binary" --list ;;
    --seeds) build; rm -rf Fuzz/Corpus; exec "$binary" --write-seeds Fuzz/Corpus ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
esac

target="${1:-all}"
seconds="${2:-60}"
build
if [ "$target" = all ]; then
    targets="$("$binary" --list | cut -d' ' -f1)"
else
    targets="$target"
fi

status=0
for name in $targets; do
    max_len="$("$binary" --list | awk -v t="$name" '$1 == t { print $2 }')"
    if [ -z "$max_len" ]; then echo "fuzz.sh: no target named '$name' (see --list)" >&2; exit 64; fi
    corpus="$work/corpus/$name"
    artifacts="$work/artifacts/$name"
    log="$work/logs/$name-$(date -u +%Y%m%dT%H%M%SZ).log"
    mkdir -p "$corpus" "$artifacts" "$work/logs"
    # Run a copy, so that rebuilding while a long run goes on does not replace the running binary.
    copy="$work/tern-fuzz.$$"
    cp "$binary" "$copy"
    result=ok
    # The working corpus comes first: libFuzzer adds what it finds there, never to the seeds.
    nice -n 19 "$copy" "$name" -max_len="$max_len" -rss_limit_mb="$rss_limit_mb" -timeout="$timeout" \
        -max_total_time="$seconds" -runs="$runs" -print_final_stats=1 -artifact_prefix="$artifacts/" \
        "$corpus" "Fuzz/Corpus/$name" >"$log" 2>&1 || result=CRASH
    rm -f "$copy"
    executions="$(awk '/stat::number_of_executed_units/ { print $2 }' "$log")"
    elapsed="$(awk -F'[ :]+' '/^Done [0-9]+ runs in/ { print $5 }' "$log")"
    executions="${executions:-0}"
    elapsed="${elapsed:-$seconds}"
    if [ "$result" = CRASH ]; then
        status=1
        echo "$name: CRASH after $executions executions; input: $(grep -o 'Test unit written to [^ ]*' "$log" | tail -1 | cut -d' ' -f5); log: $log"
        grep -m1 -E 'Fatal error|ERROR: AddressSanitizer|ERROR: libFuzzer' "$log" || true
    else
        echo "$name: $executions executions in ${elapsed}s ($(( executions / (elapsed > 0 ? elapsed : 1) )) exec/s), no crash"
    fi
    sed -n '/decoded per type/,$p' "$log" | grep -v '^stat::' || true
    printf '%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$name" "$executions" "$elapsed" "$result" >>"$work/runs.tsv"
done
exit "$status"
