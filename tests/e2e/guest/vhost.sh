#!/bin/bash
# L2 side of tests/e2e/vhost.sh: vpf's PF and its VFs on the kernel's vhost-net. L1 is
# 10.0.0.1 on the PF's tap (we are 10.0.0.2); VF i's tap in L1 is 10.1.i.1/24 (VF i:
# 10.1.i.2). L1's go-aheads are files on its web server (ack NAME).
set -u
N=2
# shellcheck source=sriov-lib.sh
. /guest/sriov-lib.sh


sriov_pf_up
say "pf ping ok"
# Interrupt moderation on the kernel's data path: vpf holds vhost-net's signals.
# shellcheck source=coal-lib.sh
. /guest/coal-lib.sh
irqs=$(moderation_irqs "$pfdev" 10.0.0.1) || die "interrupt moderation on the vhost-net PF"
say "coalesce rx interrupts ${irqs% *} without, ${irqs#* } with rx-usecs 100000"
coalesce "$pfdev" 0 || die "ethtool -C $pfdev rx-usecs 0"
wget -q -O /tmp/from-l1.bin http://10.0.0.1:8080/to-guest.bin || die "wget from L1 failed"
say "md5-from-l1 $(md5sum </tmp/from-l1.bin | cut -d' ' -f1)"
rm -f /tmp/from-l1.bin
mkdir -p /srv
head -c 10485760 /dev/urandom >/srv/from-guest.bin
say "md5-from-l2 $(md5sum </srv/from-guest.bin | cut -d' ' -f1)"
httpd -p 8080 -h /srv
iperf3 -s -D >/dev/null 2>&1
say "pf ready"
ack pf-checked
say "pf link test"       # L1 takes the link down only now: an ack needs the link

# Link down/up from L1's control socket: vhost detaches the tap, then reattaches it.
carrier "$pfdev" 0 240 || die "PF carrier never went down"
say "pf carrier down"
carrier "$pfdev" 1 120 || die "PF carrier never came back"
say "pf carrier up"
ping -c 3 -W 5 10.0.0.1 >/dev/null 2>&1 || die "PF ping after link up failed"
say "pf ping after link up ok"

# Driver reload: reset, MSI-X disabled, vectors masked and unmasked again; vpf stops and
# restarts vhost-net's rings.
rmmod virtio_net || die "rmmod virtio_net"
insmod /lib/modules/virtio_net.ko || die "insmod virtio_net"
for _ in $(seq 100); do for nd in "$pf"/virtio*/net/*; do [ -e "$nd" ] && break 2; done; sleep 0.2; done
pfdev=$(basename "$(echo "$pf"/virtio*/net/*)")
ip addr add 10.0.0.2/24 dev "$pfdev" && ip link set "$pfdev" up || die "PF setup after reload"
ping -c 3 -W 5 10.0.0.1 >/dev/null 2>&1 || die "PF ping after driver reload failed"
say "pf reload ping ok"

numvfs $N || die "echo $N > sriov_numvfs failed"
wait_vfs $N
say_vfs
# VF 1 unbound, reset by FLR and bound again: vhost's rings stopped and restarted, MSI-X
# torn down and set up again.
uevent "$pf/virtfn1/uevent" PCI_SLOT_NAME
echo "$UEV" >/sys/bus/pci/drivers/virtio-pci/unbind || die "unbind VF 1"
echo 1 >"/sys/bus/pci/devices/$UEV/reset" || die "FLR of VF 1 failed"
echo "$UEV" >/sys/bus/pci/drivers/virtio-pci/bind || die "bind VF 1"
wait_vfs $N
say "vfs up"
ack vfs-ready

for i in $(seq 0 $((N - 1))); do
	vf_netns "$i" "10.1.$i.2/24"
	vf_ping "$i" "10.1.$i.1" 20 || die "VF $i cannot ping its peer 10.1.$i.1"
	say "vf $i ping ok"
done
ip netns exec ns0 iperf3 -s -D >/dev/null 2>&1
say "vfs pinged"

carrier vf0 0 240 ns0 || die "VF 0 carrier never went down"
say "vf0 carrier down"
carrier vf0 1 120 ns0 || die "VF 0 carrier never came back"
ip netns exec ns0 ping -c 3 -W 5 10.1.0.1 >/dev/null 2>&1 || die "VF 0 ping after link up failed"
say "vf0 ping after link up ok"
ack vf-checked

for i in $(seq 0 $((N - 1))); do ip netns del "ns$i"; done
pkill iperf3 2>/dev/null
numvfs 0 || die "echo 0 > sriov_numvfs failed"
wait_vfs 0
say "vfs removed"
ack vfs-gone
vf_cycles
ping -c 2 -W 5 10.0.0.1 >/dev/null 2>&1 || die "PF ping after the cycles failed"
say "done"
