#!/bin/sh
# test_supervise.sh - launch's supervisor, stop, start and list as a user
# sees them, on fake-lgbox: the whole lgbox with tests/fake_guest.c in place
# of /dev/lguest, whose "guest" crashes, powers off, ignores or obeys the
# power button as its command line says.  Cases: a crashed guest with
# restart=on-crash is back within the backoff and list says so; restart=no
# leaves it crashed; the restart limit; stop of a guest that obeys the power
# button ends with status 0, one that ignores it is killed after the grace
# time, and stop --timeout kills a launcher; host-cpus pins the guest
# process and list shows where its vCPU runs; stop --all; start; a stale run
# directory whose pid belongs to another process can neither kill nor block
# anything; the guest process runs as --user with no capabilities and the
# seccomp filter, which refuses a system call the device model does not make.
# Needs LGBOX_FAKE, a C compiler for the tiny guest ELF, and root for --user.

: "${LGBOX_FAKE:?LGBOX_FAKE must name the fake-lgbox binary}"
. "$(dirname "$0")/lib.sh"
run="$tmp/run"
conf="$tmp/guests"
mkdir -p "$conf"

# check NAME WHY COMMAND...: PASS if COMMAND succeeds, else FAIL with WHY
check() {
	name=$1 why=$2
	shift 2
	if "$@"; then pass "$name"; else fail "$name" "$why"; fi
}

tiny_guest "$tmp/guest.elf"

F() { "$LGBOX_FAKE" "$@"; }
# guest_conf NAME CMDLINE [KEY = VALUE lines]: a fixed guest's config file
guest_conf() {
	name=$1 cmdline=$2
	shift 2
	{
		echo "kernel = $tmp/guest.elf"
		echo "memory = 32M"
		echo "cmdline = $cmdline"
		echo "console = socket"
		echo "run-dir = $run"
		for line in "$@"; do echo "$line"; done
	} > "$conf/$name.conf"
}
# field NAME COLUMN: one column of NAME's line in list (STATE 2, PID 3, RESTARTS 6,
# VCPUS 7, HOST-CPUS 8, VCPU-CPUS 9)
field() { F list --run-dir "$run" --config-dir "$conf" | awk -v n="$1" -v c="$2" '$1 == n { print $c }'; }
last_end() { F list --run-dir "$run" --config-dir "$conf" | awk -v n="$1" '$1 == n { for (i = 1; i <= 9; i++) $i = ""; sub(/^ +/, ""); print }'; }
# wait_state NAME STATE SECONDS: until list shows it
wait_state() {
	i=0
	while [ "$(field "$1" 2)" != "$2" ] && [ $i -lt $(($3 * 10)) ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ "$(field "$1" 2)" = "$2" ]
}

# --- restart = on-crash: boot 1 crashes after half a second, boot 2 keeps running
guest_conf web "fake.run=0.5 fake.boots=$tmp/web.boots fake.crashes=1" "restart = on-crash" \
	"restart-delay = 1" "log = $tmp/web.log"
F launch --daemon --config "$conf/web.conf"
check daemon_starts "launch --daemon exited $?" [ $? -eq 0 ]
if wait_state web restarting 5 && wait_state web running 4; then
	pass crashed_guest_is_back_within_the_backoff
else
	fail crashed_guest_is_back_within_the_backoff "list: $(F list --run-dir "$run" --config-dir "$conf"); log: $(cat "$tmp/web.log")"
fi
check list_counts_the_restart "restarts: $(field web 6)" [ "$(field web 6)" = 1 ]
check list_gives_the_last_end "last end: $(last_end web)" \
	[ "$(last_end web)" = "crashed: fake crash in boot 1" ]
F list --json --run-dir "$run" --config-dir "$conf" > "$tmp/json"
if python3 -c 'import json, sys
guests = {g["name"]: g for g in json.load(open(sys.argv[1]))}
web = guests["web"]
assert web["state"] == "running" and web["restarts"] == 1 and web["memory"] == 32 << 20
assert web["last_end"] == "crashed: fake crash in boot 1" and isinstance(web["pid"], int)
assert web["vcpus"] == 1 and web["host_cpus"] == "any" and len(web["vcpu_cpus"]) == 1
assert isinstance(web["vcpu_cpus"][0], int)
' "$tmp/json" 2>"$tmp/err"; then
	pass list_json
