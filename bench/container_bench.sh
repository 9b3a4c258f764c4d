#!/usr/bin/env bash
# testbed-timeout: 1500
# Container networking benchmark (the seed experiment, docs/performance.md), run inside L1
# by the testbed (not a test): testbed/run.sh bench/container_bench.sh (bench/run.sh wraps it).
#
# The same L2 kernel and image (tests/e2e/guest/containers.sh) boots under
#   vpf   --net tap=cbtap0,total-vfs=2,vf-tap=cbvf%d: containers "base" (veth + bridge +
#         iptables NAT, Docker's rules, over the PF), "vf" (owns VF 0, on tap cbvf0) and
#         "vfc" (owns VF 1 on cbvf1 and sets its interrupt moderation, ethtool -C
#         rx-usecs:rx-frames E2E_BENCH_COAL (20000:64), virtio's NOTF_COAL)
#         --net tap=cbtap3,total-vfs=1,vf-tap=cbvh%d,vf-backend=vhost-net: a second
#         virtual PF whose VF 0 (on tap cbvh0, kernel data path) is container "vfv"
#         (its moderation: E2E_BENCH_VFV_COAL, rx-usecs:rx-frames:tx-usecs:tx-frames; none)
#   qemu  virtio-net-pci, -netdev tap=cbtap2,vhost=off: container "base" only
# one after the other, then all alive at once. Three paths, each to a container from L1:
#   vpf-base   L1 cbtap0 -> vpf PF -> NAT -> bridge -> veth -> container
#   vpf-vf     L1 cbvf0  -> vpf VF 0 (in the container)
#   vpf-vfc    L1 cbvf1  -> vpf VF 1 (in the container, interrupt moderation on)
#   vpf-vfv    L1 cbvh0  -> vhost-net -> VF 0 of the second PF (in the container)
#   qemu-base  L1 cbtap2 -> QEMU virtio-net -> NAT -> bridge -> veth -> container
# E2E_BENCH_REPS rounds (path order rotated per round) of E2E_BENCH_SECS-second tests:
#   udp_tx  container -> L1: iperf3 -u -R (the container's server sends), fixed datagram
#           E2E_BENCH_UDP_LEN (1400) at E2E_BENCH_UDP_RATE (offered, iperf3 -b)
#   udp_rx  L1 -> container: iperf3 -u, the same size and rate
#   udp_rr  sockperf ping-pong, 64 B, full round trip (p50, p99)
# E2E_BENCH_L2_CPUS (1): vCPUs of each L2 (vpf --cpus, QEMU -smp); with more than one the
# guest runs the containers' servers on the last CPU, sends the NICs' TX interrupts there
# and all others to CPU 0, so the receiver's softirq work and the application do not
# share a vCPU (as on a VM with several vCPUs, where the seed experiment ran); run C8
# and C10 had every NIC interrupt on CPU 0 (bench/results/NOTES.md).
# Delivered rate and loss are the receiver's (iperf3 3.12: end.sum_received). Around each
# test: that VM's L2 exits and interrupts (its own /sys/kernel/debug/kvm/PID-FD/) and the
# packets on the path's tap and on the VM's other tap (a vf test must not use the PF's
# tap and vice versa: checked), and for udp_rx where L2 lost what it lost (the
# container's UDP receive-buffer drops, the guest's softnet drops and time squeezes;
# fetched from the container over TCP port 7777, outside the measured window).
# Raw rows: $LOGDIR/raw.tsv; tables: bench/container_report.sh.
# shellcheck source=../tests/e2e/lib.sh
. "$E2E_DIR/lib.sh"
# shellcheck source=lib.sh disable=SC2153 # REPO: the repository (tests/e2e/lib.sh)
. "$REPO/bench/lib.sh"

REPS=${E2E_BENCH_REPS:-3}
SECS=${E2E_BENCH_SECS:-5}
RATE=${E2E_BENCH_UDP_RATE:-30M}
LEN=${E2E_BENCH_UDP_LEN:-1400}
TESTS=${E2E_BENCH_TESTS:-"udp_tx udp_rx udp_rr"}
COAL=${E2E_BENCH_COAL:-20000:64}
VFV_COAL=${E2E_BENCH_VFV_COAL:-}
L2_CPUS=${E2E_BENCH_L2_CPUS:-1}
[ -d /sys/kernel/debug/kvm ] || skip "no KVM debugfs"
[ -e /dev/vhost-net ] || modprobe vhost_net 2>/dev/null || true
[ -e /dev/vhost-net ] || fail "no /dev/vhost-net in this L1 (the vpf-vfv path needs it)"
need_vpf

paths=(vpf-base vpf-vf vpf-vfc vpf-vfv qemu-base)
declare -A VMM=([vpf-base]=vpf [vpf-vf]=vpf [vpf-vfc]=vpf [vpf-vfv]=vpf [qemu-base]=qemu)
declare -A TAP=([vpf-base]=cbtap0 [vpf-vf]=cbvf0 [vpf-vfc]=cbvf1 [vpf-vfv]=cbvh0 [qemu-base]=cbtap2)
declare -A OTHER=([vpf-base]=cbvf0 [vpf-vf]=cbtap0 [vpf-vfc]=cbvf0 [vpf-vfv]=cbvf0 [qemu-base]='')
declare -A IP=([vpf-base]=10.0.121.2 [vpf-vf]=10.0.122.2 [vpf-vfc]=10.0.124.2 [vpf-vfv]=10.0.125.2
	[qemu-base]=10.0.123.2)
