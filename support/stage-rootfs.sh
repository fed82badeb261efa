#!/bin/bash
# stage-rootfs.sh: assemble a root filesystem tree that mkinitramfs.sh then packs.
#
#   stage-rootfs.sh host|guest DIR OVERLAY...
#
# Both trees get BusyBox (one link per applet), the overlays, copied in order, mke2fs and
# e2fsck, and the guest/native benchmark's workload. The host tree also gets lgbox (one link
# per applet), lg.ko, the hypervisor test suite, the Debian disk's battery, the fixed guests'
# configs and the guest kernel + initramfs. Inputs come from the environment (set by the
# Makefile); components not built yet are left out (make already said so).
set -euo pipefail

kind=$1 root=$2
shift 2

die() {
	echo "lgbox build: $*" >&2
	exit 1
}

# link_applets BINARY NAME...: NAME -> BINARY symlinks, relative to the tree's root
link_applets() {
	local binary=$1 name
	shift
	for name in "$@"; do
		mkdir -p "$root/$(dirname "$name")"
		ln -sf "$binary" "$root/$name"
	done
}

rm -rf "$root"
mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,run,tmp,root,etc}

install -m 0755 "$BUSYBOX_SRC/busybox" "$root/bin/busybox"
# --list-full gives each applet with its install directory, e.g. usr/bin/awk
link_applets /bin/busybox $("$BUSYBOX_SRC/busybox" --list-full)

for overlay in "$@"; do
	[ -d "$overlay" ] ||
		die "overlay directory '$overlay' does not exist (see ROOTFS_*_OVERLAYS in .config)"
	cp -a "$overlay/." "$root/"
done
# .keep only makes git keep an empty directory
find "$root" -name .keep -delete

# mke2fs and e2fsck (e2fsprogs) format and check the data partition and the guests' disks;
# they win over BusyBox applets of the same name
for bin in $E2FSPROGS_BINS; do
	install -s -m 0755 "$bin" "$root/sbin/"
done
ln -sf mke2fs "$root/sbin/mkfs.ext4"
ln -sf e2fsck "$root/sbin/fsck.ext4"

# bench/guest-native.py runs the same workload binary on the host and in a guest
install -D -m 0755 "$WORKLOAD_BIN" "$root/usr/bin/lgbox-workload"

[ "$kind" = host ] || exit 0

if [ -x "$LGBOX_BIN" ]; then
	install -m 0755 "$LGBOX_BIN" "$root/bin/lgbox"
	# lgbox applets win over a BusyBox applet of the same name
	link_applets lgbox $("$LGBOX_BIN" --list | sed 's|^|bin/|')
fi
if [ -f "$LG_KO" ]; then
	install -D -m 0644 "$LG_KO" "$root/lib/modules/lg.ko"
fi
if [ -n "$(ls -A "$LG_TESTS_DIR" 2>/dev/null)" ]; then
	mkdir -p "$root/usr/lib/lgbox/tests"
	cp -a "$LG_TESTS_DIR/." "$root/usr/lib/lgbox/tests/"
fi
# tests/debian-guest.py: its driver and the programs it copies onto the Debian disk
mkdir -p "$root/usr/lib/lgbox/debian-battery"
cp -a "$DEBIAN_BATTERY/." "$root/usr/lib/lgbox/debian-battery/"
install -D -m 0644 "$GUEST_KERNEL" "$root/boot/bzImage"
install -D -m 0644 "$GUEST_INITRAMFS" "$root/usr/share/lgbox/guest-initramfs.cpio.gz"
mkdir -p "$root/etc/lgbox/guests"
# NAME.conf files go to /etc/lgbox/guests, the shared network and disks files to /etc/lgbox
for file in $FIXED_GUEST_FILES; do
	[ -f "$file" ] ||
		die "fixed guest file $file does not exist (see ROOTFS_FIXED_GUESTS in .config)"
	case $file in
	*.conf) install -m 0644 "$file" "$root/etc/lgbox/guests/" ;;
	*) install -m 0644 "$file" "$root/etc/lgbox/" ;;
	esac
done
