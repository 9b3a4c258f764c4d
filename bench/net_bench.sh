#!/usr/bin/env bash
# testbed-timeout: 1000
# Network benchmark, vpf vs QEMU 7.2, run inside L1 by the testbed (not a test):
#   testbed/run.sh bench/net_bench.sh      (bench/run.sh wraps it and prints the table)
#
# The same L2 kernel and image (tests/e2e/guest/net_servers.sh: iperf3 + sockperf
# servers) boots under
#   vpf   --net tap=vbtap0   (virtio-net, userspace data path on vpf's I/O thread)
#   qemu  virtio-net-pci, -netdev tap,vhost=off   (userspace data path in QEMU's main loop)
#   qemu-vhost  the same with vhost=on            (optional extra row: E2E_BENCH_VHOST=1)
#   vpf-b       another vpf build, E2E_BENCH_VPF_B=PATH (inside the repo): A/B of a change
#   vpf-c       a third one, E2E_BENCH_VPF_C=PATH
# each on its own tap and subnet, booted one after the other (two L2 kernels booting at
# once in L1 took 3-4x longer than one after the other), then all alive at once. Then E2E_BENCH_REPS rounds, each
# running every test against every VMM in turn (order rotated per round):
#   tcp_rx   iperf3 L1 -> L2 (guest receives), E2E_BENCH_SECS seconds
#   tcp_tx   iperf3 -R, L2 -> L1 (guest transmits)
#   udp_rx   iperf3 -u L1 -> L2 (guest receives), E2E_BENCH_UDP_LEN-byte datagrams
#            (1400) asked for at E2E_BENCH_UDP_RATE (200M: more than any VMM delivers
#            here; the sender is limited by its share of L1's CPU)
#   udp_tx   the same with -R, L2 -> L1 (guest transmits)
#   udp_rr   sockperf ping-pong L1 client -> L2 server, 64-byte UDP, full round trip
#   idle     no traffic, E2E_BENCH_SECS seconds: the background exit rate of an idle L2
# Around each test: L2 exits/interrupts from this VM's own KVM debugfs directory
# (/sys/kernel/debug/kvm/PID-FD/, so the idle VMs do not count), tap packets and bytes,
# the VMM's CPU time (device threads vs vCPU threads) and read/write syscalls (/proc/PID/io).
# Raw rows go to $LOGDIR/raw.tsv; bench/report.sh turns them into the table.
# shellcheck source=../tests/e2e/lib.sh
. "$E2E_DIR/lib.sh"
# shellcheck source=lib.sh disable=SC2153 # REPO: the repository (tests/e2e/lib.sh)
. "$REPO/bench/lib.sh"

REPS=${E2E_BENCH_REPS:-3}
SECS=${E2E_BENCH_SECS:-5}
VHOST=${E2E_BENCH_VHOST:-0}
TESTS=${E2E_BENCH_TESTS:-"idle tcp_rx tcp_tx udp_rx udp_tx udp_rr"}
UDP_RATE=${E2E_BENCH_UDP_RATE:-200M}
UDP_LEN=${E2E_BENCH_UDP_LEN:-1400}
[ -d /sys/kernel/debug/kvm ] || skip "no KVM debugfs"
need_vpf

vmms=(vpf)
# A second vpf build side by side (A/B of a change): E2E_BENCH_VPF_B=PATH inside the repo.
if [ -n "${E2E_BENCH_VPF_B:-}" ]; then
	cp "$E2E_BENCH_VPF_B" /tmp/vpf-b || fail "cannot copy $E2E_BENCH_VPF_B"
	vmms+=(vpf-b)
fi
if [ -n "${E2E_BENCH_VPF_C:-}" ]; then
	cp "$E2E_BENCH_VPF_C" /tmp/vpf-c || fail "cannot copy $E2E_BENCH_VPF_C"
	vmms+=(vpf-c)
fi
vmms+=(qemu)
[ "$VHOST" = 1 ] && [ -e /dev/vhost-net ] && vmms+=(qemu-vhost)
declare -A TAP SUB PID WRAP KDIR VHOST_TIDS
i=1
for v in "${vmms[@]}"; do
	TAP[$v]=vbtap$i SUB[$v]=10.0.$((100 + i))
	i=$((i + 1))
done

halt_poll_off
cleanup() {
	halt_poll_restore
	for v in "${vmms[@]}"; do
		[ -n "${WRAP[$v]:-}" ] && kill -TERM "${WRAP[$v]}" 2>/dev/null
	done
	sleep 1
	for v in "${vmms[@]}"; do ip link del "${TAP[$v]}" 2>/dev/null; done
	true
}
trap cleanup EXIT

