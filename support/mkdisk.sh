#!/bin/bash
# mkdisk.sh: make a board's GPT disk image from its genimage layout, without root.
#
#   mkdisk.sh LAYOUT OUTPUT WORKDIR CMDLINE [NAME=FILE]...
#
# genimage (Debian's package) reads LAYOUT, a genimage configuration whose image is called
# disk.img, and takes the files it names from WORKDIR/input, which holds
#   unformatted   the mark a data partition starts with until the appliance formats it
#                 (EMPTY_MARK in overlay/common/lib/lgbox/init-functions)
#   esp/          the esp/ tree beside LAYOUT, if there is one, with @CMDLINE@ in its files
#                 replaced by CMDLINE
#   NAME          a copy of FILE for each NAME=FILE argument (the kernel, the host initramfs)
# The image is sparse (space nobody wrote to takes none) and replaces OUTPUT only once
# genimage succeeded.
set -euo pipefail

layout=$1 output=$2 work=$3 cmdline=$4
shift 4

die() {
	echo "lgbox build: $*" >&2
	exit 1
}

[ -f "$layout" ] || die "disk layout $layout does not exist (see IMAGE_DISK_LAYOUT in .config)"
rm -rf "$work"
mkdir -p "$work/input" "$work/root"
printf 'lgbox: empty data partition\n' >"$work/input/unformatted"
esp=$(dirname "$layout")/esp
if [ -d "$esp" ]; then
	cp -r "$esp" "$work/input/esp"
	# & | and \ are special in a sed replacement; the command line keeps them literally
	replacement=$(printf '%s' "$cmdline" | sed 's/[&|\\]/\\&/g')
	find "$work/input/esp" -type f -exec sed -i "s|@CMDLINE@|$replacement|g" {} +
fi
for input in "$@"; do
	cp "${input#*=}" "$work/input/${input%%=*}"
done
if ! genimage --config "$layout" --inputpath "$work/input" --outputpath "$work/out" \
	--rootpath "$work/root" --tmppath "$work/tmp" >"$work/genimage.log" 2>&1; then
	grep -v '^INFO: ' "$work/genimage.log" | tail -n 15 >&2
	die "genimage $layout failed; full log: $work/genimage.log"
fi
[ -f "$work/out/disk.img" ] || die "$layout makes no image called disk.img"
mv "$work/out/disk.img" "$output"
