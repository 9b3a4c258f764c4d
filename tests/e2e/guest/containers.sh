#!/bin/bash
# L2 side of bench/container_bench.sh: "containers" (network namespaces) running iperf3 and
# sockperf servers, reached from L1 through two paths:
#   base  eth0 -- veth -- bridge docker0 -- iptables NAT (Docker's rules for `-p 5201:5201
#         -p 5201:5201/udp -p 11111:11111/udp`) -- the first NIC (vpf.ip=, L1 is .1)
#   vf    (only with vpf.vfip=) echo 1 > sriov_numvfs on the NIC, VF 0's netdev moved into
#         the container, which owns vpf.vfip= (L1 is .1 on the VF's own tap)
#   vfc   (only with vpf.vfcip= as well) the same with VF 1, whose interrupt moderation
#         the container sets: vpf.vfcoal=RX_USECS:RX_FRAMES[:TX_USECS:TX_FRAMES]
#         (default 20000:64)
#   vfv   (only with vpf.vfvip=) VF 0 of the second SR-IOV NIC (the host gives its VFs
#         another backend, e.g. vhost-net), in its own container; vpf.vfvcoal= as vfcoal
#         (none by default)
# With several CPUs, the servers run on the last CPU, the NICs' TX interrupts go there too
# and all their other interrupts to CPU 0 (the receive path's softirq work and the
# application on different vCPUs, TX completions where the sender waits for them).
# Prints "VPF-GUEST: containers ready" and runs until the VMM is stopped.
set -eu
say() { echo "VPF-GUEST: containers $*"; }
die() { say "FAIL: $*"; exit 1; }
arg() { sed -n "s/.*vpf\.$1=\([^ ]*\).*/\1/p" /proc/cmdline; }
ip=$(arg ip) vfip=$(arg vfip)
[ -n "$ip" ] || die "no vpf.ip= on the command line"
while read -r m; do insmod "/lib/modules/$m.ko" || die "insmod $m"; done </etc/modules.container

# app: how the servers start (on the last CPU when there are several).
ncpu=$(nproc) app=()
[ "$ncpu" -le 1 ] || app=(taskset -c $((ncpu - 1)))

