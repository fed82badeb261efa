#!/bin/sh
# test_launch.sh - launch, list and stop as a user sees them, without lg.ko:
# launch --dry-run does everything a boot does before /dev/lguest (options,
# config file, kernel/initrd loading, devices, command-line words) and
# creates nothing, so its report is checked; the real vCPU loop needs lg.ko
# and is covered by the appliance tests.  Supervision, list and stop are
# in test_supervise.sh.
# Needs LGBOX (the built binary) and a C compiler for the tiny guest ELF.

: "${LGBOX:?LGBOX must name the lgbox binary}"
. "$(dirname "$0")/lib.sh"
# expect NAME TEXT FILE: FILE must contain TEXT
expect() {
	if grep -qF -- "$2" "$3"; then pass "$1"; else fail "$1" "no '$2' in: $(cat "$3")"; fi
}

tiny_guest "$tmp/guest.elf"
head -c 100000 /dev/urandom > "$tmp/initrd"
truncate -s 1M "$tmp/disk.img"

L() { "$LGBOX" launch --run-dir "$tmp/run" "$@"; }

L --dry-run --kernel "$tmp/guest.elf" --initrd "$tmp/initrd" --memory 64M \
	--cmdline "case=smoke" --block "$tmp/disk.img,ro" --rng > "$tmp/out" 2>&1
expect dry_run_entry_from_note "kernel: $tmp/guest.elf (entry 0xffffffff81000000" "$tmp/out"
expect dry_run_devices_on_cmdline \
	"cmdline: case=smoke virtio_mmio.device=4K@0xd0000000:1 virtio_mmio.device=4K@0xd0001000:2 virtio_mmio.device=4K@0xd0002000:3" \
	"$tmp/out"
expect dry_run_initrd_at_top "(100000 bytes)" "$tmp/out"
expect dry_run_memory "memory: 64 MiB" "$tmp/out"

cat > "$tmp/guest.cfg" <<EOF
# a fixed guest
name = web1
memory = 96M
kernel = $tmp/guest.elf
cmdline = from-file
block = $tmp/disk.img
rng = yes
EOF
L --dry-run --config "$tmp/guest.cfg" --cmdline from-options > "$tmp/out" 2>&1
expect config_sets_values "memory: 96 MiB" "$tmp/out"
expect config_name "name: web1" "$tmp/out"
expect options_override_config "cmdline: from-options virtio_mmio" "$tmp/out"
expect config_lists_devices "devices: 3" "$tmp/out"
L --dry-run --config "$tmp/guest.cfg" --rng=no 2>/dev/null | grep -q "devices: 2" &&
	pass option_flag_overrides_config || fail option_flag_overrides_config "--rng=no ignored"

printf 'kernel = %s\n' "$tmp/guest.elf" > "$tmp/db2.conf"
L --dry-run --config "$tmp/db2.conf" > "$tmp/out" 2>&1
expect config_file_names_its_guest "name: db2" "$tmp/out"

printf 'memory = 64M\nmemry = 3\n' > "$tmp/typo.cfg"
L --config "$tmp/typo.cfg" > "$tmp/out" 2>&1
status=$?
expect config_unknown_key_suggests \
	"$tmp/typo.cfg:2: unknown key \"memry\" (did you mean \"memory\"?)" "$tmp/out"
[ $status -eq 2 ] && pass config_error_is_usage_error || fail config_error_is_usage_error "status $status"

printf 'kernel = /x\n\nmemory = lots\n' > "$tmp/bad.cfg"
L --config "$tmp/bad.cfg" > "$tmp/out" 2>&1
expect config_bad_value_names_line "$tmp/bad.cfg:3: bad value \"lots\" for memory" "$tmp/out"

L --kernel "$tmp/initrd" --dry-run > "$tmp/out" 2>&1
status=$?
expect bad_kernel_is_refused_with_reason "not an ELF file or a bzImage" "$tmp/out"
[ $status -eq 1 ] && pass bad_kernel_exit_status || fail bad_kernel_exit_status "status $status"

