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
# Then the same comparison over vhost-user-blk: a QEMU VM (TCG, so the
# guest's own CPU cost is large and shrinks differences) boots the appliance
# kernel with a busybox initramfs that times O_DIRECT dd in the guest.
#
# Usage: bench/block-export.sh   (env: O=output dir holding build/lgbox/lgbox and
#        images/bzImage, or LGBOX=/BZIMAGE=; SIZE_MB=image size, default 256;
#        ROUNDS, default 3; VHOST_ROUNDS, default 1)
set -eu

O=${O:-output}
LGBOX=${LGBOX:-$O/build/lgbox/lgbox}
BZIMAGE=${BZIMAGE:-$O/images/bzImage}
SIZE_MB=${SIZE_MB:-256}
ROUNDS=${ROUNDS:-3}
VHOST_ROUNDS=${VHOST_ROUNDS:-1}

# make bench installs these (support/inputs.sh, groups build and bench)
for tool in qemu-img:qemu-utils qemu-storage-daemon:qemu-system-x86 nbdcopy:libnbd-bin bc:bc \
	cpio:cpio busybox:busybox-static; do
	command -v "${tool%%:*}" >/dev/null || {
		echo "bench/block-export.sh: ${tool%%:*} is missing: run make packages-bench as root" \
			"(or apt-get install ${tool#*:})" >&2
		exit 1
	}
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
	block-export-vhost)
		"$LGBOX" block-export --vhost-user "$sock" "$image" 2>"$tmp/server.log" &
		;;
	qemu-storage-daemon-vhost)
		qemu-storage-daemon \
			--blockdev driver=file,node-name=file,filename="$image",aio=threads \
			--blockdev driver=raw,node-name=disk,file=file \
			--export type=vhost-user-blk,id=exp,node-name=disk,writable=on,addr.type=unix,addr.path="$sock" \
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
	read-4k-qd1)	bench_seconds -c 20000 -d 1 -s 4k -S 1M ;;
	write-4k-qd1)		bench_seconds -w -c 20000 -d 1 -s 4k -S 1M ;;
	nbdcopy-image)		copy_seconds ;;
	esac
}

cases="seq-read-1M-qd8 seq-write-1M-qd8 read-4k-qd1 write-4k-qd1 nbdcopy-image"
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

# ---- vhost-user-blk, measured from inside a VM ----
if [ ! -f "$BZIMAGE" ]; then
	echo "vhost-user-blk: skipped, no appliance kernel at $BZIMAGE (build it or set BZIMAGE=)"
	exit 0
fi
VM_MB=$SIZE_MB
VM_OPS=4000
root=$tmp/initramfs
mkdir -p "$root/bin" "$root/dev" "$root/proc"
cp /bin/busybox "$root/bin/"
# The guest times each dd with /proc/uptime (10 ms resolution; the runs last
# seconds) and prints "BENCH case seconds".
{
	echo '#!/bin/busybox sh'
	echo "MB=$VM_MB OPS=$VM_OPS"
	cat <<'INIT'
/bin/busybox --install -s /bin
mount -t devtmpfs dev /dev
mount -t proc proc /proc
bench() {
	name=$1
	shift
	read -r start _ </proc/uptime
	"$@" >/dev/null 2>&1
	read -r end _ </proc/uptime
	echo "BENCH $name $(awk "BEGIN { print $end - $start }")"
}
bench seq-read-1M dd if=/dev/vda of=/dev/null bs=1M count=$MB iflag=direct
bench seq-write-1M dd if=/dev/zero of=/dev/vda bs=1M count=$MB oflag=direct
bench read-4k dd if=/dev/vda of=/dev/null bs=4k count=$OPS iflag=direct
bench write-4k dd if=/dev/zero of=/dev/vda bs=4k count=$OPS oflag=direct
reboot -f
INIT
} >"$root/init"
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet) >"$tmp/initramfs.cpio"

vm_bench() {
	start_server "$1"
	qemu-system-x86_64 -accel tcg -m 256 -nodefaults -no-reboot -display none -serial stdio \
		-object memory-backend-memfd,id=mem,size=256M,share=on -numa node,memdev=mem \
		-chardev socket,id=c0,path="$sock" -device vhost-user-blk-pci,chardev=c0 \
		-kernel "$BZIMAGE" -initrd "$tmp/initramfs.cpio" \
		-append "console=ttyS0 panic=-1 rdinit=/init quiet" 2>&1 |
		sed -n "s/^BENCH \([^ ]*\) \([0-9.]*\).*/$1 \1 \2/p" >>"$tmp/results"
	stop_server
}

for r in $(seq "$VHOST_ROUNDS"); do
	vm_bench block-export-vhost
	vm_bench qemu-storage-daemon-vhost
done
echo
echo "block-export vs qemu-storage-daemon, vhost-user-blk, O_DIRECT dd in a TCG VM, best of $VHOST_ROUNDS"
printf '%-18s %22s %22s %7s\n' case block-export qemu-storage-daemon ratio
for c in seq-read-1M seq-write-1M read-4k write-4k; do
	a=$(best block-export-vhost "$c")
	b=$(best qemu-storage-daemon-vhost "$c")
	[ -n "$a" ] && [ -n "$b" ] || { echo "bench/block-export.sh: vhost-user $c produced no figure" >&2; exit 1; }
	case $c in
	seq-*)	fa=$(echo "$VM_MB / $a" | bc -l); fb=$(echo "$VM_MB / $b" | bc -l); unit=MiB/s ;;
	*)	fa=$(echo "$a * 1000000 / $VM_OPS" | bc -l); fb=$(echo "$b * 1000000 / $VM_OPS" | bc -l); unit=us/op ;;
	esac
	printf '%-18s %15.1f %-6s %15.1f %-6s %6.2fx\n' "$c" "$fa" "$unit" "$fb" "$unit" "$(echo "$b / $a" | bc -l)"
done
