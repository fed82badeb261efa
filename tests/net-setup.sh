#!/bin/sh
# net-setup system test (root): runs `lgbox net-setup` inside a fresh
# network namespace ("host") and reads the result back with iproute2's JSON
# output, so every check compares what the kernel really holds with what
# was asked.  Two more namespaces ("guest a", "guest b") are joined to the
# bridge net-setup made through veth pairs, and ping proves traffic passes
# (taps need a process holding them to carry traffic, so they are checked
# by their attributes: kind, owner, group, persistence, bridge, up).
# Idempotence: a second run changes no JSON state and reports no change.
# Teardown: the namespace returns to its exact state before the setup,
# pre-existing objects included.  Errors: exit codes and messages.
#
# Environment: O (output dir, default output), LGBOX (binary to test,
# default $O/build/lgbox/lgbox as the top-level make builds it; when that
# is missing, one is built with make -C lgbox into the test's directory).
set -u
cd "$(dirname "$0")/.."
O=${O:-output}

# check NAME WANT GOT: PASS when the two strings are equal
check_eq() {
	if [ "$2" = "$3" ]; then pass "$1"; else fail "$1" "wanted '$2', got '$3'"; fi
}

if [ "$(id -u)" != 0 ]; then
	echo "FAIL: setup: net-setup.sh needs root (network namespaces)"
	exit 1
fi
. tests/lib/setup.sh
need_tools ip:iproute2 jq:jq ping:iputils-ping
work=$(mktemp -d /tmp/lgbox-net-test.XXXXXX)
find_lgbox "$work" NET_SETUP
state=$work/net-setup.state
host=lgbox-test-host-$$
guest_a=lgbox-test-a-$$
guest_b=lgbox-test-b-$$

cleanup() {
	for ns in "$host" "$guest_a" "$guest_b"; do
		ip netns del "$ns" 2>/dev/null
	done
	rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

in_host() { ip netns exec "$host" "$@"; }
net_setup() { in_host "$LGBOX" net-setup --state "$state" "$@"; }
link_json() { in_host ip -j -d link show "$1" | jq -c "$2"; }
# addresses of a link as "ADDR/LEN" words, sorted, link-local left out
addrs_of() {
	in_host ip -j addr show "$1" |
		jq -r '[.[0].addr_info[] | select(.scope == "global") |
			"\(.local)/\(.prefixlen)"] | sort | join(" ")'
}
# The whole visible network state of the host namespace, as sorted JSON.
# Left out: bridge timers (they count down by themselves) and the qdisc,
# which the kernel attaches to a link the first time it goes up and keeps.
snapshot() {
	{
		in_host ip -j -d link show | jq -S 'sort_by(.ifname) | map(del(.qdisc)) |
			walk(if type == "object" then with_entries(select(.key | test("timer") | not))
			     else . end)'
		in_host ip -j addr show | jq -S '[.[] | {ifname, addr_info}] | sort_by(.ifname)'
		in_host ip -j route show
		in_host ip -j -6 route show
		in_host cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv6/conf/all/forwarding
	} 2>&1
}

# --- namespaces: host with a pre-existing bridge, two guests on veths ---
for ns in "$host" "$guest_a" "$guest_b"; do
	ip netns add "$ns" || { echo "FAIL: setup: ip netns add $ns"; exit 1; }
	# No duplicate address detection: addresses are usable (and stable) at once.
	ip netns exec "$ns" sh -c 'echo 0 >/proc/sys/net/ipv6/conf/all/accept_dad;
				   echo 0 >/proc/sys/net/ipv6/conf/default/accept_dad'
done
in_host ip link add br-keep type bridge
in_host ip link set br-keep up
for g in a b; do
	ns=$(eval echo \$guest_$g)
	in_host ip link add "veth-$g" type veth peer name eth0 netns "$ns"
	ip netns exec "$ns" ip link set eth0 up
	ip netns exec "$ns" ip link set lo up
