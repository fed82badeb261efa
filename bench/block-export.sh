#!/bin/sh
# bench/block-export.sh - throughput and latency of `lgbox block-export`
# against qemu-storage-daemon, both exporting the same raw file over NBD on a
# unix socket, measured alternately in one run with the same clients
# (qemu-img bench for sequential 1 MiB reads/writes at queue depth 8 and
# 4 KiB reads/writes at queue depth 1, nbdcopy for a whole-image copy).
# Prints one line per measurement and the ratio block-export/reference
# (> 1 means block-export is faster).  Each figure is the best of $ROUNDS
# rounds, servers alternating, so a noisy neighbour hurts both alike.
#
# Usage: bench/block-export.sh   (env: O=output dir holding lgbox/lgbox, or
#        LGBOX=path; SIZE_MB=image size, default 256; ROUNDS, default 3)
set -eu

O=${O:-output}
LGBOX=${LGBOX:-$O/lgbox/lgbox}
SIZE_MB=${SIZE_MB:-256}
ROUNDS=${ROUNDS:-3}

for tool in qemu-img:qemu-utils qemu-storage-daemon:qemu-system-x86 nbdcopy:libnbd-bin bc:bc; do
	command -v "${tool%%:*}" >/dev/null || apt-get install -y -q "${tool#*:}" >/dev/null
done
[ -x "$LGBOX" ] || { echo "bench/block-export.sh: no lgbox binary at $LGBOX (build it or set LGBOX=)" >&2; exit 1; }

tmp=$(mktemp -d /tmp/block-export-bench.XXXXXX)
server_pid=
cleanup() {
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM
image=$tmp/disk.img
sock=$tmp/nbd.sock
url="nbd+unix:///disk?socket=$sock"
head -c $((SIZE_MB << 20)) /dev/urandom >"$image"

wait_for_socket() {
	i=0
	while [ ! -S "$sock" ]; do
		i=$((i + 1))
		[ $i -lt 200 ] || { echo "bench/block-export.sh: $1 did not create $sock" >&2; exit 1; }
		sleep 0.05
	done
}

start_server() {
	rm -f "$sock"
	case $1 in
	block-export)
		"$LGBOX" block-export --nbd-unix "$sock" --name disk "$image" 2>"$tmp/server.log" &
		;;
	qemu-storage-daemon)
		qemu-storage-daemon \
			--blockdev driver=file,node-name=file,filename="$image",aio=threads \
			--blockdev driver=raw,node-name=disk,file=file \
			--nbd-server addr.type=unix,addr.path="$sock" \
			--export type=nbd,id=exp,node-name=disk,name=disk,writable=on \
			2>"$tmp/server.log" &
		;;
	esac
	server_pid=$!
	wait_for_socket "$1"
}

stop_server() {
	kill "$server_pid"
	wait "$server_pid" 2>/dev/null || true
	server_pid=
}

# qemu-img bench prints "Run completed in N seconds."
bench_seconds() {
	qemu-img bench -f raw -t none "$@" "$url" 2>&1 |
		sed -n 's/^Run completed in \([0-9.]*\) seconds.*/\1/p'
}

copy_seconds() {
	start=$(date +%s.%N)
	nbdcopy "$url" null:
	echo "$(date +%s.%N) - $start" | bc -l
}

# name | command producing seconds | bytes moved | ops
run_case() {
	case $1 in
	seq-read-1M-qd8)	bench_seconds -c $((SIZE_MB * 2)) -d 8 -s 1M ;;
	seq-write-1M-qd8)	bench_seconds -w -c $((SIZE_MB * 2)) -d 8 -s 1M ;;
	rand-read-4k-qd1)	bench_seconds -c 20000 -d 1 -s 4k -S 1M ;;
	write-4k-qd1)		bench_seconds -w -c 20000 -d 1 -s 4k -S 1M ;;
	nbdcopy-image)		copy_seconds ;;
	esac
}

cases="seq-read-1M-qd8 seq-write-1M-qd8 rand-read-4k-qd1 write-4k-qd1 nbdcopy-image"
servers="block-export qemu-storage-daemon"
for r in $(seq "$ROUNDS"); do
	for s in $servers; do
		start_server "$s"
		for c in $cases; do
			t=$(run_case "$c")
			[ -n "$t" ] || { echo "bench/block-export.sh: $c against $s failed" >&2; cat "$tmp/server.log" >&2; exit 1; }
			echo "$s $c $t" >>"$tmp/results"
		done
		stop_server
	done
done

best() { awk -v s="$1" -v c="$2" '$1 == s && $2 == c { if (!n++ || $3 < m) m = $3 } END { print m }' "$tmp/results"; }

echo "block-export vs qemu-storage-daemon, NBD over a unix socket, ${SIZE_MB} MiB raw image, best of $ROUNDS"
printf '%-18s %22s %22s %7s\n' case block-export qemu-storage-daemon ratio
for c in $cases; do
	a=$(best block-export "$c")
	b=$(best qemu-storage-daemon "$c")
	case $c in
	seq-*)		unit=MiB/s; work=$((SIZE_MB * 2)) ;;
	nbdcopy-*)	unit=MiB/s; work=$SIZE_MB ;;
	*)		unit=us/op; work=20000 ;;
	esac
	if [ $unit = MiB/s ]; then
		fa=$(echo "$work / $a" | bc -l); fb=$(echo "$work / $b" | bc -l); ratio=$(echo "$b / $a" | bc -l)
	else
		fa=$(echo "$a * 1000000 / $work" | bc -l); fb=$(echo "$b * 1000000 / $work" | bc -l)
		ratio=$(echo "$b / $a" | bc -l)
	fi
	printf '%-18s %15.1f %-6s %15.1f %-6s %6.2fx\n' "$c" "$fa" "$unit" "$fb" "$unit" "$ratio"
done
