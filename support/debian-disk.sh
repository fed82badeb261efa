#!/bin/bash
# debian-disk.sh: the Debian root disk that real-userland tests and benchmarks give to guests
# (tests/debian-guest.py, bench/debian-guest.py; make debian-disk).
#
#   debian-disk.sh path DLDIR     print the image's path in the download cache
#   debian-disk.sh build DLDIR    build it there unless it is already cached
#
# The image is an ext4 file system (label lgbox-debian, no partition table) holding Debian
# bookworm, variant minbase, plus the packages below: mmdebstrap builds the tree in a
# temporary directory and, in a customize hook (still inside its user namespace when it
# runs unprivileged), mkfs.ext4 -d copies it into the image, so no loop mount is needed.
# Its name carries a hash of the recipe (suite, variant, packages, free space, label), so a
# changed recipe builds a new image and an unchanged one is built once; old images stay in
# the cache until removed by hand.  The image has no kernel and no init system: a guest
# boots it with the appliance's kernel, root=/dev/vda and an init= of its own (see
# doc/guest.md).
set -euo pipefail

suite=bookworm
variant=minbase
# the battery's programs: gcc and libc6-dev compile its C cases in the disk itself, gdb
# and strace drive them, python3 brings its sqlite3 module, make builds them
packages="python3 gcc libc6-dev gdb strace make"
# room for what tests and benchmarks write (compiler output, a database, disk-write data)
free_mib=512
label=lgbox-debian
# Bochs sees a flat disk image as whole cylinders of 16 heads x 63 sectors (504 KiB): the
# image is a multiple of that, or its end would be out of Bochs's reach
cylinder_kib=504

die() {
	echo "debian-disk: $*" >&2
	exit 1
}

recipe() {
	printf '%s\n' "suite $suite" "variant $variant" "packages $packages" \
		"free $free_mib MiB" "label $label" "size multiple of $cylinder_kib KiB"
}

image_path() {
	echo "$1/debian-$suite-$(recipe | sha256sum | cut -c1-12).ext4"
}

# make_fs ROOT IMAGE: an ext4 image of ROOT's tree with free_mib MiB to spare (mmdebstrap's
# customize hook: ROOT is the finished chroot, with /proc, /sys and /dev mounted in it; a
# plain bind mount of ROOT shows the tree without them)
make_fs() {
	local root=$1 image=$2 tree kib status=0

	# what only apt needed while installing
	rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/cache/apt/*.bin \
		"$root"/var/lib/apt/lists/*_*
	echo debian >"$root/etc/hostname"
	tree=$(mktemp -d)
	mount --bind "$root" "$tree" || die "cannot bind-mount $root on $tree"
	kib=$(($(du -sk "$tree" | cut -f1) * 11 / 10 + free_mib * 1024))
	kib=$(((kib + cylinder_kib - 1) / cylinder_kib * cylinder_kib))
	rm -f "$image"
	mkfs.ext4 -q -F -L "$label" -d "$tree" "$image" "${kib}K" ||
		status=$?
	umount "$tree" && rmdir "$tree"
	[ "$status" = 0 ] || die "mkfs.ext4 -d $root $image failed"
}

build() {
	local dl image start

	dl=$(realpath -m "$1")
	image=$(image_path "$dl")
	if [ -f "$image" ]; then
		echo "  DEBIAN   $image (cached)"
		return 0
	fi
	command -v mmdebstrap >/dev/null ||
		die "mmdebstrap is missing: run make packages-test as root (or apt-get install mmdebstrap)"
	command -v mkfs.ext4 >/dev/null ||
		die "mkfs.ext4 is missing: run make packages-test as root (or apt-get install e2fsprogs)"
	mkdir -p "$dl"
	echo "  DEBIAN   mmdebstrap $suite $variant + $packages -> $image (minutes; log: $image.log)"
	start=$SECONDS
	if ! mmdebstrap --variant="$variant" --include="${packages// /,}" \
		--customize-hook="$(printf '%q make-fs "$1" %q' "$(readlink -f "$0")" "$image.tmp")" \
		"$suite" /dev/null >"$image.log" 2>&1; then
		rm -f "$image.tmp"
		tail -n 15 "$image.log" >&2
		die "mmdebstrap $suite failed (log: $image.log; is the Debian mirror reachable?)"
	fi
	mv "$image.tmp" "$image"
	echo "  DEBIAN   built in $((SECONDS - start)) s: $(du -h --apparent-size "$image" |
		cut -f1) ($(du -h "$image" | cut -f1) used on disk)"
}

case ${1:-} in
path)
	image_path "$(realpath -m "${2:?usage: $0 path DLDIR}")"
	;;
build)
	build "${2:?usage: $0 build DLDIR}"
	;;
make-fs)
	make_fs "$2" "$3"
	;;
*)
	echo "usage: $0 path DLDIR | build DLDIR" >&2
	exit 2
	;;
esac
