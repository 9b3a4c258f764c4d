#!/bin/sh
# bench/container_report.sh RAW.TSV: the tables of bench/container_bench.sh's raw rows
# (markdown): per path, median (min–max) over the rounds; the seed experiment's numbers
# beside ours with the ratios (of medians, and the median of the per-round ratios); the
# L2 exits and interrupts per packet. Runs with busybox awk (in L1) as well as gawk/mawk.
[ -r "$1" ] || { echo "usage: bench/container_report.sh RAW.TSV" >&2; exit 2; }
awk '
function sortv(s, a,   n, i, j, t) { n = split(s, a, " ")
	for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
	return n }
function med(key,   n, a) { n = sortv(vals[key], a); if (n == 0) { lo = hi = "-"; return "-" }
	lo = a[1]; hi = a[n]; return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2 }
function add(key, v) { if (v == "-" || v == "") return; vals[key] = vals[key] (vals[key] == "" ? "" : " ") v }
function f(x, d) { return x == "-" ? "-" : sprintf("%." d "f", x) }
function cell(key, d,   m) { m = med(key); if (m == "-") return "-"; return f(m, d) " (" f(lo, d) "–" f(hi, d) ")" }
function ratio(k1, k2,   a, b) { a = med(k1); b = med(k2); if (a == "-" || b == "-" || b == 0) return "-"; return sprintf("%.2f", a / b) }
# Ratios of two paths measured in the same round, then their median (min–max).
function paired(p1, p2, m,   r, a, b, key) {
	key = "paired" SUBSEP p1 SUBSEP p2 SUBSEP m; vals[key] = ""
	for (r = 1; r <= nr; r++) {
		a = one[p1, reps[r], m]; b = one[p2, reps[r], m]
		if (a != "" && b != "" && a != "-" && b != "-" && b + 0 > 0) add(key, a / b)
	}
	return cell(key, 2)
}
# A table: path x against the plain VF path (vpf-vf) and the NAT path (vpf-base).
function versus(x, what,   k, m, d) {
	if (!((x SUBSEP "udp_rx") in vals)) return
	print ""
	print what " against a container on VF 0 of the first PF (`vpf-vf`, vpf'"'"'s own data path) and the NAT path (`vpf-base`); per round, median (min–max) of the ratios:"
	print ""
	print "| metric | vpf-vf | " x " | " x "/vpf-vf per round | " x "/vpf-base per round |"
	print "|---|---|---|---|---|"
	for (k = 1; k <= 4; k++) { m = sm[k]; d = (m ~ /rr/) ? 0 : 2
		printf "| %s | %s | %s | %s | %s |\n", desc[m], f(med("vpf-vf" SUBSEP m), d), f(med(x SUBSEP m), d), paired(x, "vpf-vf", m), paired(x, "vpf-base", m) }
}
/^#/ { next }
NF >= 21 {
	p = $1; t = $3
	if (!(p in seen)) { seen[p] = 1; order[++np] = p }
	if (!($2 in rseen)) { rseen[$2] = 1; reps[++nr] = $2 }
	if (t == "udp_rr") { m1 = "rr_p50"; m2 = "rr_p99" } else { m1 = t; m2 = t "_loss" }
	add(p SUBSEP m1, $4); add(p SUBSEP m2, $5); one[p, $2, m1] = $4; one[p, $2, m2] = $5
	if (t != "udp_rr") add(p SUBSEP t "_sent", $6)
	pk = $13 + $14
	tseen[t] = 1
	if (pk <= 0) next
	add(p SUBSEP t SUBSEP "exits", $7 / pk); add(p SUBSEP t SUBSEP "iommio", ($8 + $9) / pk)
	add(p SUBSEP t SUBSEP "irqinj", $12 / pk); add(p SUBSEP t SUBSEP "halt", $11 / pk)
	add(p SUBSEP t SUBSEP "extirq", $10 / pk); add(p SUBSEP t SUBSEP "pkts", pk)
	add(p SUBSEP t SUBSEP "other", $17 + $18)
	# udp_rx: where L2 lost what it lost (container UDP, guest softnet), if fetched.
	if (t == "udp_rx" && NF >= 26 && $22 != "-") {
		l2seen = 1; add(p SUBSEP "l2_in", $22); add(p SUBSEP "l2_rcvbuf", $23)
		add(p SUBSEP "l2_inerr", $24 - $23); add(p SUBSEP "l2_sndrop", $25); add(p SUBSEP "l2_squeeze", $26)
	}
}
END {
	split("udp_tx udp_tx_loss udp_tx_sent udp_rx udp_rx_loss udp_rx_sent rr_p50 rr_p99", ms, " ")
	desc["udp_tx"] = "UDP Tx container→L1, delivered Mbit/s"; desc["udp_tx_loss"] = "UDP Tx loss %"
	desc["udp_tx_sent"] = "UDP Tx sent (by the container), Mbit/s"
	desc["udp_rx"] = "UDP Rx L1→container, delivered Mbit/s"; desc["udp_rx_loss"] = "UDP Rx loss %"
	desc["udp_rx_sent"] = "UDP Rx sent (by L1), Mbit/s"
	desc["rr_p50"] = "UDP 64 B round trip p50, µs"; desc["rr_p99"] = "UDP 64 B round trip p99, µs"
	print "Per path, median (min–max) over " nr " rounds:"
	print ""
	printf "| metric |"; for (i = 1; i <= np; i++) printf " %s |", order[i]
	printf "\n|---|"; for (i = 1; i <= np; i++) printf "---|"; print ""
	for (k = 1; k <= 8; k++) { m = ms[k]; if (!((order[1] SUBSEP m) in vals)) continue
		printf "| %s |", desc[m]; for (i = 1; i <= np; i++) printf " %s |", cell(order[i] SUBSEP m, (m ~ /loss/) ? 1 : (m ~ /rr/) ? 0 : 2); print "" }
	print ""
	print "The seed experiment (Netdev 0x17, container in a VM to an external machine, hardware) beside ours (nested testbed: container in L2 to L1). Ratios: of the medians, and per round (median (min–max) of the ratios of paths measured in the same round):"
	print ""
	print "| metric | seed baseline | seed VF | seed VF/baseline | vpf-base | vpf-vf | vpf-vf/vpf-base (of medians) | vpf-vf/vpf-base per round | qemu-base | vpf-base/qemu-base (of medians) | vpf-base/qemu-base per round |"
	print "|---|---|---|---|---|---|---|---|---|---|---|"
	seedb["udp_tx"] = 1635; seedv["udp_tx"] = 1919; seedb["udp_rx"] = 968; seedv["udp_rx"] = 5422
	seedb["rr_p99"] = 320; seedv["rr_p99"] = 221
	split("udp_tx udp_rx rr_p50 rr_p99", sm, " ")
	for (k = 1; k <= 4; k++) { m = sm[k]; d = (m ~ /rr/) ? 0 : 2
		printf "| %s | %s | %s | %s |", desc[m], (m in seedb) ? seedb[m] : "–", (m in seedv) ? seedv[m] : "–", (m in seedb) ? sprintf("%.2f", seedv[m] / seedb[m]) : "–"
		printf " %s | %s | %s | %s |", f(med("vpf-base" SUBSEP m), d), f(med("vpf-vf" SUBSEP m), d), ratio("vpf-vf" SUBSEP m, "vpf-base" SUBSEP m), paired("vpf-vf", "vpf-base", m)
		printf " %s | %s | %s |\n", f(med("qemu-base" SUBSEP m), d), ratio("vpf-base" SUBSEP m, "qemu-base" SUBSEP m), paired("vpf-base", "qemu-base", m) }
	versus("vpf-vfc", "Interrupt moderation set by the container on its VF (`vpf-vfc`: VF 1 with `ethtool -C rx-usecs:rx-frames` as in the raw file'"'"'s header, virtio NOTF_COAL)")
	versus("vpf-vfv", "The container'"'"'s VF on the kernel'"'"'s data path (`vpf-vfv`: VF 0 of a second virtual PF with `vf-backend=vhost-net`)")
	if (l2seen) {
		print ""
		print "Where the receiver in L2 lost datagrams in `udp_rx` (medians per test): datagrams the container'"'"'s UDP took in, dropped for a full socket receive buffer, other UDP input errors (checksum, memory), and the guest'"'"'s softnet drops (backlog full) and time squeezes (NAPI out of budget or time):"
		print ""
		print "| path | UDP in | receive buffer full | other UDP errors | softnet drops | time squeezes |"
		print "|---|---|---|---|---|---|"
		for (i = 1; i <= np; i++) { p = order[i]
			printf "| %s | %s | %s | %s | %s | %s |\n", p, f(med(p SUBSEP "l2_in"), 0), f(med(p SUBSEP "l2_rcvbuf"), 0), f(med(p SUBSEP "l2_inerr"), 0), f(med(p SUBSEP "l2_sndrop"), 0), f(med(p SUBSEP "l2_squeeze"), 0) }
	}
	print ""
	print "Costs per packet crossing the path'"'"'s tap (both directions; medians over the rounds): L2 VM exits handled by L1 KVM for that VM (the vpf VM carries both vpf paths), io+mmio exits (to the VMM), injected interrupts, HLT exits, external-interrupt exits; packets on the path'"'"'s tap and on the same VM'"'"'s other tap (the path check: the latter stays near zero):"
	print ""
	print "| test | path | exits | io+mmio exits | irq injections | HLT exits | ext-irq exits | tap packets | other tap packets |"
	print "|---|---|---|---|---|---|---|---|---|"
	split("udp_tx udp_rx udp_rr", tt, " ")
	for (k = 1; k <= 3; k++) { t = tt[k]; if (!(t in tseen)) continue
		for (i = 1; i <= np; i++) { p = order[i]
			printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", t, p, f(med(p SUBSEP t SUBSEP "exits"), 2), f(med(p SUBSEP t SUBSEP "iommio"), 2),
				f(med(p SUBSEP t SUBSEP "irqinj"), 2), f(med(p SUBSEP t SUBSEP "halt"), 3), f(med(p SUBSEP t SUBSEP "extirq"), 2),
				f(med(p SUBSEP t SUBSEP "pkts"), 0), f(med(p SUBSEP t SUBSEP "other"), 0) } }
}' "$1"
