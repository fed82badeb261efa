#!/bin/bash
# inputs.sh: make sure the pinned inputs of the appliance build are present and are the ones
# recorded in inputs.lock, installing or downloading what is missing.
#
#   inputs.sh packages [GROUP]...  install the missing Debian packages of GROUPs (default:
#                                build), check pinned package versions
#   inputs.sh fetch NAME DLDIR   download source NAME into DLDIR if needed, then verify it
#   inputs.sh path NAME DLDIR    print the path of NAME's first source file (verifies it first)
#
# Source packages are fetched with apt-get through a private sources list, state and cache
# (all under DLDIR), so the machine's /etc/apt configuration is never read or changed.
# Every failure ends with one line saying what differs and what to do.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
lock=$top/inputs.lock
debian_src_line="deb-src http://deb.debian.org/debian bookworm main"

# Everything the build, the tests and the benchmarks run, by Debian package name, in the
# groups a make target asks for: build (every target), run (make run), test (make test),
# bench (make bench), disk (make debian-disk) and fresh (make test-fresh).  A program a
# step runs that is in no group is a bug that only shows on a fresh machine: make
# test-fresh finds it.
# genimage, dosfstools and mtools: the GPT disk images (support/mkdisk.sh); systemd-boot-efi:
# the EFI boot manager of the pc-x86_64-efi board
packages_build="make gcc libc6-dev bc bison flex libelf-dev perl patch cpio gzip xz-utils
zstd bzip2 rsync ccache dpkg-dev apt python3 musl-tools kconfig-frontends u-boot-tools
linux-source-6.1 device-tree-compiler genimage dosfstools mtools systemd-boot-efi"
# ovmf: the EFI firmware that boots the pc-x86_64-efi disk image in QEMU
packages_run="qemu-system-x86 u-boot-qemu ovmf"
# iproute2: ip netns, jq: ip -j output, iputils-ping, tmux: console-attach on a tty,
# procps: pgrep, qemu-utils and libnbd-bin: qemu-img/qemu-io and nbdinfo/nbdcopy against
# block-export, busybox-static: the VM initramfs of the vhost-user test, bochs and the
# rest: the appliance under Bochs (tests/lib/bochs.py), fdisk and e2fsprogs: sfdisk reads
# the disk images' partition tables, debugfs breaks a file system (tests/datapart.py).
# disk, which tests and benchmarks include: the Debian root disk they give guests
# (support/debian-disk.sh)
packages_disk="mmdebstrap e2fsprogs"
packages_test="$packages_run iproute2 jq iputils-ping tmux procps qemu-utils
libnbd-bin busybox-static util-linux bochs bochsbios vgabios bochs-term syslinux
syslinux-common mtools dosfstools bsdutils fdisk $packages_disk"
packages_bench="$packages_run qemu-utils libnbd-bin busybox-static $packages_disk"
packages_fresh="mmdebstrap git util-linux"

die() {
	echo "lgbox build: $*" >&2
	exit 1
}

# installed_version PKG: the installed version of PKG, empty when it is not installed
installed_version() {
	# dpkg-query fails for a package it never heard of: that is "not installed" too
	{ dpkg-query -W -f='${db:Status-Status} ${Version}\n' "$1" 2>/dev/null || true; } |
		awk '$1 == "installed" { print $2 }'
}

# pinned_version PKG: the version inputs.lock pins PKG to, empty if not pinned
pinned_version() {
	awk -v p="$1" '$1 == "deb" && $2 == p { print $3 }' "$lock"
}

