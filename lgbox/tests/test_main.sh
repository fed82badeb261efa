#!/bin/sh
# test_main.sh - the multicall framework as a user sees it: dispatch by
# argv[0] and by first argument, --list, --help/--version for every applet,
# unknown applets, and --install with hard and symbolic links.
# Needs LGBOX (the built binary) in the environment.

: "${LGBOX:?LGBOX must name the lgbox binary}"
. "$(dirname "$0")/lib.sh"

applets=$("$LGBOX" --list)
if [ -n "$applets" ] && [ "$applets" = "$(echo "$applets" | sort)" ]; then
	pass list_sorted_nonempty
else
	fail list_sorted_nonempty "lgbox --list printed '$applets'"
fi

ok=1
for a in $applets; do
	out=$("$LGBOX" "$a" --help) || { ok=0; fail "help_$a" "exit $?"; continue; }
	case "$out" in
	"Usage: lgbox $a "*) ;;
	*) ok=0; fail "help_$a" "unexpected usage text: $(echo "$out" | head -1)" ;;
	esac
	"$LGBOX" "$a" -h >/dev/null || { ok=0; fail "help_$a" "-h exited $?"; }
	out=$("$LGBOX" "$a" --version)
	case "$out" in
	"lgbox $a "*) ;;
	*) ok=0; fail "version_$a" "printed '$out'" ;;
	esac
done
[ $ok = 1 ] && pass every_applet_help_and_version

"$LGBOX" --help | grep -q '^Usage: lgbox APPLET' && pass main_help || fail main_help "no usage"
"$LGBOX" --version | grep -q '^lgbox ' && pass main_version || fail main_version "no version"

err=$("$LGBOX" no-such-applet 2>&1)
status=$?
if [ $status -eq 2 ] && echo "$err" | grep -q 'unknown applet "no-such-applet"'; then
	pass unknown_applet
else
	fail unknown_applet "status $status, message '$err'"
fi

"$LGBOX" >/dev/null 2>&1
[ $? -eq 2 ] && pass no_arguments_is_usage_error || fail no_arguments_is_usage_error "status not 2"

# --install with hard links, then dispatch through one of them.
mkdir "$tmp/bin" "$tmp/sbin"
cp "$LGBOX" "$tmp/lgbox"
first=$(echo "$applets" | head -1)
if "$tmp/lgbox" --install "$tmp/bin" &&
   [ "$(ls "$tmp/bin" | sort)" = "$applets" ] &&
   [ "$(stat -c %i "$tmp/bin/$first")" = "$(stat -c %i "$tmp/lgbox")" ]; then
	pass install_hardlinks
else
	fail install_hardlinks "links in bin: $(ls "$tmp/bin" | tr '\n' ' ')"
fi
"$tmp/bin/$first" --help | grep -q "^Usage: lgbox $first " &&
	pass dispatch_by_argv0 || fail dispatch_by_argv0 "$first link did not run $first"

"$tmp/lgbox" --install "$tmp/bin" && pass install_is_rerunnable ||
	fail install_is_rerunnable "second --install failed"

if "$tmp/lgbox" --install -s "$tmp/sbin" && [ -L "$tmp/sbin/$first" ] &&
   [ "$(readlink "$tmp/sbin/$first")" = "$tmp/lgbox" ]; then
	pass install_symlinks
else
	fail install_symlinks "no symlink $tmp/sbin/$first -> $tmp/lgbox"
fi

mkdir "$tmp/busy" && echo keep > "$tmp/busy/$first"
if ! "$tmp/lgbox" --install "$tmp/busy" 2>"$tmp/err" &&
   grep -q "exists and is not lgbox" "$tmp/err" && [ "$(cat "$tmp/busy/$first")" = keep ]; then
	pass install_keeps_foreign_files
else
	fail install_keeps_foreign_files "foreign file replaced or not reported"
fi

"$LGBOX" --install 2>/dev/null
[ $? -eq 2 ] && pass install_without_dir_is_usage_error ||
	fail install_without_dir_is_usage_error "status not 2"

[ $failures -eq 0 ]
