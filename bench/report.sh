#!/bin/sh
# bench/report.sh RAW.TSV: the tables of bench/net_bench.sh's raw rows (markdown).
# Medians over the repetitions, with min-max; ratios are vpf / qemu (vhost=off).
# Cost per unit: per MB on the tap (both directions) for TCP, per packet on the tap for
# udp_rx/udp_tx (iperf3 -u: delivered Mbit/s and loss %), per round trip for udp_rr.
# Runs with busybox awk (in L1) as well as gawk/mawk.
[ -r "$1" ] || { echo "usage: bench/report.sh RAW.TSV" >&2; exit 2; }
awk '
function med(key,   n, i, j, t, a) {
	n = split(vals[key], a, " ")
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
	if (n == 0) { lo = hi = "-"; return "-" }
	lo = a[1]; hi = a[n]
	return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
function add(key, v) { if (v == "-" || v == "") return; vals[key] = vals[key] (vals[key] == "" ? "" : " ") v }
function f(x, d) { return x == "-" ? "-" : sprintf("%." d "f", x) }
function cell(key, d,   m) { m = med(key); if (m == "-") return "-"; return f(m, d) " (" f(lo, d) "–" f(hi, d) ")" }
function ratio(k1, k2,   a, b) { a = med(k1); b = med(k2); if (a == "-" || b == "-" || b + 0 == 0) return "-"; return sprintf("%.2f", a / b) }
# Ratios of the two VMMs measured back to back in the same round, then their median.
function paired(v1, v2, t, m,   r, a, b, key) {
	key = "paired" SUBSEP v1 SUBSEP t SUBSEP m; vals[key] = ""
	for (r = 1; r <= nr; r++) {
		a = one[v1, reps[r], t, m]; b = one[v2, reps[r], t, m]
		if (a != "" && b != "" && a != "-" && b != "-" && b + 0 > 0) add(key, a / b)
	}
	return cell(key, 2)
}
/^#/ { next }
NF >= 23 {
	v = $1; t = $3
	if (!(v in seen)) { seen[v] = 1; order[++nv] = v }
	if (!(t in tseen)) { tseen[t] = 1; torder[++nt] = t }
	pk = $14 + $15; mb = ($16 + $17) / 1e6
	bulk = (t == "udp_rx" || t == "udp_tx")
	unit = (t == "udp_rr") ? pk / 2 : (t == "idle") ? $23 / 1000 : bulk ? pk : mb
	if (t == "udp_rr") { add(v SUBSEP t SUBSEP "p50", $4); add(v SUBSEP t SUBSEP "p99", $5); one[v, $2, t, "p50"] = $4; one[v, $2, t, "p99"] = $5 }
	else if (bulk) { add(v SUBSEP t SUBSEP "mbps", $4); add(v SUBSEP t SUBSEP "loss", $5); one[v, $2, t, "mbps"] = $4; one[v, $2, t, "loss"] = $5 }
	else if (t != "idle") { add(v SUBSEP t SUBSEP "mbps", $4); one[v, $2, t, "mbps"] = $4 }
	if (!($2 in rseen)) { rseen[$2] = 1; reps[++nr] = $2 }
	if (unit <= 0) next
	add(v SUBSEP t SUBSEP "exits", $6 / unit)
	add(v SUBSEP t SUBSEP "iommio", ($7 + $8) / unit)
	add(v SUBSEP t SUBSEP "irqinj", $11 / unit)
	add(v SUBSEP t SUBSEP "halt", $10 / unit)
	add(v SUBSEP t SUBSEP "extirq", $9 / unit)
	add(v SUBSEP t SUBSEP "sys", ($20 + $21) / unit)
	add(v SUBSEP t SUBSEP "devms", ($18 + $22) * 10 / unit)
	add(v SUBSEP t SUBSEP "vcpums", $19 * 10 / unit)
	if (t != "udp_rr" && t != "idle" && !bulk) add(v SUBSEP t SUBSEP "pktmb", pk / mb)
}
END {
	ref = "qemu"
	desc["tcp_rx"] = "TCP L1→L2 (guest RX), Mbit/s"
	desc["tcp_tx"] = "TCP L2→L1 (guest TX), Mbit/s"
	desc["udp_rx_mbps"] = "UDP L1→L2 (guest RX) delivered, Mbit/s"
	desc["udp_rx_loss"] = "UDP L1→L2 (guest RX) loss, %"
	desc["udp_tx_mbps"] = "UDP L2→L1 (guest TX) delivered, Mbit/s"
	desc["udp_tx_loss"] = "UDP L2→L1 (guest TX) loss, %"
	desc["udp_rr_p50"] = "UDP 64 B round trip p50, µs"
	desc["udp_rr_p99"] = "UDP 64 B round trip p99, µs"
	printf "| test |"; for (i = 1; i <= nv; i++) printf " %s |", order[i]
	for (i = 1; i <= nv; i++) if (order[i] != ref) printf " %s/%s (of medians) | %s/%s per round: median (min–max) |", order[i], ref, order[i], ref
	printf "\n|---|"; for (i = 1; i <= nv; i++) printf "---|"; for (i = 1; i <= nv; i++) if (order[i] != ref) printf "---|---|"
	printf "\n"
	for (j = 1; j <= nt; j++) {
		t = torder[j]
		if (t == "idle") continue
		bulk = (t == "udp_rx" || t == "udp_tx")
		nm = (t == "udp_rr" || bulk) ? 2 : 1
		for (m = 1; m <= nm; m++) {
			metric = (t == "udp_rr") ? (m == 1 ? "p50" : "p99") : (bulk && m == 2) ? "loss" : "mbps"
			d = (t == "udp_rr" || bulk) ? t "_" metric : t
			printf "| %s |", desc[d]
			for (i = 1; i <= nv; i++) printf " %s |", cell(order[i] SUBSEP t SUBSEP metric, metric == "mbps" || metric == "loss" ? 1 : 0)
			for (i = 1; i <= nv; i++) if (order[i] != ref) printf " %s | %s |", ratio(order[i] SUBSEP t SUBSEP metric, ref SUBSEP t SUBSEP metric), paired(order[i], ref, t, metric)
			printf "\n"
		}
	}
	printf "\nCosts (medians): per MB crossing the tap for TCP, per packet crossing the tap for udp_rx/udp_tx, per round trip for udp_rr, per second for idle (no traffic: the background). "
	printf "exits, io+mmio exits (to the VMM), injected interrupts, HLT exits, external-interrupt exits: L2 VM exits handled by L1 KVM (this VM only); "
	printf "syscalls: read+write class syscalls of the VMM process (/proc/PID/io); device/vCPU ms: CPU time of the VMM threads (vhost kernel thread counted as device).\n\n"
	printf "| test | VMM | exits | io+mmio exits | irq injections | HLT exits | ext-irq exits | syscalls | device CPU ms | vCPU CPU ms | tap pkts/MB |\n"
	printf "|---|---|---|---|---|---|---|---|---|---|---|\n"
	for (j = 1; j <= nt; j++) {
		t = torder[j]
		for (i = 1; i <= nv; i++) {
			k = order[i] SUBSEP t SUBSEP
			bulk = (t == "udp_rx" || t == "udp_tx")
			p = bulk ? 2 : 1	# per packet: small numbers, one more digit
			printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", t == "idle" ? "idle (per s)" : t == "udp_rr" ? "udp_rr (per round trip)" : bulk ? t " (per packet)" : t " (per MB)", order[i],
				f(med(k "exits"), p), f(med(k "iommio"), 2), f(med(k "irqinj"), p), f(med(k "halt"), p),
				f(med(k "extirq"), p), f(med(k "sys"), p), f(med(k "devms"), p + 1), f(med(k "vcpums"), p + 1),
				(t == "udp_rr" || t == "idle" || bulk) ? "" : f(med(k "pktmb"), 0)
		}
	}
}' "$1"