else
	fail list_json "$(cat "$tmp/err"): $(cat "$tmp/json")"
fi
check log_says_it_crashed_and_restarted "$(cat "$tmp/web.log")" \
	grep -q "guest web ended: crashed (exit status 3)" "$tmp/web.log"

# --- stop: the guest obeys the power button
F stop --run-dir "$run" web
status=$?
check stop_of_a_guest_that_powers_off "status $status, state $(field web 2), end $(last_end web)" \
	[ $status -eq 0 -a "$(field web 2)" = stopped -a "$(last_end web)" = "powered off: power button" ]
check stopped_fixed_guest_keeps_its_record "run dir: $(ls "$run/web" | tr '\n' ' ')" \
	[ -f "$run/web/state" -a ! -e "$run/web/pid" -a ! -e "$run/web/console" ]

# --- start: from the config directory
F start --config-dir "$conf" --run-dir "$run" web
status=$?
check start_runs_a_fixed_guest "status $status, state $(field web 2)" \
	[ $status -eq 0 -a "$(field web 2)" = running -a "$(field web 6)" = 0 ]
F start --config-dir "$conf" --run-dir "$run" web 2> "$tmp/err"
status=$?
check start_refuses_a_running_guest "status $status: $(cat "$tmp/err")" \
	sh -c '[ "$1" = 1 ] && grep -q "guest web is already running" "$2"' - $status "$tmp/err"
F start --config-dir "$conf" --run-dir "$run" nosuch 2> "$tmp/err"
status=$?
check start_of_an_unknown_guest "status $status: $(cat "$tmp/err")" \
	sh -c '[ "$1" = 1 ] && grep -q "no fixed guest nosuch (no config file" "$2"' - $status "$tmp/err"

# --- stop: a guest that ignores the power button is ended after the grace time
F launch --run-dir "$run" --kernel "$tmp/guest.elf" --memory 32M --name deaf --stop-grace 1 \
	--cmdline fake.button=ignore > "$tmp/deaf.out" 2>&1 &
deaf=$!
pids="$pids $deaf"
wait_state deaf running 5
start=$(date +%s)
F stop --run-dir "$run" deaf
stop_status=$?
wait $deaf
status=$?
took=$(($(date +%s) - start))
check ignored_power_button_is_killed_after_the_grace_time \
	"stop $stop_status, launch $status after ${took}s: $(cat "$tmp/deaf.out")" \
	[ $stop_status -eq 0 -a $status -eq 5 -a $took -ge 1 -a $took -le 4 ]
check non_config_guest_leaves_no_run_dir "$(ls "$run")" [ ! -e "$run/deaf" ]

# --- stop --timeout shorter than the grace time: the launcher is killed
F launch --run-dir "$run" --kernel "$tmp/guest.elf" --memory 32M --name stuck --stop-grace 30 \
	--cmdline fake.button=ignore > "$tmp/stuck.out" 2>&1 &
stuck=$!
pids="$pids $stuck"
wait_state stuck running 5
guest=$(cat "$run/stuck/guest-pid")
F stop --run-dir "$run" --timeout 1 stuck 2> "$tmp/err"
status=$?
sleep 0.5	# the guest process dies with its launcher (a zombie if nobody reaps it)
check stop_timeout_kills_the_launcher "status $status, guest process $(grep State "/proc/$guest/status" 2>&1): $(cat "$tmp/err")" \
	sh -c '[ "$1" = 0 ] && grep -q "did not stop within 1s; killing" "$3" && [ ! -e "$4" ] &&
		{ ! kill -0 "$2" 2>/dev/null || grep -q "^State:.*zombie" "/proc/$2/status"; }' \
	- $status "$guest" "$tmp/err" "$run/stuck"

