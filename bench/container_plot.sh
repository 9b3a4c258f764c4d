#!/usr/bin/env bash
# bench/container_plot.sh RAW.TSV OUT.svg: chart of bench/container_bench.sh results with
# gnuplot (Debian: gnuplot-nox). Left: UDP delivered throughput per direction; middle: UDP
# round trip p50/p99; right: L2 exits per packet per test. One bar per path (median),
# min-max error bars.
set -euo pipefail
. "$(dirname "$0")/plotlib.sh"
raw=$1 svg=$2
command -v gnuplot >/dev/null || { echo "plot: gnuplot not installed (apt-get install gnuplot-nox)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# One data file per panel: a row per metric, then (median min max) per path in order seen.
awk -v dir="$tmp" '
function stats(s, a,   n, i, j, t) { n = split(s, a, " ")
	if (n == 0) return "0 0 0"
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return sprintf("%s %s %s", n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2, a[1], a[n]) }
function row(file, label, key,   i) { printf "%s", label >>file
	for (i = 1; i <= np; i++) printf " %s", stats(v[key, p[i]]) >>file; print "" >>file }
/^#/ { next }
NF >= 21 { if (!($1 in seen)) { seen[$1] = 1; p[++np] = $1 }
  pk = $13 + $14; if (pk > 0) v["ex_" $3, $1] = v["ex_" $3, $1] " " $7 / pk
  if ($4 == "-") next
  if ($3 == "udp_rr") { v["p50", $1] = v["p50", $1] " " $4; v["p99", $1] = v["p99", $1] " " $5 }
  else v[$3, $1] = v[$3, $1] " " $4 }
END {
	for (i = 1; i <= np; i++) print p[i] >>(dir "/paths")
	row(dir "/tput.dat", "\"Tx (to L1)\"", "udp_tx"); row(dir "/tput.dat", "\"Rx (from L1)\"", "udp_rx")
	row(dir "/rr.dat", "p50", "p50"); row(dir "/rr.dat", "p99", "p99")
	row(dir "/exits.dat", "udp_tx", "ex_udp_tx"); row(dir "/exits.dat", "udp_rx", "ex_udp_rx"); row(dir "/exits.dat", "udp_rr", "ex_udp_rr")
}' "$raw"
gnuplot <<EOF
set terminal svg size 1200,420 dynamic noenhanced font "sans,11"
set output '$svg'
set multiplot layout 1,3 title "Container in L2 <-> L1, nested testbed: vpf NAT path, vpf VF paths (vfc: interrupt moderation), QEMU 7.2 NAT path (medians, min-max bars)"
$GP_BARS
set offsets graph 0, graph 0, graph 0.15, 0
set title "UDP delivered, Mbit/s (higher is better)"
plot $(gp_series "$tmp/tput.dat" "$tmp/paths")
set title "UDP 64 B round trip, us (lower is better)"
plot $(gp_series "$tmp/rr.dat" "$tmp/paths")
set title "L2 exits per packet (lower is better)"
plot $(gp_series "$tmp/exits.dat" "$tmp/paths")
unset multiplot
EOF
echo "plot: $svg" >&2
