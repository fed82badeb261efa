#!/bin/sh
# test_launch_net.sh - launch's tap handling on a real kernel, inside a
# private network namespace (unshare -n -m, as root): a missing bridge is
# reported, a tap is brought up and put into its bridge, --dry-run creates
# no tap, and net-setup changes nothing when part of its input is bad.  The
# boots run on fake-lgbox (tests/fake_guest.c stands in for /dev/lguest), so
# no lg.ko is needed.
# Needs LGBOX, LGBOX_FAKE, root, unshare and /dev/net/tun.

: "${LGBOX:?LGBOX must name the lgbox binary}"
: "${LGBOX_FAKE:?LGBOX_FAKE must name the fake-lgbox binary}"
if [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null || [ ! -c /dev/net/tun ]; then
	echo "XFAIL: test_launch_net.sh:all: needs root, unshare and /dev/net/tun"
	exit 0
fi
if [ -z "$LGBOX_IN_NETNS" ]; then
	# A mount namespace too, so /sys can show this network namespace.
	LGBOX_IN_NETNS=1 exec unshare -n -m sh -c 'mount -t sysfs sysfs /sys && exec sh "$0"' "$0"
fi

. "$(dirname "$0")/lib.sh"
tiny_guest "$tmp/guest.elf"
# A boot of a guest that powers off after a moment.
L() { "$LGBOX_FAKE" launch --kernel "$tmp/guest.elf" --memory 32M --run-dir "$tmp/run" \
	--cmdline fake.run=0.2 "$@"; }

"$LGBOX" launch --dry-run --kernel "$tmp/guest.elf" --memory 32M --net tap:lgt9 > "$tmp/out" 2>&1
status=$?
if [ $status -eq 0 ] && [ ! -e /sys/class/net/lgt9 ] && grep -q "devices: 2" "$tmp/out"; then
	pass dry_run_creates_no_tap
else
	fail dry_run_creates_no_tap "status $status, $(ls /sys/class/net | tr '\n' ' '): $(cat "$tmp/out")"
fi

L --net tap:lgt0,bridge=nobr > "$tmp/out" 2>&1
status=$?
if [ $status -eq 1 ] && grep -q "no bridge nobr (create it with 'lgbox net-setup bridge nobr')" "$tmp/out"; then
	pass missing_bridge_is_reported
else
	fail missing_bridge_is_reported "status $status: $(cat "$tmp/out")"
fi

# A persistent tap outlives launch, so where launch put it can be checked.
"$LGBOX" net-setup --state "$tmp/ns.state" bridge br0 >/dev/null &&
	"$LGBOX" net-setup --state "$tmp/ns.state" tap lgt1 >/dev/null ||
	fail net_setup "cannot create br0 and lgt1"
L --net tap:lgt1,bridge=br0,mac=02:00:00:00:00:07 > "$tmp/out" 2>&1
status=$?
master=$(basename "$(readlink /sys/class/net/lgt1/master 2>/dev/null)")
flags=$(cat /sys/class/net/lgt1/flags 2>/dev/null)
if [ $status -eq 0 ] && [ "$master" = br0 ] && [ $((flags & 1)) = 1 ] &&
   grep -q "fake guest: boot 1" "$tmp/out"; then
	pass tap_up_in_bridge
else
	fail tap_up_in_bridge "status $status, master '$master', flags $flags: $(cat "$tmp/out")"
fi

# net-setup checks the whole command, and the whole setup file, before it changes anything.
"$LGBOX" net-setup --state "$tmp/ns.state" addr lo 10.77.0.1/24 10.77.0.300/24 2>/dev/null
status=$?
if [ $status -eq 2 ] && ! ip -4 addr show dev lo | grep -q 10.77.0.1; then
	pass net_setup_bad_second_address_adds_none
else
	fail net_setup_bad_second_address_adds_none "status $status: $(ip -4 addr show dev lo)"
fi
printf 'bridge br-early
tap tap-early --bridge br-early
route 10.9.0.0/16 via
' > "$tmp/setup"
"$LGBOX" net-setup --state "$tmp/ns.state" apply "$tmp/setup" 2>/dev/null
status=$?
if [ $status -eq 2 ] && [ ! -e /sys/class/net/br-early ] && [ ! -e /sys/class/net/tap-early ]; then
	pass net_setup_apply_runs_no_line_before_a_syntax_error
else
	fail net_setup_apply_runs_no_line_before_a_syntax_error "status $status: $(ls /sys/class/net | tr '\n' ' ')"
fi

[ $failures -eq 0 ]
