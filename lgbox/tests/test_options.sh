#!/bin/sh
# test_options.sh - every applet takes options the same way: --opt=value
# and --opt value, options before and after operands, --help anywhere
# (status 0), and bad input answered by one error line naming the applet,
# with status 2 for a usage error and 1 for a runtime failure, before
# anything is changed.  Each case is a bad input a user met (issue 14).
# Needs LGBOX (the built binary) and a C compiler for the tiny guest ELF.

: "${LGBOX:?LGBOX must name the lgbox binary}"
. "$(dirname "$0")/lib.sh"

# bad NAME STATUS MESSAGE ARGS...: lgbox ARGS exits STATUS, saying MESSAGE in exactly one line
bad() {
	name=$1 want=$2 message=$3
	shift 3
	"$LGBOX" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	status=$?
	lines=$(wc -l <"$tmp/err")
	if [ $status = "$want" ] && [ "$lines" = 1 ] && grep -qF -- "$message" "$tmp/err"; then
		pass "$name"
	else
		fail "$name" "status $status (wanted $want), $lines lines: $(cat "$tmp/err")"
	fi
}
# good NAME TEXT ARGS...: lgbox ARGS exits 0 and prints TEXT on stdout
good() {
	name=$1 text=$2
	shift 2
	"$LGBOX" "$@" >"$tmp/out" 2>"$tmp/err" </dev/null
	status=$?
	if [ $status = 0 ] && grep -qF -- "$text" "$tmp/out"; then
		pass "$name"
	else
		fail "$name" "status $status: $(cat "$tmp/out" "$tmp/err")"
	fi
}

tiny_guest "$tmp/guest.elf"
G="--kernel $tmp/guest.elf --dry-run"

# --- the multiplexer and unknown options
bad multiplexer_unknown_option 2 "lgbox: unknown option --foo (see 'lgbox --help')" --foo
bad applet_unknown_option 2 "lgbox launch: unknown option --frob (see 'lgbox launch --help')" \
	launch --frob
bad unknown_short_option 2 "lgbox console-attach: unknown option -z" console-attach -z web
bad missing_value 2 "lgbox list: option --run-dir needs a value" list --run-dir
bad value_for_a_flag 2 "lgbox list: option --json takes no value" list --json=yes

# --- --help anywhere, --opt=value and --opt value alike
good help_after_operands "Usage: lgbox stop " stop web --timeout 3 --help
good help_after_a_command "Usage: lgbox net-setup " net-setup addr lo --help
good option_equals_value "memory: 96 MiB" launch $G --memory=96M
good option_space_value "memory: 96 MiB" launch $G --memory 96M

good unambiguous_abbreviation "memory: 96 MiB" launch $G --mem 96M
bad ambiguous_abbreviation 2 "ambiguous option --re (see 'lgbox launch --help')" launch $G --re x
bad clustered_short_options 2 "option -e needs a value" console-attach -qr -e
bad attached_short_value 2 'bad value "-1" for --timeout' stop -t-1 web
bad double_dash_ends_options 1 "guest -q is not running" console-attach --run-dir "$tmp" -- -q

# --- launch: the same kind of error, the same status
bad memory_not_a_2m_multiple 2 'bad value "65M" for --memory: guest RAM is a multiple of 2 MiB' \
	launch $G --memory 65M
bad memory_not_a_size 2 'bad value "lots" for --memory: expected a size like 64M or 1G' \
	launch $G --memory lots
bad memory_too_large 2 'bad value "1T" for --memory: more than the boot page tables' \
	launch $G --memory 1T
bad missing_config_file 1 "cannot read config file $tmp/none.conf" launch $G --config "$tmp/none.conf"
bad missing_kernel_file 1 "cannot open kernel $tmp/none.elf" launch --dry-run --kernel "$tmp/none.elf"
bad stop_grace_negative 2 'bad value "-1" for --stop-grace' launch $G --stop-grace -1
bad restart_policy 2 'bad value "sometimes" for --restart: expected no, on-crash or always' \
	launch $G --restart sometimes
bad unknown_user 2 'bad value "nosuchuser" for --user: no such user in /etc/passwd' \
	launch $G --user nosuchuser
bad chroot_without_user 2 "--chroot needs --user" launch $G --chroot /tmp
bad sharenet_bad_flag 2 'bad value "/tmp/n,bridge=br0" for --sharenet: unknown sharenet flag' \
	launch $G --sharenet /tmp/n,bridge=br0
cpus='expected host CPUs like 2, 2-3 or 0,2-3 (numbers 0-1023, ranges LOW-HIGH), or any'
bad host_cpus_reversed_range 2 "lgbox launch: bad value \"3-2\" for --host-cpus: $cpus" \
	launch $G --host-cpus 3-2
bad host_cpus_empty_item 2 "lgbox launch: bad value \"0,,1\" for --host-cpus: $cpus" \
	launch $G --host-cpus 0,,1
bad host_cpus_empty 2 "lgbox launch: bad value \"\" for --host-cpus: $cpus" launch $G --host-cpus ""
bad host_cpus_beyond_cpu_setsize 2 "lgbox launch: bad value \"4095\" for --host-cpus: $cpus" \
	launch $G --host-cpus 4095
