#!/bin/bash
# build-errors.sh: bad input must stop the build with one line that says what is wrong.
#
# Cases: an unknown defconfig name, a corrupt source tarball in the download cache, and a
# kernel config fragment asking for an option Linux does not have. Each runs in a scratch
# output tree that shares the kernel source of $O (LINUX_SRC=), so nothing is rebuilt.
set -uo pipefail

O=$(realpath -m "${O:-output}")
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
failed=0
shared=(LINUX_SRC="$O/build/linux-source-6.1" LINUX_HEADERS="$O/build/linux-headers")

# expect_failure NAME PATTERN MAKE-ARGS...: make must fail, with exactly one "lgbox build:"
# line on stderr, matching PATTERN
expect_failure() {
	local name=$1 pattern=$2 errors reasons
	shift 2
	if make -s "$@" >"$scratch/out" 2>"$scratch/err"; then
		echo "FAIL: $name: make $* succeeded"
		failed=1
		return
	fi
	reasons=$(grep -c '^lgbox build: ' "$scratch/err")
	errors=$(grep '^lgbox build: ' "$scratch/err" | head -n 1)
	if [ "$reasons" -ne 1 ]; then
		echo "FAIL: $name: expected one 'lgbox build:' line, got $reasons: $(cat "$scratch/err")"
		failed=1
	elif ! grep -qE "$pattern" <<<"$errors"; then
		echo "FAIL: $name: the reason does not say /$pattern/: $errors"
		failed=1
	else
		echo "PASS: $name"
	fi
}

expect_failure "unknown defconfig" "unknown defconfig 'no-such-board_defconfig' \(known: .*qemu-x86_64_defconfig" \
	O="$scratch/out1" no-such-board_defconfig

# a copy of the download cache with one byte of the BusyBox tarball changed
dl=$scratch/dl
mkdir -p "$dl"
cp "${DL:-dl}"/busybox_* "$dl/"
tarball=$(ls "$dl"/busybox_*.orig.tar.*)
printf '\377' | dd of="$tarball" bs=1 seek=4096 conv=notrunc status=none
expect_failure "corrupt source tarball" "busybox_1\.35\.0\.orig\.tar\.bz2 has sha256 [0-9a-f]+, inputs\.lock expects" \
	O="$scratch/out2" DL="$dl" "${shared[@]}" busybox

# a fragment with an option Linux 6.1 does not know
make -s O="$scratch/out3" qemu-x86_64_defconfig >/dev/null
echo "CONFIG_LGBOX_NO_SUCH_OPTION=y" >"$scratch/bad.fragment"
sed -i "s|^CONFIG_KERNEL_FRAGMENTS=.*|CONFIG_KERNEL_FRAGMENTS=\"board/qemu-x86_64/linux.fragment $scratch/bad.fragment\"|" \
	"$scratch/out3/.config"
expect_failure "unknown kernel option in a fragment" \
	"bad\.fragment:1: CONFIG_LGBOX_NO_SUCH_OPTION=y was requested but .* has CONFIG_LGBOX_NO_SUCH_OPTION=n" \
	O="$scratch/out3" "${shared[@]}" linux-config
exit $failed