# ensure_packages GROUP...: install what the groups list and the machine lacks
ensure_packages() {
	local group list pkg have pin mismatch wanted="" missing=() wrong=()

	for group in "${@:-build}"; do
		list=packages_$group
		[ -n "${!list+set}" ] || die "inputs.sh: no package group '$group'"
		wanted="$wanted ${!list}"
	done
	for pkg in $(printf '%s\n' $wanted | sort -u); do
		have=$(installed_version "$pkg")
		pin=$(pinned_version "$pkg")
		if [ -z "$have" ]; then
			missing+=("$pkg${pin:+=$pin}")
		elif [ -n "$pin" ] && [ "$have" != "$pin" ]; then
			mismatch="$pkg $have is installed but inputs.lock pins $pin"
			wrong+=("$mismatch (run apt-get install $pkg=$pin or update inputs.lock)")
		fi
	done
	if [ ${#wrong[@]} -gt 0 ]; then
		die "${wrong[0]}"
	fi
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" != 0 ]; then
		die "missing packages; run as root: apt-get update && apt-get install -y ${missing[*]}"
	fi
	echo "  APT      installing ${missing[*]}"
	# An install from stale package lists fails on versions the mirror dropped: update first.
	apt-get update -qq >/dev/null || die "apt-get update failed (is the Debian mirror reachable?)"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null ||
		die "apt-get install ${missing[*]} failed (see the apt output above)"
}

# source_files NAME: "version file sha256" lines of NAME
source_files() {
	awk -v n="$1" '$1 == "src" && $2 == n { print $3, $4, $5 }' "$lock"
}

# file_path FILE DLDIR: absolute files stay, others live in the download cache
file_path() {
	case $1 in
	/*) echo "$1" ;;
	*) echo "$2/$1" ;;
	esac
}

# verify NAME DLDIR: check every file of NAME; says why and returns 1 on the first problem
verify() {
	local version file sum path actual

	while read -r version file sum; do
		path=$(file_path "$file" "$2")
		if [ ! -f "$path" ]; then
			echo "lgbox build: $1 $version: $path is missing" >&2
			return 1
		fi
		actual=$(sha256sum "$path" | cut -d' ' -f1)
		if [ "$actual" != "$sum" ]; then
			echo "lgbox build: $1 $version: $path has sha256 $actual," \
				"inputs.lock expects $sum" \
				"(corrupt or different file: delete it to fetch again)" >&2
			return 1
		fi
	done < <(source_files "$1")
}

# apt_source NAME VERSION DLDIR: download a Debian source package with a private apt setup
apt_source() {
	local apt="$3/apt"
	local opts=(-o "Dir::Etc::SourceList=$apt/sources.list" -o Dir::Etc::SourceParts=/dev/null
		-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -qq
		-o APT::Sandbox::User=root)

	mkdir -p "$apt/lists/partial" "$apt/cache/archives/partial"
	echo "$debian_src_line" >"$apt/sources.list"
	echo "  FETCH    $1 $2 (apt-get source into $3)"
	apt-get "${opts[@]}" update >/dev/null ||
		die "apt-get update with $apt/sources.list failed (is deb.debian.org reachable?)"
	(cd "$3" && apt-get "${opts[@]}" source --download-only "$1=$2" >/dev/null) ||
		die "apt-get source $1=$2 failed" \
			"(the mirror may have dropped that version: update inputs.lock)"
}

# fetch NAME DLDIR: download NAME when some of its cached files are missing, then verify all
# of them; a file that is present but wrong stops the build instead of being replaced silently
fetch() {
	local name=$1 dldir=$2 version file missing=

	version=$(source_files "$name" | awk 'NR == 1 { print $1 }')
	[ -n "$version" ] || die "no source called '$name' in $lock"
	while read -r _ file _; do
		case $file in
		/*) ;;
		*) [ -f "$dldir/$file" ] || missing=y ;;
		esac
	done < <(source_files "$name")
	if [ -n "$missing" ]; then
		mkdir -p "$dldir"
		apt_source "$name" "$version" "$dldir"
	fi
	verify "$name" "$dldir" || exit 1
}

case ${1:-} in
packages)
	shift
	ensure_packages "$@"
	;;
fetch)
	fetch "$2" "$3"
	;;
path)
	# progress lines must not end up in the caller's $(...)
	fetch "$2" "$3" >&2
	file_path "$(source_files "$2" | awk 'NR == 1 { print $2 }')" "$3"
	;;
*)
	echo "usage: $0 packages [GROUP]... | fetch NAME DLDIR | path NAME DLDIR" >&2
	exit 2
	;;
esac