L --kernel "$tmp/guest.elf" --memory 2M --dry-run > "$tmp/out" 2>&1
expect memory_too_small "bad value \"2M\" for --memory: guest RAM is at least 4 MiB" "$tmp/out"
L --kernel "$tmp/guest.elf" --memory 16M --dry-run > "$tmp/out" 2>&1
expect kernel_too_big_for_memory "kernel too big for the memory given" "$tmp/out"
L --kernel "$tmp/guest.elf" --block "$tmp/disk.img,rw" --dry-run > "$tmp/out" 2>&1
expect bad_block_flag "unknown block flag" "$tmp/out"
L --kernel "$tmp/guest.elf" --net tap:x,mac=01:00:00:00:00:01 --dry-run > "$tmp/out" 2>&1
expect multicast_mac_refused "bad MAC address" "$tmp/out"

if [ -e /dev/lguest ]; then
	echo "XFAIL: test_launch.sh:no_module_message: /dev/lguest exists here, the message cannot be provoked"
else
	L --kernel "$tmp/guest.elf" --name nomod --memory 64M > "$tmp/out" 2>&1
	status=$?
	expect no_module_message "lg.ko not loaded? (insmod lg.ko; the appliance keeps it in /lib/modules)" "$tmp/out"
	[ $status -eq 1 ] && [ ! -e "$tmp/run/nomod" ] && pass failed_launch_cleans_run_dir ||
		fail failed_launch_cleans_run_dir "status $status, run dir $(ls "$tmp/run" 2>&1)"
	L --daemon --kernel "$tmp/guest.elf" --name d1 --memory 64M > "$tmp/out" 2>&1
	status=$?
	[ $status -eq 1 ] && grep -q "lg.ko not loaded" "$tmp/out" &&
		pass daemon_parent_reports_setup_failure ||
		fail daemon_parent_reports_setup_failure "status $status: $(cat "$tmp/out")"
fi

# The hello guest: two hypercalls, then it is gone.  Booting it needs lg.ko.
${HOSTCC:-cc} -nostdlib -static -no-pie -Wl,-Ttext-segment=0x1000000 -o "$tmp/hello.elf" \
	"$(dirname "$0")/hello_guest.S" || fail build_hello_guest "cannot assemble hello_guest.S"
L --dry-run --kernel "$tmp/hello.elf" --memory 32M > "$tmp/out" 2>&1
expect hello_guest_entry_from_note "(entry 0xffffffff81001000" "$tmp/out"
if [ -e /dev/lguest ]; then
	L --kernel "$tmp/hello.elf" --memory 32M --name hello > "$tmp/out" 2>&1
	status=$?
	grep -q "hello from an lguest guest" "$tmp/out" && [ $status -eq 0 ] &&
		pass hello_guest_boots_and_powers_off ||
		fail hello_guest_boots_and_powers_off "status $status: $(cat "$tmp/out")"
else
	echo "XFAIL: test_launch.sh:hello_guest_boots_and_powers_off: needs lg.ko (/dev/lguest): boot the appliance, then lgbox launch --kernel hello-guest.elf --memory 32M (make -C lgbox hello-guest builds it)"
fi

# --dry-run changes nothing: an overlay named is not created.
L --dry-run --kernel "$tmp/guest.elf" --block "$tmp/disk.img,overlay=$tmp/disk.ovl" > "$tmp/out" 2>&1
status=$?
if [ $status -eq 0 ] && [ ! -e "$tmp/disk.ovl" ] && grep -q "overlay $tmp/disk.ovl does not exist yet" "$tmp/out"; then
	pass dry_run_creates_no_overlay
else
	fail dry_run_creates_no_overlay "status $status, overlay $(ls "$tmp/disk.ovl" 2>&1): $(cat "$tmp/out")"
fi

[ $failures -eq 0 ]
