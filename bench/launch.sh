#!/bin/sh
# bench/launch.sh - figures for lgbox and launch, each printed with its
# reference measured or stated in the same run:
#  1. binary size: all applets, then each applet alone (static musl,
#     stripped), against kvmtool's static lkvm (323 KiB) and the 150 KiB aim;
#  2. launcher memory beyond guest RAM: with /dev/lguest (in the appliance)
#     the PSS of a running launch minus its guest-RAM mapping; without it,
#     the peak RSS of launch --dry-run with a tiny kernel (the launcher's
#     own baseline: binary, stacks, buffers), said as such;
#  3. virtio-blk throughput of the device model against the raw file.
# Usage: bench/launch.sh [OUTDIR]   (O=, KHDR=, CC= as for make -C lgbox; musl has no
# kernel headers of its own, so KHDR defaults to the ones the build installed in $O)
set -e
top=$(cd "$(dirname "$0")/.." && pwd)
O=${O:-$top/output}
out=${1:-$O/bench-launch}
CC=${CC:-musl-gcc}
KHDR=${KHDR:-$O/build/linux-headers/include}
[ -d "$KHDR/linux" ] || { echo "bench/launch.sh: no kernel headers in $KHDR (run make first)" >&2; exit 1; }
mkdir -p "$out"
khdr="KHDR=$(cd "$KHDR" && pwd)"

kib() { echo $(( ($(stat -c %s "$1") + 1023) / 1024 )); }

echo "== lgbox binary size (static, stripped, CC=$CC)"
make -s -C "$top/lgbox" O="$out/all" CC="$CC" $khdr >/dev/null
all=$(kib "$out/all/lgbox")
echo "all applets: $all KiB  (kvmtool lkvm 323 KiB: ratio $(echo "scale=2; $all/323" | bc); aim 150 KiB)"
for f in "$top"/lgbox/applets/*.c; do
	name=$(basename "$f" .c)
	sym=LGBOX_$(echo "$name" | tr a-z A-Z)
	cfg="$out/$name.config"
	echo "CONFIG_$sym=y" > "$cfg"
	# list and stop read launch's run directories but do not need launch.
	make -s -C "$top/lgbox" O="$out/$name" CONFIG="$cfg" CC="$CC" $khdr >/dev/null
	printf '  %-16s %4s KiB\n' "$(echo "$name" | tr _ -)" "$(kib "$out/$name/lgbox")"
done
: > "$out/none.config"
make -s -C "$top/lgbox" O="$out/none" CONFIG="$out/none.config" CC="$CC" $khdr >/dev/null
printf '  %-16s %4s KiB (framework only)\n' "(none)" "$(kib "$out/none/lgbox")"

echo "== launcher memory beyond guest RAM"
cat > "$out/guest.c" <<'EOF'
__asm__(".pushsection .note.lguest, \"a\"\n.balign 4\n.long 7, 8, 1\n"
	".asciz \"lguest\"\n.balign 4\n.quad 0xffffffff81000000\n.popsection\n");
void _start(void) { for (;;); }
EOF
gcc -nostdlib -static -no-pie -Wl,-Ttext-segment=0x1000000 -o "$out/guest.elf" "$out/guest.c"
if [ -e /dev/lguest ] && [ -n "$LGBOX_BENCH_KERNEL" ]; then
	"$out/all/lgbox" launch --kernel "$LGBOX_BENCH_KERNEL" --memory 128M --name bench \
		--console log:"$out/console.log" --run-dir "$out/run" --stop-grace 0 &
	pid=$!
	sleep 5
	# launch is a supervisor and a guest process, which maps the guest's RAM
	guest=$(cat "$out/run/bench/guest-pid")
	supervisor=$(awk '/^Pss:/ { print $2 }' /proc/$pid/smaps_rollup)
	pss=$(awk '/^Pss:/ { print $2 }' /proc/$guest/smaps_rollup)
	ram=$(awk '/lguest-ram/ { inram = 1; next } /^[0-9a-f]+-/ { inram = 0 }
		   inram && /^Pss:/ { s += $2 } END { print s + 0 }' /proc/$guest/smaps)
	kill $pid; wait $pid || true
	echo "running launch, 128 MiB guest: supervisor PSS $supervisor KiB, guest process PSS $pss KiB, of which guest RAM $ram KiB: overhead $((supervisor + pss - ram)) KiB (Firecracker ~5120 KiB; aim < 1024 KiB)"
else
	echo "no /dev/lguest here (or LGBOX_BENCH_KERNEL unset): launch --dry-run, 128 MiB guest, tiny kernel:"
	"$out/all/lgbox" launch --dry-run --kernel "$out/guest.elf" --memory 128M --rng \
		--run-dir "$out/run" | sed -n 's/^launcher memory: /  /p'
	echo "  (no vCPU thread, I/O thread or console socket yet; Firecracker ~5120 KiB; aim < 1024 KiB)"
fi

echo "== virtio-blk device model vs raw file (page cache; ratio = model/raw)"
gcc -O2 -I"$top/include/uapi" -o "$out/blk_bench" "$top/bench/launch_blk_bench.c" \
	"$top/lgbox/virtio/blk.c" "$top/lgbox/virtio/virtqueue.c" "$top/lgbox/lib/guest_mem.c" \
	"$top/lgbox/lib/blkfile.c" "$top/lgbox/lib/log.c"
img="$out/bench.img"
head -c $((256 << 20)) /dev/zero > "$img"
for kib in 4 64 256; do
	"$out/blk_bench" "$img" $kib read
	"$out/blk_bench" "$img" $kib write
done
rm -f "$out/overlay.img"
"$out/blk_bench" "$img" 64 write "$out/overlay.img"
"$out/blk_bench" "$img" 64 read "$out/overlay.img"
rm -f "$img" "$out/overlay.img"
