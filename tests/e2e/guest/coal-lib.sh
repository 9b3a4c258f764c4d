# shellcheck shell=dash # sourced by sh (guest/net.sh) and bash (guest/vhost.sh): POSIX + local
# Guest helpers for interrupt moderation (VIRTIO_NET_F_NOTF_COAL, set with ethtool -C),
# shared by guest/net.sh and guest/vhost.sh. Source it.

# rx_irqs DEV: interrupts so far on DEV's receive queue (its virtioN-input.0 line).
rx_irqs() {
	local v
	v=$(basename "$(readlink "/sys/class/net/$1/device")")
	awk -v q="$v-input.0" '$NF == q {for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) s += $i} END {print s + 0}' /proc/interrupts
}
# coalesce DEV USECS: rx-usecs USECS and rx-frames 64 (virtio 1.3: 0 in either means no
# moderation), TX not delayed: tx-usecs 0 with tx-frames 1 (Linux 6.1 refuses (EBUSY) to
# switch its TX NAPI off on a running device, which tx-frames 0 would ask for).
coalesce() { ethtool -C "$1" rx-usecs "$2" rx-frames 64 tx-usecs 0 tx-frames 1; }
# ping_rx_irqs DEV PEER: receive interrupts taken by the replies to 50 pings 20 ms apart.
ping_rx_irqs() {
	local a
	a=$(rx_irqs "$1")
	ping -c 50 -i 0.02 -W 5 "$2" >/tmp/ping.log 2>&1 || { cat /tmp/ping.log; return 1; }
	echo $(($(rx_irqs "$1") - a))
}
# moderation_irqs DEV PEER: prints "N0 N1", the receive interrupts for those replies
# without and with rx-usecs 100 ms (left set: the caller turns it off, coalesce DEV 0).
moderation_irqs() {
	local n0 n1
	n0=$(ping_rx_irqs "$1" "$2") || return 1
	coalesce "$1" 100000 || return 1
	ethtool -c "$1" | grep -q '^rx-usecs: *100000' || { ethtool -c "$1"; return 1; }
	n1=$(ping_rx_irqs "$1" "$2") || return 1
	echo "$n0 $n1"
}
