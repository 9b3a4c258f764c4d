# shellcheck shell=bash
# L1 helpers shared by the SR-IOV scenarios (tests/e2e/sriov*.sh); source after lib.sh.
# The PF's tap is 10.0.0.1/24 with a web server whose files are go-aheads for the guest
# (guest/sriov-lib.sh: ack NAME waits for http://10.0.0.1:8080/NAME).

PF_TAP=vpftap0

# sriov_l1_setup: the PF's tap and web server; L1 answers ARP only on the interface that
# owns the address (arp_ignore=1), so a VF cannot reach another VF's peer through L1.
sriov_l1_setup() {
	ip tuntap add dev $PF_TAP mode tap vnet_hdr
	ip addr add 10.0.0.1/24 dev $PF_TAP
	ip link set $PF_TAP up
	SRIOV_ARP_IGNORE=$(cat /proc/sys/net/ipv4/conf/all/arp_ignore)
	echo 1 >/proc/sys/net/ipv4/conf/all/arp_ignore
	SRIOV_WWW=$LOGDIR/www
	mkdir -p "$SRIOV_WWW"
	busybox httpd -p 10.0.0.1:8080 -h "$SRIOV_WWW" -f &
	SRIOV_HTTPD=$!
	trap sriov_l1_cleanup EXIT
}
sriov_l1_cleanup() {
	kill "$SRIOV_HTTPD" 2>/dev/null
	ip link del $PF_TAP 2>/dev/null
	echo "$SRIOV_ARP_IGNORE" >/proc/sys/net/ipv4/conf/all/arp_ignore
	true
}
# go NAME: publish a go-ahead for the guest.
go() { : >"$SRIOV_WWW/$1"; }
# await REGEX SECS WHAT: the guest ($con) printed REGEX; fail at once if it printed a failure.
# shellcheck disable=SC2154 # con: the scenario's L2 console log
await() {
	wait_for_log "$con" "$1|VPF-SRIOV: FAIL" "$2" && ! grep -qa 'VPF-SRIOV: FAIL' "$con" ||
		{ tail -n 40 "$con"; fail "$3"; }
}
# vpf_pid: the vpf process of run_vm_bg (timeout's child).
vpf_pid() { awk '{print $1}' "/proc/$VM_PID/task/$VM_PID/children"; }
# vf_tap_setup TAP CIDR: address L1's end of a VF's tap; no IPv6 chatter on it.
vf_tap_setup() {
	ip link show "$1" >/dev/null 2>&1 || fail "tap $1 was not created"
	ip addr add "$2" dev "$1"
	echo 1 >"/proc/sys/net/ipv6/conf/$1/disable_ipv6"
}
