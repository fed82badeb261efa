#!/bin/bash
# mkinitramfs.sh: pack a staging directory into a (compressed) initramfs, without root.
#
#   mkinitramfs.sh GEN_INIT_CPIO STAGING_DIR OUTPUT gzip|xz|zstd|none
#
# The staging directory is owned by whoever runs the build, so instead of running cpio on it
# this writes the kernel's initramfs list format (usr/gen_init_cpio from the Linux tree): every
# entry becomes owned by root, and /dev/console is created as a device node in the archive
# itself, which an unprivileged user could never mknod on disk. The kernel needs that node
# to give init its stdin/stdout before devtmpfs is mounted.
set -euo pipefail

gen_init_cpio=$1 staging=$2 output=$3 compression=$4

case $compression in
gzip) compress=(gzip -9 -n) ;;
# the kernel's xz decoder only knows CRC32 checks
xz) compress=(xz -9 --check=crc32) ;;
zstd) compress=(zstd -q -19) ;;
none) compress=(cat) ;;
*)
	echo "lgbox build: $output: unknown compression '$compression' (gzip, xz, zstd or none)" >&2
	exit 1
	;;
esac

# cpio_list: one gen_init_cpio line per staging entry, parents before children
cpio_list() {
	echo "dir /dev 0755 0 0"
	echo "nod /dev/console 0600 0 0 c 5 1"
	(cd "$staging" && find . -mindepth 1 -printf '%y %m %P\t%l\n' | LC_ALL=C sort -k3) |
		while IFS=$'\t' read -r entry target; do
			read -r type mode path <<<"$entry"
			case $type in
			d) [ "$path" = dev ] || echo "dir /$path $mode 0 0" ;;
			f) echo "file /$path $staging/$path $mode 0 0" ;;
			l) echo "slink /$path $target 0777 0 0" ;;
			*)
				echo "lgbox build: $staging/$path: special files do not belong in" \
					"a staging tree (list device nodes in mkinitramfs.sh)" >&2
				exit 1
				;;
			esac
		done
}

list=$staging.cpio-list
cpio_list >"$list"
# a fixed timestamp keeps the archive identical when nothing changed
"$gen_init_cpio" -t "${SOURCE_DATE_EPOCH:-0}" "$list" | "${compress[@]}" >"$output.tmp"
mv "$output.tmp" "$output"
