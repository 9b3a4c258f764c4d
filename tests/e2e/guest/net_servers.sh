#!/bin/bash
# L2 side of network tests: give the first NIC the address vpf.ip= (default
# 10.0.0.2/24), start iperf3 and sockperf servers, print a ready marker, and
# run until the VMM is stopped from outside.
set -eu
ipaddr=$(sed -n 's/.*vpf\.ip=\([^ ]*\).*/\1/p' /proc/cmdline)
ipaddr=${ipaddr:-10.0.0.2/24}
dev=
for d in /sys/class/net/*; do [ "${d##*/}" = lo ] || { dev=${d##*/}; break; }; done
[ -n "$dev" ] || { echo "no network interface"; exit 1; }
ip addr add "$ipaddr" dev "$dev"
ip link set "$dev" up
sockperf server -i "${ipaddr%/*}" >/dev/null 2>&1 &
iperf3 -s >/dev/null 2>&1 &
sleep 1
echo "VPF-GUEST: net_servers ready dev=$dev ip=$ipaddr"
wait
