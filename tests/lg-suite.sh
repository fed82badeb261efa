#!/bin/sh
# lg-suite.sh: the lg.ko test suite in the appliance, as part of `make test`.
#
# Boots the host appliance from $O/images in QEMU TCG (board/qemu-x86_64/run,
# the same path as `make run` and tests/lib/appliance.py) with the kernel
# command-line word lgbox.test=/usr/lib/lgbox/tests/run: init runs the suite
# (kernel/tests/run: every test-guest case in its own guest, the host's
# kernel log, rmmod lg), prints "lgbox-test-end status=N" and powers off.
# This script relays the suite's PASS/FAIL/XFAIL lines and fails if the
# appliance never reached the end marker.  It does so twice: with TCG's
# "max" CPU and with the plain qemu64 model (cases prefixed "qemu64/").  Without images, lg.ko or the
# installed suite it prints one XFAIL line saying what is missing.
#
# Environment: O (output directory, default output), LG_SUITE_TIMEOUT
# (seconds for the whole boot, default 600; the suite takes well under a
# minute, so a timeout means the host hung).
# shellcheck shell=dash

O=${O:-output}
IMAGES=$O/images
TIMEOUT=${LG_SUITE_TIMEOUT:-600}
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
command -v qemu-system-x86_64 >/dev/null || apt-get install -y qemu-system-x86 >/dev/null ||
	{ echo "FAIL: lg-suite: qemu-system-x86_64 is missing and apt-get could not install it"; exit 1; }

# run_suite LABEL [QEMU-ARGS]: one appliance boot running the whole suite;
# case names get "LABEL/" in front unless LABEL is empty.  Returns non-zero
# if the suite failed or never finished.
run_suite() {
	local label=$1 prefix='' end qemu_status

	shift
	[ -n "$label" ] && prefix="$label/"
	LGBOX_IMAGES=$IMAGES LGBOX_MEMORY=512 \
	LGBOX_CMDLINE="console=ttyS0 panic=-1 lgbox.test=$RUNNER" \
		timeout "$TIMEOUT" board/qemu-x86_64/run "$@" </dev/null >"$LOG" 2>&1
	qemu_status=$?

	# the runner's own lines, without the serial console's carriage returns
	tr -d '\r' <"$LOG" | grep -E '^(PASS|FAIL|XFAIL): |^    \| ' |
		sed -E "s#^(PASS|FAIL|XFAIL): #\1: $prefix#" >"$LOG.lines"
	cat "$LOG.lines"
	end=$(tr -d '\r' <"$LOG" | sed -n 's/^lgbox-test-end status=//p' | tail -n 1)
	if [ -z "$end" ]; then
		echo "FAIL: ${prefix}lg-suite: the appliance never finished the suite" \
			"(QEMU exit $qemu_status); last lines of the serial console:"
		tr -d '\r' <"$LOG" | tail -n 30 | sed 's/^/    | /'
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
