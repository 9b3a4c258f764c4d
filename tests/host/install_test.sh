#!/usr/bin/env bash
# `meson install --destdir` puts vpf, its man pages, its documentation and the example
# systemd unit under DESTDIR and nowhere else; the man pages render without warnings
# (groff, or mandoc, when installed) and name every option `vpf run --help` and
# `vpf ctl --help` list and every --net key, so the help and the pages cannot drift apart.
# Usage: install_test.sh MESON BUILD_ROOT
set -uo pipefail
MESON=$1 BUILD=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

fail() { echo "FAIL [install]: $*"; exit 1; }

dest=$tmp/dest
"$MESON" install -C "$BUILD" --destdir "$dest" --no-rebuild >"$tmp/log" 2>&1 ||
	fail "meson install: $(tail -n 20 "$tmp/log")"
# DESTDIR honoured: everything meson says it installed lies under it.
grep '^Installing ' "$tmp/log" | grep -v " to $dest/" && fail "installed outside DESTDIR"
read -r prefix bindir mandir datadir < <("$MESON" introspect "$BUILD" --buildoptions | python3 -c '
import json, sys
o = {x["name"]: x["value"] for x in json.load(sys.stdin)}
print(o["prefix"], o["bindir"], o["mandir"], o["datadir"])')
root=$dest$prefix
vpf=$root/$bindir/vpf
man1=$root/$mandir/man1
doc=$root/$datadir/doc/vpf
for f in "$man1/vpf.1" "$man1/vpf-ctl.1" "$doc/README.md" "$doc/LICENSE" "$doc/api.md" \
		 "$doc/api.schema.json" "$doc/architecture.md" "$doc/examples/vpf@.service"; do
	[ -s "$f" ] || fail "not installed: ${f#"$dest"}"
done
[ -x "$vpf" ] || fail "not installed: ${vpf#"$dest"}"
"$vpf" --version >"$tmp/version" || fail "the installed vpf does not run"
version=$(awk '{ print $2 }' "$tmp/version")

# The pages: their version, their sections, and no warnings from a formatter.
for page in vpf.1 vpf-ctl.1; do
	grep -q "^\.TH .* \"vpf $version\" " "$man1/$page" || fail "$page: not version $version: $(grep '^\.TH' "$man1/$page")"
	for section in NAME SYNOPSIS DESCRIPTION "EXIT STATUS" "SEE ALSO"; do
		grep -q "^\.SH $section$" "$man1/$page" || fail "$page: no $section section"
	done
	if command -v groff >/dev/null; then
		groff -man -Tutf8 -ww -z "$man1/$page" 2>"$tmp/warn"
		[ ! -s "$tmp/warn" ] || fail "groff warns about $page: $(cat "$tmp/warn")"
	fi
	if command -v mandoc >/dev/null; then
		mandoc -Tlint -W warning "$man1/$page" >"$tmp/warn" 2>&1
		[ ! -s "$tmp/warn" ] || fail "mandoc warns about $page: $(cat "$tmp/warn")"
	fi
	if command -v man >/dev/null; then
		MANWIDTH=80 man --warnings -l "$man1/$page" >"$tmp/text" 2>"$tmp/warn" || fail "man -l $page failed"
		[ ! -s "$tmp/warn" ] || fail "man -l warns about $page: $(cat "$tmp/warn")"
		grep -q "EXIT STATUS" "$tmp/text" || fail "man -l $page rendered nothing useful"
	fi
done

# The page's tagged paragraphs' tags (the line after each .TP), with roff's escapes for
# '-' and fonts undone: where options, keys and commands are described.
tags() { awk 'prev == ".TP" { print } { prev = $0 }' "$1" | sed -e 's/\\-/-/g' -e 's/\\f[BIRP]//g'; }
# Every option a help text lists ("  -k, --kernel BZIMAGE", "      --json") has an entry.
check_options() { # check_options HELP-FILE PAGE
	local opt
	tags "$2" >"$tmp/tags"
	while read -r opt; do
		grep -Eq -- "(^|[ \"])$opt([ \",]|$)" "$tmp/tags" || fail "$(basename "$2") has no entry for the option $opt"
	done < <(grep -oE '^ +(-[a-zA-Z], )?--[a-z][a-z-]*' "$1" | grep -oE -- '--?[a-zA-Z][a-z-]*')
}
"$vpf" run --help >"$tmp/run-help" || fail "vpf run --help failed"
check_options "$tmp/run-help" "$man1/vpf.1"
# Every --net key the help names (key=) is described in vpf.1.
for key in $(sed -n '/--net /,/--ctl PATH/p' "$tmp/run-help" | grep -oE '(^|[ ,\[])[a-z][a-z-]*=' | tr -d ' ,['); do
	grep -Eq "^\.B[IR]? \"?$key" "$tmp/tags" || fail "vpf.1 has no entry for the --net key $key"
done
"$vpf" ctl --help >"$tmp/ctl-help" || fail "vpf ctl --help failed"
check_options "$tmp/ctl-help" "$man1/vpf-ctl.1"
echo "PASS [install]"
