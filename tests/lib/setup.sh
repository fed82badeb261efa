# setup.sh: setup shared by the shell system tests (sourced, not run).
#
#   pass NAME, fail NAME WHY    report one case (tests/run counts the lines); $failures
#                               counts the failed ones, for the script's exit status
#   need_tools CMD:PACKAGE...   check that each command is there (make test installs them
#                               with support/inputs.sh); else "FAIL: setup: ..." and exit 1
#   find_lgbox WORK SYMBOL      set LGBOX to the lgbox the top-level make built, or build one
#                               with just CONFIG_LGBOX_SYMBOL into WORK (host compiler)

failures=0
pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: $2"; failures=$((failures + 1)); }

need_tools() {
	local tool
	for tool in "$@"; do
		command -v "${tool%%:*}" >/dev/null || {
			echo "FAIL: setup: ${tool%%:*} is missing: run make packages-test as root" \
				"(or apt-get install ${tool#*:}; support/inputs.sh should list it)"
			exit 1
		}
	done
}

find_lgbox() {
	local work=$1 symbol=$2
	LGBOX=${LGBOX:-$O/build/lgbox/lgbox}
	if [ ! -x "$LGBOX" ]; then
		LGBOX=$work/lgbox-build/lgbox
		echo "CONFIG_LGBOX_$symbol=y" >"$work/lgbox.config"
		make -s -C lgbox O="$work/lgbox-build" CONFIG="$work/lgbox.config" >/dev/null 2>&1 ||
			{ echo "FAIL: setup: cannot build lgbox (make -C lgbox)"; rm -rf "$work"; exit 1; }
	fi
	LGBOX=$(realpath "$LGBOX")
}