declare -A WRAP PID KDIR
taps=(cbtap0 cbvf0 cbtap2 cbvf1 cbvh0)

halt_poll_off
cleanup() {
	halt_poll_restore
	local w
	for w in "${WRAP[@]}"; do kill -TERM "$w" 2>/dev/null; done
	sleep 1
	for w in "${taps[@]}"; do ip link del "$w" 2>/dev/null; done
	true
}
trap cleanup EXIT
# The VF's tap exists up front so it can be addressed; vpf attaches to it when VF 0 comes up.
i=121
for t in "${taps[@]}"; do
	ip tuntap add dev "$t" mode tap vnet_hdr
	ip addr add "10.0.$i.1/24" dev "$t"
	ip link set "$t" up
	i=$((i + 1))
done

boot() { # boot VMM: start it, wait for the guest's containers, find its pid and KVM dir
	local v=$1 log=$LOGDIR/l2-$1.log
	case $v in
	vpf) run_vm_bg "$log" $((LIMIT - 30)) --cpus "$L2_CPUS" --memory 512M \
		--net "tap=cbtap0,mac=52:54:00:cb:00:01,total-vfs=2,vf-tap=cbvf%d" \
		--net "tap=cbtap3,mac=52:54:00:cb:01:01,total-vfs=1,vf-tap=cbvh%d,vf-backend=vhost-net" \
		--cmdline "$(l2_cmdline containers vpf.ip=10.0.121.2/24 vpf.vfip=10.0.122.2/24 \
			vpf.vfcip=10.0.124.2/24 vpf.vfcoal="$COAL" vpf.vfvip=10.0.125.2/24 ${VFV_COAL:+vpf.vfvcoal=$VFV_COAL})" ;;
	qemu) run_qemu_bg "$log" $((LIMIT - 30)) -append "$(l2_cmdline containers vpf.ip=10.0.123.2/24)" \
		-netdev tap,id=n0,ifname=cbtap2,script=no,downscript=no,vhost=off \
		-device virtio-net-pci,netdev=n0,mac=52:54:00:cb:00:03,romfile= -smp "$L2_CPUS" ;;
	esac
	WRAP[$v]=$VM_PID
	wait_for_log "$log" 'VPF-GUEST: containers (ready|FAIL)' 400 && ! grep -q 'containers FAIL' "$log" ||
		{ tail -n 30 "$log"; fail "$v: L2 containers did not come up"; }
	grep -a 'VPF-GUEST: containers' "$log"
	PID[$v]=$(child_of "${WRAP[$v]}") || fail "$v: no VMM process under ${WRAP[$v]}"
	KDIR[$v]=$(kvmdir "${PID[$v]}") || fail "$v: no KVM debugfs directory for pid ${PID[$v]}"
	VM_PID=
}
LIMIT=$(sed -n 's/^# testbed-timeout: *//p' "$0")
boot vpf
boot qemu

snapshot() { # snapshot PATH: KVM stats of its VM, its tap, the VM's other tap
	kvm_snapshot "${KDIR[${VMM[$1]}]}"
	tap_snapshot "${TAP[$1]}"
	tap_snapshot "${OTHER[$1]}"
}
# Correctness before measuring: each container answers ping on its own path only.
for p in "${paths[@]}"; do
	snapshot "$p"; b=$SNAP
	ping -c 3 -W 5 "${IP[$p]}" >/dev/null || fail "$p: no ping to ${IP[$p]}"
	snapshot "$p"
	# shellcheck disable=SC2046 # the delta's fields, as $1...
	set -- $(snap_delta "$b" "$SNAP")
	[ "$8" -ge 3 ] && [ "$7" -ge 3 ] || fail "$p: ping did not cross ${TAP[$p]} (rx $7 tx $8 packets)"
	log "$p: ping ${IP[$p]} ok over ${TAP[$p]} (rx $7 tx $8 packets; other tap rx ${11} tx ${12})"
done