# --- host-cpus: the guest process (vCPU and I/O thread) runs there, its supervisor anywhere
cpu=$(awk '/^Cpus_allowed_list:/ { sub(/[-,].*/, "", $2); print $2 }' /proc/self/status)
mine=$(awk '/^Cpus_allowed_list:/ { print $2 }' /proc/self/status)
guest_conf pin "" "host-cpus = $cpu"
F launch --daemon --config "$conf/pin.conf"
guest=$(cat "$run/pin/guest-pid")
vcpu=$(cat "$run/pin/vcpu-tids")
check vcpu_thread_is_pinned "vCPU thread $vcpu of $guest: $(grep Cpus_allowed_list "/proc/$guest/task/$vcpu/status" 2>&1)" \
	grep -q "^Cpus_allowed_list:	$cpu\$" "/proc/$guest/task/$vcpu/status"
check every_guest_thread_is_pinned "$(grep Cpus_allowed_list "/proc/$guest"/task/*/status)" \
	[ "$(grep -L "^Cpus_allowed_list:	$cpu\$" "/proc/$guest"/task/*/status)" = "" ]
check supervisor_is_not_pinned "$(grep Cpus_allowed_list "/proc/$(cat "$run/pin/pid")/status")" \
	grep -q "^Cpus_allowed_list:	$mine\$" "/proc/$(cat "$run/pin/pid")/status"
check list_shows_the_pinning "vcpus $(field pin 7), host-cpus $(field pin 8), on $(field pin 9)" \
	[ "$(field pin 7)" = 1 -a "$(field pin 8)" = "$cpu" -a "$(field pin 9)" = "$cpu" ]
F list --json --run-dir "$run" --config-dir "$conf" > "$tmp/json"
if python3 -c 'import json, sys
pin = {g["name"]: g for g in json.load(open(sys.argv[1]))}["pin"]
cpu = int(sys.argv[2])
assert pin["vcpus"] == 1 and pin["host_cpus"] == str(cpu) and pin["vcpu_cpus"] == [cpu], pin
' "$tmp/json" "$cpu" 2>"$tmp/err"; then
	pass list_json_shows_the_pinning
else
	fail list_json_shows_the_pinning "$(cat "$tmp/err"): $(cat "$tmp/json")"
fi
F stop --run-dir "$run" pin
check stopped_guest_has_no_vcpus "vcpus $(field pin 7), host-cpus $(field pin 8)" \
	[ "$(field pin 7)" = - -a "$(field pin 8)" = "$cpu" -a "$(field pin 9)" = - ]
F launch --run-dir "$run" --kernel "$tmp/guest.elf" --memory 32M --name nowhere \
	--host-cpus 1023 > "$tmp/nowhere.out" 2>&1
status=$?
check absent_cpu_is_refused "status $status: $(cat "$tmp/nowhere.out")" \
	sh -c '[ "$1" = 1 ] && [ "$(cat "$2")" = "lgbox launch: cannot pin guest nowhere to host CPUs 1023: $3" ]' \
	- $status "$tmp/nowhere.out" \
	"not all of them are online and allowed here (the host has $(nproc) CPUs launch may use)"

# --- restart = no, and the restart limit
guest_conf db "fake.run=0.2 fake.end=crash" "restart = no"
F launch --config "$conf/db.conf" > "$tmp/db.out" 2>&1
status=$?
check restart_no_leaves_it_crashed "status $status, state $(field db 2): $(cat "$tmp/db.out")" \
	[ $status -eq 3 -a "$(field db 2)" = crashed -a "$(field db 6)" = 0 ]
guest_conf db "fake.run=0.2 fake.end=crash" "restart = always" "restart-delay = 0" "restart-limit = 2"
F launch --config "$conf/db.conf" > "$tmp/db.out" 2>&1
status=$?
check restart_limit_gives_up "status $status, restarts $(field db 6), end $(last_end db)" \
	sh -c '[ "$1" = 3 ] && [ "$2" = 2 ] && echo "$3" | grep -q "gave up after 2 restarts in a row"' \
	- $status "$(field db 6)" "$(last_end db)"
guest_conf db "fake.run=0.2 fake.boots=$tmp/db.boots" "restart = always" "restart-delay = 0"
F launch --daemon --config "$conf/db.conf"
sleep 1.5
check restart_always_after_poweroff "boots: $(wc -l < "$tmp/db.boots")" [ "$(wc -l < "$tmp/db.boots")" -ge 3 ]

