#!/usr/bin/env bash
# testbed-timeout: 300
# The README demo (scripts/demo): vpf boots a stock Debian kernel with a virtio-net virtual
# PF; the guest creates 3 VFs with `echo 3 > sriov_numvfs`, gives each to a container
# (network namespace) and pings the host through each VF's own tap.
. "$(dirname "$0")/lib.sh"

N=3
taps=(vpfdemo0)
ip tuntap add dev vpfdemo0 mode tap vnet_hdr
ip addr add 10.0.0.1/24 dev vpfdemo0
ip link set vpfdemo0 up
# The VFs' taps exist before the guest enables VFs, so they can be addressed up front;
# vpf attaches to them when each VF comes up (and would create them otherwise).
for i in $(seq 0 $((N - 1))); do
	ip tuntap add dev "vpfdemovf$i" mode tap vnet_hdr
	ip addr add "10.1.$i.1/24" dev "vpfdemovf$i"
	ip link set "vpfdemovf$i" up
	taps+=("vpfdemovf$i")
done
trap 'for t in "${taps[@]}"; do ip link del "$t" 2>/dev/null; done; true' EXIT

con=$LOGDIR/l2-console.log
t0=$(now_ms)
rc=0
run_vm "$con" 250 --cpus 2 --memory 512M \
	--net "tap=vpfdemo0,mac=52:54:00:de:00:01,total-vfs=$N,vf-tap=vpfdemovf%d" \
	--cmdline "$(l2_cmdline demo)" || rc=$?
echo "----- guest console (vpf's stdout) and vpf's messages -----"
grep -av -e '^\[ *[0-9.]*\]' "$con"
echo "-----------------------------------------------------------"
metric vpf_demo_total_ms "$(ms_since "$t0")" ms
[ "$rc" = 0 ] || fail "vpf exited with $rc"
expect_guest_ok "$con" demo
for i in $(seq 0 $((N - 1))); do
	expect_in_log "$con" "^$i +0000:00:01\.$((i + 1)) .* ctr$i +10\.1\.$i\.1 ok" "VF $i did not pass traffic"
done
log "ok"