bad host_cpus_garbage 2 "lgbox launch: bad value \"2-3x\" for --host-cpus: $cpus" \
	launch $G --host-cpus 2-3x
printf 'host-cpus = 0-\n' > "$tmp/cpus.conf"
bad host_cpus_config_key 2 "lgbox launch: $tmp/cpus.conf:1: bad value \"0-\" for host-cpus: $cpus" \
	launch $G --config "$tmp/cpus.conf"
# the dry run pins itself: a CPU launch may not use is a runtime failure
absent="not all of them are online and allowed here (the host has $(nproc) CPUs launch may use)"
bad host_cpus_absent_cpu 1 "lgbox launch: cannot pin guest guest to host CPUs 1-1023: $absent" \
	launch $G --host-cpus 1-1023
cpu=$(awk '/^Cpus_allowed_list:/ { sub(/[-,].*/, "", $2); print $2 }' /proc/self/status)
good host_cpus_present_cpu "host-cpus: $cpu" launch $G --host-cpus "$cpu"
printf 'host-cpus = %s\n' "$cpu" > "$tmp/cpus.conf"
good host_cpus_any_undoes_the_config "host-cpus: any" \
	launch $G --config "$tmp/cpus.conf" --host-cpus any
vcpus='expected a number of vCPUs from 1 to 16'
bad cpus_zero 2 "bad value \"0\" for --cpus: $vcpus" launch $G --cpus 0
bad cpus_beyond_the_abi 2 "bad value \"17\" for --cpus: $vcpus" launch $G --cpus 17
bad cpus_not_a_number 2 "bad value \"two\" for --cpus: $vcpus" launch $G --cpus two
good cpus_default_one "cpus: 1" launch $G
printf 'cpus = 4\n' > "$tmp/vcpus.conf"
good cpus_config_key "cpus: 4" launch $G --config "$tmp/vcpus.conf"
good cpus_command_line_over_config "cpus: 2" launch $G --config "$tmp/vcpus.conf" --cpus 2
printf 'memory = 64M\nmemry = 3\n' > "$tmp/typo.conf"
bad config_typo_is_a_usage_error 2 "$tmp/typo.conf:2: unknown key \"memry\" (did you mean \"memory\"?)" \
	launch $G --config "$tmp/typo.conf"

# --- block images are whole sectors; the dry run creates nothing
: > "$tmp/empty.img"
head -c 1000 /dev/zero > "$tmp/odd.img"
bad empty_block_image 1 "--block $tmp/empty.img: $tmp/empty.img: the image is empty" \
	launch $G --block "$tmp/empty.img"
bad partial_sector_block_image 1 "not a multiple of 512 bytes" launch $G --block "$tmp/odd.img"
bad block_export_empty_image 1 "cannot open image $tmp/empty.img: the image is empty" \
	block-export --nbd-unix "$tmp/nbd.sock" "$tmp/empty.img"
bad block_export_partial_sector 1 "not a multiple of 512 bytes" \
	block-export --nbd-unix "$tmp/nbd.sock" "$tmp/odd.img"
bad block_export_bad_address 2 'bad value "example.org:10809" for --nbd-tcp' \
	block-export --nbd-tcp example.org:10809 "$tmp/odd.img"
bad block_export_queues 2 'bad value "0" for --queues: expected 1 to 64' \
	block-export --queues 0 --nbd-unix "$tmp/nbd.sock" "$tmp/odd.img"

# --- stop, list, start, console-attach
bad stop_negative_timeout 2 'bad value "-1" for --timeout: expected seconds' stop --timeout -1 web
bad stop_without_names 2 "give the guests to stop: NAME... or --all" stop
bad stop_names_and_all 2 "give guest names or --all, not both" stop --all web
bad list_operand 2 'unexpected argument "web"' list web
bad start_without_names 2 "give the fixed guests to start" start
bad console_attach_drain 2 'bad value "lots" for --drain' console-attach --drain lots web
bad console_attach_escape 2 'bad value "xx" for --escape' console-attach -e xx web

# --- net-setup checks a command whole before it changes anything
bad net_setup_bad_address_second 2 'invalid address "10.77.0.300/24"' \
	net-setup --state "$tmp/ns.state" addr lo 10.77.0.1/24 10.77.0.300/24
bad net_setup_option_of_another_command 2 "bridge does not take --owner" \
	net-setup --state="$tmp/ns.state" bridge br-x --owner 0
printf 'bridge br-x\nforwarding maybe\n' > "$tmp/setup"
bad net_setup_apply_checks_every_line_first 2 "$tmp/setup:2: forwarding: expected on or off" \
	net-setup apply "$tmp/setup" --state "$tmp/ns.state"
printf 'bridge br-x --state /tmp/x\n' > "$tmp/setup"
bad net_setup_state_only_on_the_command_line 2 "$tmp/setup:1: --state belongs on the command line" \
	net-setup apply "$tmp/setup" --state "$tmp/ns.state"
if [ -e "$tmp/ns.state" ]; then
	fail net_setup_changed_nothing "a state file was written: $(cat "$tmp/ns.state")"
else
	pass net_setup_changed_nothing
fi

[ $failures -eq 0 ]