done
ip netns exec "$guest_a" ip addr add 10.77.0.10/24 dev eth0
ip netns exec "$guest_b" ip addr add 10.77.0.11/24 dev eth0
ip netns exec "$guest_a" ip addr add fd77::10/64 dev eth0 nodad
ip netns exec "$guest_b" ip addr add fd77::11/64 dev eth0 nodad

if ip netns exec "$guest_a" ping -c1 -W1 10.77.0.11 >/dev/null 2>&1; then
	fail "control: guests cannot reach each other before net-setup" "ping passed"
else
	pass "control: guests cannot reach each other before net-setup"
fi

before=$(snapshot)
cat >"$work/setup.net" <<'EOF'
# a whole setup, as a deployment would write it
bridge br-lg --addr 10.77.0.1/24 --addr fd77::1/64
tap tap-lg0 --owner 4242 --group 4243 --bridge br-lg
tap tap-lg1 --owner nobody
addr tap-lg1 10.78.0.1/24
attach veth-a br-lg
attach veth-b br-lg
up veth-a
up veth-b
route 10.79.0.0/16 via 10.77.0.2
route fd79::/48 via fd77::2 dev br-lg
route 10.80.0.0/24 dev tap-lg1
forwarding on
bridge br-keep --addr 10.88.0.1/24
EOF

out=$(net_setup apply "$work/setup.net" 2>&1)
check_eq "apply a setup file" "0:" "$?:$out"

# --- state read back from the kernel ---
check_eq "bridge: kind and up" '"bridge" true' \
	"$(link_json br-lg '.[0].linkinfo.info_kind, (.[0].flags | index("UP") != null)' | tr '\n' ' ' | sed 's/ $//')"
check_eq "bridge: IPv4 and IPv6 addresses" "10.77.0.1/24 fd77::1/64" "$(addrs_of br-lg)"
check_eq "tap: persistent tap with numeric owner and group" \
	'{"type":"tap","persist":true,"user":4242,"group":4243}' \
	"$(link_json tap-lg0 '.[0].linkinfo.info_data | {type, persist, user, group}')"
check_eq "tap: attached to the bridge and up" '"br-lg" true' \
	"$(link_json tap-lg0 '.[0].master, (.[0].flags | index("UP") != null)' | tr '\n' ' ' | sed 's/ $//')"
check_eq "tap: owner given by user name" '"nobody"' "$(link_json tap-lg1 '.[0].linkinfo.info_data.user')"
check_eq "addr: address on a tap" "10.78.0.1/24" "$(addrs_of tap-lg1)"
check_eq "attach: veths are ports of the bridge" '"br-lg" "br-lg"' \
	"$(link_json veth-a '.[0].master') $(link_json veth-b '.[0].master')"
check_eq "route: IPv4 via gateway" '{"gateway":"10.77.0.2","dev":"br-lg","protocol":"static"}' \
	"$(in_host ip -j route show 10.79.0.0/16 | jq -c '.[0] | {gateway, dev, protocol}')"
check_eq "route: IPv6 via gateway" '{"gateway":"fd77::2","dev":"br-lg"}' \
	"$(in_host ip -j -6 route show fd79::/48 | jq -c '.[0] | {gateway, dev}')"
check_eq "route: on-link route" '{"dev":"tap-lg1","scope":"link"}' \
	"$(in_host ip -j route show 10.80.0.0/24 | jq -c '.[0] | {dev, scope}')"
check_eq "forwarding: IPv4 and IPv6 on" "1 1" \
	"$(in_host cat /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv6/conf/all/forwarding | tr '\n' ' ' | sed 's/ $//')"
check_eq "pre-existing bridge: address added" "10.88.0.1/24" "$(addrs_of br-keep)"

# --- traffic through the bridge ---
for target in 10.77.0.11 10.77.0.1 fd77::11 fd77::1; do
	if ip netns exec "$guest_a" ping -c1 -W2 "$target" >/dev/null 2>&1; then
		pass "traffic: guest a reaches $target through the bridge"
	else
		fail "traffic: guest a reaches $target through the bridge" "ping failed"
	fi
done