alive() { kill -0 "${PID[${VMM[$1]}]}" 2>/dev/null || fail "$1: VMM died (see $LOGDIR/l2-${VMM[$1]}.log)"; }
# iperf_get JSON BLOCK FIELD: FIELD of end.BLOCK (sum_sent, sum_received)
iperf_get() {
	awk -v b="\"$2\":" -v f="\"$3\":" 'index($0, b) {s = 1} s && index($0, f) {gsub(/[^0-9.e+-]/, "", $2); print $2; exit}' "$1"
}
sockperf_pct() { sed -n "s/.*percentile $2 = *\([0-9.]*\).*/\1/p" "$1" | tail -n1; }
# l2_counters PATH: the container's "udp_in udp_rcvbuf_errors udp_in_errors softnet_dropped
# softnet_squeezed" (tests/e2e/guest/containers.sh), or five dashes.
l2_counters() {
	local c
	c=$(timeout 20 nc "${IP[$1]}" 7777 </dev/null 2>/dev/null)
	# shellcheck disable=SC2086 # its fields, counted
	set -- $c
	[ $# = 5 ] && echo "$c" || echo "- - - - -"
}

bad=0
echo "# path rep test v1 v2 v3 $KVM_STATS tap_rx_pkts tap_tx_pkts tap_rx_bytes tap_tx_bytes other_rx_pkts other_tx_pkts other_rx_bytes other_tx_bytes ms l2_udp_in l2_udp_rcvbuf_err l2_udp_in_err l2_softnet_drop l2_softnet_squeeze" >"$LOGDIR/raw.tsv"
echo "# udp_tx/udp_rx: v1 delivered Mbit/s, v2 loss %, v3 sent Mbit/s; udp_rr: v1 p50 us, v2 p99 us; rate $RATE len $LEN secs $SECS; vpf-vfc rx-usecs:rx-frames $COAL; vpf-vfv ${VFV_COAL:-no moderation}; L2 vCPUs $L2_CPUS$([ "$L2_CPUS" = 1 ] || echo " (RX interrupts on CPU 0, TX interrupts and servers on CPU $((L2_CPUS - 1)))")" >>"$LOGDIR/raw.tsv"
run_test() { # run_test PATH REP TEST
	local p=$1 rep=$2 t=$3 out=$LOGDIR/$1-$2-$3.txt b v1=- v2=- v3=- rc=0 t0 ms d c0='' c1='' l2d="- - - - -"
	alive "$p"
	[ "$t" != udp_rx ] || c0=$(l2_counters "$p")
	snapshot "$p"; b=$SNAP t0=$(now_ms)
	case $t in
	udp_tx) timeout $((SECS + 40)) iperf3 -c "${IP[$p]}" -u -b "$RATE" -l "$LEN" -t "$SECS" -R -J >"$out" 2>&1 || rc=$? ;;
	udp_rx) timeout $((SECS + 40)) iperf3 -c "${IP[$p]}" -u -b "$RATE" -l "$LEN" -t "$SECS" -J >"$out" 2>&1 || rc=$? ;;
	udp_rr) timeout $((SECS + 40)) sockperf ping-pong -i "${IP[$p]}" -t "$SECS" -m 64 --full-rtt >"$out" 2>&1 || rc=$? ;;
	esac
	snapshot "$p"; ms=$(ms_since "$t0")
	d=$(snap_delta "$b" "$SNAP")
	if [ -n "$c0" ]; then
		c1=$(l2_counters "$p")
		case "$c0 $c1" in *-*) ;; *) l2d=$(snap_delta "$c0" "$c1") ;; esac
	fi
	if [ "$rc" != 0 ]; then
		log "$p $t rep $rep failed (rc=$rc), see $out"
	else
		case $t in
		udp_tx | udp_rx)
			v1=$(iperf_get "$out" sum_received bits_per_second) v2=$(iperf_get "$out" sum_received lost_percent)
			v3=$(iperf_get "$out" sum_sent bits_per_second)
			v1=$(awk -v b="$v1" 'BEGIN {printf "%.2f", b / 1e6}') v3=$(awk -v b="$v3" 'BEGIN {printf "%.2f", b / 1e6}')
			v2=$(awk -v b="$v2" 'BEGIN {printf "%.2f", b}') ;;
		udp_rr) v1=$(sockperf_pct "$out" 50.000) v2=$(sockperf_pct "$out" 99.000) ;;
		esac
	fi
	# The path check: the traffic crossed this path's tap, (almost) none the VM's other tap.
	# shellcheck disable=SC2086 # the delta's fields, as $1...
	set -- $d
	local own=$(($7 + $8)) other=$((${11} + ${12}))
	if [ "$own" -lt 100 ] || [ $((other * 20)) -gt "$own" ]; then
		log "$p $t rep $rep: PATH CHECK FAILED: ${TAP[$p]} $own packets, other tap ${OTHER[$p]:-none} $other"
		bad=$((bad + 1))
	fi
	echo "$p $rep $t ${v1:--} ${v2:--} ${v3:--} $d $ms $l2d" >>"$LOGDIR/raw.tsv"
	log "$p rep $rep $t: ${v1:--} ${v2:--} ${v3:--} | $d | L2 $l2d"
}

for rep in $(seq 1 "$REPS"); do
	k=$(((rep - 1) % ${#paths[@]}))
	order=("${paths[@]:$k}" "${paths[@]:0:$k}")
	for t in $TESTS; do
		for p in "${order[@]}"; do run_test "$p" "$rep" "$t"; done
	done
done
for p in "${paths[@]}"; do alive "$p"; done
"$REPO/bench/container_report.sh" "$LOGDIR/raw.tsv" | tee "$LOGDIR/table.md"
[ "$bad" = 0 ] || fail "$bad measurement(s) failed the path check (see above)"
log "ok"
