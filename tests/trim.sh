#!/bin/bash
# trim.sh: the minimal defconfig must really remove what it trims, at every level a user can
# see: the lgbox .config, the generated kernel config, and lgbox --list of the built binary.
#
# It configures a second output tree ($O/trim) from minimal_defconfig, sharing the already
# extracted kernel source and headers of $O, and builds only the kernel config and lgbox:
# trimming is decided there, so no second kernel build is needed. Each trimmed item is also
# checked present in the default build ($O), so the test cannot pass by checking nothing.
set -uo pipefail

O=$(realpath -m "${O:-output}")
trim=$O/trim
. "$(dirname "$0")/lib/setup.sh"

# config_value CONFIG SYMBOL: y, a value, or n when unset/absent
config_value() {
	sed -n "s/^$2=\(.*\)/\1/p" "$1" | grep . || echo n
}

# expect_trimmed WHAT CONFIG_DEFAULT CONFIG_TRIM SYMBOL
expect_trimmed() {
	local default trimmed
	default=$(config_value "$2" "$4")
	trimmed=$(config_value "$3" "$4")
	if [ "$default" != y ]; then
		fail "$1: $4" "the default build has $4=$default, so trimming it proves nothing"
	elif [ "$trimmed" != n ]; then
		fail "$1: $4" "minimal_defconfig still has $4=$trimmed in $3"
	else
		pass "$1: $4 only in the default build"
	fi
}

rm -rf "$trim"
if ! make -s O="$trim" minimal_defconfig >"$O/trim.log" 2>&1 ||
	! make -s O="$trim" LINUX_SRC="$O/build/linux-source-6.1" LINUX_HEADERS="$O/build/linux-headers" \
		linux-config lgbox >>"$O/trim.log" 2>&1; then
	fail "build the minimal configuration" "see $O/trim.log: $(tail -n 1 "$O/trim.log")"
	exit 1
fi

for symbol in CONFIG_GUEST_VIRTIO_NET CONFIG_GUEST_VIRTIO_RNG CONFIG_LGBOX_NET_SETUP \
	CONFIG_LGBOX_BLOCK_EXPORT; do
	expect_trimmed ".config" "$O/.config" "$trim/.config" "$symbol"
done
for symbol in CONFIG_VIRTIO_NET CONFIG_HW_RANDOM_VIRTIO; do
	expect_trimmed "kernel config" "$O/build/linux/.config" "$trim/build/linux/.config" "$symbol"
done

if [ ! -x "$O/build/lgbox/lgbox" ]; then
	echo "XFAIL: lgbox --list: lgbox is not built yet (no lgbox/Makefile)"
else
	default_applets=$("$O/build/lgbox/lgbox" --list)
	trimmed_applets=$("$trim/build/lgbox/lgbox" --list)
	for applet in net-setup block-export; do
		if ! grep -qx "$applet" <<<"$default_applets"; then
			fail "lgbox --list: $applet" "the default lgbox lacks $applet, so trimming proves nothing"
		elif grep -qx "$applet" <<<"$trimmed_applets"; then
			fail "lgbox --list: $applet" "the minimal lgbox still lists $applet"
		else
			pass "lgbox --list: $applet only in the default build"
		fi
	done
	# the kept applets must still be there: trimming is selective, not a broken build
	if grep -qx launch <<<"$trimmed_applets"; then
		pass "lgbox --list: launch kept in the minimal build"
	else
		fail "lgbox --list: launch kept" "the minimal lgbox lists only: $(echo $trimmed_applets)"
	fi
fi
[ "$failures" -eq 0 ]
