#!/bin/sh
# lg.sh: what lg.ko's basic operations cost, beside the nearest native
# operation measured in the same appliance boot (make bench runs it).
#
# Boots the host appliance from $O/images in QEMU TCG (through
# kernel/tests/appliance-hook.py and the harness tests/lib/appliance.py) with
# the init hook lgbox.test=/usr/lib/lgbox/tests/bench, which runs the test
# guest's bench mode and kernel/tests/bench-native, and prints their TSC
# cycle counts side by side with the ratio guest/native:
#
#   null hypercall (LHCALL_NOP)              vs getpid()
#   guest-user syscall reflected and back    vs getpid()
#   demand-filled page fault (first touch)   vs first touch of fresh mmap memory
#   pending timer irq delivered (upcall+IRET) vs kill(self, SIGUSR1) to a handler
#   wakeup from LHCALL_HALT after deadline   vs timerfd read() after deadline
#
# Under TCG both sides are emulated, so the ratios (not the absolute
# cycles) are the figures to compare.  Environment: O (default output),
# LG_BENCH_TIMEOUT (seconds, default 1200).

export O="${O:-output}"
IMAGES=$O/images
TIMEOUT=${LG_BENCH_TIMEOUT:-1200}
LOG=$(mktemp /tmp/lg-bench.XXXXXX) || exit 1
trap 'rm -f "$LOG"' EXIT

die() {
	echo "bench/lg.sh: $*" >&2
	exit 1
}

[ -f "$IMAGES/bzImage" ] || die "no $IMAGES/bzImage: build the appliance first (make)"
[ -f "$O/build/lg-tests/bench" ] ||
	die "the appliance has no lg benchmark ($O/build/lg-tests/bench): enable HOST_LG_TESTS"

python3 kernel/tests/appliance-hook.py "$TIMEOUT" /usr/lib/lgbox/tests/bench >"$LOG" || {
	tail -n 30 "$LOG" >&2
	die "the benchmark did not complete in the appliance (serial console above)"
}

# figure SIDE NAME: the cycles printed for one operation
figure() {
	sed -n "s/^$1 $2 //p" "$LOG" | head -n 1
}

echo "lg.ko benchmark, $(date -u +%Y-%m-%d) (TSC cycles per operation, QEMU TCG)"
echo "guest TSC $(figure guest tsc-khz) kHz, native TSC $(figure native tsc-khz) kHz"
printf '%-28s %12s   %-26s %12s %8s\n' "guest operation" cycles "native operation" cycles ratio
while read -r guest native; do
	g=$(figure guest "$guest")
	n=$(figure native "$native")
	if [ -z "$g" ] || [ -z "$n" ]; then
		die "missing figure for $guest or $native"
	fi
	printf '%-28s %12s   %-26s %12s %8s\n' "$guest" "$g" "$native" "$n" \
		"$(awk -v g="$g" -v n="$n" 'BEGIN { if (n > 0) printf "%.1fx", g / n; else print "-" }')"
done <<'EOF'
hypercall-nop getpid
user-syscall getpid
demand-fault first-touch-fault
timer-upcall signal-self
halt-wakeup-latency timerfd-wakeup-latency
EOF
