#!/bin/sh
# run-fuzz.sh BUILD SECONDS fuzz_src...: run each libFuzzer target for
# SECONDS on a scratch copy of its corpus (tests/fuzz/corpus/NAME/). The
# corpus files, crash reproducers among them, are replayed first, so every
# crash ever found stays a regression test. Exits non-zero on any crash.
set -u
build=$1
seconds=$2
shift 2
status=0
for src in "$@"; do
    name=$(basename "$src" .c)
    bin="$build/tests/fuzz/$name"
    seeds="tests/fuzz/corpus/$name"
    work=$(mktemp -d)
    [ -d "$seeds" ] && cp -r "$seeds/." "$work/"
    # Replay the kept corpus once, then explore for a bounded time.
    if ! "$bin" -runs=0 "$work" >"$work.log" 2>&1 ||
       ! "$bin" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
            -artifact_prefix="$build/tests/fuzz/$name-" "$work" >>"$work.log" 2>&1; then
        echo "fuzz: $name FAILED; log follows"
        tail -n 60 "$work.log"
        status=1
    else
        echo "fuzz: $name ok ($(grep -c . "$work.log" | tr -d ' ') log lines, ${seconds}s)"
    fi
    rm -rf "$work" "$work.log"
done
exit $status
