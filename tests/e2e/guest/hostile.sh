#!/bin/bash
# L2 side of tests/e2e/hostile.sh: this guest attacks VF 1 of the PF net0 (unbound from
# its driver, driven through sysfs with /guest/vfpoke) and storms the second PF's NumVFs,
# while L1 pings the PF and VF 0. L1 is 10.0.0.1 on the PF's tap, we are 10.0.0.2; VF i's
# tap in L1 is 10.1.i.1/24 (VF i: 10.1.i.2 in netns nsI).
set -u
N=2
# shellcheck source=sriov-lib.sh
. /guest/sriov-lib.sh
PF_MAC=52:54:00:12:34:56

# The two SR-IOV PFs: pf (net0, by its MAC) and pf2 (net1).
pf='' pf2=''
for d in /sys/bus/pci/devices/*; do
	[ -f "$d/sriov_totalvfs" ] || continue
	read -r mac <"$(echo "$d"/virtio*/net/*)/address"
	if [ "$mac" = "$PF_MAC" ]; then pf=$d; else pf2=$d; fi
done
[ -n "$pf" ] && [ -n "$pf2" ] || { lspci; die "want two SR-IOV PFs"; }
pfdev=$(basename "$(echo "$pf"/virtio*/net/*)")
ip addr add 10.0.0.2/24 dev "$pfdev" && ip link set "$pfdev" up || die "PF setup"
ping -c 2 -W 5 10.0.0.1 >/dev/null || die "PF ping to L1 failed"
numvfs $N || die "echo $N > sriov_numvfs"
wait_vfs $N
vf_netns 0 10.1.0.2/24
vf1=$(basename "$(readlink -f "$pf/virtfn1")")
echo "$vf1" >/sys/bus/pci/drivers/virtio-pci/unbind || die "unbind VF 1 ($vf1)"
say "ready vf1=$vf1"
ack attack

poke() { /guest/vfpoke "$vf1" "$@" || die "vfpoke $*"; }
# Fault 5: DRIVER_OK with no receive queue while L1 sends to VF 1's tap.
say "$(poke norx)"
ack norx-measured
# Fault 6: DRIVER_OK cleared without a reset, then set again: a driver error
# (virtio 1.2 §2.1.2), the device must say it needs a reset.
out=$(poke redo); say "$out"
[ $((${out##* } & 0x40)) = 64 ] || die "DRIVER_OK cleared and set again: no DEVICE_NEEDS_RESET ($out)"
poke status 0 >/dev/null
# Fault 7: the control queue kept full while L1 uses the control socket.
poke ctrlflood 20 | while read -r l; do say "$l"; done
ack flood-checked
# Fault 8 and friends: refused feature sets, FLRs, garbage in the registers.
say "$(poke statusstorm 2000)"
for _ in $(seq 30); do echo 1 >"/sys/bus/pci/devices/$vf1/reset" || die "FLR of VF 1"; done
say "$(poke garbage 1 3000)"
say "$(poke garbage 2 3000)"
# NumVFs storm on the second PF (no VF driver probing: the storm, not the probes).
echo 0 >"$pf2/sriov_drivers_autoprobe"
for _ in $(seq 8); do
	echo 2 >"$pf2/sriov_numvfs" || die "net1: echo 2 > sriov_numvfs"
	echo 0 >"$pf2/sriov_numvfs" || die "net1: echo 0 > sriov_numvfs"
done
say "storms done"

# The attacked VF works again once a driver resets it.
echo "$vf1" >/sys/bus/pci/drivers/virtio-pci/bind || die "bind VF 1 again"
for _ in $(seq 300); do vf_dev 1; [ -n "$VF_DEV" ] && break; sleep 0.2; done
[ -n "$VF_DEV" ] || die "VF 1 has no netdev after bind"
vf_netns 1 10.1.1.2/24
vf_ping 1 10.1.1.1 20 || die "VF 1 does not work after the driver reset it"
say "vf1 recovered"
ack 'done'