# --- stop --all
F stop --run-dir "$run" --all
status=$?
check stop_all "status $status: $(F list --run-dir "$run" --config-dir "$conf")" \
	[ $status -eq 0 -a "$(field web 2)" = stopped -a "$(field db 2)" = stopped ]
F stop --run-dir "$run" web 2> "$tmp/err"
status=$?
check stop_of_a_stopped_guest "status $status: $(cat "$tmp/err")" \
	sh -c '[ "$1" = 1 ] && grep -q "no running guest web" "$2"' - $status "$tmp/err"

# --- a stale run directory whose pid another process has now
sleep 300 &
other=$!
pids="$pids $other"
mkdir -p "$run/old"
echo $other > "$run/old/pid"
echo running > "$run/old/state"
check pid_reuse_list_does_not_call_it_running "list: $(field old 2)" [ "$(field old 2)" = crashed ]
F stop --run-dir "$run" old 2>/dev/null
status=$?
check pid_reuse_stop_kills_nothing "status $status" sh -c '[ "$1" = 1 ] && kill -0 "$2"' - $status $other
mkdir -p "$run/old"
echo $other > "$run/old/pid"
echo running > "$run/old/state"
: > "$run/old/lock"
F launch --daemon --run-dir "$run" --kernel "$tmp/guest.elf" --memory 32M --name old
status=$?
check pid_reuse_blocks_no_launch "status $status, state $(field old 2), pid $(field old 3)" \
	[ $status -eq 0 -a "$(field old 2)" = running -a "$(field old 3)" != $other ]
F stop --run-dir "$run" old
check pid_reuse_other_process_lives "" kill -0 $other

# --- the guest process's privileges
if [ "$(id -u)" != 0 ]; then
	echo "XFAIL: test_supervise.sh:sandbox: --user needs root"
else
	F launch --daemon --run-dir "$run" --kernel "$tmp/guest.elf" --memory 32M --name jail \
		--user 65534:65534 --console socket
	guest=$(cat "$run/jail/guest-pid" 2>/dev/null)
	grep -E '^(Uid|Gid|CapPrm|CapEff|CapBnd|NoNewPrivs|Seccomp):' "/proc/$guest/status" > "$tmp/status"
	if grep -q '^Uid:	65534	65534	65534	65534' "$tmp/status" &&
	   grep -q '^Gid:	65534	65534	65534	65534' "$tmp/status" &&
	   grep -q '^CapEff:	0000000000000000' "$tmp/status" &&
	   grep -q '^CapBnd:	0000000000000000' "$tmp/status" &&
	   grep -q '^NoNewPrivs:	1' "$tmp/status" && grep -q '^Seccomp:	2' "$tmp/status"; then
		pass guest_process_runs_as_user_with_seccomp
	else
		fail guest_process_runs_as_user_with_seccomp "$(cat "$tmp/status")"
	fi
	check supervisor_stays_root "$(grep Uid "/proc/$(cat "$run/jail/pid")/status")" \
		grep -q '^Uid:	0	0' "/proc/$(cat "$run/jail/pid")/status"
	out=$(echo | "$LGBOX_FAKE" console-attach -q --drain 0.5 --run-dir "$run" jail 2>&1)
	check sandboxed_console_answers "$out" sh -c 'echo "$1" | grep -q "fake guest: boot 1"' - "$out"
	F stop --run-dir "$run" jail
	F launch --run-dir "$run" --kernel "$tmp/guest.elf" --memory 32M --name bad \
		--cmdline "fake.open=/etc/hostname" > "$tmp/bad.out" 2>&1
	status=$?
	check seccomp_refuses_other_system_calls "status $status: $(cat "$tmp/bad.out")" \
		sh -c '[ "$1" = 1 ] && grep -Eq "made system call (2|257) [(].*[)], which its seccomp filter refuses" "$2"' \
		- $status "$tmp/bad.out"
	F launch --run-dir "$run" --kernel "$tmp/guest.elf" --memory 32M --name free --sandbox=no \
		--cmdline "fake.open=/etc/hostname fake.run=0.1" > "$tmp/free.out" 2>&1
	status=$?
	check sandbox_no_runs_without_the_filter "status $status: $(cat "$tmp/free.out")" [ $status -eq 0 ]
fi

[ $failures -eq 0 ]