for v in "${vmms[@]}"; do
	ip tuntap add dev "${TAP[$v]}" mode tap vnet_hdr
	ip addr add "${SUB[$v]}.1/24" dev "${TAP[$v]}"
	ip link set "${TAP[$v]}" up
	mac=52:54:00:be:0c:0${TAP[$v]#vbtap}
	cmd=$(l2_cmdline net_servers "vpf.ip=${SUB[$v]}.2/24")
	case $v in
	vpf | vpf-[bc]) vpf_bin=$VPF; [ "$v" != vpf ] && vpf_bin=/tmp/$v
		VPF=$vpf_bin run_vm_bg "$LOGDIR/l2-$v.log" 960 --cpus 1 --memory 512M \
		--net "tap=${TAP[$v]},mac=$mac" --cmdline "$cmd" ;;
	qemu*) vh=off; [ "$v" = qemu-vhost ] && vh=on
		run_qemu_bg "$LOGDIR/l2-$v.log" 960 -append "$cmd" \
			-netdev "tap,id=n0,ifname=${TAP[$v]},script=no,downscript=no,vhost=$vh" \
			-device "virtio-net-pci,netdev=n0,mac=$mac,romfile=" -name "$v,debug-threads=on" ;;
	esac
	WRAP[$v]=$VM_PID
	wait_for_log "$LOGDIR/l2-$v.log" 'net_servers ready' 360 ||
		{ tail -n 30 "$LOGDIR/l2-$v.log"; fail "$v: L2 servers did not come up"; }
	PID[$v]=$(child_of "${WRAP[$v]}") || fail "$v: no VMM process under ${WRAP[$v]}"
	KDIR[$v]=$(kvmdir "${PID[$v]}") || fail "$v: no KVM debugfs directory for pid ${PID[$v]}"
	VHOST_TIDS[$v]=
	for p in /proc/[0-9]*; do
		read -r comm 2>/dev/null <"$p/comm" || continue
		[ "$comm" = "vhost-${PID[$v]}" ] && VHOST_TIDS[$v]+="${p#/proc/} "
	done
	ping -c 2 -W 5 "${SUB[$v]}.2" >/dev/null || fail "$v: no ping to L2"
	log "$v: pid ${PID[$v]}, tap ${TAP[$v]}, L2 ${SUB[$v]}.2 up"
done

VM_PID=