# --- idempotence ---
first=$(snapshot)
first_state=$(cat "$state")
out=$(net_setup -v apply "$work/setup.net" 2>&1)
check_eq "idempotence: second run succeeds and reports no change" "0:" "$?:$out"
if [ "$first" = "$(snapshot)" ]; then
	pass "idempotence: kernel state identical after the second run"
else
	fail "idempotence: kernel state identical after the second run" \
		"$(echo "$first" >"$work/first"; snapshot | diff "$work/first" - | head -20)"
fi
check_eq "idempotence: state file unchanged" "$first_state" "$(cat "$state")"

# --- errors: exit codes and messages ---
# expect_error NAME STATUS MESSAGE ARGS...: net-setup ARGS fails like that
expect_error() {
	name=$1 want_status=$2 want_message=$3
	shift 3
	out=$(net_setup "$@" 2>&1)
	status=$?
	if [ $status = "$want_status" ] && printf '%s\n' "$out" | grep -qF -- "$want_message"; then
		pass "error: $name"
	else
		fail "error: $name" "status $status (wanted $want_status), message: $out"
	fi
}
expect_error "bad CIDR is a usage error" 2 'invalid address "10.77.0.300/24"' addr br-lg 10.77.0.300/24
expect_error "missing interface is named" 1 'no network interface named "nope0"' attach nope0 br-lg
expect_error "kernel reason is shown" 1 'cannot add route to 10.99.0.1/16 via 10.77.0.2: Invalid argument (kernel: ' \
	route 10.99.0.1/16 via 10.77.0.2
expect_error "name taken by another kind" 1 'veth-a already exists but is a veth, not a bridge' bridge veth-a
expect_error "tap owner conflict" 1 'tap tap-lg0 already exists with a different owner' tap tap-lg0 --owner 4244
expect_error "conflicting route" 1 'a different route to 10.79.0.0/16 (via 10.77.0.2) already exists' \
	route 10.79.0.0/16 via 10.77.0.3
expect_error "unknown command" 2 'unknown command "brige"' brige br0
printf 'up br-lg\nattach tap-lg0 nobridge0\n' >"$work/bad.net"
expect_error "apply names file and line" 1 "$work/bad.net:2: no network interface named \"nobridge0\"" \
	apply "$work/bad.net"
check_eq "errors changed nothing" "$first_state" "$(cat "$state")"

# --- delete forgets, teardown restores ---
net_setup delete tap-lg1
check_eq "delete: link gone" "" "$(in_host ip -j link show tap-lg1 2>/dev/null | jq -r '.[0].ifname // empty')"
check_eq "delete: its records are forgotten" "" "$(grep ' tap-lg1' "$state")"
out=$(net_setup teardown 2>&1)
check_eq "teardown succeeds" "0:" "$?:$out"
after=$(snapshot)
if [ "$before" = "$after" ]; then
	pass "teardown: namespace back to its state before the setup"
else
	echo "$before" >"$work/before"
	fail "teardown: namespace back to its state before the setup" \
		"$(echo "$after" | diff "$work/before" - | head -20)"
fi
check_eq "teardown: pre-existing bridge kept" '"bridge"' "$(link_json br-keep '.[0].linkinfo.info_kind')"
check_eq "teardown: state file removed" "no" "$([ -e "$state" ] && echo yes || echo no)"

# A record teardown cannot undo (here: one it does not understand) is
# reported and kept; everything else is still undone.
net_setup bridge br-x
sed -i '1a frobnicate lo' "$state"
out=$(net_setup teardown 2>&1)
status=$?
check_eq "teardown: undoable record reported, exit 1" \
	'1:lgbox net-setup: teardown: cannot undo "frobnicate lo" (kept in '"$state"'): Invalid argument' \
	"$status:$out"
check_eq "teardown: the rest is still undone" "" \
	"$(in_host ip -j link show br-x 2>/dev/null | jq -r '.[0].ifname // empty')"
check_eq "teardown: the failed record is kept" "frobnicate lo" "$(grep -v '^#' "$state")"

[ $failures -eq 0 ]
