#!/usr/bin/env bash
# bench/run.sh: vpf's network benchmarks, one command (see docs/performance.md).
#
#   bench/run.sh [--native-only | --nested-only | --container-only | --no-container]
#                [--reps N] [--secs S] [--vhost] [--udp-rate R[,R...]] [--smp N] [--l2-cpus N]
#                [--out DIR]
#
# 1. native: bench/dp_bench (vpf's virtio-net data path on one core, synthetic guest),
#    --reps runs of every case, median and min-max; then bench/dp_callgrind.sh
#    (instructions per packet under valgrind).
# 2. nested: testbed/run.sh bench/net_bench.sh: in ONE L1 boot, the same L2 under vpf and
#    under QEMU 7.2 (virtio-net-pci, tap, vhost=off; with --vhost also vhost=on),
#    iperf3 TCP and UDP (-u) both ways and sockperf UDP ping-pong, alternating VMMs,
#    --reps rounds (UDP bulk at each --udp-rate: default 30M and 0, iperf3's unlimited
#    -b 0, what a user runs first; one L1 boot per rate, the first rate's tables under
#    the bench's name, the others' under NAME-bRATE).
# 3. container: bench/container_bench.sh: the seed experiment, a
#    container in L2 behind veth + bridge + NAT (vpf and QEMU) or owning a VF of vpf's
#    virtual PF; iperf3 UDP both ways at --udp-rate (iperf3 -b) and sockperf ping-pong;
#    --l2-cpus N: vCPUs of its L2s (default 1; with more, NIC RX interrupts on CPU 0,
#    the containers' servers and the TX interrupts on the last CPU).
# 2 and 3 run in separate L1 boots. --smp N: L1's vCPUs (testbed/run.sh --smp; default
# 1, the testbed's shape). The L1 heartbeat limit is 300 s here (HEARTBEAT_SECS): under a
# UDP flood a 1-vCPU L1 can go quiet for longer than the tests' 90 s and still finish.
# Everything lands in DIR (default build/bench/), with report.md holding all tables and,
# when gnuplot is installed, chart.svg and container.svg. Environment: BUILD (default
# build), VPF. Not a test: it fails only when something could not run at all or a
# nested run did not finish (its report says INCOMPLETE).
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
native=1 nested=1 container=1 reps=3 secs=5 vhost=0 rates=30M,0 smp='' l2cpus=1 out=$repo/build/bench
while [ $# -gt 0 ]; do
	case $1 in
	--native-only) nested=0 container=0 ;;
	--nested-only) native=0 container=0 ;;
	--container-only) native=0 nested=0 ;;
	--no-container) container=0 ;;
	--udp-rate) rates=$2; shift ;;
	--smp) smp=$2; shift ;;
	--l2-cpus) l2cpus=$2; shift ;;
	--reps) reps=$2; shift ;;
	--secs) secs=$2; shift ;;
	--vhost) vhost=1 ;;
	--out) out=$(realpath -m "$2"); shift ;;
	*) sed -n '2,28s/^# \{0,1\}//p' "$0"; exit 2 ;;
	esac
	shift
done
build=${BUILD:-$repo/build}
mkdir -p "$out"
say() { printf '[bench] %s\n' "$*" >&2; }

