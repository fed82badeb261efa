#!/bin/sh
# console-attach system test: drives `lgbox console-attach` in a real
# pseudo-terminal (a private tmux server) against a real console socket
# peer, and checks what a user sees: output arrives, typed bytes reach the
# guest side, the detach key detaches, and the terminal mode is the same
# after every way out (detach, guest gone, SIGTERM, SIGHUP) as before.
# Pipe mode and the "not running" messages are checked without a terminal.
#
# The peer is tests/helpers/console-peer.py, which speaks launch's console
# protocol (replay banner, raw bytes, input logged byte for byte), until
# `lgbox launch` can serve a real guest's console here.
#
# Environment: O (output dir, default output), LGBOX (binary to test,
# default $O/build/lgbox/lgbox as the top-level make builds it; when that
# is missing, one is built with make -C lgbox into the test's directory).
set -u
cd "$(dirname "$0")/.."
O=${O:-output}
. tests/lib/setup.sh

check() { # check NAME WHY COMMAND...: PASS if COMMAND succeeds
	name=$1 why=$2
	shift 2
	if "$@"; then pass "$name"; else fail "$name" "$why"; fi
}

need_tools tmux:tmux python3:python3 pgrep:procps
work=$(mktemp -d /tmp/lgbox-console-test.XXXXXX)
find_lgbox "$work" CONSOLE_ATTACH
run_dir=$work/run
tmux_server=lgbox-console-test-$$
peer_pid=

cleanup() {
	tmux -L "$tmux_server" kill-server 2>/dev/null
	[ -n "$peer_pid" ] && kill "$peer_pid" 2>/dev/null
	# Panes killed with the server may still be writing their status files.
	for try in 1 2 3 4 5; do
		rm -rf "$work" 2>/dev/null && [ ! -e "$work" ] && break
		sleep 0.2
	done
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

mkdir -p "$run_dir/web"
python3 tests/helpers/console-peer.py "$run_dir/web/console" "$work/peer.log" &
peer_pid=$!

# wait_for COMMAND...: retries for up to 5 s
wait_for() {
	tries=50
	until "$@"; do
		tries=$((tries - 1))
		[ $tries -gt 0 ] || return 1
		sleep 0.1
	done
}
wait_for test -S "$run_dir/web/console" || { echo "FAIL: setup: console peer did not start"; exit 1; }

pane_text() { tmux -L "$tmux_server" capture-pane -p -t "$session" -S -50; }
pane_shows() { pane_text | grep -qF -- "$1"; }
peer_got() { grep -qF -- "$1" "$work/peer.log"; }
peer_got_byte() { od -An -tx1 "$work/peer.log" | grep -qw "$1"; }
keys() { tmux -L "$tmux_server" send-keys -t "$session" "$@"; }
finished() { [ -s "$work/$session.rc" ]; }
exit_code() { cat "$work/$session.rc" 2>/dev/null || echo "(still running)"; }
mode_restored() { cmp -s "$work/$session.before" "$work/$session.after"; }

# attach SESSION ARGS...: runs console-attach in a new terminal, recording the
# terminal mode before and after, and its exit status (written last, so
# "finished" means both are there).
attach() {
	session=$1
	shift
	: >"$work/peer.log"
	tmux -L "$tmux_server" -f /dev/null new-session -d -s "$session" -x 120 -y 30 \
		"stty -g >$work/$session.before; $LGBOX console-attach --run-dir $run_dir $*; \
		 status=\$?; stty -g >$work/$session.after; echo \$status >$work/$session.rc; \
		 sleep 600"
	pane_tty=$(tmux -L "$tmux_server" display -p -t "$session" '#{pane_tty}')
	pane_shell=$(tmux -L "$tmux_server" display -p -t "$session" '#{pane_pid}')
	wait_for pane_shows "REPLAY: console-peer banner"
}

# --- interactive: output, input, raw mode, Ctrl-C, detach key ---
if attach main web; then
	pass "replayed output arrives on the terminal"
else
	fail "replayed output arrives on the terminal" "banner not shown: $(pane_text | head -5)"
fi
check "note on attach names the detach key" "no note in: $(pane_text | head -3)" \
	pane_shows "attached to guest web; detach key: Ctrl-]"
stty_now=$(stty -a <"$pane_tty")
check "terminal is raw while attached" "stty says: $stty_now" \
	sh -c "echo '$stty_now' | grep -q -- '-icanon' && echo '$stty_now' | grep -q -- '-echo '"
keys hello Enter
check "typed input reaches the guest side" "peer log: $(cat "$work/peer.log")" \
	wait_for peer_got hello
check "guest output echoes back on the terminal" "pane: $(pane_text | tail -3)" \
	wait_for pane_shows "echo: hello"
keys C-c
check "Ctrl-C goes to the guest instead of killing console-attach" \
	"peer log has no 0x03 or console-attach ended" \
	sh -c 'sleep 0.3; od -An -tx1 "$1" | grep -qw 03 && [ ! -s "$2" ]' - "$work/peer.log" "$work/main.rc"
keys C-]
wait_for finished
check "Ctrl-] detaches with status 0" "status: $(exit_code)" test "$(exit_code)" = 0
check "terminal mode restored after detach" "stty -g differs" mode_restored
check "note on detach" "pane: $(pane_text | tail -3)" pane_shows "detached from guest web"
check "detach key itself is not sent" "peer log has 0x1d" sh -c '! od -An -tx1 "$1" | grep -qw 1d' - "$work/peer.log"

