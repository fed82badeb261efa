#!/bin/sh
# lg-fuzz.sh: the hypercall fuzzer's long run (make bench runs it; make test runs 20000
# calls inside the lg suite).
#
# Boots the host appliance from $O/images in QEMU TCG with the init hook
# lgbox.test=/usr/lib/lgbox/tests/fuzz (kernel/tests/fuzz: test guests in fuzz mode, one
# seed after the other, until they made LG_FUZZ_CALLS hypercalls between them; default
# 1000000) and prints the count, how the guests ended, and whether the host kept a clean
# kernel log and got its memory back.  Environment: O (default output), LG_FUZZ_CALLS,
# LG_FUZZ_TIMEOUT (seconds for the whole boot, default 3600).

export O="${O:-output}"
CALLS=${LG_FUZZ_CALLS:-1000000}
TIMEOUT=${LG_FUZZ_TIMEOUT:-3600}
LOG=$(mktemp /tmp/lg-fuzz.XXXXXX) || exit 1
trap 'rm -f "$LOG"' EXIT

[ -f "$O/build/lg-tests/fuzz" ] || {
	echo "bench/lg-fuzz.sh: the appliance has no fuzzer ($O/build/lg-tests/fuzz): build it (make)" >&2
	exit 1
}
start=$(date +%s)
python3 kernel/tests/appliance-hook.py --cmdline "lgbox.fuzz-calls=$CALLS" "$TIMEOUT" \
	/usr/lib/lgbox/tests/fuzz >"$LOG"
status=$?
echo "lg.ko hypercall fuzzer, $(date -u +%Y-%m-%d), QEMU TCG, $(( $(date +%s) - start )) s:"
sed -n 's/^FUZZ-FIGURE: /  /p' "$LOG"
grep -E '^(PASS|FAIL): ' "$LOG" | sed 's/^/  /'
if [ $status -ne 0 ]; then
	echo "bench/lg-fuzz.sh: the fuzzer failed or the host died (status $status); console:" >&2
	tail -n 30 "$LOG" >&2
	exit 1
fi