[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
ninja -C "$build" >/dev/null
export VPF=${VPF:-$build/vpf}

if [ "$native" = 1 ]; then
	say "dp_bench: $reps runs of 1 s per case"
	: >"$out/dp_bench.txt"
	for _ in $(seq 1 "$reps"); do
		timeout 300 "$build/bench/dp_bench" --secs 1 | tee -a "$out/dp_bench.txt" >&2
	done
	{
		echo "| case | backend | packets/s | Gbit/s | ns/packet | interrupts/packet |"
		echo "|---|---|---|---|---|---|"
		awk '
		function sortv(s, a,   n, i, j, t) { n = split(s, a, " ")
			for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
			return n }
		function cell(s, d,   a, n) { n = sortv(s, a)
			return sprintf("%." d "f (%." d "f–%." d "f)", n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2, a[1], a[n]) }
		$1 == "case" { next }
		{ k = $1 " | " $2; if (!(k in seen)) { seen[k] = 1; order[++n] = k }
		  pps[k] = pps[k] " " $3; gb[k] = gb[k] " " $4; ns[k] = ns[k] " " $5; irq[k] = irq[k] " " $6 }
		END { for (i = 1; i <= n; i++) { k = order[i]
			printf "| %s | %s | %s | %s | %s |\n", k, cell(pps[k], 0), cell(gb[k], 2), cell(ns[k], 0), cell(irq[k], 3) } }
		' "$out/dp_bench.txt"
	} >"$out/dp_bench.md"
	say "callgrind (a few minutes)"
	bench/dp_callgrind.sh "$build" "$out/callgrind" >"$out/dp_callgrind.md"
fi

# run_nested NAME REPORT L1_SMP RATE OUTNAME: testbed/run.sh bench/NAME.sh in its own L1 boot
# with UDP at RATE, its raw rows and logs into $out/OUTNAME/, its tables (REPORT) into
# $out/OUTNAME.md. A run that did not finish (L1 hung, scenario failed) keeps the rows it
# got, flagged in the report.
incomplete=
run_nested() {
	local n=$1 report=$2 l1smp=$3 rate=$4 o=$5 rc=0 res=$repo/build/testbed/results/$1
	say "nested: testbed/run.sh bench/$n.sh (reps $reps, $secs s per test, vhost row: $vhost, UDP rate $rate, L1 smp ${l1smp:-default}, L2 vCPUs $l2cpus)"
	E2E_BENCH_REPS=$reps E2E_BENCH_SECS=$secs E2E_BENCH_VHOST=$vhost E2E_BENCH_UDP_RATE=$rate \
		E2E_BENCH_L2_CPUS=$l2cpus testbed/run.sh ${l1smp:+--smp "$l1smp"} "bench/$n.sh" >"$out/testbed-$o.log" 2>&1 || rc=$?
	tail -n 4 "$out/testbed-$o.log" >&2
	rm -rf "${out:?}/$o" && mkdir -p "$out/$o"
	cp "$res"/*.tsv "$res"/*.md "$res"/*.log "$out/$o/" 2>/dev/null || true
	[ -s "$out/$o/raw.tsv" ] || { say "no raw.tsv from $o (rc=$rc), see $out/testbed-$o.log"; exit 1; }
	{
		echo "UDP offered rate: iperf3 -b $rate$([ "$rate" != 0 ] || echo ' (unlimited)')"
		echo
		[ "$rc" = 0 ] || printf '**INCOMPLETE: the run failed (testbed rc=%s: %s); the tables hold the rows it got.**\n\n' \
			"$rc" "$(grep -a "$n" "$out/testbed-$o.log" | tail -n 1)"
		"$report" "$out/$o/raw.tsv"
	} >"$out/$o.md"
	[ "$rc" = 0 ] || incomplete+="$o "
}
# nested_rates NAME REPORT: run_nested once per --udp-rate.
nested_rates() {
	local r first=1
	IFS=, read -r -a rs <<<"$rates"
	for r in "${rs[@]}"; do
		if [ "$first" = 1 ]; then run_nested "$1" "$2" "$smp" "$r" "$1"; else run_nested "$1" "$2" "$smp" "$r" "$1-b$r"; fi
		first=0
	done
}
# Both keep the testbed's default L1 shape: with -smp 2 the L2s of the container run
# reset (triple fault, under vpf and QEMU alike) in 3 of 3 attempts on final main, while
# -smp 1 with the longer heartbeat limit finished (bench/results/NOTES.md, run C4).
export HEARTBEAT_SECS=${HEARTBEAT_SECS:-300}
[ "$nested" = 0 ] || nested_rates net_bench bench/report.sh
[ "$container" = 0 ] || nested_rates container_bench bench/container_report.sh

{
	echo "# vpf benchmark report ($(date -u +%Y-%m-%dT%H:%MZ), $(git -C "$repo" rev-parse --short HEAD 2>/dev/null || echo '?'))"
	echo
	echo "Host: $(nproc) CPUs, $(sed -n 's/^model name[^:]*: //p' /proc/cpuinfo | head -n1), kernel $(uname -r)"
	for f in container_bench net_bench dp_bench dp_callgrind; do
		for m in "$out/$f.md" "$out/$f"-b*.md; do
			[ -f "$m" ] || continue
			echo; echo "## $(basename "$m" .md)"; echo; cat "$m"
		done
	done
} >"$out/report.md"
if command -v gnuplot >/dev/null; then
	[ "$nested" = 0 ] || bench/plot.sh "$out/net_bench/raw.tsv" "$out/chart.svg" || say "chart failed"
	[ "$container" = 0 ] || bench/container_plot.sh "$out/container_bench/raw.tsv" "$out/container.svg" || say "container chart failed"
fi
cat "$out/report.md"
say "written: $out/report.md"
[ -z "$incomplete" ] || { say "INCOMPLETE runs: $incomplete(see $out/testbed-*.log)"; exit 1; }
