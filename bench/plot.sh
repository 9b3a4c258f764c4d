#!/usr/bin/env bash
# bench/plot.sh RAW.TSV OUT.svg: chart of bench/net_bench.sh results with gnuplot
# (Debian: gnuplot-nox). Left: TCP throughput per VMM (median, min-max bars); middle: UDP
# bulk (iperf3 -u) delivered throughput; right: UDP round-trip p50 and p99 per VMM.
# A panel whose tests did not run shows zeros.
set -euo pipefail
. "$(dirname "$0")/plotlib.sh"
raw=$1 svg=$2
command -v gnuplot >/dev/null || { echo "plot: gnuplot not installed (apt-get install gnuplot-nox)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# One data block per panel: rows = metric, then (median min max) per VMM in order seen.
awk -v dir="$tmp" '
function stats(s, a,   n, i, j, t) { n = split(s, a, " ")
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return sprintf("%s %s %s", n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2, a[1], a[n]) }
/^#/ { next }
{ if (!($1 in seen)) { seen[$1] = 1; vm[++nv] = $1 }
  if ($4 == "-") next
  if ($3 == "udp_rr") { v["p50", $1] = v["p50", $1] " " $4; if ($5 != "-") v["p99", $1] = v["p99", $1] " " $5 }
  else v[$3, $1] = v[$3, $1] " " $4 }
END {
	printf "" >(dir "/vmms"); for (i = 1; i <= nv; i++) print vm[i] >>(dir "/vmms")
	split("tcp_rx tcp_tx", tt, " "); split("p50 p99", ll, " "); split("udp_rx udp_tx", uu, " ")
	for (k = 1; k <= 2; k++) { printf "%s", tt[k] >>(dir "/tcp.dat"); for (i = 1; i <= nv; i++) printf " %s", ((tt[k], vm[i]) in v) ? stats(v[tt[k], vm[i]]) : "0 0 0" >>(dir "/tcp.dat"); print "" >>(dir "/tcp.dat") }
	for (k = 1; k <= 2; k++) { printf "%s", uu[k] >>(dir "/udp.dat"); for (i = 1; i <= nv; i++) printf " %s", ((uu[k], vm[i]) in v) ? stats(v[uu[k], vm[i]]) : "0 0 0" >>(dir "/udp.dat"); print "" >>(dir "/udp.dat") }
	for (k = 1; k <= 2; k++) { printf "%s", ll[k] >>(dir "/rr.dat"); for (i = 1; i <= nv; i++) printf " %s", ((ll[k], vm[i]) in v) ? stats(v[ll[k], vm[i]]) : "0 0 0" >>(dir "/rr.dat"); print "" >>(dir "/rr.dat") }
}' "$raw"
nv=$(wc -l <"$tmp/vmms")
gnuplot <<EOF
set terminal svg size 1380,420 dynamic noenhanced font "sans,11"
set output '$svg'
set multiplot layout 1,3 title "vpf vs QEMU 7.2, nested testbed (L2 <-> L1 over tap), medians with min-max"
$GP_BARS
set offsets graph 0, graph 0, graph 0.12, 0
set title "TCP throughput (iperf3), Mbit/s (higher is better)"
plot $(gp_series "$tmp/tcp.dat" "$tmp/vmms")
set title "UDP bulk delivered (iperf3 -u), Mbit/s (higher is better)"
plot $(gp_series "$tmp/udp.dat" "$tmp/vmms")
set title "UDP 64 B round trip (sockperf), us (lower is better)"
plot $(gp_series "$tmp/rr.dat" "$tmp/vmms")
unset multiplot
EOF
echo "plot: $svg ($nv VMMs)" >&2