# --- configurable detach key ---
attach esc -e ^X web
keys C-] x Enter
wait_for peer_got x
check "-e ^X: Ctrl-] is passed to the guest" "peer log: $(od -An -tx1 "$work/peer.log")" peer_got_byte 1d
keys C-x
check "-e ^X: Ctrl-X detaches" "still attached" wait_for finished
check "-e ^X: terminal mode restored" "stty -g differs" mode_restored

# --- read-only ---
attach ro -r web
check "-r: output still arrives" "no banner" pane_shows "REPLAY: console-peer banner"
keys secret Enter
sleep 0.5
keys C-]
wait_for finished
check "-r: typed input never reaches the guest" "peer log: $(cat "$work/peer.log")" \
	sh -c '! grep -q secret "$1"' - "$work/peer.log"
check "-r: terminal mode restored" "stty -g differs" mode_restored

# --- the guest side goes away ---
attach gone web
keys quit Enter
wait_for finished
check "guest closing the console ends console-attach with status 0" "status: $(exit_code)" \
	test "$(exit_code)" = 0
check "guest closing the console: message" "pane: $(pane_text | tail -3)" \
	pane_shows "closed the console (the guest stopped)"
check "guest closing the console: terminal mode restored" "stty -g differs" mode_restored

# --- signals restore the terminal, then kill with the same signal ---
for sig_number in TERM:15 HUP:1; do
	sig=${sig_number%:*}
	attach "sig$sig" web
	child=$(pgrep -P "$pane_shell" -x lgbox)
	[ -n "$child" ] || { fail "SIG$sig" "console-attach process not found"; continue; }
	kill -s "$sig" "$child"
	wait_for finished
	want=$((128 + ${sig_number#*:}))
	check "SIG$sig: dies by the signal (status $want)" "status: $(exit_code)" \
		test "$(exit_code)" = "$want"
	check "SIG$sig: terminal mode restored" "stty -g differs" mode_restored
done

# --- pipe mode ---
out=$(printf 'hello pipe\n' | "$LGBOX" console-attach -q --drain 0.5 --run-dir "$run_dir" web)
status=$?
check "pipe: stdin is sent and output printed until the console is quiet" \
	"status $status, output: $out" \
	sh -c '[ "$1" = 0 ] && printf "%s\n" "$2" | grep -q "echo: hello pipe" &&
	       printf "%s\n" "$2" | grep -q "REPLAY"' - "$status" "$out"
out=$(printf 'quit\n' | "$LGBOX" console-attach -q --drain 30 "$run_dir/web/console" 2>&1)
status=$?
check "pipe: a socket path works and the guest closing ends it" "status $status, output: $out" \
	sh -c '[ "$1" = 0 ] && printf "%s\n" "$2" | grep -q "^bye"' - "$status" "$out"

# --- not running ---
out=$("$LGBOX" console-attach --run-dir "$run_dir" db </dev/null 2>&1)
status=$?
check "not running (no socket): exit 1 with a clear message" "status $status: $out" \
	sh -c '[ "$1" = 1 ] && printf "%s\n" "$2" | grep -q "guest db is not running (no console socket"' \
	- "$status" "$out"
mkdir -p "$run_dir/old"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$run_dir/old/console"
out=$("$LGBOX" console-attach --run-dir "$run_dir" old </dev/null 2>&1)
status=$?
check "not running (stale socket): exit 1 with a clear message" "status $status: $out" \
	sh -c '[ "$1" = 1 ] && printf "%s\n" "$2" | grep -q "guest old is not running (nothing listens"' \
	- "$status" "$out"
out=$("$LGBOX" console-attach -e xx web </dev/null 2>&1)
status=$?
check "bad detach key: usage error (exit 2)" "status $status: $out" \
	sh -c '[ "$1" = 2 ] && printf "%s\n" "$2" | grep -q "expected a ^X style key"' - "$status" "$out"

# --- against a real guest ---
# Every case above talks to console-peer.py.  console-attach against guest
# consoles served by `lgbox launch` on lg.ko (pipe mode, replay, a guest's
# exit) is exercised by tests/guests.py inside the booted appliance.

[ $failures -eq 0 ]
