#!/bin/sh
# L2 side of the README demo (tests/e2e/demo.sh): show what the guest sees of vpf.
echo "=== guest: $(uname -sr), $(nproc) vCPUs, $(awk '/MemTotal/ {print int($2/1024)}' /proc/meminfo) MiB"
echo "=== guest: ACPI tables: $(ls /sys/firmware/acpi/tables | grep -v -e dynamic -e data | xargs)"
echo "=== guest: PCI devices (lspci)"
lspci
dev=
for d in /sys/class/net/*; do
	[ "$(basename "$(readlink "$d/device/driver" 2>/dev/null)")" = virtio_net ] && dev=$(basename "$d")
done
[ -n "$dev" ] || { echo "no virtio-net device"; exit 1; }
ip addr add 10.0.0.2/24 dev "$dev"
ip link set "$dev" up
echo "=== guest: $dev ($(cat /sys/class/net/$dev/address)) up, pinging the host's tap at 10.0.0.1"
ping -c 3 -W 5 10.0.0.1
