#!/bin/sh
# run-tests.sh PROGRAM... - runs lgbox unit tests (test programs and
# test_*.sh scripts), passes their PASS:/FAIL:/XFAIL: lines through and ends
# with "N passed, N failed".  A test that exits non-zero without printing a
# FAIL: line (a crash, a sanitizer report) counts as one failure, so nothing
# can fail silently.  Exit status is non-zero iff something failed.

passed=0
failed=0
out=$(mktemp)
trap 'rm -f "$out"' EXIT

for t in "$@"; do
	name=$(basename "$t")
	case "$t" in
	*.sh) sh "$t" >"$out" ;;
	*) "$t" >"$out" ;;
	esac
	status=$?
	cat "$out"
	p=$(grep -c '^PASS: ' "$out")
	f=$(grep -c '^FAIL: ' "$out")
	if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
		echo "FAIL: $name: exited with status $status without reporting a failing case"
		f=1
	fi
	passed=$((passed + p))
	failed=$((failed + f))
done

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