KSTATS="exits io_exits mmio_exits irq_exits halt_exits irq_injections halt_wakeup signal_exits"
# snapshot VMM: one line of numbers: kvm stats, tap rx/tx packets+bytes, CPU ticks
# (device threads, vCPU threads), syscr, syscw, vhost thread ticks. Shell builtins only
# (read, no cat/sed): every fork costs milliseconds in L1 under TCG.
snapshot() {
	local v=$1 pid=${PID[$1]} d=${KDIR[$1]} s x out="" t comm line dev=0 vcpu=0 vh=0 f r=0 w=0
	for s in $KSTATS; do x=0; read -r x 2>/dev/null <"$d/$s" || true; out+="$x "; done
	for f in rx_packets tx_packets rx_bytes tx_bytes; do
		read -r x <"/sys/class/net/${TAP[$v]}/statistics/$f"; out+="$x "
	done
	for t in /proc/"$pid"/task/*; do
		read -r comm 2>/dev/null <"$t/comm" || continue
		read -r line 2>/dev/null <"$t/stat" || continue
		# fields after "(comm) ": state=1 ... utime=12 stime=13
		# shellcheck disable=SC2086 # split into $1...
		set -- ${line##*) }
		case $comm in
		vcpu* | "CPU "*) vcpu=$((vcpu + ${12} + ${13})) ;;
		*) dev=$((dev + ${12} + ${13})) ;;
		esac
	done
	while read -r s x; do
		case $s in syscr:) r=$x ;; syscw:) w=$x ;; esac
	done <"/proc/$pid/io"
	# vhost=on: the data path is the kernel thread vhost-PID: counted as device time.
	for t in ${VHOST_TIDS[$v]:-}; do
		read -r line 2>/dev/null <"/proc/$t/stat" || continue
		# shellcheck disable=SC2086 # split into $1...
		set -- ${line##*) }
		vh=$((vh + ${12} + ${13}))
	done
	echo "$out$dev $vcpu $r $w $vh"
}

alive() { kill -0 "${PID[$1]}" 2>/dev/null || fail "$1: VMM died (see $LOGDIR/l2-$1.log)"; }
iperf_field() { # iperf_field JSON FIELD: FIELD of end.sum_received
	awk -v f="\"$2\":" '/"sum_received"/ {s=1} s && index($0, f) {gsub(/[^0-9.e+]/, "", $2); print $2; exit}' "$1"
}
udp_delivered() { # udp_delivered JSON LEN: "Mbit/s loss%" of the datagrams that arrived
	# end.sum is the receiver's count (-R: the client's own; else the server's, sent back):
	# packets expected, lost_packets missing by sequence number.
	awk -v len="$2" '/"end":[ \t]*[{]/ {e = 1} e && /"sum":/ {s = 1}
		s && /"seconds":/ {gsub(/[^0-9.e+-]/, "", $2); sec = $2}
		s && /"lost_packets":/ {gsub(/[^0-9]/, "", $2); lost = $2}
		s && /"packets":/ {gsub(/[^0-9]/, "", $2); pk = $2}
		s && /}/ {if (sec > 0 && pk > 0) printf "%.2f %.2f\n", (pk - lost) * len * 8 / sec / 1e6, 100 * lost / pk; exit}' "$1"
}
sockperf_pct() { sed -n "s/.*percentile $2 = *\([0-9.]*\).*/\1/p" "$1" | tail -n1; }

echo "# vmm rep test v1 v2 $KSTATS tap_rx_pkts tap_tx_pkts tap_rx_bytes tap_tx_bytes dev_ticks vcpu_ticks syscr syscw vhost_ticks ms" >"$LOGDIR/raw.tsv"
run_test() { # run_test VMM REP TEST
	local v=$1 rep=$2 t=$3 ip=${SUB[$1]}.2 out=$LOGDIR/$1-$2-$3.txt b a v1=- v2=- rc=0 t0 ms
	alive "$v"
	b=$(snapshot "$v") t0=$(now_ms)
	case $t in
	idle) sleep "$SECS" ;;
	tcp_rx) timeout $((SECS + 30)) iperf3 -c "$ip" -t "$SECS" -J >"$out" 2>&1 || rc=$? ;;
	tcp_tx) timeout $((SECS + 30)) iperf3 -c "$ip" -t "$SECS" -R -J >"$out" 2>&1 || rc=$? ;;
	udp_rx) timeout $((SECS + 30)) iperf3 -c "$ip" -u -b "$UDP_RATE" -l "$UDP_LEN" -t "$SECS" -J >"$out" 2>&1 || rc=$? ;;
	udp_tx) timeout $((SECS + 30)) iperf3 -c "$ip" -u -b "$UDP_RATE" -l "$UDP_LEN" -t "$SECS" -R -J >"$out" 2>&1 || rc=$? ;;
	udp_rr) timeout $((SECS + 30)) sockperf ping-pong -i "$ip" -t "$SECS" -m 64 --full-rtt >"$out" 2>&1 || rc=$? ;;
	esac
	a=$(snapshot "$v") ms=$(ms_since "$t0")
	if [ "$rc" != 0 ]; then
		log "$v $t rep $rep failed (rc=$rc), see $out"
	else
		case $t in
		tcp_*) v1=$(iperf_field "$out" bits_per_second); v1=$(awk -v b="$v1" 'BEGIN {printf "%.2f", b / 1e6}') ;;
		udp_rx | udp_tx) v1=$(udp_delivered "$out" "$UDP_LEN"); v2=${v1#* } v1=${v1% *} ;;
		udp_rr) v1=$(sockperf_pct "$out" 50.000) v2=$(sockperf_pct "$out" 99.000) ;;
		esac
	fi
	# deltas of every counter
	local d
	d=$(awk -v b="$b" -v a="$a" 'BEGIN {n = split(b, x, " "); split(a, y, " ");
		for (i = 1; i <= n; i++) printf "%s%d", (i > 1 ? " " : ""), y[i] - x[i]; print ""}')
	echo "$v $rep $t ${v1:--} ${v2:--} $d $ms" >>"$LOGDIR/raw.tsv"
	log "$v rep $rep $t: ${v1:--} ${v2:--} | $d"
}

for rep in $(seq 1 "$REPS"); do
	# Rotate the VMM order every round, so none always runs first (or right after another).
	order=("${vmms[@]:$(((rep - 1) % ${#vmms[@]}))}" "${vmms[@]:0:$(((rep - 1) % ${#vmms[@]}))}")
	for t in $TESTS; do
		for v in "${order[@]}"; do run_test "$v" "$rep" "$t"; done
	done
done
for v in "${vmms[@]}"; do alive "$v"; done
"$REPO/bench/report.sh" "$LOGDIR/raw.tsv" | tee "$LOGDIR/table.md"
log "ok"
