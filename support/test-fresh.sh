#!/bin/bash
# test-fresh.sh: the README's two commands on a machine that has nothing installed.
#
#   support/test-fresh.sh WORKDIR [REV]      (make test-fresh runs it with WORKDIR=$O/fresh)
#
# A green "make test" on a developer's machine proves little about a fresh one: every
# package someone once installed by hand hides a missing install step.  So this builds a
# clean Debian bookworm root on the spot (mmdebstrap, variant minbase, plus only make and
# ca-certificates: what the README assumes), clones this repository's commit REV (default
# HEAD; uncommitted changes are not part of it) into it, and there runs exactly
#
#   make test     which must install everything it needs, build, and pass every test;
#   make run      which must boot the appliance to its ready banner.
#
# It runs as root in a private mount namespace (proc, sys, dev, tmp and run mounted for the
# chroot, gone when it ends); QEMU and network namespaces work there as on a machine.  The
# machine's ccache directory is shared with the chroot: it is a compile cache that saves
# minutes and cannot stand in for a package, since ccache itself must be installed by the
# build.  Nothing else of the machine is visible.  Logs stay in WORKDIR/*.log; the root is
# removed at the end unless FRESH_KEEP=1.
#
# On failure the last line says which step failed and, when the log shows a program that was
# not found, names it: that program's package is missing from support/inputs.sh.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
work=${1:?usage: $0 WORKDIR [REV]}
rev=${2:-HEAD}
mirror=${FRESH_MIRROR:-http://deb.debian.org}
run_timeout=${FRESH_RUN_TIMEOUT:-600}
root=$work/root
src=/src/lgbox

say() { printf '  %-8s %s\n' FRESH "$*"; }
die() { echo "test-fresh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (a chroot, mounts, QEMU and network namespaces)"
command -v mmdebstrap >/dev/null ||
	die "mmdebstrap is missing: run make packages-fresh as root (or apt-get install mmdebstrap)"
commit=$(git -C "$top" rev-parse --verify "$rev^{commit}") || die "no commit '$rev' in $top"

mkdir -p "$work"
work=$(cd "$work" && pwd)
rm -rf "$root"
trap '[ "${FRESH_KEEP:-}" = 1 ] || rm -rf "$root"' EXIT

say "mmdebstrap bookworm minbase + make ca-certificates -> $root"
start=$SECONDS
mmdebstrap --variant=minbase --include=make,ca-certificates bookworm "$root" \
	"deb $mirror/debian bookworm main" \
	"deb $mirror/debian bookworm-updates main" \
	"deb $mirror/debian-security bookworm-security main" >"$work/mmdebstrap.log" 2>&1 ||
	die "mmdebstrap failed (log: $work/mmdebstrap.log)"
say "clean root made in $((SECONDS - start)) s"

git clone -q --no-hardlinks "$top" "$root$src"
git -C "$root$src" checkout -q "$commit"
say "cloned $(git -C "$top" log -1 --format='%h %s' "$commit")"

ccache_dir=${CCACHE_DIR:-$HOME/.cache/ccache}
mkdir -p "$ccache_dir" "$root/root/.cache/ccache"

# in_root LOG COMMAND: run COMMAND (sh -c) in the fresh root, inside a mount namespace of
# its own, with an environment that carries nothing of this machine's
in_root() {
	local log=$1 cmd=$2

	unshare --mount --propagation private -- /bin/sh -c '
		set -e
		r=$1 cache=$2
		# a machine'"'"'s / is a mount point (ip netns exec and unshare -m rely on it)
		mount --bind "$r" "$r"
		mount -t proc proc "$r/proc"
		mount -t sysfs sysfs "$r/sys"
		mount --rbind /dev "$r/dev"
		mount -t tmpfs tmpfs "$r/tmp"
		mount -t tmpfs tmpfs "$r/run"
		mount --bind "$cache" "$r/root/.cache/ccache"
		cp /etc/resolv.conf "$r/etc/resolv.conf" 2>/dev/null || true
		shift 2
		exec chroot "$r" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
			PATH=/usr/sbin:/usr/bin:/sbin:/bin /bin/sh -c "$@"
	' fresh "$root" "$ccache_dir" "cd $src && $cmd" >"$log" 2>&1
}

# missing_program LOG: the first line of a failed step where a shell, make, env or Python
# could not find a program, if any
missing_program() {
	grep -m 1 -E '^(/bin/)?(ba|da)?sh: ([0-9]+: )?.*(: not found|command not found)$|^(make|env|xargs)(\[[0-9]+\])?: .*No such file or directory$|FileNotFoundError: .*No such file or directory' \
		"$1" || true
}

# step NAME COMMAND: one README command in the root; on failure, one line saying why
step() {
	local name=$1 cmd=$2 log=$work/$1.log missing

	say "$cmd (log: $log)"
	start=$SECONDS
	if in_root "$log" "$cmd"; then
		say "$cmd: passed in $((SECONDS - start)) s"
		return 0
	fi
	tail -n 25 "$log" | sed 's/^/    | /'
	missing=$(missing_program "$log")
	if [ -n "$missing" ]; then
		die "FAIL: '$cmd' failed on a clean bookworm root after $((SECONDS - start)) s:" \
			"'$missing' (a program the build, tests or benchmarks run whose package is" \
			"not in support/inputs.sh?); log: $log"
	fi
	die "FAIL: '$cmd' failed on a clean bookworm root after $((SECONDS - start)) s; log: $log"
}

total=$SECONDS
step make-test "make test"
# make run is interactive (serial console on stdio); boot it, wait for the banner, stop it.
step make-run "python3 support/boot-to-banner.py $run_timeout make run"
say "make test and make run passed on a clean bookworm root in $((SECONDS - total)) s"
