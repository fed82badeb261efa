#!/bin/bash
# kconfig-fragment.sh: apply config fragments to a Kconfig .config and check the result.
# Used for both Linux and BusyBox, whose own tools differ (BusyBox has no merge_config.sh).
#
#   kconfig-fragment.sh merge CONFIG FRAGMENT...   later fragments win; the caller then runs
#                                                  the project's olddefconfig/oldconfig
#   kconfig-fragment.sh check CONFIG FRAGMENT...   fail when a requested value did not survive
#                                                  (unknown symbol, unmet dependency, typo)
#
# A fragment line is "CONFIG_X=value" or "# CONFIG_X is not set"; other lines are comments.
set -euo pipefail

# settings FRAGMENT...: the fragment lines that set something, normalised to "CONFIG_X=value"
# ("# CONFIG_X is not set" becomes "CONFIG_X=n"), with the file and line each came from
settings() {
	awk '/^CONFIG_[A-Za-z0-9_]+=/ { print FILENAME ":" FNR, $0; next }
	     /^# CONFIG_[A-Za-z0-9_]+ is not set$/ { print FILENAME ":" FNR, $2 "=n" }' "$@"
}

merge() {
	local config=$1 where setting sym value tmp
	shift
	tmp=$config.merge.tmp
	cp "$config" "$tmp"
	while read -r where setting; do
		sym=${setting%%=*}
		value=${setting#*=}
		# drop every earlier mention of the symbol, set or unset, then append the new value
		grep -v -E "^($sym=|# $sym is not set$)" "$tmp" >"$tmp.1" || true
		if [ "$value" = n ]; then
			echo "# $sym is not set" >>"$tmp.1"
		else
			echo "$setting" >>"$tmp.1"
		fi
		mv "$tmp.1" "$tmp"
	done < <(settings "$@")
	mv "$tmp" "$config"
}

# check: the last request for each symbol must be what the final .config holds
# ("=n" also matches an absent symbol, which Kconfig writes for invisible options)
check() {
	local config=$1
	shift
	settings "$@" | awk -v config="$config" '
		{ where = $1; setting = substr($0, length($1) + 2); sym = setting; sub(/=.*/, "", sym)
		  want[sym] = substr(setting, length(sym) + 2); from[sym] = where }
		END {
			while ((getline line < config) > 0) {
				if (line ~ /^CONFIG_[A-Za-z0-9_]+=/) {
					s = line; sub(/=.*/, "", s); have[s] = substr(line, length(s) + 2)
				}
			}
			bad = 0
			for (s in want) {
				got = (s in have) ? have[s] : "n"
				if (got != want[s]) {
					printf "lgbox build: %s: %s=%s was requested but %s has %s=%s " \
					       "(unknown symbol or unmet dependency)\n",
					       from[s], s, want[s], config, s, got > "/dev/stderr"
					bad = 1
				}
			}
			exit bad
		}'
}

case ${1:-} in
merge | check)
	cmd=$1
	shift
	[ $# -ge 1 ] || { echo "usage: $0 $cmd CONFIG FRAGMENT..." >&2; exit 2; }
	$cmd "$@"
	;;
*)
	echo "usage: $0 merge|check CONFIG FRAGMENT..." >&2
	exit 2
	;;
esac
