#!/usr/bin/env bash
# bench/dp_callgrind.sh [BUILD_DIR] [OUT_DIR]: instructions per packet of vpf's virtio-net
# data path, from valgrind --tool=callgrind over bench/dp_bench.
#
# Only the device side is collected (--toggle-collect on vnet_io_run, a run over the
# transmit or receive queue and what it ended with applied, inclusive: virtqueue walk,
# used ring, notify decision, the backend
# call and, for the loop backend, the user-space part of its syscalls); the synthetic
# driver and the peer are not. Kernel instructions are never counted by valgrind.
# Prints a markdown table and keeps the callgrind files (and annotations) in OUT_DIR
# (default /tmp/vpf-dp-callgrind).
set -euo pipefail
build=${1:-build}
out=${2:-/tmp/vpf-dp-callgrind}
bin=$build/bench/dp_bench
[ -x "$bin" ] || { echo "dp_callgrind: no $bin (build with meson/ninja first)" >&2; exit 1; }
command -v valgrind >/dev/null || { echo "dp_callgrind: valgrind is not installed" >&2; exit 1; }
mkdir -p "$out"

packets() { # packets CASE BACKEND: how many packets to run under valgrind
	case $1-$2 in
	*64k-loop) echo 2000 ;;
	*64k-sink) echo 20000 ;;
	*-loop) echo 20000 ;;
	*) echo 200000 ;;
	esac
}

echo "| case | backend | packets | instructions/packet (device path) | top functions (self, % of device path) |"
echo "|---|---|---|---|---|"
for be in sink loop; do
	for c in tx64 rx64 tx64k rx64k; do
		fn=vnet_io_run
		f=$out/callgrind.$c.$be
		n=$(packets "$c" "$be")
		timeout 600 valgrind --tool=callgrind --callgrind-out-file="$f" --toggle-collect="$fn" \
			"$bin" --packets "$n" --backend "$be" "$c" >"$f.stdout" 2>"$f.stderr" ||
			{ echo "| $c | $be | failed (see $f.stderr) | | |"; continue; }
		got=$(awk -v c="$c" '$1 == c {print $NF}' "$f.stdout")
		callgrind_annotate --inclusive=no "$f" >"$f.annotate" 2>/dev/null || true
		total=$(sed -n 's/^\([0-9,]*\) .*PROGRAM TOTALS.*/\1/p' "$f.annotate" | tr -d ,)
		# top 4 functions by self cost
		top=$(awk -v tot="$total" '
			/file:function/ {go = 1; next}
			go && /^ *[0-9,]+ / {
				n = $1; gsub(",", "", n); fnm = $0; sub(/^ *[0-9,]+ *(\([^)]*\))? */, "", fnm)
				sub(/^.*:/, "", fnm); sub(/ .*/, "", fnm)
				printf "%s%s %.0f%%", (k++ ? ", " : ""), fnm, 100 * n / tot
				if (k == 4) exit
			}' "$f.annotate")
		echo "| $c | $be | $got | $(awk -v t="$total" -v p="$got" 'BEGIN {printf "%.0f", t / p}') | $top |"
	done
done
