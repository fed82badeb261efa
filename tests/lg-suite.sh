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
# appliance never reached the end marker.  It does so three times: with
# TCG's "max" CPU on the board's CPUs (2), with the plain qemu64 model,
# 4 CPUs and slub_debug (cases prefixed "qemu64/"), and under Bochs with
# an Intel CPU model, one CPU (tests/lib/bochs.py; cases prefixed "bochs/").
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
need_tools qemu-system-x86_64:qemu-system-x86 python3:python3 bochs:bochs \
	syslinux:syslinux mcopy:mtools mkfs.vfat:dosfstools script:bsdutils

# run_suite LABEL [--cmdline WORD]... [--bochs CPU] [QEMU-ARGS]: relay one boot's results;
# case names get "LABEL/" in front unless LABEL is empty.  Returns non-zero
# if the suite failed or never finished.
run_suite() {
	local label=$1 prefix='' end words=''

	shift
	while [ "$1" = --cmdline ] || [ "$1" = --bochs ]; do
		words="$words $1 $2"
		shift 2
	done
	[ -n "$label" ] && prefix="$label/"
	# shellcheck disable=SC2086 # one word each
	python3 kernel/tests/appliance-hook.py $words "$TIMEOUT" "$RUNNER" "$@" >"$LOG"
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
# them, so lg.ko's fallbacks run too.  That run also checks the host's own
# memory use: every slab object lg.ko frees is poisoned and checked
# (slub_debug), and freed pages are unmapped (debug_pagealloc).
status=0
run_suite "" || status=1
run_suite qemu64 --cmdline slub_debug=FZPU --cmdline debug_pagealloc=on -cpu qemu64 -smp 4 ||
	status=1
# Bochs's Intel model keeps global and PCID-tagged translations as hardware does.
run_suite bochs --bochs broadwell_ult || status=1
exit $status
