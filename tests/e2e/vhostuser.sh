#!/usr/bin/env bash
# testbed-timeout: 480
# testbed-smp: 2
# vhost-user VFs served by an external switch: DPDK 22.11's testpmd in L1 forwards
# between a vhost-user port (net_vhost, server on vf0.sock) and a tap L1 addresses
# (net_tap, dtap0 = 10.2.0.1/24); guest/vhostuser.sh. vpf's PF is on a tap (10.0.0.1,
# the go-aheads); the guest enables 2 VFs with vf-backend=vhost-user,vf-socket=DIR/vf%d.sock:
# VF 0 (10.2.0.2 in a netns) pings L1 through DPDK with 1400-byte frames and a 4 MB file
# arrives intact both ways (before that the guest resets VF 0 by FLR: its rings are
# stopped and started again on the switch); VF 1's socket does not exist: its carrier is off and `vfs`
# says why ("connecting", No such file or directory). Then, while VF 0 carries a ping,
# testpmd is killed (SIGKILL): the guest sees carrier off, `vfs` the lost peer; testpmd is
# started again: vpf reconnects and restores the rings from their used index, the
# guest sees carrier on, traffic flows, a transfer arrives intact, and the VF's virtio
# status never had DEVICE_NEEDS_RESET. echo 0 removes the VFs.
#
# Multi-queue: the VFs have vf-queues=2 and testpmd serves VF 0 with queues=2 (one
# connection, rings 0-3): the guest sees 2 combined channels, pings with combined 1,
# then with combined 2 eight parallel downloads from L1 (different flows: the tap's
# and the guest's flow hashes spread them) must leave packets on both queue pairs
# (ethtool -S); the kill/restart above then runs with both pairs in use, and vpf
# restores all four rings.
#
# L1 shape: testpmd busy-polls its forwarding lcore, so this scenario asks for two L1
# vCPUs (testbed-smp above; run.sh boots a separate L1 for it): with one, the poller
# and the L2's vCPU share it and the other scenarios' -smp 1 caveats apply
# (docs/testbed.md, "The vhost-user scenario").
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/sriov.sh"

N=2 PF_MAC=52:54:00:12:34:56
command -v dpdk-testpmd >/dev/null || skip "no dpdk-testpmd in this L1"
[ "$(nproc)" -ge 2 ] || skip "testpmd busy-polls a CPU: this scenario wants 2 L1 CPUs (testbed-smp)"
PMDS=/usr/lib/x86_64-linux-gnu
d=$(mktemp -d)
SOCK0=$d/vf0.sock
mkdir -p /var/run   # DPDK's runtime directory lives below it
ctl_json() { "$VPF" ctl --json "$ctl" "$@"; }
# vf_json I: VF I's object from `vfs`.
vf_json() { ctl_json vfs dev=net0 | grep -o "{\"vf\":$1,[^}]*}"; }

# start_testpmd: the switch, serving VF 0's socket (DPDK is the vhost-user server, vpf
# connects), its tap addressed by L1. --iova-mode=va: with --no-huge DPDK would
# otherwise look up the physical address of every 4 KiB page of guest RAM at
# SET_MEM_TABLE (over 3 s for 512 MiB under TCG).
TESTPMD=
start_testpmd() {
	rm -f "$SOCK0"
	dpdk-testpmd -l 0,1 --no-huge -m 512 --no-pci --no-telemetry --iova-mode=va --file-prefix vpfvu \
		-d "$PMDS/librte_mempool_ring.so.23" -d "$PMDS/librte_net_vhost.so.23" \
		-d "$PMDS/librte_net_tap.so.23" --vdev "net_vhost0,iface=$SOCK0,queues=2" \
		--vdev net_tap0,iface=dtap0 -- --forward-mode=io --auto-start --nb-cores=1 --rxq=2 --txq=2 \
		--total-num-mbufs=32768 --stats-period 30 \
		</dev/null >>"$LOGDIR/testpmd.log" 2>&1 &
	TESTPMD=$!
	local t0
	t0=$(now_ms)
	for _ in $(seq 1200); do
		[ -S "$SOCK0" ] && ip link show dtap0 >/dev/null 2>&1 && break
		kill -0 "$TESTPMD" 2>/dev/null || { tail -n 30 "$LOGDIR/testpmd.log"; fail "testpmd exited"; }
		sleep 0.1
	done
	[ -S "$SOCK0" ] || { tail -n 30 "$LOGDIR/testpmd.log"; fail "testpmd made no socket"; }
	echo 1 >/proc/sys/net/ipv6/conf/dtap0/disable_ipv6
	ip addr add 10.2.0.1/24 dev dtap0
	ip link set dtap0 up
	metric testpmd_start_ms "$(ms_since "$t0")" ms
}
stop_testpmd() {
	if [ -n "$TESTPMD" ]; then
		kill -9 "$TESTPMD" 2>/dev/null || true
		wait "$TESTPMD" 2>/dev/null || true      # 137: killed, as meant
	fi
	TESTPMD=
}

sriov_l1_setup
trap 'stop_testpmd; kill "$HTTPD2" 2>/dev/null; sriov_l1_cleanup' EXIT
mkdir -p "$LOGDIR/www2"
head -c 4194304 /dev/urandom >"$LOGDIR/www2/to-guest.bin"
md5_to_guest=$(md5sum <"$LOGDIR/www2/to-guest.bin" | cut -d' ' -f1)
head -c 262144 /dev/urandom >"$LOGDIR/www2/small.bin"
md5_small=$(md5sum <"$LOGDIR/www2/small.bin" | cut -d' ' -f1)
busybox httpd -p 8081 -h "$LOGDIR/www2" -f &
HTTPD2=$!
start_testpmd

