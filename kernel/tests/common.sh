# common.sh: what the appliance-side scripts of the lg.ko suite share
# (sourced by run and fuzz; BusyBox sh).
# shellcheck shell=dash

mem_available_kib() {
	awk '$1 == "MemAvailable:" { print $2 }' /proc/meminfo
}

# the host kernel's complaints so far: warnings, bugs, oopses
kernel_log_complaints() {
	dmesg | grep -E 'WARNING:|BUG:|Oops|general protection|Call Trace'
}
