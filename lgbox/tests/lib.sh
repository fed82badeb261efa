# lib.sh - what the shell tests (test_*.sh) share; sourced, not run.
# Sets tmp (a directory removed at exit, after killing the pids listed in
# $pids) and failures, and gives pass/fail lines in the form run-tests.sh
# counts, and tiny_guest FILE: the smallest lguest guest, one loadable
# segment at 16 MiB with the entry note, compiled with HOSTCC (default cc).

test_name=$(basename "$0")
tmp=$(mktemp -d)
pids=""
trap 'for p in $pids; do kill -9 $p 2>/dev/null; done; rm -rf "$tmp"' EXIT
failures=0

pass() { echo "PASS: $test_name:$1"; }
fail() { echo "FAIL: $test_name:$1: $2"; failures=$((failures + 1)); }

tiny_guest() {
	cat > "$tmp/tiny_guest.c" <<'EOC'
__asm__(".pushsection .note.lguest, \"a\"\n"
	".balign 4\n"
	".long 7, 8, 1\n"		/* namesz, descsz, LGUEST_ELFNOTE_ENTRY */
	".asciz \"lguest\"\n"
	".balign 4\n"
	".quad 0xffffffff81000000\n"
	".popsection\n");
void _start(void) { for (;;); }
EOC
	${HOSTCC:-cc} -nostdlib -static -no-pie -Wl,-Ttext-segment=0x1000000 -o "$1" \
		"$tmp/tiny_guest.c" || { fail build_guest "cannot build the test guest"; exit 1; }
}
