#!/bin/sh
# lg-suite.sh: the lg.ko test suite in the appliance, as part of `make test`.
#
# Boots the host appliance from $O/images in QEMU TCG through the harness
# tests/lib/appliance.py (kernel/tests/appliance-hook.py: the qemu-x86_64
# board's run script, as `make run` does) with the kernel command-line word
# lgbox.test=/usr/lib/lgbox/tests/run: init runs the suite
# (kernel/tests/run: every test-guest case in its own guest, the host's
# kernel log, rmmod lg), prints "lgbox-test-end status=N" and powers off.
# This script relays the suite's PASS/FAIL/XFAIL lines and fails if the
# appliance never reached the end marker.  It does so twice: with TCG's
# "max" CPU and with the plain qemu64 model (cases prefixed "qemu64/").
# Without images, lg.ko or the installed suite it prints one XFAIL line
# saying what is missing.
#
# Environment: O (output directory, default output), LG_SUITE_TIMEOUT
# (seconds for the whole boot, default 300; the suite takes well under a
# minute, so a timeout means the host hung).
# shellcheck shell=dash

export O="${O:-output}"
IMAGES=$O/images
TIMEOUT=${LG_SUITE_TIMEOUT:-300}
RUNNER=/usr/lib/lgbox/tests/run
LOG=$(mktemp /tmp/lg-suite.XXXXXX) || exit 1
trap 'rm -f "$LOG" "$LOG.lines"' EXIT

missing() {
	echo "XFAIL: lg-suite: $1"
	exit 0
}

[ -f "$IMAGES/bzImage" ] || missing "no $IMAGES/bzImage (build the appliance with make first)"
ls "$IMAGES"/host-initramfs.cpio* >/dev/null 2>&1 ||
	missing "no host initramfs in $IMAGES"
[ -f "$O/build/lg/lg.ko" ] || missing "lg.ko was not built ($O/build/lg/lg.ko is missing)"
[ -f "$O/build/lg-tests/testguest.elf" ] ||
	missing "the test guest was not built ($O/build/lg-tests/testguest.elf is missing)"
. "$(dirname "$0")/lib/setup.sh"
need_tools qemu-system-x86_64:qemu-system-x86 python3:python3

# run_suite LABEL [QEMU-ARGS]: relay one boot's results; case names get
# "LABEL/" in front unless LABEL is empty.  Returns non-zero if the suite
# failed or never finished.
run_suite() {
	local label=$1 prefix='' end

	shift
	[ -n "$label" ] && prefix="$label/"
	python3 kernel/tests/appliance-hook.py "$TIMEOUT" "$RUNNER" "$@" >"$LOG"
	end=$(sed -n 's/^lgbox-test-end status=//p' "$LOG" | tail -n 1)
	grep -E '^(PASS|FAIL|XFAIL): |^    \| ' "$LOG" |
		sed -E "s#^(PASS|FAIL|XFAIL): #\1: $prefix#" >"$LOG.lines"
	cat "$LOG.lines"
	if [ -z "$end" ]; then
		echo "FAIL: ${prefix}lg-suite: the appliance never finished the suite;" \
			"last lines of the serial console:"
		tail -n 30 "$LOG" | sed 's/^/    | /'
		return 1
	fi
	if [ "$end" != 0 ] && ! grep -q '^FAIL: ' "$LOG.lines"; then
		echo "FAIL: ${prefix}lg-suite: the suite exited with status $end without a FAIL line"
	fi
	[ "$end" = 0 ]
}

# TCG's "max" CPU has SMEP, SMAP, UMIP, FSGSBASE, XSAVE; qemu64 has none of
# them, so lg.ko's fallbacks run too.
status=0
run_suite "" || status=1
run_suite qemu64 -cpu qemu64 || status=1
exit $status