# has_net DEV: the PCI device DEV (a sysfs directory) has a virtio-net netdev.
has_net() {
	local n
	for n in "$1"/virtio*/net; do [ -d "$n" ] && return 0; done
	return 1
}
pf=
for d in /sys/bus/pci/devices/*; do has_net "$d" && { pf=$d; break; }; done
[ -n "$pf" ] || die "no virtio-net NIC"
pfdev=$(basename "$(echo "$pf"/virtio*/net/*)")
ip addr add "$ip" dev "$pfdev"
ip link set "$pfdev" up
l1=${ip%/*} l1=${l1%.*}.1

# Docker's default bridge network (docker0, 172.17.0.0/16) and one container on it.
echo 1 >/proc/sys/net/ipv4/ip_forward
ip link add docker0 type bridge
ip addr add 172.17.0.1/16 dev docker0
ip link set docker0 up
ip netns add base
ip link add vethbase type veth peer name eth0 netns base
ip link set vethbase master docker0 up
ip -n base link set lo up
ip -n base addr add 172.17.0.2/16 dev eth0
ip -n base link set eth0 up
ip -n base route add default via 172.17.0.1
# The iptables rules dockerd 20.10 installs for that container with its ports published
# (nat: DOCKER chain, MASQUERADE; filter: FORWARD policy DROP, conntrack), less the
# DOCKER-ISOLATION chains (between bridge networks) and the hairpin MASQUERADE rules.
ipt() { iptables "$@" || die "iptables $*"; }
ipt -t nat -N DOCKER
ipt -t nat -A PREROUTING -m addrtype --dst-type LOCAL -j DOCKER
ipt -t nat -A OUTPUT ! -d 127.0.0.0/8 -m addrtype --dst-type LOCAL -j DOCKER
ipt -t nat -A POSTROUTING -s 172.17.0.0/16 ! -o docker0 -j MASQUERADE
ipt -t nat -A DOCKER -i docker0 -j RETURN
ipt -P FORWARD DROP
ipt -N DOCKER
ipt -N DOCKER-USER
ipt -A FORWARD -j DOCKER-USER
ipt -A FORWARD -o docker0 -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
ipt -A FORWARD -o docker0 -j DOCKER
ipt -A FORWARD -i docker0 ! -o docker0 -j ACCEPT
ipt -A FORWARD -i docker0 -o docker0 -j ACCEPT
ipt -A DOCKER-USER -j RETURN
for pp in tcp/5201 udp/5201 udp/11111 tcp/7777; do
	ipt -t nat -A DOCKER ! -i docker0 -p "${pp%/*}" --dport "${pp#*/}" -j DNAT --to-destination "172.17.0.2:${pp#*/}"
	ipt -A DOCKER -d 172.17.0.2/32 ! -i docker0 -o docker0 -p "${pp%/*}" --dport "${pp#*/}" -j ACCEPT
done
ip netns exec base ping -c 2 -W 5 "$l1" >/dev/null || die "base: no ping to $l1 (through the NAT)"
ip netns exec base "${app[@]}" iperf3 -s >/dev/null 2>&1 &
ip netns exec base "${app[@]}" sockperf server -i 172.17.0.2 >/dev/null 2>&1 &
say "base: $pfdev $ip, container 172.17.0.2 behind docker0 + NAT, ping $l1 ok"

# Counters for the bench, per container: a persistent TCP server on port 7777 answers
# each connection with "udp_in udp_rcvbuf_errors udp_in_errors softnet_dropped
# softnet_squeezed" (UDP of the container's namespace; softnet of the whole guest).
cat >/tmp/counters.sh <<'EOS'
#!/bin/sh
u=$(awk '/^Udp:/ && n++ {print $2, $6, $4}' /proc/net/snmp)
d=0 q=0
while read -r _ dr sq _; do d=$((d + 0x$dr)) q=$((q + 0x$sq)); done </proc/net/softnet_stat
echo "$u $d $q"
EOS
chmod +x /tmp/counters.sh
ip netns exec base nc -ll -p 7777 -e /tmp/counters.sh >/dev/null 2>&1 &

# vf_container PF NAME INDEX CIDR [RX_USECS:RX_FRAMES[:TX_USECS:TX_FRAMES]]: PF's VF INDEX's
# netdev moved into a new container NAME owning CIDR (L1 is .1 on the VF's own tap),
# servers started; with the last argument the container sets the VF's interrupt
# moderation (ethtool -C, NOTF_COAL; TX by default 0:1, not delayed).
vf_container() {
	local pf=$1 name=$2 idx=$3 cidr=$4 coal=${5:-} vfdev='' l
	for _ in $(seq 300); do
		for n in "$pf"/virtfn"$idx"/virtio*/net/*; do [ -e "$n" ] && vfdev=${n##*/}; done
		[ -n "$vfdev" ] && break
		sleep 0.1
	done
	[ -n "$vfdev" ] || die "VF $idx has no netdev"
	ip netns add "$name"
	ip link set "$vfdev" netns "$name"
	ip -n "$name" link set lo up
	ip -n "$name" addr add "$cidr" dev "$vfdev"
	if [ -n "$coal" ]; then
		# tx-frames >= 1: Linux 6.1 refuses (EBUSY) a change of its TX NAPI on a running
		# device, which tx-frames 0 would ask for; 1 with tx-usecs 0 is "no TX delay".
		local ru rf tu tf
		IFS=: read -r ru rf tu tf <<<"$coal"
		ip netns exec "$name" ethtool -C "$vfdev" rx-usecs "$ru" rx-frames "$rf" \
			tx-usecs "${tu:-0}" tx-frames "${tf:-1}" || die "$name: ethtool -C $vfdev"
	fi
	ip -n "$name" link set "$vfdev" up
	l=${cidr%/*} l=${l%.*}.1
	ip netns exec "$name" ping -c 2 -W 5 "$l" >/dev/null || die "$name: no ping to $l"
	ip netns exec "$name" "${app[@]}" iperf3 -s >/dev/null 2>&1 &
	ip netns exec "$name" "${app[@]}" sockperf server -i "${cidr%/*}" >/dev/null 2>&1 &
	ip netns exec "$name" nc -ll -p 7777 -e /tmp/counters.sh >/dev/null 2>&1 &
	say "$name: VF $idx $(basename "$(readlink -f "$pf/virtfn$idx")") $vfdev $cidr${coal:+ rx-usecs:rx-frames $coal}, ping $l ok"
}
vfcip=$(arg vfcip) vfcoal=$(arg vfcoal) vfvip=$(arg vfvip) vfvcoal=$(arg vfvcoal)
if [ -n "$vfip" ]; then
	[ -f "$pf/sriov_totalvfs" ] || die "$pfdev is not an SR-IOV PF"
	nvf=1
	[ -z "$vfcip" ] || nvf=2
	echo "$nvf" >"$pf/sriov_numvfs" || die "echo $nvf > sriov_numvfs"
	vf_container "$pf" vf 0 "$vfip"
	[ -z "$vfcip" ] || vf_container "$pf" vfc 1 "$vfcip" "${vfcoal:-20000:64}"
fi
if [ -n "$vfvip" ]; then
	pf2=
	for d in /sys/bus/pci/devices/*; do
		[ "$d" != "$pf" ] && [ -f "$d/sriov_totalvfs" ] && has_net "$d" && { pf2=$d; break; }
	done
	[ -n "$pf2" ] || die "no second SR-IOV NIC for vpf.vfvip="
	echo 1 >"$pf2/sriov_numvfs" || die "echo 1 > sriov_numvfs of $pf2"
	vf_container "$pf2" vfv 0 "$vfvip" "$vfvcoal"
fi
if [ "$ncpu" -gt 1 ]; then
	# TX completions (virtioN-output.0) to the servers' CPU, where the sender runs and
	# waits for them; every other virtio interrupt (RX, config, control) to CPU 0.
	last=$((ncpu - 1)) nrx=0 ntx=0
	# shellcheck disable=SC2013 # words: IRQ/NAME, one per virtio interrupt
	for q in $(awk '/virtio/ {sub(":", "", $1); print $1 "/" $NF}' /proc/interrupts); do
		c=0
		case ${q#*/} in *output*) c=$last ntx=$((ntx + 1)) ;; *) nrx=$((nrx + 1)) ;; esac
		echo "$c" >"/proc/irq/${q%/*}/smp_affinity_list" || die "IRQ ${q%/*} (${q#*/}) to CPU $c"
	done
	say "$ncpu CPUs: $nrx NIC interrupts (RX, config, control) on CPU 0, $ntx TX on CPU $last with the servers"
fi
sleep 1
say "ready"
wait
