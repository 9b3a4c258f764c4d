#!/usr/bin/env bash
# testbed-timeout: 900
# Stability of the nested stack under sustained network load (how the L1 shape
# was chosen, see docs/testbed.md): L2 under QEMU/KVM with tap + vhost-net,
# UDP floods both ways, TCP, sockperf ping-pong, E2E_STRESS_SECS (45) each.
# Run: testbed/run.sh [--smp N] testbed/selftest/stress_net.sh
# shellcheck source=../../tests/e2e/lib.sh
. "$E2E_DIR/lib.sh"
d=${E2E_STRESS_SECS:-45}
con=$LOGDIR/l2-qemu.log

ip tuntap add tap0 mode tap
ip addr add 10.0.0.1/24 dev tap0
ip link set tap0 up
run_qemu_bg "$con" $((4 * d + 400)) -append "$(l2_cmdline net_servers vpf.ip=10.0.0.2/24)" \
	-netdev tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=on \
	-device virtio-net-pci,netdev=n0,romfile=
qemu=$VM_PID
wait_for_log "$con" 'net_servers ready' 240 || fail "L2 servers did not come up"
ping -c 3 -W 5 10.0.0.2 || fail "no ping to L2"

alive() { kill -0 "$qemu" 2>/dev/null || fail "L2 (QEMU) vanished during: $1"; }
bw() { sed -n 's/.* \([0-9.]* [KMG]bits\/sec\).* receiver$/\1/p' "$1" | tail -n1; }
phase() { # phase NAME CMD...: one bounded load phase, L2 must survive it
	local n=$1; shift
	log "phase $n: $*"
	timeout $((d + 60)) "$@" >"$LOGDIR/$n.txt" 2>&1 || fail "phase $n failed or hung (rc=$?)"
	alive "$n"
}
phase udp_tx iperf3 -c 10.0.0.2 -u -b 0 -l 1400 -t "$d"
metric udp_tx "$(bw "$LOGDIR/udp_tx.txt")"
phase udp_rx iperf3 -c 10.0.0.2 -u -b 0 -l 1400 -t "$d" -R
metric udp_rx "$(bw "$LOGDIR/udp_rx.txt")"
phase tcp_tx iperf3 -c 10.0.0.2 -t "$d"
metric tcp_tx "$(bw "$LOGDIR/tcp_tx.txt")"
phase sockperf sockperf ping-pong -i 10.0.0.2 -t "$d"
metric sockperf_avg_latency "$(sed -n 's/.*avg-latency=\([0-9.]*\).*/\1/p' "$LOGDIR/sockperf.txt" | tail -n1)" usec
ping -c 3 -W 5 10.0.0.2 >/dev/null || fail "L2 stopped answering after the load"
kill -TERM "$qemu"
wait_vm "$qemu" || true
log "ok: L2 survived $((4 * d))s of load"