con=$LOGDIR/l2-console.log ctl=$d/ctl.sock
t0=$(now_ms)
run_vm_bg "$con" 460 --memory 512M --ctl "$ctl" \
	--net "tap=$PF_TAP,mac=$PF_MAC,total-vfs=$N,vf-backend=vhost-user,vf-socket=$d/vf%d.sock,vf-queues=2" \
	--cmdline "$(l2_cmdline vhostuser)"
await 'VPF-SRIOV: vf0 ping ok' 400 "VF 0 did not reach L1 through testpmd"
metric vf0_first_ping_ms "$(ms_since "$t0")" ms
expect_in_log "$con" 'VPF-SRIOV: vf1 carrier 0' "VF 1 (no switch) did not show carrier off"
vf0=$(vf_json 0) vf1=$(vf_json 1)
log "vfs: $vf0 $vf1"
grep -q '"backend":"vhost-user","counters":"none"' <<<"$vf0" &&
	grep -q "\"socket\":\"$SOCK0\",\"peer\":\"connected\"" <<<"$vf0" || fail "vfs: VF 0 not connected: $vf0"
grep -q "\"peer\":\"connecting\"" <<<"$vf1" && grep -q "vf1.sock: No such file or directory; retrying" <<<"$vf1" ||
	fail "vfs: VF 1 does not say why it has no switch: $vf1"
ping -c 3 -s 1400 -W 5 10.2.0.2 >"$LOGDIR/ping.log" || { cat "$LOGDIR/ping.log"; fail "1400-byte ping L1 -> VF 0 failed"; }
await 'VPF-SRIOV: vf0 mq done' 300 "VF 0's two queue pairs were not checked"
expect_in_log "$con" 'VPF-SRIOV: vf0 channels max 2 current' "VF 0 does not show 2 combined channels"
expect_in_log "$con" 'VPF-SRIOV: vf0 combined 1 ping ok' "VF 0 with combined 1"
expect_in_log "$con" "VPF-SRIOV: vf0 mq md5 8x $md5_small" "parallel transfers over 2 pairs corrupted"
expect_in_log "$con" 'VPF-SRIOV: vf0 mq both pairs carried packets' "VF 0's second pair carried nothing"
grep -a 'VPF-SRIOV: vf0 mq queues' "$con" | tail -n1
await 'VPF-SRIOV: md5-from-l1' 120 "VF 0 did not download the 4 MB file"
expect_in_log "$con" "md5-from-l1 $md5_to_guest" "4 MB file L1 -> VF 0 corrupted"
await 'VPF-SRIOV: vf0 ready' 120 "VF 0 did not get ready"
busybox wget -q -O "$LOGDIR/from-guest.bin" http://10.2.0.2:8080/from-guest.bin || fail "wget from VF 0 failed"
md5_from_guest=$(md5sum <"$LOGDIR/from-guest.bin" | cut -d' ' -f1)
expect_in_log "$con" "md5-from-l2 $md5_from_guest" "4 MB file VF 0 -> L1 corrupted"
rm -f "$LOGDIR/from-guest.bin"
go transfer-checked

# The switch dies under traffic and comes back.
await 'VPF-SRIOV: traffic running' 120 "the guest did not start its ping"
sleep 2
t_kill=$(now_ms)
stop_testpmd
log "testpmd killed"
await 'VPF-SRIOV: vf0 carrier down' 120 "the guest did not see VF 0's carrier go down"
metric carrier_down_ms "$(ms_since "$t_kill")" ms
vf0=$(vf_json 0)
log "vfs after the kill: $vf0"
grep -q '"peer":"connecting"' <<<"$vf0" || fail "vfs: VF 0 does not show the lost switch: $vf0"
sleep 3     # vpf retries meanwhile (backoff)
start_testpmd
await 'VPF-SRIOV: vf0 ping after restart ok' 300 "no VF 0 traffic after testpmd restarted"
metric restart_to_traffic_ms "$(ms_since "$t_kill")" ms
expect_in_log "$con" 'vf0 carrier down status 0x0000000f' "VF 0's status while the switch was gone"
expect_in_log "$con" 'vf0 ping after restart ok status 0x0000000f' "VF 0 needed a reset (status)"
expect_in_log "$con" 'vhost-user vf0.sock: 4 rings restored on the new peer' "vpf did not restore the 4 rings"
await 'VPF-SRIOV: md5-after-restart' 120 "no transfer after the restart"
expect_in_log "$con" "md5-after-restart $md5_to_guest" "transfer after the restart corrupted"
grep -a 'ping under restart' "$con" | tail -n1
vf0=$(vf_json 0)
grep -q '"peer":"connected"' <<<"$vf0" || fail "vfs: VF 0 not connected again: $vf0"
go restart-checked

await 'VPF-SRIOV: vfs removed' 120 "echo 0 did not remove the VFs"
expect_clean_exit "$con" vhostuser
! grep -qa 'needs reset' "$con" || fail "a device needed a reset: $(grep -a 'needs reset' "$con")"
metric total_ms "$(ms_since "$t0")" ms
log "ok"
