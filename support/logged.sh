#!/bin/bash
# logged.sh: run a long build step with its output in a log file instead of the terminal.
#
#   logged.sh LOG WHAT COMMAND...
#
# Keeps "make" output to one progress line per step; with V=1 the output is shown as well.
# On failure the end of the log and one line naming the step and the log are printed.
set -uo pipefail

log=$1 what=$2
shift 2
mkdir -p "$(dirname "$log")"
if [ "${V:-0}" = 1 ]; then
	"$@" 2>&1 | tee "$log"
else
	"$@" >"$log" 2>&1
fi
status=$?
if [ $status -ne 0 ]; then
	[ "${V:-0}" = 1 ] || tail -n 25 "$log" >&2
	echo "lgbox build: $what failed (exit $status); full log: $log" >&2
fi
exit $status
