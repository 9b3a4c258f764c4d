#!/usr/bin/env bash
# testbed-timeout: 420
# The host sets VF ports through the control socket (vf-set), as `ip link set PF vf I
# mac/vlan/spoofchk` on a NIC, with a stock Linux guest (guest/vfport.sh):
#  - before the guest enables VFs: VF 1 gets a new MAC and VLAN 100; the guest's VF 1
#    comes up with that MAC and reaches L1 only through a VLAN 100 interface on its tap,
#    untagged on its side; a 4 MB file each way over TCP (checksum offload and TSO with
#    the tag inserted/stripped by vpf) arrives intact;
#  - at run time: VLAN off cuts VF 1 off its VLAN peer, VLAN 100 again restores it; the
#    spoof check off lets VF 0's frames with a forged MAC through (counted 0 spoofed);
#    rate=1 holds VF 0's TCP throughput to L1 at 1 Mbit/s;
#  - VF 0 runs on a tap handed over the control socket (vf-tap, SCM_RIGHTS);
#  - VF 0 offers FLR; a sysfs reset with its driver unbound, then bind: traffic again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib/sriov.sh"

PF_MAC=52:54:00:12:34:56 VF1_MAC=02:00:00:00:02:01
sriov_l1_setup
con=$LOGDIR/l2-console.log ctl=$(mktemp -d)/ctl.sock
head -c 4194304 /dev/urandom >"$SRIOV_WWW/to-guest.bin"
md5_to_guest=$(md5sum <"$SRIOV_WWW/to-guest.bin" | cut -d' ' -f1)
run_vm_bg "$con" 400 --memory 512M --ctl "$ctl" \
	--net "tap=$PF_TAP,mac=$PF_MAC,total-vfs=2,vf-tap=vpfpt%d" --cmdline "$(l2_cmdline vfport)"
for _ in $(seq 300); do [ -S "$ctl" ] && break; sleep 0.1; done
[ -S "$ctl" ] || fail "no control socket"
vf_set() { "$VPF" ctl --json "$ctl" vf-set dev=net0 "$@" || fail "vf-set $* failed"; }
vf_set vf=1 mac=$VF1_MAC vlan=100 >"$LOGDIR/vf-set.json"
grep -q "\"vf\":1,\"mac\":\"$VF1_MAC\",\"vlan\":100,\"spoofchk\":true,\"rate\":0,\"up\":false" "$LOGDIR/vf-set.json" ||
	fail "vf-set reply: $(cat "$LOGDIR/vf-set.json")"
# VF 0's tap is handed over the control socket (SCM_RIGHTS), as a privileged manager
# does for a vpf without CAP_NET_ADMIN: vpf ctl opens tap vpfho0 and sends it.
"$VPF" ctl --json "$ctl" vf-tap dev=net0 vf=0 tap=vpfho0 | grep -q '"tap":"vpfho0"' || fail "vf-tap failed"
go port-set

await 'VPF-SRIOV: vfs up' 300 "the guest did not bring up its VFs"
expect_in_log "$con" "VPF-SRIOV: vf 1 pci=[0-9:.]+ dev=eth[0-9]+ mac=$VF1_MAC " "VF 1 did not get the host's new MAC"
"$VPF" ctl --json "$ctl" vfs dev=net0 >"$LOGDIR/vfs.json" || fail "ctl vfs failed"
grep -q "\"dev\":\"net0vf1\".*\"mac\":\"$VF1_MAC\".*\"vlan\":100,\"spoofchk\":true" "$LOGDIR/vfs.json" ||
	fail "ctl vfs: $(cat "$LOGDIR/vfs.json")"
vf_tap_setup vpfho0 10.2.0.1/24
# VF 1's peer sits on VLAN 100 of its tap; the tap itself has no address.
ip link add link vpfpt1 name vpfpt1.100 type vlan id 100 || fail "cannot add a VLAN interface (8021q)"
echo 1 >/proc/sys/net/ipv6/conf/vpfpt1/disable_ipv6
vf_tap_setup vpfpt1.100 10.2.1.1/24
ip link set vpfpt1.100 up
busybox httpd -p 10.2.1.1:8081 -h "$SRIOV_WWW" -f &
httpd_vlan=$!
go vfs-ready

await 'VPF-SRIOV: vlan ping ok' 120 "VF 1 cannot reach its VLAN 100 peer"
await 'VPF-SRIOV: vlan files done' 300 "file transfer over VLAN 100 failed"
grep -qa "md5-from-l1 $md5_to_guest" "$con" || fail "4 MB L1 -> VF 1 over VLAN 100 corrupted"
busybox wget -q -O "$LOGDIR/from-guest.bin" http://10.2.1.2:8080/from-guest.bin || fail "wget from VF 1 failed"
md5_from_guest=$(md5sum <"$LOGDIR/from-guest.bin" | cut -d' ' -f1)
grep -qa "md5-from-l2 $md5_from_guest" "$con" || fail "4 MB VF 1 -> L1 over VLAN 100 corrupted"
kill "$httpd_vlan"
vlan_rx=$(cat /sys/class/net/vpfpt1.100/statistics/rx_packets)
[ "$vlan_rx" -gt 100 ] || fail "VLAN 100 interface saw only $vlan_rx packets"

