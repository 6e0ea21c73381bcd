#!/bin/sh
# run-unit.sh: run each cmocka unit-test binary given as an argument and
# print one closing line "unit: N passed, N failed". Exits non-zero when any
# binary fails (or none was given).
passed=0
failed=0
failures=
if [ $# -eq 0 ]; then
    echo "run-unit.sh: no unit tests to run" >&2
    exit 1
fi
for t in "$@"; do
    if "$t"; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        failures="$failures $t"
    fi
done
[ -n "$failures" ] && echo "failed unit test programs:$failures"
echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
