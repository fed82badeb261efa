# common.sh: what the appliance-side scripts of the lg.ko suite share
# (sourced by run and fuzz; BusyBox sh).
# shellcheck shell=dash

# KiB of memory the host has free, counted whole: MemFree plus the pages on
# the per-CPU free lists (/proc/zoneinfo's pagesets), after the clean page
# cache and reclaimable slab are dropped.  Not MemAvailable: a freed page
# sits on its CPU's list, which MemFree leaves out, and those lists hold up
# to 27.5 MiB per CPU once THP raises min_free_kbytes (tests/guests.py's
# free_kib() says more).  A page a guest leaves pinned is in neither.
free_memory_kib() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
	awk '$1 == "MemFree:" { free = $2 } $1 == "count:" { pcp += $2 }
		END { print free + pcp * 4 }' /proc/meminfo /proc/zoneinfo
}

# the host kernel's complaints so far: warnings, bugs, oopses
kernel_log_complaints() {
	dmesg | grep -E 'WARNING:|BUG:|Oops|general protection|Call Trace'
}