vf_set vf=1 vlan=0 >/dev/null
go vlan-off
await 'VPF-SRIOV: vlan off cut ok' 60 "VF 1 still reached its VLAN peer with the VLAN off"
vf_set vf=1 vlan=100 >/dev/null
go vlan-on
await 'VPF-SRIOV: vlan on ping ok' 60 "VF 1 did not get its VLAN back"
# 802.1ad: vpf tags with TPID 0x88a8, so L1's peer must be an 802.1ad VLAN interface.
vf_set vf=1 vlan=100 qos=3 proto=802.1ad >"$LOGDIR/vf-set-qinq.json"
grep -q '"vlan":100,.*"qos":3,"proto":"802.1ad"' "$LOGDIR/vf-set-qinq.json" ||
	fail "vf-set proto=802.1ad: $(cat "$LOGDIR/vf-set-qinq.json")"
ip link del vpfpt1.100
ip link add link vpfpt1 name vpfpt1.100 type vlan proto 802.1ad id 100 || fail "cannot add an 802.1ad VLAN interface"
vf_tap_setup vpfpt1.100 10.2.1.1/24
ip link set vpfpt1.100 up
go qinq
await 'VPF-SRIOV: 802.1ad ping ok' 60 "VF 1 cannot reach its peer on 802.1ad VLAN 100"
await 'VPF-SRIOV: untrusted mac refused' 60 "the untrusted VF's MAC change was not refused"
vf_set vf=1 trust=on >/dev/null
go trust-on
await 'VPF-SRIOV: trusted mac ok' 60 "VF 1 could not use its own MAC once trusted"
"$VPF" ctl --json "$ctl" vfs dev=net0 | grep -q '"vf":1,.*"trust":true' || fail "vfs does not show VF 1 trusted"

spoofed_before=$(sed -n 's/.*"tx_spoofed":\([0-9]*\).*/\1/p' <<<"$("$VPF" ctl --json "$ctl" stats dev=net0vf0)")
vf_set vf=0 spoofchk=false >/dev/null
go spoofchk-off
await 'VPF-SRIOV: forged ping ok' 60 "VF 0's forged frames did not pass with the spoof check off"
spoofed_after=$(sed -n 's/.*"tx_spoofed":\([0-9]*\).*/\1/p' <<<"$("$VPF" ctl --json "$ctl" stats dev=net0vf0)")
[ "$spoofed_after" = "$spoofed_before" ] || fail "spoofed count moved ($spoofed_before -> $spoofed_after) with the check off"

# Transmit rate limit: VF 0's TCP throughput to L1 stays under 1 Mbit/s (+30% for
# iperf3's accounting and the bucket's burst), whatever this machine could do without it.
iperf3 -s -B 10.2.0.1 >/dev/null 2>&1 &
iperf_pid=$!
go iperf-up
await 'VPF-SRIOV: rate unlimited' 120 "iperf3 from VF 0 (unlimited) did not finish"
vf_set vf=0 rate=1 >/dev/null
go rate-set
await 'VPF-SRIOV: rate done' 120 "iperf3 from VF 0 failed"
kill "$iperf_pid"
mbit=$(grep -a 'VPF-SRIOV: rate limited' "$con" | sed -n 's/.* \([0-9.]*\) Mbits\/sec.*/\1/p' | head -n1)
free=$(grep -a 'VPF-SRIOV: rate unlimited' "$con" | sed -n 's/.* \([0-9.]*\) Mbits\/sec.*/\1/p' | head -n1)
[ -n "$mbit" ] || fail "no iperf3 result from VF 0"
metric vf0_tcp_tx_mbit_limit_1 "$mbit" Mbit/s
metric vf0_tcp_tx_mbit_unlimited "${free:--}" Mbit/s
awk -v m="$mbit" 'BEGIN { exit !(m <= 1.3) }' || fail "VF 0 sent $mbit Mbit/s with rate=1"
go 'done'
await 'VPF-SRIOV: flr ok' 120 "VF 0 did not come back from a Function Level Reset"
expect_in_log "$con" 'VPF-SRIOV: vf 0 reset methods: .*flr' "VF 0 does not offer FLR"
expect_in_log "$con" 'pci: net0vf0: function level reset' "vpf did not see VF 0's FLR"

expect_clean_exit "$con" vfport
log "ok"
