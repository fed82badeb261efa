#!/bin/sh
# vm_launch.sh - launch, list, stop and console-attach on the real lg.ko:
# boots the appliance kernel in QEMU (TCG) with an initramfs made of the
# staged host root file system, this tree's lgbox and two tiny guests
# (tests/hello_guest.S, and a guest that halts forever), and checks what
# launch does with them.  Not part of "make test" (it needs an appliance
# build and a few minutes of TCG); run it after "make" at the top level:
#
#	lgbox/tests/vm_launch.sh [OUTPUT_DIR]     (default: output)
#
# Prints PASS:/FAIL: lines like the unit tests and exits non-zero on FAIL.
set -u
top=$(cd "$(dirname "$0")/../.." && pwd)
out=$(cd "${1:-$top/output}" && pwd)
work=$(mktemp -d /tmp/lgbox-vm-launch.XXXXXX)
trap 'rm -rf "$work"' EXIT
kernel=$out/build/linux/arch/x86/boot/bzImage
lgko=$out/build/lg/lg.ko
for f in "$kernel" "$lgko" "$out/build/rootfs-host/init"; do
	[ -e "$f" ] || { echo "FAIL: vm_launch.sh:setup: $f missing (build the appliance first)"; exit 1; }
done

make -s -C "$top/lgbox" O="$work/lgbox" CC=musl-gcc KHDR="$out/build/linux-headers/include" \
	hello-guest "$work/lgbox/lgbox" >/dev/null ||
	{ echo "FAIL: vm_launch.sh:setup: cannot build lgbox"; exit 1; }

cp -a "$out/build/rootfs-host" "$work/root"
cp "$work/lgbox/lgbox" "$work/root/bin/lgbox"
cp "$work/lgbox/hello-guest.elf" "$work/root/hello.elf"
cp "$lgko" "$work/root/lib/modules/lg.ko"
# A guest that registers its shared page, says so, and halts until stopped.
cat > "$work/halt.S" <<'EOF'
	.section .note.lguest, "a"
	.balign 4
	.long 7, 8, 1
	.asciz "lguest"
	.balign 4
	.quad _start + 0xffffffff80000000
	.text
	.globl _start
_start:	mov $0x200000, %edi	/* LHCALL_INIT: a page of guest RAM */
	mov $1, %eax
	syscall
	lea msg(%rip), %rdi	/* LHCALL_CONSOLE_WRITE */
	mov $7, %rsi
	mov $2, %eax
	syscall
1:	mov $11, %eax		/* LHCALL_HALT */
	syscall
	jmp 1b
msg:	.ascii "halted\n"
EOF
cc -nostdlib -static -no-pie -Wl,-Ttext-segment=0x1000000 -o "$work/root/halt.elf" "$work/halt.S"

cat > "$work/root/init" <<'EOF'
#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sysfs /sys; mount -t devtmpfs dev /dev
mkdir -p /run /tmp
insmod /lib/modules/lg.ko
lgbox launch --kernel /hello.elf --memory 32M --name hello --console stdio \
	--console log:/tmp/c.log > /tmp/hello.out 2>&1
echo "R hello status=$? out=$(grep -c 'hello from an lguest guest' /tmp/hello.out) log=$(wc -c < /tmp/c.log)"
lgbox launch --kernel /halt.elf --memory 32M --name fg --stop-grace 2 > /tmp/fg.out 2>&1 &
sleep 2; kill -TERM $!; wait $!
echo "R sigterm status=$? stopped=$(grep -c 'did not power off; stopping it' /tmp/fg.out)"
lgbox launch --daemon --kernel /halt.elf --memory 32M --name bg --stop-grace 1 --pidfile /tmp/bg.pid
echo "R daemon status=$? state=$(cat /run/lguest/bg/state)"
echo "R list $(lgbox list | grep -c '^bg  *running .* 32M ')"
echo "R attach $(lgbox console-attach --drain 1 bg < /dev/null 2>/dev/null | grep -c halted)"
pid=$(cat /run/lguest/bg/guest-pid)	# the guest process maps the guest's RAM
echo "R memory pss=$(awk '/^Pss:/ { print $2 }' /proc/$pid/smaps_rollup) ram=$(awk '/lguest-ram/ { r = 1; next } /^[0-9a-f]+-/ { r = 0 } r && /^Pss:/ { s += $2 } END { print s + 0 }' /proc/$pid/smaps)"
lgbox stop --timeout 10 bg
echo "R stop status=$? left=$(lgbox list | grep -c '^bg ')"
poweroff -f
EOF
chmod +x "$work/root/init"
(cd "$work/root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) > "$work/initrd.gz"
timeout 600 qemu-system-x86_64 -accel tcg -cpu max -m 512 -smp 1 -nographic -no-reboot \
	-kernel "$kernel" -initrd "$work/initrd.gz" \
	-append "console=ttyS0 panic=-1 rdinit=/init" > "$work/serial.log" 2>&1

failures=0
check() { # NAME PATTERN: a result line must match
	if grep -a -q -E "^R $2" "$work/serial.log"; then
		echo "PASS: vm_launch.sh:$1"
	else
		echo "FAIL: vm_launch.sh:$1: $(grep -a "^R ${2%% *}" "$work/serial.log" || echo 'no result line')"
		failures=$((failures + 1))
	fi
}
check hello_prints_once_and_powers_off 'hello status=0 out=1 log=27'
check sigterm_stops_after_grace 'sigterm status=5 stopped=1'
check daemon_returns_when_running 'daemon status=0 state=running'
check list_shows_daemon 'list 1'
check console_attach_replays 'attach 1'
check stop_ends_daemon 'stop status=0 left=0'
grep -a '^R memory' "$work/serial.log" | awk '{ split($3, p, "="); split($4, r, "=");
	print "launcher PSS " p[2] " KiB, guest RAM " r[2] " KiB: overhead " p[2] - r[2] " KiB" }'
[ $failures -eq 0 ]
