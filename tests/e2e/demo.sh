#!/usr/bin/env bash
# testbed-timeout: 240
# The README demo (scripts/demo): vpf boots a stock Debian kernel with 2 vCPUs and a
# virtio-net NIC on a host tap; the guest shows what it sees and pings the host.
. "$(dirname "$0")/lib.sh"

ip tuntap add dev vpfdemo0 mode tap vnet_hdr
ip addr add 10.0.0.1/24 dev vpfdemo0
ip link set vpfdemo0 up
trap 'ip link del vpfdemo0 2>/dev/null; true' EXIT

con=$LOGDIR/l2-console.log
t0=$(now_ms)
rc=0
run_vm "$con" 200 --cpus 2 --memory 512M --net tap=vpfdemo0,mac=52:54:00:de:00:01 \
	--cmdline "$(l2_cmdline demo)" || rc=$?
echo "----- guest console (vpf's stdout) and vpf's messages -----"
grep -av -e '^\[ *[0-9.]*\]' "$con"
echo "-----------------------------------------------------------"
metric vpf_demo_total_ms "$(ms_since "$t0")" ms
[ "$rc" = 0 ] || fail "vpf exited with $rc"
expect_guest_ok "$con" demo
expect_in_log "$con" ' 0% packet loss' "the guest could not ping the host"
log "ok"
